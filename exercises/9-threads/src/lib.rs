//! Stage 9: threads.
//!
//! Stage 8 keeps its heap behind one lock, and every `malloc` and `free`
//! takes it. With one thread that costs an atomic instruction per call;
//! with two threads on two processors, the lock's cache line travels
//! between them at every call and a thread that finds the lock taken must
//! wait. A program whose threads allocate and free at a high rate spends
//! its time queueing for the lock (a *convoy*), the worst when one thread
//! frees what another allocated.
//!
//! Here each thread keeps a cache of small free blocks, one short list per
//! size class, used without the lock (see `cache`, and glibc's *tcache*).
//! A `malloc` takes the lock only when its cache has no block of the size.
//! A `free` never takes it: a full cache gives half of a class back to the
//! heap on a list of waiting frees, with one compare-and-swap, and the next
//! thread that takes the lock frees them. So a thread that only frees what
//! another allocated (a consumer) does not queue for the lock at all. The
//! lock itself (in the core) spins a little, then sleeps in the kernel, so
//! a waiting thread gives its processor to the holder.
//!
//! The files:
//!
//! - `lib.rs`: the allocator: its state, the bump, and where each request
//!   goes;
//! - `block.rs`: the block and region headers, the flag and the footer;
//! - `top.rs`: growing the break, and trimming the top;
//! - `bins.rs`: the free blocks, by size, safe-linked;
//! - `merge.rs`: freeing with merging, and cutting a block down in place;
//! - `mapped.rs`: large blocks, each with a mapping of its own;
//! - `misuse.rs`: the checks of `free` and `realloc`, and stopping the
//!   program;
//! - `debug.rs`: the debug mode;
//! - `cache.rs`: the per-thread caches;
//! - `fast_path.rs`: `malloc` and `free` through them;
//! - `settings.rs`: the knobs, and reading them from the environment;
//! - `walk.rs`: walking the heap: the checker and the heap map.

#![no_std]

mod bins;
mod block;
mod cache;
mod debug;
mod fast_path;
mod mapped;
mod merge;
mod misuse;
pub mod settings;
mod top;
mod walk;

use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize};

use malloc_core::policy::{Choices, Fit, Order, Policy};
use malloc_core::{
    ALIGN, Break, HeapError, Lock, LockGuard, MAX_REQUEST, Malloc, Pages, RealBreak, RealPages,
    Stats, Tally, align_up, too_large,
};

use bins::Bins;
pub use bins::{BINS, bin_floor, bin_of};
use block::{HEADER, Header, Region, Tag};
use cache::Caches;
pub use cache::{KEY, SLOTS};
pub use debug::GUARD;
use mapped::mapping_start;
pub use merge::MIN_BLOCK;
use misuse::checked_header;
pub use settings::Settings;

/// The threaded allocator: stage 9 of the course.
///
/// Generic over its memory sources; [`Threaded::new`] uses the real program
/// break and the kernel's `mmap`, and reads its settings from the
/// environment on first use.
pub struct Threaded<S: Break = RealBreak, P: Pages = RealPages> {
    heap: Lock<Heap<S, P>>,
    /// The fast path: each thread's few free small blocks, outside the lock.
    caches: Caches,
    /// The debug mode is on: the fast path is off.
    debug: AtomicBool,
    /// Blocks a cache keeps per class: `cache::DEPTH`, raised to
    /// `cache::SHARED_DEPTH` once a thread found the lock taken.
    depth: AtomicUsize,
    /// Blocks the caches gave back, waiting for the next thread that takes
    /// the lock to free them (a chain linked like a cache's bin).
    waiting: AtomicPtr<Header>,
}

impl Threaded<RealBreak, RealPages> {
    /// An allocator on the program break and `mmap` (usable in a `static`).
    pub const fn new() -> Self {
        Self::with_sources(RealBreak::new(), RealPages::new())
    }
}

impl Default for Threaded<RealBreak, RealPages> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Break, P: Pages> Threaded<S, P> {
    /// An allocator taking its heap from `source` and its mappings from
    /// `pages`, with the settings from the environment.
    pub const fn with_sources(source: S, pages: P) -> Self {
        Self::with_settings(source, pages, None)
    }

    /// An allocator with the given settings (`None`: read the environment
    /// variable on first use).
    pub const fn with_settings(source: S, pages: P, settings: Option<Settings>) -> Self {
        Threaded {
            caches: Caches::new(),
            waiting: AtomicPtr::new(ptr::null_mut()),
            depth: AtomicUsize::new(cache::DEPTH),
            debug: AtomicBool::new(match settings {
                Some(settings) => settings.debugging(),
                None => false,
            }),
            heap: Lock::new(Heap {
                settings: match settings {
                    Some(settings) => settings,
                    None => Settings::DEFAULT,
                },
                settings_read: settings.is_some(),
                ops_since_check: 0,
                source,
                pages,
                current_mapped: false,
                mapped_blocks: 0,
                mapped_bytes: 0,
                first: ptr::null_mut(),
                current: ptr::null_mut(),
                bump: ptr::null_mut(),
                end: ptr::null_mut(),
                bins: Bins::new(),
                policy: POLICY,
                tally: Tally::new(),
            }),
        }
    }
}

