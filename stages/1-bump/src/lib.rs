//! Stage 1: a bump allocator over the program break.
//!
//! The simplest malloc that works: keep a pointer (the *bump*) into memory
//! taken from the break; `malloc` hands out the bytes at the bump and moves
//! it up. When the bytes run out, move the break up by a big step (never one
//! system call per malloc). `free` gives nothing back, except that freeing
//! the most recent block moves the bump back over it.
//!
//! ```text
//!  region  block        block        block         bump            end
//!  |hdr|   |hdr|payload |hdr|payload |hdr|payload  |   unused      |
//! ```
//!
//! Every block starts with a 16-byte [`Header`] holding the requested size,
//! so that `free`, `realloc` and `usable_size` know how big the block is,
//! and a tag saying whether it is live. Memory comes in *regions*: normally
//! one, growing with the break; a new one starts when someone else moved the
//! break in between (a foreign `sbrk`), so our memory is no longer
//! contiguous. Each region starts with a small [`Region`] header that links
//! the regions, so [`check`](Malloc::check) and the heap map can walk every
//! block.
//!
//! What this stage cannot do: reuse freed memory (stage 3), tell a double
//! free from a legitimate one once the block is out of sight (it ignores a
//! `free` of a block already marked freed), or give memory back to the OS.

#![no_std]

mod block;
mod walk;

use core::ptr;

use malloc_core::{
    ALIGN, Break, HeapError, Lock, MAX_REQUEST, Malloc, RealBreak, SourceStats, Stats, Tally,
    align_up, too_large,
};

use block::{HEADER, Header, Region, Tag};

/// The break grows by at least this much at a time: 64 KiB, so that a
/// program making small requests pays one system call per thousands of them.
pub const GROW_STEP: usize = 64 * 1024;

/// A bump allocator: stage 1 of the course.
///
/// Generic over its memory source; [`Bump::new`] uses the real program break.
pub struct Bump<S: Break = RealBreak> {
    heap: Lock<Heap<S>>,
}

impl Bump<RealBreak> {
    /// A bump allocator on the program break (usable in a `static`).
    pub const fn new() -> Self {
        Self::with_source(RealBreak::new())
    }
}

impl Default for Bump<RealBreak> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Break> Bump<S> {
    /// A bump allocator taking its memory from `source`.
    pub const fn with_source(source: S) -> Self {
        Bump {
            heap: Lock::new(Heap {
                source,
                first: ptr::null_mut(),
                current: ptr::null_mut(),
                bump: ptr::null_mut(),
                end: ptr::null_mut(),
                last: ptr::null_mut(),
                tally: Tally::new(),
            }),
        }
    }
}

/// The allocator's state, behind the lock.
struct Heap<S> {
    source: S,
    /// The first region (null until the first malloc).
    first: *mut Region,
    /// The region the bump is in.
    current: *mut Region,
    /// Where the next block starts.
    bump: *mut u8,
    /// The end of the memory we got for the current region.
    end: *mut u8,
    /// The most recent block, if it is still the last one below the bump:
    /// freeing it moves the bump back.
    last: *mut Header,
    tally: Tally,
}

// SAFETY: the raw pointers point into memory this heap owns; moving the heap
// to another thread moves that ownership with it.
unsafe impl<S: Send> Send for Heap<S> {}

// EXERCISE BODY: payload_size
// ANCHOR: payload_size
/// Bytes of payload a request of `size` occupies: rounded up to [`ALIGN`],
/// and at least [`ALIGN`] so that `malloc(0)` gets a unique usable block.
fn payload_size(size: usize) -> usize {
    align_up(size.max(1), ALIGN)
}
// ANCHOR_END: payload_size

impl<S: Break> Heap<S> {
    /// Makes sure `bytes` more fit between the bump and the end, growing the
    /// break by whole steps if not. Returns false when the source is out of
    /// memory.
    fn reserve(&mut self, bytes: usize) -> bool {
        if (self.end as usize) - (self.bump as usize) >= bytes {
            return true;
        }
        // Room for a region header too, in case the new memory is not
        // contiguous with ours.
        let step = align_up(bytes + HEADER, GROW_STEP);
        let Some(start) = self.source.grow(step) else {
            return false;
        };
        let start = start.as_ptr();
        if start == self.end {
            // Contiguous: the current region simply gets longer.
            self.end = self.end.wrapping_add(step);
        } else {
            // Someone moved the break (or this is our first growth): close
            // the current region where the bump is and start a new one.
            let region = start.cast::<Region>();
            // SAFETY: `start` is fresh memory of `step >= HEADER` bytes,
            // aligned to ALIGN; Region fits in HEADER bytes.
            unsafe { region.write(Region::new()) };
            if self.current.is_null() {
                self.first = region;
            } else {
                // SAFETY: `current` is our live region header.
                unsafe {
                    (*self.current).end = self.bump;
                    (*self.current).next = region;
                }
            }
            self.current = region;
            self.bump = start.wrapping_add(HEADER);
            self.end = start.wrapping_add(step);
            // The tail of the old region can no longer be extended.
            self.last = ptr::null_mut();
        }
        self.tally.footprint(self.source.stats().bytes);
        // A whole step holds the request and a region header: it fits now.
        true
    }

