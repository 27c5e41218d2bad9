//! The [`Malloc`] trait: the one interface every stage implements.

use core::fmt;
use core::ptr;

/// Every payload is aligned to this many bytes, as glibc does on 64-bit
/// machines (`alignof(max_align_t)`).
pub const ALIGN: usize = 16;

/// The largest request any stage will try to serve.
///
/// No request for more than half the address space can succeed, and refusing
/// them at the door means that adding a header, rounding up to a class or to
/// a page, or padding for alignment can never overflow a `usize` later.
pub const MAX_REQUEST: usize = isize::MAX as usize / 2;

/// Whether a request is refused at the door: its size or its alignment is
/// more than [`MAX_REQUEST`].
#[inline]
pub fn too_large(size: usize, align: usize) -> bool {
    size.max(align) > MAX_REQUEST
}

/// Rounds `n` up to a multiple of `align` (a power of two).
///
/// The caller keeps `n` at most [`MAX_REQUEST`] plus a small amount, so the
/// sum cannot overflow.
#[inline]
pub const fn align_up(n: usize, align: usize) -> usize {
    debug_assert!(align.is_power_of_two());
    (n + align - 1) & !(align - 1)
}

/// What a heap check found wrong: where, and what.
///
/// It holds only a static message and an address, so building one never
/// allocates (a check may run inside the allocator itself).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HeapError {
    /// The address of the block or structure that is wrong (0 if none).
    pub addr: usize,
    /// What is wrong, in words.
    pub problem: &'static str,
}

/// Reads as its message, so that an `unwrap()` says what is wrong.
impl fmt::Debug for HeapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl HeapError {
    /// A new error about the structure at `addr`.
    pub const fn new(addr: usize, problem: &'static str) -> Self {
        HeapError { addr, problem }
    }
}

impl fmt::Display for HeapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "heap check failed at {:#x}: {}", self.addr, self.problem)
    }
}

/// A heap's map, drawn when it is displayed (no allocation).
struct MapOf<'a, M: ?Sized>(&'a M);

impl<M: Malloc + ?Sized> fmt::Display for MapOf<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.heap_map(f)
    }
}

/// For tests: panics if `heap.check()` finds a problem, with the problem
/// in words and the heap map at the failure (an `unwrap()` would print
/// only the error's fields).
#[track_caller]
pub fn assert_sound<M: Malloc + ?Sized>(heap: &M) {
    if let Err(error) = heap.check() {
        panic!("{error}\nheap map at the failure:\n{}", MapOf(heap));
    }
}

// ANCHOR: trait
/// A memory allocator with the semantics of C's `malloc` family.
///
/// The methods mirror C so that the same object can serve a C program
/// through `LD_PRELOAD` (where `free` is not told the size) and a Rust
/// program through [`GlobalMalloc`](crate::GlobalMalloc).
///
/// # Safety
///
/// Implementors promise that every non-null pointer returned by `malloc`,
/// `calloc`, `realloc` and `memalign` points to at least the requested number
/// of bytes (and at least `usable_size` bytes), aligned to [`ALIGN`] (or to
/// the requested alignment), that no two live blocks overlap, and that a
/// block stays valid until it is passed to `free` or `realloc`.
pub unsafe trait Malloc: Sync {
    /// Allocates `size` bytes aligned to [`ALIGN`]. Returns null when the
    /// memory cannot be had or `size` is larger than [`MAX_REQUEST`].
    /// `malloc(0)` returns a unique pointer that may be freed, as glibc does.
    fn malloc(&self, size: usize) -> *mut u8;

    /// Frees a block. Null is a no-op.
    ///
    /// # Safety
    ///
    /// `ptr` is null or a live block returned by this allocator.
    unsafe fn free(&self, ptr: *mut u8);

