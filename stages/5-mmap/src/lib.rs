//! Stage 5: `mmap` for large requests.
//!
//! Stage 4 keeps every byte it ever took from the break: a program that
//! frees a 10 MB buffer still holds 10 MB. Here a request of at least
//! [`MMAP_THRESHOLD`] bytes (128 KiB, glibc's default) gets a mapping of its
//! own, and `free` gives it straight back to the OS with `munmap`.
//!
//! ```text
//!  heap (break):   |region|bucket|bucket|large|...|bump       end|
//!  mapping:        |hdr|        200 KiB payload          | (whole pages)
//!  mapping:        |hdr|         3 MiB payload                 |
//! ```
//!
//! A mapped block keeps the same 16-byte header, in its first page, tagged
//! `Mapped`, with the mapping's length as its span. A `realloc` of a mapped
//! block asks the kernel to resize the mapping (`mremap`), which moves pages
//! instead of copying bytes. When the break cannot grow any more (the data
//! limit, or another mapping in the way), the heap takes its next region
//! from a mapping rather than fail, as glibc does.
//!
//! Still fixed: the threshold, and everything else stage 6 tunes.
//!
//! The files:
//!
//! - `lib.rs`: the allocator: its state, the break, the bump, and where each
//!   request goes;
//! - `block.rs`: the block and region headers;
//! - `buckets.rs`: size classes, and the buckets small blocks come from;
//! - `free_list.rs`: free lists, and which list a freed block goes on;
//! - `split.rs`: cutting a bigger free block into blocks of a class;
//! - `mapped.rs`: large blocks, each with a mapping of its own;
//! - `walk.rs`: walking the heap: the checker and the heap map.

#![no_std]

mod block;
mod buckets;
mod free_list;
mod mapped;
mod split;
mod walk;

use core::ptr;

use malloc_core::policy::{Choices, Policy};
use malloc_core::{
    ALIGN, Break, HeapError, Lock, MAX_REQUEST, Malloc, Pages, RealBreak, RealPages, Stats, Tally,
    align_up, too_large,
};

use block::{HEADER, Header, Region, Tag};
use buckets::Bucket;
pub use buckets::{BUCKET_BYTES, CLASSES, class_of};
use free_list::FreeList;
pub use free_list::{CHOICES, POLICY};
pub use mapped::MMAP_THRESHOLD;
use mapped::mapping_start;
pub use split::MIN_BLOCK;

/// The break grows by at least this much at a time: 64 KiB, so that a
/// program making small requests pays one system call per thousands of them.
pub const GROW_STEP: usize = 64 * 1024;

/// A bucket allocator with free lists, splitting and mapped large blocks:
/// stage 5 of the course.
///
/// Generic over its memory sources; [`Mmap::new`] uses the real program
/// break and the kernel's `mmap`.
pub struct Mmap<S: Break = RealBreak, P: Pages = RealPages> {
    heap: Lock<Heap<S, P>>,
}

impl Mmap<RealBreak, RealPages> {
    /// An allocator on the program break and `mmap` (usable in a `static`).
    pub const fn new() -> Self {
        Self::with_sources(RealBreak::new(), RealPages::new())
    }
}

impl Default for Mmap<RealBreak, RealPages> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Break, P: Pages> Mmap<S, P> {
    /// An allocator taking its heap from `source` and its mappings from
    /// `pages`.
    pub const fn with_sources(source: S, pages: P) -> Self {
        Mmap {
            heap: Lock::new(Heap {
                source,
                pages,
                current_mapped: false,
                mapped_blocks: 0,
                mapped_bytes: 0,
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

impl<S: Break, P: Pages> Mmap<S, P> {
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
struct Heap<S, P> {
    source: S,
    /// Where mapped blocks come from.
    pages: P,
    /// Whether the current region is a mapping (the break could not grow).
    current_mapped: bool,
    /// Mapped blocks not yet freed, and the bytes requested for them.
    mapped_blocks: usize,
    mapped_bytes: usize,
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
unsafe impl<S: Send, P: Send> Send for Heap<S, P> {}

/// Bytes of payload a request of `size` occupies: rounded up to [`ALIGN`],
/// and at least [`ALIGN`] so that `malloc(0)` gets a unique usable block.
fn payload_size(size: usize) -> usize {
    align_up(size.max(1), ALIGN)
}

impl<S: Break, P: Pages> Heap<S, P> {
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
        // When the break cannot grow (a limit, or a mapping in the way), a
        // mapping becomes the next region, as glibc falls back to mmap.
        let from_break = self.source.grow(step);
        let Some(start) = from_break.or_else(|| self.pages.map(step)) else {
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
            self.current_mapped = from_break.is_none();
            self.bump = start.wrapping_add(HEADER);
            self.end = start.wrapping_add(step);
            // The tail of the old region can no longer be extended.
            self.last = ptr::null_mut();
        }
        self.note_footprint();
        // A whole step holds the request and a region header: it fits now.
        true
    }

    /// Hands out a block of `size` bytes whose payload is aligned to `align`.
    fn alloc(&mut self, size: usize, align: usize) -> *mut u8 {
        if too_large(size, align) {
            return ptr::null_mut();
        }
        // EXERCISE: route
        // ANCHOR: route
        if size >= MMAP_THRESHOLD {
            return self.alloc_mapped(size, align);
        }
        // ANCHOR_END: route
        // EXERCISE END
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

    /// The footprint changed: remember its peak.
    fn note_footprint(&mut self) {
        let bytes = self.source.stats().bytes + self.pages.stats().bytes;
        self.tally.footprint(bytes);
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
        if block.tag() == Some(Tag::Mapped) {
            // SAFETY: a live mapped block of ours.
            return unsafe { self.free_mapped(header) };
        }
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
        if unsafe { (*header).tag() } == Some(Tag::Mapped) {
            // SAFETY: a live mapped block of ours.
            return unsafe { self.realloc_mapped(ptr, size) };
        }
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

// SAFETY: heap blocks are carved from memory the source gave us, end to end
// below the bump (small ones from buckets carved from it; a split's pieces
// inside the free block it cuts), so they never overlap; a mapped block has
// a mapping of its own, given back only when it is freed. Payloads are
// aligned by `alloc` and `alloc_mapped`. A heap block is never handed out
// twice: a bucket hands each of its blocks out once; a freed block goes on
// one free list and is taken off it before it is handed out again; the
// bump moves back only over the most recent block, freed, which is then on
// no list.
unsafe impl<S: Break, P: Pages> Malloc for Mmap<S, P> {
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
        let header = Header::of(ptr);
        // SAFETY: a live block has a header just before its payload.
        let block = unsafe { &*header };
        if block.tag() == Some(Tag::Mapped) {
            // Up to the end of the mapping.
            let end = mapping_start::<P>(header).as_ptr() as usize + block.span();
            return end - ptr as usize;
        }
        block.usable()
    }

    fn stats(&self) -> Stats {
        let heap = self.heap.lock();
        let mut stats = heap.tally.stats(heap.source.stats(), heap.pages.stats());
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