impl<S: Break, P: Pages> Threaded<S, P> {
    /// The heap, locked, with the blocks waiting on `waiting` freed first.
    fn locked(&self) -> LockGuard<'_, Heap<S, P>> {
        let mut heap = self.heap.lock();
        self.free_waiting(&mut heap);
        heap
    }
}

/// The policy this stage teaches: an approximate best fit over the bins
/// (see `bins`), LIFO bins, merging on.
pub const POLICY: Policy = Policy::new(Fit::Best, Order::Lifo, true);

/// The policies the lab can switch this stage to. Next fit and FIFO bins
/// are left out: they need a rover or a tail per bin, which every removal
/// (merging takes blocks out of the middle of bins) would have to keep up
/// to date, a cost on the course's path.
pub const CHOICES: Choices = Choices {
    default: POLICY,
    fits: &[Fit::First, Fit::Best, Fit::Worst],
    orders: &[Order::Lifo, Order::Address],
    merging: &[true, false],
};

impl<S: Break, P: Pages> Threaded<S, P> {
    /// The same allocator running `policy` instead of the course's
    /// [`POLICY`] (the policy lab's switch).
    ///
    /// # Panics
    ///
    /// If `policy` is not one of [`CHOICES`].
    pub fn with_policy(mut self, policy: Policy) -> Self {
        assert!(CHOICES.supports(policy), "this stage cannot run {policy:?}");
        let heap = self.heap.get_mut();
        heap.policy = policy;
        heap.bins.fit = policy.fit;
        heap.bins.order = policy.order;
        self
    }
}

