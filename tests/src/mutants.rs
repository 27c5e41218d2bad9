//! Broken allocators that the suite must reject: if one of them passes, the
//! suite is too weak.
//!
//! Each mutant wraps a correct allocator and breaks one promise. They wrap
//! [`Arena`], a simple allocator made for them: its bookkeeping lives in a
//! side table, not in headers next to the blocks, and it never gives memory
//! back until it is dropped. So a mutant that writes past a block, or hands
//! out a block twice, spoils only fill patterns (which the suite sees), never
//! the allocator's own structures (which could crash the test process).

use std::collections::BTreeMap;
use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::Mutex;

use malloc_core::{ALIGN, HeapError, Malloc, Stats, align_up, os};

/// A bump allocator over one private mapping, with block sizes in a side
/// table. Correct (it passes the suite) but never reuses memory, and it
/// allocates for its table, so it can only serve tests, not a program.
pub struct Arena {
    base: NonNull<u8>,
    table: Mutex<Table>,
}

/// The arena's bookkeeping.
struct Table {
    /// Bytes handed out from the start of the mapping.
    top: usize,
    /// Live blocks: address to usable size.
    blocks: BTreeMap<usize, usize>,
}

impl Arena {
    /// Address space reserved for one arena (pages are touched only when used).
    pub const CAPACITY: usize = 4 << 30;
    /// Never handed out at the end of the mapping, so that a mutant writing a
    /// little past its last block still writes into mapped memory.
    const SLACK: usize = 1 << 20;

    /// A new arena with its own mapping.
    pub fn new() -> Arena {
        let base = os::map(Self::CAPACITY, true).expect("the arena's address space");
        Arena {
            base,
            table: Mutex::new(Table {
                top: 0,
                blocks: BTreeMap::new(),
            }),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // A mutant may panic while holding the lock; the table is still fine.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and nobody uses its blocks any more.
        unsafe { os::unmap(self.base, Self::CAPACITY) };
    }
}

// SAFETY: the mapping is only reached through the table's lock.
unsafe impl Send for Arena {}
// SAFETY: as above: all shared state is behind the lock.
unsafe impl Sync for Arena {}

// SAFETY: blocks come from disjoint, aligned ranges of one mapping that lives
// as long as the arena.
unsafe impl Malloc for Arena {
    fn malloc(&self, size: usize) -> *mut u8 {
        self.memalign(ALIGN, size)
    }

    unsafe fn free(&self, ptr: *mut u8) {
        // Unknown pointers (a mutant's double free) are ignored.
        self.table().blocks.remove(&(ptr as usize));
    }

    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        if !align.is_power_of_two() || align > Self::CAPACITY || size > Self::CAPACITY {
            return ptr::null_mut();
        }
        let mut table = self.table();
        let base = self.base.as_ptr() as usize;
        let start = align_up(base + table.top, align.max(ALIGN));
        let usable = align_up(size.max(1), ALIGN);
        if start + usable + Self::SLACK > base + Self::CAPACITY {
            return ptr::null_mut();
        }
        table.top = start + usable - base;
        table.blocks.insert(start, usable);
        start as *mut u8
    }

    unsafe fn usable_size(&self, ptr: *mut u8) -> usize {
        self.table()
            .blocks
            .get(&(ptr as usize))
            .copied()
            .unwrap_or(0)
    }

    fn stats(&self) -> Stats {
        Stats::default()
    }

    fn check(&self) -> Result<(), HeapError> {
        Ok(())
    }

    fn heap_map(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        let table = self.table();
        writeln!(
            out,
            "arena: {} live blocks, {} bytes handed out",
            table.blocks.len(),
            table.top
        )
    }
}

/// Mutant 1: `realloc` moves the block but does not copy the data.
pub struct NoCopyRealloc<M>(pub M);

