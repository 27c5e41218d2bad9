//! Stage 6: tuning.
//!
//! Stage 5 works, but on numbers picked once: a 128 KiB mmap threshold, a
//! 64 KiB growth step, four size classes, and a heap that never shrinks.
//! Each costs something a measurement shows: a program that allocates and
//! frees 256 KiB in a loop makes two system calls and faults in 64 pages
//! every time; a 17-byte request wastes 47 of the 64 bytes it gets; a burst
//! of allocations, once freed, stays in the heap forever. Here the fixed
//! choices become knobs ([`Settings`]), with glibc's defaults and rules:
//!
//! - **dynamic mmap threshold**: freeing a mapped block bigger than the
//!   threshold (up to 32 MiB) raises the threshold to its size, and the
//!   trim threshold to twice that: a program that keeps asking for blocks
//!   of that size now gets them from the heap, where freeing is cheap;
//! - **trim threshold**: when the free bytes at the top of the heap pass it,
//!   the break moves back down and the OS gets them back;
//! - **top pad**: how much more than needed the break grows each time;
//! - **finer size classes**: 16-byte steps up to 128, then four classes per
//!   doubling up to 1024, so no small request wastes more than a fifth;
//! - all set at start-up from `WORKBOOK_MALLOC` (see [`settings`]).
//!
//! To give the top back, the heap must know when free memory sits there.
//! Stages 1 to 5 moved the bump back only over the most recent block; here
//! any freed block that ends at the bump goes back to the top, so a burst
//! freed in reverse order returns all the way down.

#![no_std]

mod block;
mod cache;
mod free_list;
mod map;
pub mod settings;

use core::fmt::Write as _;
use core::ptr;

use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};

use malloc_core::{
    ALIGN, Break, HeapError, Line, Lock, MAX_REQUEST, Malloc, Pages, RealBreak, RealPages, Stats,
    Tally, align_up, os,
};

use block::{HEADER, Header, Region, Tag};
use cache::Caches;
use free_list::FreeList;
use settings::MMAP_THRESHOLD_MAX;
pub use settings::Settings;

// ANCHOR: classes
/// The size classes: 16-byte steps up to 128, then four per doubling up to
/// 1024. A request of at most 1024 bytes is rounded up to one of these.
pub const CLASSES: [usize; 20] = [
    16, 32, 48, 64, 80, 96, 112, 128, // steps of 16
    160, 192, 224, 256, // steps of 32
    320, 384, 448, 512, // steps of 64
    640, 768, 896, 1024, // steps of 128
];

/// The index in [`CLASSES`] of the smallest class that holds `size` bytes,
/// or `None` for a large request. Computed, not searched: this runs on
/// every `malloc`.
#[inline]
pub fn class_of(size: usize) -> Option<usize> {
    if size <= 128 {
        return Some(size.saturating_sub(1) / 16);
    }
    if size > 1024 {
        return None;
    }
    // `doubling` is 7 for 129..=256, 8 for 257..=512, 9 for 513..=1024; the
    // next two bits of `size - 1` say which quarter of the doubling.
    let doubling = (usize::BITS - 1 - (size - 1).leading_zeros()) as usize;
    let quarter = ((size - 1) >> (doubling - 2)) & 3;
    Some(8 + (doubling - 7) * 4 + quarter)
}
// ANCHOR_END: classes

/// A bucket of a class holds about this many bytes of blocks.
pub const BUCKET_BYTES: usize = 16 * 1024;

/// The smallest block: a header and the smallest payload. A piece left over
/// by a split must be at least this big to be a block of its own.
pub const MIN_BLOCK: usize = HEADER + CLASSES[0];

/// Memory is given back to the OS in whole pages.
const PAGE: usize = 4096;

/// The part of a bucket not handed out yet: blocks are taken from `next`
/// until it reaches `end`.
#[derive(Clone, Copy)]
struct Bucket {
    next: *mut u8,
    end: *mut u8,
}