    /// Resizes a block, keeping the first `min(old, new)` bytes.
    ///
    /// As in glibc: `realloc(null, n)` is `malloc(n)`; `realloc(p, 0)` frees
    /// `p` and returns null; on failure it returns null and `ptr` stays live
    /// and unchanged. The default moves the block: malloc, copy, free.
    ///
    /// # Safety
    ///
    /// `ptr` is null or a live block returned by this allocator.
    unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.malloc(size);
        }
        if size == 0 {
            // SAFETY: the caller gives us a live block of ours.
            unsafe { self.free(ptr) };
            return ptr::null_mut();
        }
        let new = self.malloc(size);
        if new.is_null() {
            return new;
        }
        // SAFETY: `ptr` is live (caller's promise), so it has `usable_size`
        // readable bytes; `new` has at least `size` bytes; they are distinct
        // live blocks, so they do not overlap.
        unsafe {
            let keep = self.usable_size(ptr).min(size);
            ptr::copy_nonoverlapping(ptr, new, keep);
            self.free(ptr);
        }
        new
    }

    /// Allocates `count * size` zeroed bytes; null if the product overflows.
    fn calloc(&self, count: usize, size: usize) -> *mut u8 {
        let Some(bytes) = count.checked_mul(size) else {
            return ptr::null_mut();
        };
        let p = self.malloc(bytes);
        if !p.is_null() {
            // SAFETY: `p` is a fresh block of at least `bytes` bytes.
            unsafe { ptr::write_bytes(p, 0, bytes) };
        }
        p
    }

    /// Allocates `size` bytes aligned to `align`, which must be a power of
    /// two (any power of two: 1 up to very large). Returns null for an
    /// alignment that is not a power of two.
    fn memalign(&self, align: usize, size: usize) -> *mut u8;

    /// The number of bytes the block really has (at least what was asked).
    ///
    /// # Safety
    ///
    /// `ptr` is null (the answer is 0) or a live block of this allocator.
    unsafe fn usable_size(&self, ptr: *mut u8) -> usize;

    /// Counters: memory from the OS, live bytes, operations, system calls.
    fn stats(&self) -> crate::Stats;

    /// Walks the allocator's own structures and reports the first
    /// inconsistency, like the malloc lab's `mm_checkheap`.
    fn check(&self) -> Result<(), HeapError>;

    /// Writes a picture of the heap as text, one line per block or run of
    /// blocks, with addresses as offsets from the heap's start.
    fn heap_map(&self, out: &mut dyn fmt::Write) -> fmt::Result;
    // ANCHOR_END: trait

    /// Takes the allocator's lock and keeps it, so that `fork` copies the heap
    /// in a consistent state (a `pthread_atfork` prepare handler). The
    /// default does nothing, for allocators without a lock of their own.
    fn lock_for_fork(&self) {}

    /// Releases the lock [`lock_for_fork`](Self::lock_for_fork) took (in the
    /// parent and in the child after `fork`).
    ///
    /// # Safety
    ///
    /// `lock_for_fork` was called before, in this process or in the parent
    /// that forked it, and this is the one matching release.
    unsafe fn unlock_after_fork(&self) {}

    /// In the child after `fork`: releases the lock as
    /// [`unlock_after_fork`](Self::unlock_after_fork) does, after dropping
    /// what the parent's other threads kept outside the lock (the child has
    /// only the thread that called `fork`). The default only releases the
    /// lock, for allocators that keep nothing outside it.
    ///
    /// # Safety
    ///
    /// As for `unlock_after_fork`, called in the child, by its one thread.
    unsafe fn unlock_in_child(&self) {
        // SAFETY: the caller's promise is `unlock_after_fork`'s.
        unsafe { self.unlock_after_fork() }
    }

    /// The policies this allocator's type can be made with (its
    /// `with_policy`), if it has any choice to switch: which free block a
    /// search takes, the order of its free lists, merging (see
    /// [`Policy`](crate::Policy)). The default, `None`, is for a stage that
    /// runs one fixed way.
    fn choices(&self) -> Option<crate::Choices> {
        None
    }

    /// The policy this allocator runs, if it has [`choices`](Self::choices).
    fn policy(&self) -> Option<crate::Policy> {
        None
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use core::ptr;
    use std::format;
    use std::string::String;

    use super::{HeapError, Malloc, assert_sound};

    /// An allocator that hands out nothing and whose check always fails.
    struct Broken;

    // SAFETY: it hands out no blocks at all.
    unsafe impl Malloc for Broken {
        fn malloc(&self, _: usize) -> *mut u8 {
            ptr::null_mut()
        }
        unsafe fn free(&self, _: *mut u8) {}
        fn memalign(&self, _: usize, _: usize) -> *mut u8 {
            ptr::null_mut()
        }
        unsafe fn usable_size(&self, _: *mut u8) -> usize {
            0
        }
        fn stats(&self) -> crate::Stats {
            crate::Stats::default()
        }
        fn check(&self) -> Result<(), HeapError> {
            Err(HeapError::new(0x40, "a lie"))
        }
        fn heap_map(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
            out.write_str("the map")
        }
    }

    #[test]
    fn a_heap_error_reads_as_its_message() {
        let error = HeapError::new(0x40, "a lie");
        assert_eq!(format!("{error:?}"), "heap check failed at 0x40: a lie");
    }

    #[test]
    fn assert_sound_shows_the_problem_and_the_map() {
        let panic = std::panic::catch_unwind(|| assert_sound(&Broken)).unwrap_err();
        let message = panic.downcast_ref::<String>().expect("a formatted message");
        assert_eq!(
            message,
            "heap check failed at 0x40: a lie\nheap map at the failure:\nthe map"
        );
    }
}
