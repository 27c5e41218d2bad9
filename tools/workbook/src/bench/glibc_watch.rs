//! glibc's footprint, followed op by op at little cost.
//!
//! `mallinfo2` gives glibc's footprint (arena + mapped bytes) but walks
//! every free chunk to do it: after every op of a big workload that takes
//! minutes. The footprint can only change in two ways, though: the break
//! moves (glibc grows or trims its heap), or a block of at least 128 KiB
//! (the lowest mmap threshold) is mapped, unmapped or remapped. So the
//! watch reads `sbrk(0)` after every call (no system call: libc keeps the
//! value) and calls `mallinfo2` only when one of those happened.

use std::cell::Cell;
use std::fmt;

use malloc_core::{HeapError, Malloc, Stats, SystemMalloc};

/// Blocks below this size are never mapped by glibc (its smallest mmap
/// threshold; less a little, for the chunk header).
const MAPPED_AT_LEAST: usize = (128 << 10) - 64;

/// The system malloc, with its peak footprint followed.
pub struct GlibcWatch {
    brk: Cell<usize>,
    now: Cell<Stats>,
    peak: Cell<usize>,
    changes: Cell<u64>,
}

// SAFETY: used by one thread only (the measurement's).
unsafe impl Sync for GlibcWatch {}

impl GlibcWatch {
    /// Starts watching: reads the footprint once.
    pub fn new() -> Self {
        let now = SystemMalloc.stats();
        GlibcWatch {
            brk: Cell::new(current_break()),
            now: Cell::new(now),
            peak: Cell::new(now.footprint()),
            changes: Cell::new(0),
        }
    }

    /// How many times the footprint changed: at least that many brk or
    /// mmap calls.
    pub fn changes(&self) -> u64 {
        self.changes.get()
    }

    /// After a call: re-reads the footprint if it may have changed.
    fn after(&self, big: bool) {
        let brk = current_break();
        if big || brk != self.brk.get() {
            self.brk.set(brk);
            self.read();
        }
    }

    /// Reads the footprint (mallinfo2) and follows its peak.
    fn read(&self) -> Stats {
        let now = SystemMalloc.stats();
        if now.footprint() != self.now.get().footprint() {
            self.changes.set(self.changes.get() + 1);
        }
        self.peak.set(self.peak.get().max(now.footprint()));
        self.now.set(now);
        now
    }

    /// Whether `ptr` is a block that may be mapped.
    fn is_big(ptr: *mut u8) -> bool {
        // SAFETY: callers pass null or a live block of glibc's.
        !ptr.is_null() && unsafe { SystemMalloc.usable_size(ptr) } >= MAPPED_AT_LEAST
    }
}

fn current_break() -> usize {
    // SAFETY: sbrk(0) only reads the current break.
    unsafe { libc::sbrk(0) as usize }
}

// SAFETY: every block comes from the system malloc.
unsafe impl Malloc for GlibcWatch {
    fn malloc(&self, size: usize) -> *mut u8 {
        let p = SystemMalloc.malloc(size);
        self.after(size >= MAPPED_AT_LEAST);
        p
    }

    unsafe fn free(&self, ptr: *mut u8) {
        let big = Self::is_big(ptr);
        // SAFETY: passed on from our caller.
        unsafe { SystemMalloc.free(ptr) };
        self.after(big);
    }

    unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        let big = Self::is_big(ptr) || size >= MAPPED_AT_LEAST;
        // SAFETY: passed on from our caller.
        let p = unsafe { SystemMalloc.realloc(ptr, size) };
        self.after(big);
        p
    }

    fn calloc(&self, count: usize, size: usize) -> *mut u8 {
        let p = SystemMalloc.calloc(count, size);
        self.after(count.saturating_mul(size) >= MAPPED_AT_LEAST);
        p
    }

    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        let p = SystemMalloc.memalign(align, size);
        self.after(size.saturating_add(align) >= MAPPED_AT_LEAST);
        p
    }

    unsafe fn usable_size(&self, ptr: *mut u8) -> usize {
        // SAFETY: passed on from our caller.
        unsafe { SystemMalloc.usable_size(ptr) }
    }

    /// The footprint now (read afresh) and its peak since
    /// [`GlibcWatch::new`].
    fn stats(&self) -> Stats {
        let now = self.read();
        Stats {
            footprint_peak: self.peak.get(),
            ..now
        }
    }

    fn check(&self) -> Result<(), HeapError> {
        Ok(())
    }

    fn heap_map(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        SystemMalloc.heap_map(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_a_mapped_block() {
        let watch = GlibcWatch::new();
        let before = watch.stats().footprint();
        // Above glibc's largest mmap threshold (32 MiB): always mapped.
        let p = watch.malloc(40 << 20);
        assert!(watch.stats().footprint_peak >= before + (40 << 20));
        // SAFETY: `p` is live.
        unsafe { watch.free(p) };
        assert!(watch.changes() >= 2);
    }
}