/// The tuned allocator: stage 6 of the course.
///
/// Generic over its memory sources; [`Tuned::new`] uses the real program
/// break and the kernel's `mmap`, and reads its settings from the
/// environment on first use.
pub struct Tuned<S: Break = RealBreak, P: Pages = RealPages> {
    heap: Lock<Heap<S, P>>,
    /// The fast path: each thread's few free small blocks, outside the lock.
    caches: Caches,
    /// The debug mode is on: the fast path is off.
    debug: AtomicBool,
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

    /// The debug mode's heap check: stops the program if the heap is not
    /// what it should be.
    fn check_or_stop(&self) {
        if let Err(error) = self.check() {
            let mut line = Line::new();
            // Writing to a Line cannot fail; a line too long is cut.
            let _ = writeln!(line, "workbook malloc: {error}; aborting");
            os::abort_with(line.as_str());
        }
    }

    /// An allocator with the given settings (`None`: read the environment
    /// variable on first use).
    pub const fn with_settings(source: S, pages: P, settings: Option<Settings>) -> Self {
        Tuned {
            caches: Caches::new(),
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
                buckets: [Bucket {
                    next: ptr::null_mut(),
                    end: ptr::null_mut(),
                }; CLASSES.len()],
                free: [const { FreeList::new() }; CLASSES.len()],
                large_free: FreeList::new(),
                tally: Tally::new(),
            }),
        }
    }
}

