//! Stage 4: splitting.
//!
//! Stage 3 reuses a freed block only for a request of the same class. A
//! program that frees ten thousand 1024-byte blocks and then wants forty
//! thousand 64-byte ones still grows the heap, with 10 MB of free memory
//! sitting on the wrong list. Here, when a class's list is empty, the
//! allocator takes a free block of a bigger class (or a large free block)
//! and *splits* it into blocks of the class it needs, before it grows the
//! break.
//!
//! ```text
//!  a free 1024 block:  |hdr|            1024 bytes                  |
//!  split for class 64: |hdr| 64 |hdr| 64 |hdr| 64 | ... 13 blocks of 80 bytes
//!                       ^ handed out  ^ onto the 64 list ...
//! ```
//!
//! Splitting has a mirror image, merging free neighbours back into bigger
//! blocks. This stage does not merge: a block knows the block after it (its
//! span says where it ends) but not the one before it, and a free neighbour
//! would have to be found on its singly linked list. dlmalloc pays for
//! merging with a footer on every free block (a *boundary tag*) and doubly
//! linked lists; the book's chapter weighs that price.
//!
//! What this stage cannot do yet: give memory back to the OS.
//!
//! The files:
//!
//! - `lib.rs`: the allocator: its state, the break, the bump, and where each
//!   request goes;
//! - `block.rs`: the block and region headers;
//! - `buckets.rs`: size classes, and the buckets small blocks come from;
//! - `free_list.rs`: free lists, and which list a freed block goes on;
//! - `split.rs`: cutting a bigger free block into blocks of a class;
//! - `walk.rs`: walking the heap: the checker and the heap map.

#![no_std]

mod block;
mod buckets;
mod free_list;
mod split;
mod walk;

use core::ptr;

use malloc_core::policy::{Choices, Policy};
use malloc_core::{
    ALIGN, Break, HeapError, Lock, MAX_REQUEST, Malloc, RealBreak, SourceStats, Stats, Tally,
    align_up, too_large,
};

use block::{HEADER, Header, Region, Tag};
use buckets::Bucket;
pub use buckets::{BUCKET_BYTES, CLASSES, class_of};
use free_list::FreeList;
pub use free_list::{CHOICES, POLICY};
pub use split::MIN_BLOCK;

/// The break grows by at least this much at a time: 64 KiB, so that a
/// program making small requests pays one system call per thousands of them.
pub const GROW_STEP: usize = 64 * 1024;

/// A bucket allocator with free lists and splitting: stage 4 of the course.
///
/// Generic over its memory source; [`Split::new`] uses the real program
/// break.
pub struct Split<S: Break = RealBreak> {
    heap: Lock<Heap<S>>,
}

impl Split<RealBreak> {
    /// A bucket allocator on the program break (usable in a `static`).
    pub const fn new() -> Self {
        Self::with_source(RealBreak::new())
    }
}

impl Default for Split<RealBreak> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Break> Split<S> {
    /// A bucket allocator taking its memory from `source`.
    pub const fn with_source(source: S) -> Self {
        Split {
            heap: Lock::new(Heap {
                source,
                first: ptr::null_mut(),
                current: ptr::null_mut(),
                bump: ptr::null_mut(),
                end: ptr::null_mut(),
                last: ptr::null_mut(),
                buckets: [Bucket::new(); CLASSES.len()],
                free: [const { FreeList::new() }; CLASSES.len()],
                large_free: FreeList::new(),
                policy: POLICY,
                tally: Tally::new(),
            }),
        }
    }
}

impl<S: Break> Split<S> {
    /// The same allocator running `policy` instead of the course's
    /// [`POLICY`] (the policy lab's switch).
    ///
    /// # Panics
    ///
    /// If `policy` is not one of [`CHOICES`].
    pub fn with_policy(mut self, policy: Policy) -> Self {
        assert!(CHOICES.supports(policy), "this stage cannot run {policy:?}");
        self.heap.get_mut().policy = policy;
        self
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
    /// One bucket per class: where its next block comes from.
    buckets: [Bucket; CLASSES.len()],
    /// One free list per class.
    free: [FreeList; CLASSES.len()],
    /// Free blocks of any other size (large ones, and aligned ones).
    large_free: FreeList,
    /// How the free lists are searched and kept (the policy lab's switch).
    policy: Policy,
    tally: Tally,
}

// SAFETY: the raw pointers point into memory this heap owns; moving the heap
// to another thread moves that ownership with it.
unsafe impl<S: Send> Send for Heap<S> {}

/// Bytes of payload a request of `size` occupies: rounded up to [`ALIGN`],
/// and at least [`ALIGN`] so that `malloc(0)` gets a unique usable block.
fn payload_size(size: usize) -> usize {
    align_up(size.max(1), ALIGN)
}

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
        if align == ALIGN
            && let Some(class) = class_of(size)
        {
            return self.alloc_small(class, size);
        }
        let span = HEADER + payload_size(size);
        // ANCHOR: reuse_large
        if align == ALIGN
            && let Some(header) = self.large_free.take(span, self.policy.fit)
        {
            // SAFETY: a block from a free list is ours; it keeps its span.
            // (Splitting it too was measured: without merging, the pieces
            // left over fragment the heap; see the book.)
            unsafe { (*header).reuse(size) };
            self.tally.malloc(size);
            return header.cast::<u8>().wrapping_add(HEADER);
        }
        // ANCHOR_END: reuse_large
        // Enough for the block and the worst padding the alignment needs.
        let worst = span + align.saturating_sub(ALIGN);
        if !self.reserve(worst) {
            return ptr::null_mut();
        }
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
            return;
        }
        // Anywhere else: onto a free list, to be used again.
        // SAFETY: the block is ours, free and on no list.
        unsafe { self.push_free(header) };
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

// SAFETY: blocks are carved from memory the source gave us, end to end below
// the bump (small ones from buckets carved from it), so they never overlap;
// a split cuts a free block that is on no list into pieces that lie inside
// it, end to end. Payloads are aligned by `alloc` and by every span being a
// multiple of ALIGN. A block is never handed out twice: a bucket hands each
// of its blocks out once; a freed block or a split's piece goes on one free
// list and is taken off it before it is handed out again; the bump moves
// back only over the most recent block, freed, which is then on no list.
unsafe impl<S: Break> Malloc for Split<S> {
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
        let mut stats = heap.tally.stats(heap.source.stats(), SourceStats::new());
        stats.longest_search = heap.longest_search();
        stats
    }

    fn check(&self) -> Result<(), HeapError> {
        self.heap.lock().check()
    }

    fn heap_map(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        self.heap.lock().heap_map(out)
    }

    fn choices(&self) -> Option<Choices> {
        Some(CHOICES)
    }

    fn policy(&self) -> Option<Policy> {
        Some(self.heap.lock().policy)
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