// SAFETY: NOT sound on purpose: a mutant for the suite to catch. Blocks
// stay valid and disjoint; only their contents are lost.
unsafe impl<M: Malloc> Malloc for NoCopyRealloc<M> {
    unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.malloc(size);
        }
        // SAFETY: the caller gives a live block.
        unsafe { self.free(ptr) };
        if size == 0 {
            return ptr::null_mut();
        }
        // The bug: the old contents are not copied over.
        self.malloc(size)
    }

    fn malloc(&self, size: usize) -> *mut u8 {
        self.0.malloc(size)
    }
    unsafe fn free(&self, ptr: *mut u8) {
        // SAFETY: passed on from the caller.
        unsafe { self.0.free(ptr) }
    }
    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        self.0.memalign(align, size)
    }
    unsafe fn usable_size(&self, ptr: *mut u8) -> usize {
        // SAFETY: passed on from the caller.
        unsafe { self.0.usable_size(ptr) }
    }
    fn stats(&self) -> Stats {
        self.0.stats()
    }
    fn check(&self) -> Result<(), HeapError> {
        self.0.check()
    }
    fn heap_map(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        self.0.heap_map(out)
    }
}

/// Mutant 2: `calloc` does not zero. Fresh memory from the OS is zero
/// anyway, which would hide the bug, so this mutant dirties every block it
/// hands out (as reused memory would be).
pub struct DirtyCalloc<M>(pub M);

// SAFETY: NOT sound on purpose: a mutant for the suite to catch. Blocks
// stay valid and disjoint; calloc's are not zeroed.
unsafe impl<M: Malloc> Malloc for DirtyCalloc<M> {
    fn calloc(&self, count: usize, size: usize) -> *mut u8 {
        let Some(bytes) = count.checked_mul(size) else {
            return ptr::null_mut();
        };
        let p = self.0.malloc(bytes);
        if !p.is_null() {
            // The bug: garbage instead of zeros.
            // SAFETY: a fresh block of at least `bytes` bytes.
            unsafe { p.write_bytes(0xA5, bytes) };
        }
        p
    }

    fn malloc(&self, size: usize) -> *mut u8 {
        self.0.malloc(size)
    }
    unsafe fn free(&self, ptr: *mut u8) {
        // SAFETY: passed on from the caller.
        unsafe { self.0.free(ptr) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        // SAFETY: passed on from the caller.
        unsafe { self.0.realloc(ptr, size) }
    }
    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        self.0.memalign(align, size)
    }
    unsafe fn usable_size(&self, ptr: *mut u8) -> usize {
        // SAFETY: passed on from the caller.
        unsafe { self.0.usable_size(ptr) }
    }
    fn stats(&self) -> Stats {
        self.0.stats()
    }
    fn check(&self) -> Result<(), HeapError> {
        self.0.check()
    }
    fn heap_map(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        self.0.heap_map(out)
    }
}

/// Mutant 3: every second `malloc` hands out the block of the `malloc`
/// before it again (when that one is big enough), so two live blocks
/// overlap.
pub struct Overlapping<M> {
    inner: M,
    /// The block the last `malloc` made, to be handed out once more.
    last: Mutex<Option<usize>>,
}

impl<M> Overlapping<M> {
    /// Wraps `inner`.
    pub fn new(inner: M) -> Self {
        Overlapping {
            inner,
            last: Mutex::new(None),
        }
    }
}

// SAFETY: NOT sound on purpose: a mutant for the suite to catch. It breaks
// the promise that live blocks are disjoint.
unsafe impl<M: Malloc> Malloc for Overlapping<M> {
    fn malloc(&self, size: usize) -> *mut u8 {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(previous) = last.take() {
            // SAFETY: the arena answers 0 for a block it no longer knows.
            if unsafe { self.inner.usable_size(previous as *mut u8) } >= size.max(1) {
                // The bug: a block that is still in use, handed out again.
                return previous as *mut u8;
            }
        }
        let p = self.inner.malloc(size);
        *last = Some(p as usize).filter(|&p| p != 0);
        p
    }