/// The allocator's state, behind the lock.
struct Heap<S, P> {
    /// The knobs.
    settings: Settings,
    /// Mallocs and frees since the last debug-mode heap check.
    ops_since_check: usize,
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
    /// One bucket per class: where its next block comes from.
    buckets: [Bucket; CLASSES.len()],
    /// One free list per class.
    free: [FreeList; CLASSES.len()],
    /// Free blocks of any other size (large ones, and aligned ones).
    large_free: FreeList,
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
        // contiguous with ours, and the top pad for the requests to come.
        let step = align_up(bytes + HEADER + self.settings.top_pad, PAGE);
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
        }
        self.note_footprint();
        (self.end as usize) - (self.bump as usize) >= bytes
    }

    /// Hands out a block of `size` bytes whose payload is aligned to `align`.
    fn alloc(&mut self, size: usize, align: usize) -> *mut u8 {
        if size > MAX_REQUEST || align > MAX_REQUEST {
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
            && let Some(header) = self.large_free.take_best_fit(span)
        {
            self.untouched(header);
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
        let payload = align_up(self.bump as usize + HEADER, align) as *mut u8;
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
        self.tally.malloc(size);
        payload
    }

    /// The footprint changed: remember its peak.
    fn note_footprint(&mut self) {
        let bytes = self.source.stats().bytes + self.pages.stats().bytes;
        self.tally.footprint(bytes);
    }

    // ANCHOR: alloc_mapped
    /// Gives a block of `size` bytes, aligned to `align`, a mapping of its
    /// own: the header in the first page, the payload after it.
    fn alloc_mapped(&mut self, size: usize, align: usize) -> *mut u8 {
        let page = P::PAGE;
        // Room for the header and the worst padding the alignment needs.
        let bytes = align_up(HEADER + size + (align - ALIGN), page);
        let Some(start) = self.pages.map(bytes) else {
            return ptr::null_mut();
        };
        let start = start.as_ptr() as usize;
        let payload = align_up(start + HEADER, align);
        let header = (payload - HEADER) as *mut Header;
        // The mapping must start in the header's page: `free` finds it
        // there. Whole pages before it (big alignments) go back at once.
        let head = (header as usize & !(page - 1)) - start;
        if head > 0 {
            // SAFETY: leading pages of our new mapping, unused.
            unsafe {
                self.pages
                    .unmap(NonNull::new_unchecked(start as *mut u8), head)
            };
        }
        // SAFETY: the header lies in the mapping, before the payload.
        unsafe { header.write(Header::new(Tag::Mapped, size, bytes - head)) };
        self.mapped_blocks += 1;
        self.mapped_bytes += size;
        self.tally.malloc(size);
        self.note_footprint();
        payload as *mut u8
    }

    /// Gives the mapping of a mapped block back to the OS.
    ///
    /// # Safety
    ///
    /// `header` is a live mapped block of ours.
    unsafe fn free_mapped(&mut self, header: *mut Header) {
        // SAFETY: a live mapped block's header is valid.
        let (size, bytes) = unsafe { ((*header).size, (*header).span()) };
        let start = mapping_start::<P>(header);
        // SAFETY: the whole mapping is ours and the block is being freed.
        unsafe { self.pages.unmap(start, bytes) };
        // EXERCISE: dynamic_threshold
        // ANCHOR: dynamic_threshold
        // A program that frees a block this big will likely ask for one
        // again: serve that size from the heap from now on (glibc's rule).
        let settings = &mut self.settings;
        if settings.dynamic && bytes > settings.mmap_threshold && bytes <= MMAP_THRESHOLD_MAX {
            settings.mmap_threshold = bytes;
            settings.trim_threshold = 2 * bytes;
        }
        // ANCHOR_END: dynamic_threshold
        // EXERCISE END
        self.mapped_blocks -= 1;
        self.mapped_bytes -= size;
        self.tally.free(size);
    }
    // ANCHOR_END: alloc_mapped

    /// Resizes a mapped block: `mremap` while it stays large, else a move
    /// to the heap.
    ///
    /// # Safety
    ///
    /// `ptr` is a live mapped block of ours.
    unsafe fn realloc_mapped(&mut self, ptr: *mut u8, size: usize) -> *mut u8 {
        let header = Header::of(ptr);
        // SAFETY: a live mapped block's header is valid.
        let (old, bytes) = unsafe { ((*header).size, (*header).span()) };
        let start = mapping_start::<P>(header);
        // ANCHOR: remap
        if size >= self.settings.mmap_threshold && start.as_ptr() == header.cast() {
            let new_bytes = align_up(HEADER + size, P::PAGE);
            // SAFETY: the whole mapping is ours; the header is at its start.
            let Some(moved) = (unsafe { self.pages.remap(start, bytes, new_bytes) }) else {
                return ptr::null_mut();
            };
            let header = moved.as_ptr().cast::<Header>();
            // SAFETY: the header moved with the mapping.
            unsafe { header.write(Header::new(Tag::Mapped, size, new_bytes)) };
            self.mapped_bytes = self.mapped_bytes - old + size;
            self.tally.resize(old, size);
            self.note_footprint();
            return moved.as_ptr().wrapping_add(HEADER);
        }
        // ANCHOR_END: remap
        let new = self.alloc(size, ALIGN);
        if !new.is_null() {
            // SAFETY: both blocks are live and distinct.
            unsafe {
                ptr::copy_nonoverlapping(ptr, new, old.min(size));
                self.free_mapped(header);
            }
        }
        new
    }

    // ANCHOR: alloc_small
    /// Hands out a block of class `class` for `size` bytes: a freed one if
    /// there is one, else from the class's bucket, carving a new bucket from
    /// the bump when the current one is used up.
    fn alloc_small(&mut self, class: usize, size: usize) -> *mut u8 {
        if let Some(header) = self.free[class].pop() {
            self.untouched(header);
            // SAFETY: a block from a free list is ours; it keeps its span.
            unsafe { (*header).reuse(size) };
            self.tally.malloc(size);
            return header.cast::<u8>().wrapping_add(HEADER);
        }
        let span = HEADER + CLASSES[class];
        let bucket = self.buckets[class];
        if (bucket.end as usize) - (bucket.next as usize) < span {
            // Split a bigger free block only when the break would have to
            // grow: cutting blocks up scatters memory that whole blocks of
            // their own class would have used (measured: see the book).
            let bytes = BUCKET_BYTES / span * span;
            let room = (self.end as usize) - (self.bump as usize) >= bytes;
            // ANCHOR: split_bigger
            if !room && let Some(header) = self.take_bigger(class) {
                // SAFETY: a block from a free list is ours and on no list now.
                unsafe {
                    // Keep the rest of a big block whole; cut a bucket's worth.
                    self.split_off(header, BUCKET_BYTES / span * span);
                    self.split(header, span);
                    (*header).reuse(size);
                }
                self.tally.malloc(size);
                return header.cast::<u8>().wrapping_add(HEADER);
            }
            // ANCHOR_END: split_bigger
            if !self.reserve(bytes) {
                return ptr::null_mut();
            }
            self.buckets[class] = Bucket {
                next: self.bump,
                end: self.bump.wrapping_add(bytes),
            };
            self.bump = self.bump.wrapping_add(bytes);
        }
        let header = self.buckets[class].next.cast::<Header>();
        // SAFETY: the bucket's unused part holds at least `span` bytes of
        // reserved memory, ALIGN-aligned.
        unsafe { header.write(Header::new(Tag::Live, size, span)) };
        self.buckets[class].next = header.cast::<u8>().wrapping_add(span);
        self.tally.malloc(size);
        header.cast::<u8>().wrapping_add(HEADER)
    }
    // ANCHOR_END: alloc_small

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
        if self.at_top(header) {
            // The block ends at the bump: its bytes go back to the top,
            // and the top, if big enough, back to the OS.
            self.bump = header.cast();
            self.trim();
            return;
        }
        // Anywhere else: onto a free list, to be used again.
        // SAFETY: the block is ours, free and on no list.
        unsafe { self.push_free(header) };
        // ANCHOR_END: free
    }

    /// In the debug mode, a block taken from a free list must still hold
    /// the pattern `push_free` wrote: anything else is a write after free.
    fn untouched(&self, header: *mut Header) {
        if !self.settings.perturb {
            return;
        }
        // SAFETY: a block just taken from a free list, filled when pushed.
        if unsafe { payload_after_link(header) }
            .iter()
            .any(|&b| b != PERTURB)
        {
            let payload = header.cast::<u8>().wrapping_add(HEADER);
            misuse(
                "malloc",
                payload,
                "a freed block was written after it was freed",
            );
        }
    }

    /// In the debug mode, counts a malloc or free; true every
    /// `check_every` of them, when the heap check is due.
    fn check_due(&mut self) -> bool {
        if self.settings.check_every == 0 {
            return false;
        }
        self.ops_since_check += 1;
        let due = self.ops_since_check >= self.settings.check_every;
        if due {
            self.ops_since_check = 0;
        }
        due
    }

    /// Whether the block at `header` ends where the bump is.
    fn at_top(&self, header: *mut Header) -> bool {
        // SAFETY: `header` is one of our blocks.
        header
            .cast::<u8>()
            .wrapping_add(unsafe { (*header).span() })
            == self.bump
    }

    // EXERCISE BODY: trim
    // ANCHOR: trim
    /// Gives the top of the heap back to the OS when more than the trim
    /// threshold is free there, keeping the top pad.
    fn trim(&mut self) {
        let top = self.end as usize - self.bump as usize;
        // A region mapped because the break could not grow is not the top
        // of the break: shrinking the break would cut another region.
        if top <= self.settings.trim_threshold || self.current_mapped {
            return;
        }
        let give = (top - self.settings.top_pad.min(top)) & !(PAGE - 1);
        // SAFETY: the bytes above the bump hold no block; `shrink` refuses
        // if someone else moved the break since we grew it.
        if give > 0 && unsafe { self.source.shrink(give) } {
            self.end = self.end.wrapping_sub(give);
        }
    }
    // ANCHOR_END: trim

    // ANCHOR: push_free
    /// Puts a free block on a class's list, or on the large list if it is
    /// bigger than every class.
    ///
    /// # Safety
    ///
    /// `header` is a free block of ours, on no list.
    unsafe fn push_free(&mut self, header: *mut Header) {
        // SAFETY: the caller gives us one of our blocks.
        let usable = unsafe { (*header).usable() };
        // The list of the largest class it can serve: a piece left over by
        // a split may fall between two classes.
        let list = match class_of(usable) {
            Some(class) if usable == CLASSES[class] => &mut self.free[class],
            Some(class) => &mut self.free[class - 1],
            None => &mut self.large_free,
        };
        // SAFETY: a free block of ours on no list, with a payload of at
        // least 16 bytes (every block has one).
        unsafe { list.push(header) };
        if self.settings.perturb {
            // SAFETY: the payload after the link is free for us to write.
            unsafe { payload_after_link(header).fill(PERTURB) };
        }
    }
    // ANCHOR_END: push_free

    /// Takes a free block bigger than class `class` needs: from the next
    /// class up that has one, else the best fit from the large list.
    fn take_bigger(&mut self, class: usize) -> Option<*mut Header> {
        let bigger = self.free[class + 1..].iter_mut().find_map(FreeList::pop);
        let taken = bigger.or_else(|| self.large_free.take_best_fit(HEADER + CLASSES[class]));
        taken.inspect(|&header| self.untouched(header))
    }

    // ANCHOR: split
    /// Cuts the free block at `header` into blocks of `span` bytes. The
    /// first stays at `header` for the caller; the others go on the free
    /// list. A tail too small to be a block joins the last piece.
    ///
    /// # Safety
    ///
    /// `header` is a free block of ours on no list, spanning at least `span`.
    unsafe fn split(&mut self, header: *mut Header, span: usize) {
        // SAFETY: the caller gives us one of our blocks.
        let total = unsafe { (*header).span() };
        let mut at = 0;
        while at < total {
            let left = total - at;
            let piece = if left >= span + MIN_BLOCK { span } else { left };
            let block = header.cast::<u8>().wrapping_add(at).cast::<Header>();
            // SAFETY: the piece lies inside the block we are cutting.
            unsafe { block.write(Header::new(Tag::Freed, 0, piece)) };
            if at > 0 {
                // SAFETY: a new free block of ours, on no list.
                unsafe { self.push_free(block) };
            }
            at += piece;
        }
    }

    /// Cuts the free block at `header` down to `span` bytes if what is left
    /// can be a block; the rest becomes a free block on its list.
    ///
    /// # Safety
    ///
    /// `header` is a free block of ours on no list.
    unsafe fn split_off(&mut self, header: *mut Header, span: usize) {
        // SAFETY: the caller gives us one of our blocks.
        let total = unsafe { (*header).span() };
        if total >= span + MIN_BLOCK {
            let rest = header.cast::<u8>().wrapping_add(span).cast::<Header>();
            // SAFETY: both parts lie inside the block; the rest is on no list.
            unsafe {
                header.write(Header::new(Tag::Freed, 0, span));
                rest.write(Header::new(Tag::Freed, 0, total - span));
                self.push_free(rest);
            }
        }
    }
    // ANCHOR_END: split

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
        // A block at the top may grow into the free bytes above it.
        let grows_at_top = self.at_top(header) && {
            let extra = payload_size(size).saturating_sub(usable);
            self.reserve(extra) && self.at_top(header)
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

// ANCHOR: misuse
/// The header of the block `function` was given, if `ptr` looks like a live
/// block of ours; otherwise the program is stopped with a message: going on
/// would corrupt the heap (a block on a free list twice is handed out twice).
///
/// It catches a double free, a pointer malloc never returned (misaligned, or
/// inside a block), and a header overwritten by the program. It cannot catch
/// a pointer into memory that is not mapped at all (reading its header
/// faults), nor a double free of a mapped block (its mapping is gone).
fn checked_header(function: &str, ptr: *mut u8) -> *mut Header {
    if !(ptr as usize).is_multiple_of(ALIGN) {
        misuse(function, ptr, "not a pointer malloc returned (misaligned)");
    }
    let header = Header::of(ptr);
    // SAFETY: a pointer the program got from malloc has our header before
    // it; for anything else this is the read that decides.
    match unsafe { (*header).tag() } {
        Some(Tag::Live | Tag::Mapped) => header,
        Some(Tag::Freed | Tag::Cached) => misuse(function, ptr, "the block was already freed"),
        _ => misuse(
            function,
            ptr,
            "not the start of a block, or its header was overwritten",
        ),
    }
}

/// Stops the program: `function` was given `ptr`, which is `problem`. One
/// line on stderr, formatted without allocating, then SIGABRT.
fn misuse(function: &str, ptr: *mut u8, problem: &str) -> ! {
    let mut line = Line::new();
    // Writing to a Line cannot fail; a line too long is cut.
    let _ = writeln!(
        line,
        "workbook malloc: {function}({ptr:p}): {problem}; aborting"
    );
    os::abort_with(line.as_str())
}
// ANCHOR_END: misuse

/// The byte freed blocks are filled with in the debug mode.
const PERTURB: u8 = 0xdb;

/// The payload of the free block at `header` after its free-list link.
///
/// # Safety
///
/// `header` is a free block of ours: nobody else uses its payload.
unsafe fn payload_after_link<'a>(header: *mut Header) -> &'a mut [u8] {
    // SAFETY: the caller gives a free block; its payload is `usable` bytes,
    // at least 16, of which the first 8 hold the link.
    unsafe {
        let usable = (*header).usable();
        let start = header.cast::<u8>().add(HEADER + 8);
        core::slice::from_raw_parts_mut(start, usable - 8)
    }
}

/// The start of a mapped block's mapping: the start of its header's page.
fn mapping_start<P: Pages>(header: *mut Header) -> NonNull<u8> {
    let start = header as usize & !(P::PAGE - 1);
    // SAFETY: a header's page starts at a non-zero address.
    unsafe { NonNull::new_unchecked(start as *mut u8) }
}

// SAFETY: heap blocks are carved from memory the source gave us, one after
// the other below the bump, so they never overlap; a mapped block has its
// own mapping; payloads are aligned by `alloc` and `alloc_mapped`; a block
// is never handed out twice because the bump only moves back over the most
// recent block after it was freed.
unsafe impl<S: Break, P: Pages> Malloc for Tuned<S, P> {
    // ANCHOR: fast_path
    fn malloc(&self, size: usize) -> *mut u8 {
        // The fast path: a block this thread freed before, without the lock.
        if let Some(class) = class_of(size)
            && let Some(cache) = self.caches.mine()
            && let Some(header) = cache.pop(class, size)
        {
            // SAFETY: a cached block is ours, and this thread's alone.
            unsafe { (*header).reuse(size) };
            return header.cast::<u8>().wrapping_add(HEADER);
        }
        let mut heap = self.heap.lock();
        let block = heap.alloc(size, ALIGN);
        let due = heap.check_due();
        if heap.settings.debugging() {
            // Every block through the lists, where the checks are.
            self.debug.store(true, Ordering::Relaxed);
        }
        drop(heap);
        if due {
            self.check_or_stop();
        }
        block
    }

    unsafe fn free(&self, ptr: *mut u8) {
        if ptr.is_null() {
            return;
        }
        let header = checked_header("free", ptr);
        // SAFETY: `checked_header` found a live block's header there.
        let block = unsafe { &mut *header };
        let usable = block.usable();
        if block.tag() == Some(Tag::Live)
            && !self.debug.load(Ordering::Relaxed)
            && let Some(class) = class_of(usable)
            && CLASSES[class] == usable
            && let Some(cache) = self.caches.mine()
            // SAFETY: the caller gives the block back; nobody uses it now.
            && unsafe { cache.push(class, header, block.size) }
        {
            block.set_tag(Tag::Cached);
            return;
        }
        let mut heap = self.heap.lock();
        // SAFETY: the caller passes a live block of ours.
        unsafe { heap.free(ptr) };
        let due = heap.check_due();
        drop(heap);
        if due {
            self.check_or_stop();
        }
    }
    // ANCHOR_END: fast_path

    unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.malloc(size);
        }
        if size == 0 {
            // SAFETY: the caller passes a live block of ours.
            unsafe { self.free(ptr) };
            return ptr::null_mut();
        }
        checked_header("realloc", ptr);
        // SAFETY: the caller passes a live block of ours (checked above as
        // far as the header can tell).
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
        // Add what the thread caches did without telling the heap.
        let (mallocs, frees, bytes) = self.caches.totals();
        stats.live_blocks = stats.live_blocks.wrapping_add(mallocs).wrapping_sub(frees);
        stats.live_bytes = stats.live_bytes.wrapping_add(bytes);
        stats.mallocs += mallocs as u64;
        stats.frees += frees as u64;
        stats
    }

    fn check(&self) -> Result<(), HeapError> {
        let (mallocs, frees, bytes) = self.caches.totals();
        self.heap.lock().check((mallocs.wrapping_sub(frees), bytes))
    }

    fn heap_map(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        self.heap.lock().map(out)
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
