//! Every system call the workbook's allocators make, and nothing else.
//!
//! Keeping them in one place shows at a glance how an allocator talks to the
//! kernel: it moves the program break (`sbrk`), maps and unmaps pages
//! (`mmap`, `munmap`, `mremap`) and gives pages back (`madvise`). Each
//! wrapper returns `None` on failure instead of C's sentinel values.

use core::ptr::{self, NonNull};
use core::sync::atomic::AtomicU32;

use crate::Lock;

/// Serializes our calls to `sbrk`.
///
/// `sbrk` reads and writes a global (the cached break) without a lock; two
/// allocators of ours in one process (a test runs many) must not move the
/// break at the same time.
static SBRK: Lock<()> = Lock::new(());

/// The current program break, without moving it.
pub fn current_break() -> *mut u8 {
    let _guard = SBRK.lock();
    // SAFETY: sbrk(0) only reads the break.
    unsafe { libc::sbrk(0).cast() }
}

/// Moves the program break by `delta` bytes and returns the old break.
///
/// Returns `None` when the kernel refuses (out of memory, `RLIMIT_DATA`).
/// When `expected` is given, the break is moved only if it is still there,
/// so that we never give back memory somebody else took after us.
///
/// # Safety
///
/// A negative `delta` releases memory: nothing may use the bytes between the
/// new and the old break afterwards.
pub unsafe fn move_break(delta: isize, expected: Option<usize>) -> Option<*mut u8> {
    let _guard = SBRK.lock();
    // SAFETY: sbrk(0) only reads the break.
    let now = unsafe { libc::sbrk(0) };
    if expected.is_some_and(|e| e != now as usize) {
        return None;
    }
    // SAFETY: moving the break is what the caller asked for; releasing is
    // covered by the caller's promise.
    let old = unsafe { libc::sbrk(delta as libc::intptr_t) };
    // sbrk's "(void *) -1" for a failure.
    if old.addr() == usize::MAX {
        None
    } else {
        Some(old.cast())
    }
}

/// Maps `bytes` of fresh, zeroed, private memory readable and writable.
/// With `reserve_only`, the kernel is asked not to reserve swap for it
/// (`MAP_NORESERVE`): pages cost nothing until touched.
///
/// Under Miri, which runs no system call it cannot model, the memory comes
/// from the system allocator instead (see [`interpreted`]).
pub fn map(bytes: usize, reserve_only: bool) -> Option<NonNull<u8>> {
    #[cfg(miri)]
    {
        let _ = reserve_only;
        interpreted::map(bytes)
    }
    #[cfg(not(miri))]
    map_pages(bytes, reserve_only)
}

/// [`map`] on a real kernel: `mmap`.
#[cfg(not(miri))]
fn map_pages(bytes: usize, reserve_only: bool) -> Option<NonNull<u8>> {
    let mut flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    if reserve_only {
        flags |= libc::MAP_NORESERVE;
    }
    // SAFETY: an anonymous mapping at an address of the kernel's choosing
    // touches no existing memory.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        None
    } else {
        NonNull::new(p.cast())
    }
}

/// Unmaps `bytes` at `ptr`.
///
/// # Safety
///
/// The range was mapped by [`map`] (whole or in part, page-aligned) and
/// nothing uses it any more.
pub unsafe fn unmap(ptr: NonNull<u8>, bytes: usize) {
    #[cfg(miri)]
    // SAFETY: as the caller promises (under Miri, only whole mappings of
    // the simulated sources are unmapped).
    unsafe {
        interpreted::unmap(ptr, bytes)
    };
    #[cfg(not(miri))]
    // SAFETY: the caller promises the range is ours and unused.
    unsafe {
        libc::munmap(ptr.as_ptr().cast(), bytes)
    };
}

/// Resizes a mapping, moving it if the kernel must (`mremap`).
///
/// # Safety
///
/// `ptr` and `old` describe a live mapping made by [`map`]; after success
/// the old range must not be used.
pub unsafe fn remap(ptr: NonNull<u8>, old: usize, new: usize) -> Option<NonNull<u8>> {
    // SAFETY: the caller promises the mapping is ours.
    let p = unsafe { libc::mremap(ptr.as_ptr().cast(), old, new, libc::MREMAP_MAYMOVE) };
    if p == libc::MAP_FAILED {
        None
    } else {
        NonNull::new(p.cast())
    }
}

