//! Stage 6: threshold tuning.
//!
//! Stage 5 works, but on numbers picked once, and each costs something a
//! measurement shows. A program that allocates and frees 256 KiB in a loop
//! makes two system calls and faults in 64 fresh pages every time, because
//! 256 KiB is over the fixed 128 KiB mmap threshold. The break grows in
//! fixed 64 KiB steps, and never shrinks: memory freed at the top of the
//! heap stays with the process.
//!
//! Here the fixed choices become knobs ([`Settings`]), with glibc's defaults
//! and rules:
//!
//! - **dynamic mmap threshold**: freeing a mapped block bigger than the
//!   threshold (up to 32 MiB) raises the threshold to its size, and the
//!   trim threshold to twice that: a program that keeps asking for blocks
//!   of that size now gets them from the heap, where freeing is cheap;
//! - **trim threshold**: when the free bytes at the top of the heap pass it,
//!   the break moves back down and the OS gets them back;
//! - **top pad**: how much more than needed the break grows each time;
//! - all set at start-up from `WORKBOOK_MALLOC` (see [`settings`]).
//!
//! The files:
//!
//! - `lib.rs`: the allocator: its state, the bump, and where each request
//!   goes;
//! - `block.rs`: the block and region headers;
//! - `top.rs`: growing the break, and trimming the top;
//! - `buckets.rs`: size classes, and the buckets small blocks come from;
//! - `free_list.rs`: free lists, and which list a freed block goes on;
//! - `split.rs`: cutting a bigger free block into blocks of a class;
//! - `mapped.rs`: large blocks, each with a mapping of its own;
//! - `settings.rs`: the knobs, and reading them from the environment;
//! - `walk.rs`: walking the heap: the checker and the heap map.

#![no_std]

mod block;
mod buckets;
mod free_list;
mod mapped;
pub mod settings;
mod split;
mod top;
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
use mapped::mapping_start;
pub use settings::Settings;
pub use split::MIN_BLOCK;

/// The tuned allocator: stage 6 of the course.
///
/// Generic over its memory sources; [`Tuned::new`] uses the real program
/// break and the kernel's `mmap`, and reads its settings from the
/// environment on first use.
pub struct Tuned<S: Break = RealBreak, P: Pages = RealPages> {
    heap: Lock<Heap<S, P>>,
}

impl Tuned<RealBreak, RealPages> {
    /// An allocator on the program break and `mmap` (usable in a `static`).
    pub const fn new() -> Self {
        Self::with_sources(RealBreak::new(), RealPages::new())
    }
}

impl Default for Tuned<RealBreak, RealPages> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Break, P: Pages> Tuned<S, P> {
    /// An allocator taking its heap from `source` and its mappings from
    /// `pages`, with the settings from the environment.
    pub const fn with_sources(source: S, pages: P) -> Self {
        Self::with_settings(source, pages, None)
    }

    /// An allocator with the given settings (`None`: read the environment
    /// variable on first use).
    pub const fn with_settings(source: S, pages: P, settings: Option<Settings>) -> Self {
        Tuned {
            heap: Lock::new(Heap {
                settings: match settings {
                    Some(settings) => settings,
                    None => Settings::DEFAULT,
                },
                settings_read: settings.is_some(),
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

impl<S: Break, P: Pages> Tuned<S, P> {
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
    /// The knobs.
    settings: Settings,
    /// Whether `settings` has been read from the environment (or given).
    settings_read: bool,
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
    /// Hands out a block of `size` bytes whose payload is aligned to `align`.
    fn alloc(&mut self, size: usize, align: usize) -> *mut u8 {
        if too_large(size, align) {
            return ptr::null_mut();
        }
        if !self.settings_read {
            self.settings = Settings::from_env();
            self.settings_read = true;
        }
        // ANCHOR: route
        if size >= self.settings.mmap_threshold {
            return self.alloc_mapped(size, align);
        }
        // ANCHOR_END: route
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
            // The most recent block: move the bump back over it, and give
            // the top back if it is now big enough.
            self.bump = header.cast();
            self.last = ptr::null_mut();
            self.trim();
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
// a mapping of its own, given back only when it is freed, and trimming
// gives back only bytes above the bump, where no block lies. Payloads are
// aligned by `alloc` and `alloc_mapped`. A heap block is never handed out
// twice: a bucket hands each of its blocks out once; a freed block goes on
// one free list and is taken off it before it is handed out again; the
// bump moves back only over the most recent block, freed, which is then on
// no list.
unsafe impl<S: Break, P: Pages> Malloc for Tuned<S, P> {
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
        stats.locks = self.heap.acquisitions();
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