    unsafe fn free(&self, ptr: *mut u8) {
        // SAFETY: passed on from the caller (the arena ignores double frees).
        unsafe { self.inner.free(ptr) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        // The inner realloc: the default one could copy a block onto itself.
        // SAFETY: passed on from the caller.
        unsafe { self.inner.realloc(ptr, size) }
    }
    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        self.inner.memalign(align, size)
    }
    unsafe fn usable_size(&self, ptr: *mut u8) -> usize {
        // SAFETY: passed on from the caller.
        unsafe { self.inner.usable_size(ptr) }
    }
    fn stats(&self) -> Stats {
        self.inner.stats()
    }
    fn check(&self) -> Result<(), HeapError> {
        self.inner.check()
    }
    fn heap_map(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        self.inner.heap_map(out)
    }
}

/// Mutant 4: every pointer is 8 bytes past a 16-byte boundary.
pub struct Misaligned<M>(pub M);

/// How far [`Misaligned`] shifts its pointers.
const SHIFT: usize = 8;

// SAFETY: NOT sound on purpose: a mutant for the suite to catch. Blocks are
// valid and disjoint but not aligned.
unsafe impl<M: Malloc> Malloc for Misaligned<M> {
    fn malloc(&self, size: usize) -> *mut u8 {
        shift(self.0.malloc(size.saturating_add(SHIFT)))
    }
    unsafe fn free(&self, ptr: *mut u8) {
        // SAFETY: `unshift` gives back the inner allocator's pointer.
        unsafe { self.0.free(unshift(ptr)) }
    }
    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        shift(self.0.memalign(align, size.saturating_add(SHIFT)))
    }
    unsafe fn usable_size(&self, ptr: *mut u8) -> usize {
        // SAFETY: `unshift` gives back the inner allocator's pointer.
        unsafe { self.0.usable_size(unshift(ptr)) }.saturating_sub(SHIFT)
    }
    fn stats(&self) -> Stats {
        self.0.stats()
    }
    fn check(&self) -> Result<(), HeapError> {
        self.0.check()
    }
    fn heap_map(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        self.0.heap_map(out)
    }
}

/// The bug of [`Misaligned`]: a pointer moved off its alignment.
fn shift(p: *mut u8) -> *mut u8 {
    if p.is_null() {
        p
    } else {
        p.wrapping_add(SHIFT)
    }
}

/// The inner pointer behind a shifted one.
fn unshift(p: *mut u8) -> *mut u8 {
    if p.is_null() {
        p
    } else {
        p.wrapping_sub(SHIFT)
    }
}

/// Mutant 5: `usable_size` claims 64 bytes more than the block has.
pub struct LyingUsableSize<M>(pub M);

// SAFETY: NOT sound on purpose: a mutant for the suite to catch. A caller
// that trusts `usable_size` writes into the next block.
unsafe impl<M: Malloc> Malloc for LyingUsableSize<M> {
    unsafe fn usable_size(&self, ptr: *mut u8) -> usize {
        if ptr.is_null() {
            return 0;
        }
        // SAFETY: passed on from the caller.
        unsafe { self.0.usable_size(ptr) + 64 }
    }
    unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        // The inner realloc: the default one would trust the lie and copy
        // from a range that may overlap the new block.
        // SAFETY: passed on from the caller.
        unsafe { self.0.realloc(ptr, size) }
    }

    fn malloc(&self, size: usize) -> *mut u8 {
        self.0.malloc(size)
    }
    unsafe fn free(&self, ptr: *mut u8) {
        // SAFETY: passed on from the caller.
        unsafe { self.0.free(ptr) }
    }
    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        self.0.memalign(align, size)
    }
    fn stats(&self) -> Stats {
        self.0.stats()
    }
    fn check(&self) -> Result<(), HeapError> {
        self.0.check()
    }
    fn heap_map(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        self.0.heap_map(out)
    }
}