/// Tells the kernel it may drop the pages of a range (`MADV_DONTNEED`): they
/// read as zero the next time they are touched.
///
/// # Safety
///
/// The range is page-aligned, ours, and holds nothing anyone still needs.
pub unsafe fn discard(ptr: NonNull<u8>, bytes: usize) {
    #[cfg(miri)]
    // SAFETY: the caller promises the range is ours and unused: it reads as
    // zero afterwards, as after MADV_DONTNEED.
    unsafe {
        ptr.as_ptr().write_bytes(0, bytes)
    };
    #[cfg(not(miri))]
    // SAFETY: the caller promises the range is ours and unused.
    unsafe {
        libc::madvise(ptr.as_ptr().cast(), bytes, libc::MADV_DONTNEED)
    };
}

/// The size of a page (4096 on the machines this course targets).
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as usize } else { 4096 }
}

/// Sleeps in the kernel while `word` still holds `expected` (`FUTEX_WAIT`):
/// how a thread waits for a lock without burning a processor. It may also
/// return early (a signal, a spurious wake-up): callers check again.
pub fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: the futex word is a live, aligned u32; a null timeout waits
    // until woken. The kernel compares the word atomically before sleeping.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            ptr::null::<libc::timespec>(),
        )
    };
}

/// Wakes one thread sleeping in [`futex_wait`] on `word` (`FUTEX_WAKE`).
pub fn futex_wake_one(word: &AtomicU32) {
    // SAFETY: waking touches no memory; the word is live and aligned.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        )
    };
}

/// The value of an environment variable, read without allocating.
///
/// The bytes live in the process's environment; a program that changes
/// that variable later (`setenv`) may free them, so copy what you keep.
pub fn getenv(name: &core::ffi::CStr) -> Option<&'static [u8]> {
    // SAFETY: getenv with a NUL-terminated name returns null or a pointer
    // to a NUL-terminated string in the environment.
    let value = unsafe { libc::getenv(name.as_ptr()) };
    if value.is_null() {
        return None;
    }
    // SAFETY: a non-null result of getenv is a NUL-terminated string.
    Some(unsafe { core::ffi::CStr::from_ptr(value) }.to_bytes())
}

/// Writes `bytes` to stderr with one `write` call (no buffering, no
/// allocation): for messages from inside an allocator.
pub fn write_stderr(bytes: &[u8]) {
    // SAFETY: writing initialized bytes from a slice to fd 2.
    unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
}

/// Writes `message` to stderr and aborts the process (SIGABRT): for an
/// allocator that finds its heap misused, where going on would corrupt it.
pub fn abort_with(message: &str) -> ! {
    write_stderr(message.as_bytes());
    // SAFETY: abort has no preconditions; it does not return.
    unsafe { libc::abort() }
}

/// Memory for the simulated sources under Miri, which interprets the
/// program and runs no `mmap`: blocks of the system allocator, page-aligned
/// and zeroed, as a fresh mapping is.
#[cfg(miri)]
mod interpreted {
    extern crate std;

    use core::ptr::NonNull;
    use std::alloc::{GlobalAlloc, Layout, System};

    fn layout(bytes: usize) -> Option<Layout> {
        Layout::from_size_align(bytes, 4096).ok()
    }

    pub fn map(bytes: usize) -> Option<NonNull<u8>> {
        // SAFETY: a non-zero size (the sources never map 0 bytes).
        NonNull::new(unsafe { System.alloc_zeroed(layout(bytes.max(1))?) })
    }

    /// # Safety
    ///
    /// `ptr` and `bytes` are a whole block [`map`] returned.
    pub unsafe fn unmap(ptr: NonNull<u8>, bytes: usize) {
        if let Some(layout) = layout(bytes.max(1)) {
            // SAFETY: as the caller promises.
            unsafe { System.dealloc(ptr.as_ptr(), layout) };
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg_attr(miri, ignore = "sysconf is a C call Miri cannot run")]
    fn a_page_is_a_power_of_two_of_at_least_4_kib() {
        let page = super::page_size();
        assert!(page.is_power_of_two() && page >= 4096, "{page}");
    }
}