/// The allocator's state, behind the lock.
struct Heap<S, P> {
    /// The knobs.
    settings: Settings,
    /// Whether `settings` has been read from the environment (or given).
    settings_read: bool,
    /// Mallocs and frees since the last debug-mode heap check.
    ops_since_check: usize,
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
    /// Where the next block starts: everything from here to `end` is the
    /// *top*, free memory no block covers. No free block ever ends here: it
    /// joins the top instead.
    bump: *mut u8,
    /// The end of the memory we got for the current region.
    end: *mut u8,
    /// The free blocks, by size.
    bins: Bins,
    /// How free blocks are searched, kept and merged (the policy lab's
    /// switch).
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
        let payload = payload_size(self.room(size));
        // ANCHOR: reuse
        if align == ALIGN
            && let Some(header) = self.bins.take(payload)
        {
            self.untouched(header);
            // SAFETY: a block just taken off its list is ours; what it has
            // beyond `payload` goes back as a free block of its own.
            unsafe {
                self.cut_down(header, HEADER + payload);
                (*header).reuse(size);
            }
            self.tally.malloc(size);
            // SAFETY: a block just handed out.
            return unsafe { self.guarded(header.cast::<u8>().wrapping_add(HEADER)) };
        }
        // ANCHOR_END: reuse
        let span = HEADER + payload;
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
        // SAFETY: `header .. header + span` lies inside reserved memory; no
        // free block ends at the bump, so the flag stays clear.
        unsafe { header.write(Header::new(Tag::Live, size, span)) };
        self.bump = header.cast::<u8>().wrapping_add(span);
        // ANCHOR_END: bump
        self.tally.malloc(size);
        // SAFETY: a block just handed out.
        unsafe { self.guarded(payload) }
    }

    /// Frees the block whose payload is at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is a live block of this heap.
    unsafe fn free(&mut self, ptr: *mut u8) {
        let header = Header::of(ptr);
        self.guard_checked("free", ptr);
        // SAFETY: a live block has a header just before its payload.
        let block = unsafe { &mut *header };
        if block.tag() == Some(Tag::Mapped) {
            // SAFETY: a live mapped block of ours.
            return unsafe { self.free_mapped(header) };
        }
        if block.tag() != Some(Tag::Live) {
            return; // The checks in `Threaded::free` stop this before.
        }
        self.tally.free(block.size());
        // SAFETY: a live block of ours, given back.
        unsafe { self.free_and_merge(header) };
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
        self.guard_checked("realloc", ptr);
        // SAFETY: a live block has a header just before its payload.
        if unsafe { (*header).tag() } == Some(Tag::Mapped) {
            // SAFETY: a live mapped block of ours.
            return unsafe { self.realloc_mapped(ptr, size) };
        }
        // SAFETY: a live block has a header just before its payload.
        let old = unsafe { (*header).size() };
        let span = HEADER + payload_size(self.room(size));
        // SAFETY: a live block of ours; `resize_in_place` keeps it whole.
        if unsafe { self.resize_in_place(header, span) } {
            // SAFETY: as above.
            unsafe { (*header).set_size(size) };
            self.tally.resize(old, size);
            // SAFETY: a live block of at least `size` bytes.
            return unsafe { self.guarded(ptr) };
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

// SAFETY: heap blocks are cut from memory the source gave us, end to end
// below the bump, so they never overlap (merging joins neighbours into one
// block, cutting a block down makes two from one); a mapped block has its
// own mapping, and trimming gives back only bytes above the bump; payloads
// are aligned by `alloc` and `alloc_mapped`. A block is handed out
// only from the top or from a bin, and a block is in a bin only while it is
// free: freeing files it there (or into the top) after merging, and taking
// it removes it, so no block is handed out twice, even when the program
// frees a block twice: `free` refuses a block whose header is not live, or
// that is in the thread's cache. A cached block is handed out by its cache
// alone, and a cache is used by one thread alone.
unsafe impl<S: Break, P: Pages> Malloc for Threaded<S, P> {
    fn malloc(&self, size: usize) -> *mut u8 {
        if let Some(block) = self.cached_malloc(size) {
            return block;
        }
        let mut heap = self.locked();
        let block = heap.alloc(size, ALIGN);
        let due = heap.check_due();
        drop(heap);
        if due {
            self.check_or_stop();
        }
        block
    }

    // ANCHOR: free
    unsafe fn free(&self, ptr: *mut u8) {
        if ptr.is_null() {
            return;
        }
        let header = checked_header("free", ptr);
        // SAFETY: the caller gives back a live block of ours.
        if unsafe { self.cached_free(header) } {
            return;
        }
        let mut heap = self.locked();
        // SAFETY: the caller passes a live block of ours; `checked_header`
        // stopped the program if the header says otherwise.
        unsafe { heap.free(ptr) };
        let due = heap.check_due();
        drop(heap);
        if due {
            self.check_or_stop();
        }
    }
    // ANCHOR_END: free

    unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.malloc(size);
        }
        if size == 0 {
            // SAFETY: the caller passes a live block of ours.
            unsafe { self.free(ptr) };
            return ptr::null_mut();
        }
        let header = checked_header("realloc", ptr);
        self.refuse_if_cached("realloc", header);
        // SAFETY: the caller passes a live block of ours (checked above as
        // far as the header can tell).
        unsafe { self.locked().realloc(ptr, size) }
    }

    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        if !align.is_power_of_two() {
            return ptr::null_mut();
        }
        let mut heap = self.locked();
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
        if self.debug.load(core::sync::atomic::Ordering::Relaxed) {
            // The rest is guard bytes: not the program's to use.
            return block.size();
        }
        if block.tag() == Some(Tag::Mapped) {
            // Up to the end of the mapping.
            let end = mapping_start::<P>(header).as_ptr() as usize + block.span();
            return end - ptr as usize;
        }
        block.usable()
    }

    fn stats(&self) -> Stats {
        let heap = self.locked();
        let mut stats = heap.tally.stats(heap.source.stats(), heap.pages.stats());
        stats.locks = self.heap.acquisitions();
        stats.longest_search = heap.bins.longest;
        // What the heap counts, less the caches' own traffic with it, plus
        // what the caches did for the program without telling the heap.
        let caches = self.caches.totals();
        let (mallocs, frees) = (caches.mallocs as u64, caches.frees as u64);
        stats.mallocs = stats.mallocs.wrapping_add(mallocs);
        stats.frees = stats
            .frees
            .wrapping_add(frees)
            .wrapping_sub(caches.flushed as u64);
        stats.live_blocks = stats.live_blocks.wrapping_sub(caches.held());
        stats.live_bytes = stats.live_bytes.wrapping_add(caches.bytes);
        stats
    }

    fn check(&self) -> Result<(), HeapError> {
        let cached_bytes = self.caches.totals().bytes;
        self.locked().check(cached_bytes, self.caches.claimed())
    }

    fn heap_map(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        let heap = self.locked();
        heap.heap_map(out, self.caches.totals())
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

    unsafe fn unlock_in_child(&self) {
        // The parent's other threads are gone, maybe half-way through a
        // change to their caches, and a thread the child starts may be
        // given one of their keys: nobody uses those caches again.
        self.caches.abandon_others();
        // SAFETY: as in `unlock_after_fork`, with the copy of the lock.
        unsafe { self.heap.release() }
    }
}