    /// Hands out a block of `size` bytes whose payload is aligned to `align`.
    fn alloc(&mut self, size: usize, align: usize) -> *mut u8 {
        if too_large(size, align) {
            return ptr::null_mut();
        }
        let span = HEADER + payload_size(size);
        // Enough for the block and the worst padding the alignment needs.
        let worst = span + align.saturating_sub(ALIGN);
        if !self.reserve(worst) {
            return ptr::null_mut();
        }
        // EXERCISE: bump
        // ANCHOR: bump
        // The payload must be aligned, and the header sits just before it.
        // (map_addr changes the address but keeps the pointer a pointer:
        // one made from a bare number may not be used to reach memory.)
        let payload = self.bump.map_addr(|a| align_up(a + HEADER, align));
        let header = payload.wrapping_sub(HEADER).cast::<Header>();
        let padding = header as usize - self.bump as usize;
        if padding > 0 {
            // A memalign gap: keep it walkable as a padding block.
            let filler = Header::new(Tag::Padding, 0, padding);
            // SAFETY: the gap is inside reserved memory, ALIGN-aligned and at
            // least HEADER bytes (both ends are ALIGN-aligned and distinct).
            unsafe { self.bump.cast::<Header>().write(filler) };
        }
        // SAFETY: `header .. header + span` lies inside reserved memory.
        unsafe { header.write(Header::new(Tag::Live, size, span)) };
        self.bump = header.cast::<u8>().wrapping_add(span);
        // ANCHOR_END: bump
        self.last = header;
        self.tally.malloc(size);
        payload
        // EXERCISE END
    }

    /// Frees the block whose payload is at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is a live block of this heap.
    unsafe fn free(&mut self, ptr: *mut u8) {
        let header = Header::of(ptr);
        // SAFETY: a live block has a header just before its payload.
        let block = unsafe { &mut *header };
        if block.tag() != Some(Tag::Live) {
            return; // A double free we can see: ignore it (see the docs).
        }
        self.tally.free(block.size);
        block.set_tag(Tag::Freed);
        // ANCHOR: free
        if header == self.last {
            // The most recent block: move the bump back over it.
            self.bump = header.cast();
            self.last = ptr::null_mut();
        }
        // Anywhere else the bytes are lost until the program ends.
        // ANCHOR_END: free
    }

    /// Resizes the block at `ptr` (non-null) to `size` (non-zero) bytes.
    ///
    /// # Safety
    ///
    /// `ptr` is a live block of this heap.
    unsafe fn realloc(&mut self, ptr: *mut u8, size: usize) -> *mut u8 {
        self.tally.realloc();
        if size > MAX_REQUEST {
            return ptr::null_mut();
        }
        let header = Header::of(ptr);
        // SAFETY: a live block has a header just before its payload.
        let (old, usable) = unsafe { ((*header).size, (*header).usable()) };
        let new_span = HEADER + payload_size(size);
        // ANCHOR: realloc
        // The most recent block may grow into the free bytes above it.
        let grows_at_top = header == self.last && {
            let extra = payload_size(size).saturating_sub(usable);
            self.reserve(extra) && header == self.last
        };
        if grows_at_top {
            self.bump = header.cast::<u8>().wrapping_add(new_span);
            // SAFETY: the block keeps its place and now spans `new_span`.
            unsafe { header.write(Header::new(Tag::Live, size, new_span)) };
        } else if size <= usable {
            // Smaller: keep the block where it is (the rest stays unused).
            // SAFETY: a live block has a header just before its payload.
            unsafe { (*header).size = size };
        }
        // ANCHOR_END: realloc
        if grows_at_top || size <= usable {
            self.tally.resize(old, size);
            return ptr;
        }
        let new = self.alloc(size, ALIGN);
        if !new.is_null() {
            // SAFETY: both blocks are live and distinct; `old < size` here.
            unsafe {
                ptr::copy_nonoverlapping(ptr, new, old);
                self.free(ptr);
            }
        }
        new
    }

    /// The bytes in use in `region`: up to the bump for the current region.
    fn region_end(&self, region: *mut Region) -> *mut u8 {
        if region == self.current {
            self.bump
        } else {
            // SAFETY: `region` is one of our region headers.
            unsafe { (*region).end }
        }
    }
}

// SAFETY: blocks are carved from memory the source gave us, one after the
// other below the bump, so they never overlap; payloads are aligned by
// `alloc`; a block is never handed out twice because the bump only moves
// back over the most recent block after it was freed.
unsafe impl<S: Break> Malloc for Bump<S> {
    fn malloc(&self, size: usize) -> *mut u8 {
        self.heap.lock().alloc(size, ALIGN)
    }

    unsafe fn free(&self, ptr: *mut u8) {
        if !ptr.is_null() {
            // SAFETY: the caller passes a live block of ours.
            unsafe { self.heap.lock().free(ptr) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.malloc(size);
        }
        if size == 0 {
            // SAFETY: the caller passes a live block of ours.
            unsafe { self.free(ptr) };
            return ptr::null_mut();
        }
        // SAFETY: the caller passes a live block of ours.
        unsafe { self.heap.lock().realloc(ptr, size) }
    }

    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        if !align.is_power_of_two() {
            return ptr::null_mut();
        }
        let mut heap = self.heap.lock();
        if align > ALIGN {
            heap.tally.memalign();
        }
        heap.alloc(size, align.max(ALIGN))
    }

    unsafe fn usable_size(&self, ptr: *mut u8) -> usize {
        if ptr.is_null() {
            return 0;
        }
        // SAFETY: a live block has a header just before its payload.
        unsafe { (*Header::of(ptr)).usable() }
    }

    fn stats(&self) -> Stats {
        let heap = self.heap.lock();
        heap.tally.stats(heap.source.stats(), SourceStats::new())
    }

    fn check(&self) -> Result<(), HeapError> {
        self.heap.lock().check()
    }

    fn heap_map(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        self.heap.lock().heap_map(out)
    }

    fn lock_for_fork(&self) {
        self.heap.acquire();
    }

    unsafe fn unlock_after_fork(&self) {
        // SAFETY: the caller matches this with `lock_for_fork`, which took
        // the lock and keeps no guard.
        unsafe { self.heap.release() }
    }
}
