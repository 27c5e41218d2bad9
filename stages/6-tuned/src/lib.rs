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
//! - **finer size classes**: every multiple of 16 up to 1024 (stage 5 had
//!   four), each with its free list in the heap and in every thread cache;
//!   bigger free blocks are sorted four bins per doubling;
//! - all set at start-up from `WORKBOOK_MALLOC` (see [`settings`]).
//!
//! Measuring stage 5 against glibc showed where its memory went: a 16 KiB
//! bucket per class, blocks rounded up to their class, and free blocks that
//! could never join their neighbours. So stage 6 cuts every block from one
//! heap at its own size (rounded to 16 bytes), and a freed block *merges*
//! with free neighbours on both sides: a flag in each header says whether
//! the block before is free, and a free block's last word holds its span
//! (a *boundary tag*, as in dlmalloc and glibc). A free block that ends at
//! the bump joins the top, which goes back to the OS past the trim
//! threshold.
//!
//! Small frees go first to a per-thread cache (see `cache`), as glibc's
//! tcache does; the heap's free lists are safe-linked (see `free_list`).

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

use block::{HEADER, Header, Region, Tag, footer, next_block};
use cache::Caches;
use free_list::Bins;
use settings::MMAP_THRESHOLD_MAX;
pub use settings::Settings;

// ANCHOR: classes
/// The size classes: every multiple of 16 up to 1024, as glibc's tcache and
/// small bins. A small request is rounded up to one of these (16 bytes at
/// most); each has its free list in every thread cache and in the heap.
///
/// Four classes per doubling (jemalloc's choice) were measured first: a
/// cached block then serves requests up to a class smaller than itself, and
/// churning programs lost a fifth of their memory that way (see the book).
pub const CLASSES: [usize; 64] = {
    let mut classes = [0; 64];
    let mut i = 0;
    while i < classes.len() {
        classes[i] = 16 * (i + 1);
        i += 1;
    }
    classes
};

/// The index in [`CLASSES`] of the smallest class that holds `size` bytes,
/// or `None` for a large request. Computed, not searched: this runs on
/// every `malloc`.
#[inline]
pub fn class_of(size: usize) -> Option<usize> {
    if size > 1024 {
        return None;
    }
    Some(size.saturating_sub(1) / 16)
}
// ANCHOR_END: classes

/// The smallest block: a header and the smallest payload. A piece left over
/// by a split must be at least this big to be a block of its own.
pub const MIN_BLOCK: usize = HEADER + CLASSES[0];

/// Memory is given back to the OS in whole pages.
const PAGE: usize = 4096;

/// Bytes after each block the debug mode fills and checks (at least these
/// many: a block's payload is rounded up to 16 bytes).
pub const GUARD: usize = 8;

/// The byte guard bytes are filled with in the debug mode.
const GUARD_BYTE: u8 = 0xfd;

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
                bins: Bins::new(),
                tally: Tally::new(),
            }),
        }
    }

    /// Stops the program if the live-looking block at `header` is in this
    /// thread's cache: freed already (glibc's "double free detected in
    /// tcache 2").
    #[inline]
    fn refuse_if_cached(&self, function: &str, header: *mut Header) {
        // SAFETY: a live block has at least 16 payload bytes.
        if unsafe { cache::key_word(header).read() } != cache::KEY {
            return;
        }
        // SAFETY: a live block's header is valid.
        if let Some(class) = class_of(unsafe { (*header).usable() })
            && let Some(cache) = self.caches.mine()
            && cache.holds(class, header)
        {
            let payload = header.cast::<u8>().wrapping_add(HEADER);
            misuse(function, payload, "the block was already freed");
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
    /// Where the next block starts: everything from here to `end` is the
    /// *top*, free memory no block covers. No free block ever ends here: it
    /// joins the top instead.
    bump: *mut u8,
    /// The end of the memory we got for the current region.
    end: *mut u8,
    /// The free blocks, by size.
    bins: Bins,
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
    ///
    /// A region always keeps [`HEADER`] bytes spare after the bump: when it
    /// is closed, a fence goes there, so that a block at its end never
    /// looks for a neighbour past it.
    fn reserve(&mut self, bytes: usize) -> bool {
        let top = (self.end as usize) - (self.bump as usize);
        if top >= bytes + HEADER {
            return true;
        }
        // What the top lacks (it will most likely grow in place), with the
        // room for a region header and a fence in case the new memory is not
        // contiguous with ours, and the top pad for the requests to come.
        let step = align_up(bytes + 2 * HEADER - top + self.settings.top_pad, PAGE);
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
                // SAFETY: `current` is our live region header, and the
                // region keeps HEADER spare bytes after the bump for the
                // fence, a block that is never free.
                unsafe { self.close_region(region) };
            }
            self.current = region;
            self.current_mapped = from_break.is_none();
            self.bump = start.wrapping_add(HEADER);
            self.end = start.wrapping_add(step);
        }
        self.note_footprint();
        // A new region may be too small: counting on the old top, we asked
        // for less than `bytes`. Growing it again is contiguous.
        (self.end as usize) - (self.bump as usize) >= bytes + HEADER || self.reserve(bytes)
    }

    /// Closes the current region, before `next` becomes the current one:
    /// what is left of its top becomes a free block, and a fence ends it.
    ///
    /// # Safety
    ///
    /// `current` is our region, with at least [`HEADER`] bytes after the
    /// bump.
    unsafe fn close_region(&mut self, next: *mut Region) {
        let rest = self.end as usize - self.bump as usize - HEADER;
        let fence = self.bump.wrapping_add(rest).cast::<Header>();
        let block = self.bump.cast::<Header>();
        // SAFETY: the top is ours and unused; the fence fits after the rest,
        // and no free block ends at the bump (none is before `block`).
        unsafe {
            fence.write(Header::new(Tag::Padding, 0, HEADER));
            if rest >= MIN_BLOCK {
                self.file_free(block, rest);
            } else if rest > 0 {
                block.write(Header::new(Tag::Padding, 0, rest));
            }
            (*self.current).end = fence.cast();
            (*self.current).next = next;
        }
    }

    /// The payload bytes to ask for `size`: more in the debug mode, for the
    /// guard bytes.
    fn room(&self, size: usize) -> usize {
        if self.settings.perturb {
            size + GUARD
        } else {
            size
        }
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
        let payload = self.alloc_unguarded(size, align);
        if self.settings.perturb && !payload.is_null() {
            // SAFETY: a block just handed out, of at least `size` bytes.
            unsafe { fill_guard::<P>(payload) };
        }
        payload
    }

    /// [`Heap::alloc`] without the debug mode's guard bytes.
    fn alloc_unguarded(&mut self, size: usize, align: usize) -> *mut u8 {
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
                self.shrink(header, HEADER + payload);
                (*header).reuse(size);
            }
            self.tally.malloc(size);
            return header.cast::<u8>().wrapping_add(HEADER);
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
        // SAFETY: `header .. header + span` lies inside reserved memory; no
        // free block ends at the bump, so the flag stays clear.
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
        let bytes = align_up(HEADER + self.room(size) + (align - ALIGN), page);
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
            let new_bytes = align_up(HEADER + self.room(size), P::PAGE);
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
            return; // The checks in `Tuned::free` stop this before.
        }
        self.tally.free(block.size);
        // SAFETY: a live block of ours, given back.
        unsafe { self.release(header) };
    }

    // ANCHOR: release
    /// Makes the block at `header` free: merged with a free block on either
    /// side, and with the top if it ends there, so that no two free blocks
    /// are ever neighbours (and the heap keeps few, large free blocks).
    ///
    /// # Safety
    ///
    /// `header` is a block of ours that nobody uses any more, on no list.
    unsafe fn release(&mut self, header: *mut Header) {
        // Its own header says so even once it is part of a bigger free
        // block: a second `free` of it is caught until the memory is reused.
        // SAFETY: the caller gives one of our blocks.
        unsafe { (*header).set_tag(Tag::Freed) };
        let mut start = header;
        // SAFETY: the caller gives one of our blocks.
        let mut span = unsafe { (*header).span() };
        // SAFETY: the caller gives one of our blocks.
        if unsafe { (*header).prev_free() } {
            // SAFETY: the flag says the block before is free, and its
            // footer, just before our header, holds its span.
            let before = unsafe { header.cast::<usize>().sub(1).read() };
            start = header.cast::<u8>().wrapping_sub(before).cast();
            // SAFETY: the free block before us is on its list.
            unsafe { self.bins.remove(start) };
            span += before;
        }
        let mut next = start.cast::<u8>().wrapping_add(span);
        // SAFETY: below the bump every block is followed by another block
        // (or a region's fence): `next` is a header.
        if next != self.bump && unsafe { (*next.cast::<Header>()).tag() } == Some(Tag::Freed) {
            let after = next.cast::<Header>();
            // SAFETY: a free block is on its list.
            unsafe { self.bins.remove(after) };
            // SAFETY: as above, a free block of ours.
            span += unsafe { (*after).span() };
            next = start.cast::<u8>().wrapping_add(span);
        }
        if next == self.bump {
            // The block ends at the top: its bytes join the top, and the
            // top, if big enough, goes back to the OS.
            self.bump = start.cast();
            self.trim();
            return;
        }
        // SAFETY: `start .. start + span` is ours and unused, and a header
        // follows it.
        unsafe { self.file_free(start, span) };
    }
    // ANCHOR_END: release

    /// Makes `start .. start + span` one free block on its list: header,
    /// footer, and the flag in the block after it.
    ///
    /// # Safety
    ///
    /// The bytes are ours and unused, the block before them is not free,
    /// and a block header (or a region's fence) follows them.
    unsafe fn file_free(&mut self, start: *mut Header, span: usize) {
        // SAFETY: as the caller promises.
        unsafe {
            start.write(Header::new(Tag::Freed, 0, span));
            footer(start, span).write(span);
            (*next_block(start)).set_prev_free(true);
            if self.settings.perturb {
                free_payload(start).fill(PERTURB);
            }
            self.bins.push(start);
        }
    }

    /// Cuts the block at `header` (not on a list) down to `span` bytes when
    /// what is left can be a block; the rest is released (merged with a
    /// free block after it). Otherwise the block keeps its span, and the
    /// block after it learns that its predecessor is no longer free.
    ///
    /// # Safety
    ///
    /// `header` is a block of ours spanning at least `span` bytes, whose
    /// bytes past `span` nobody uses.
    unsafe fn shrink(&mut self, header: *mut Header, span: usize) {
        // SAFETY: the caller gives one of our blocks.
        let total = unsafe { (*header).span() };
        if total >= span + MIN_BLOCK {
            let rest = header.cast::<u8>().wrapping_add(span).cast::<Header>();
            // SAFETY: both parts lie inside the block; the rest is unused.
            unsafe {
                (*header).set_span(span);
                rest.write(Header::new(Tag::Live, 0, total - span));
                self.release(rest);
            }
        } else {
            let next = next_block(header);
            if next.cast() != self.bump {
                // SAFETY: below the bump a block is followed by a header.
                unsafe { (*next).set_prev_free(false) };
            }
        }
    }

    /// In the debug mode, the guard bytes after the live block at `ptr` must
    /// be as `alloc` filled them: anything else is an overflow.
    fn guard_checked(&self, function: &str, ptr: *mut u8) {
        // SAFETY: the caller of `free` or `realloc` passes a live block.
        if self.settings.perturb && !unsafe { guard_intact::<P>(ptr) } {
            misuse(
                function,
                ptr,
                "bytes after the block were overwritten (an overflow)",
            );
        }
    }

    /// In the debug mode, a block taken from a free list must still hold
    /// the pattern `release` wrote: anything else is a write after free.
    fn untouched(&self, header: *mut Header) {
        if !self.settings.perturb {
            return;
        }
        // SAFETY: a block just taken from a free list, filled when freed.
        if unsafe { free_payload(header) }
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
        next_block(header).cast() == self.bump
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
        // Keep the top pad, and at least room for a region's fence.
        let keep = self.settings.top_pad.max(HEADER);
        let give = (top - keep.min(top)) & !(PAGE - 1);
        // SAFETY: the bytes above the bump hold no block; `shrink` refuses
        // if someone else moved the break since we grew it.
        if give > 0 && unsafe { self.source.shrink(give) } {
            self.end = self.end.wrapping_sub(give);
        }
    }
    // ANCHOR_END: trim

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
            let new = unsafe { self.realloc_mapped(ptr, size) };
            if self.settings.perturb && !new.is_null() {
                // SAFETY: a live block of at least `size` bytes.
                unsafe { fill_guard::<P>(new) };
            }
            return new;
        }
        // SAFETY: a live block has a header just before its payload.
        let old = unsafe { (*header).size };
        let new_span = HEADER + payload_size(self.room(size));
        // SAFETY: a live block of ours; `resize_in_place` keeps it whole.
        if unsafe { self.resize_in_place(header, new_span) } {
            // SAFETY: as above.
            unsafe { (*header).size = size };
            self.tally.resize(old, size);
            if self.settings.perturb {
                // SAFETY: a live block of at least `size` bytes.
                unsafe { fill_guard::<P>(ptr) };
            }
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

    // ANCHOR: realloc
    /// Makes the live block at `header` span `span` bytes where it is, if it
    /// can: smaller by giving back its tail, bigger by taking in the top or
    /// a free block after it. False if it would have to move.
    ///
    /// # Safety
    ///
    /// `header` is a live block of ours.
    unsafe fn resize_in_place(&mut self, header: *mut Header, span: usize) -> bool {
        // SAFETY: the caller gives a live block of ours.
        let have = unsafe { (*header).span() };
        if span <= have {
            // SAFETY: the bytes past `span` are the caller's no more.
            unsafe { self.shrink(header, span) };
            return true;
        }
        let next = next_block(header);
        if next.cast() == self.bump {
            // At the top: grow into it.
            if !self.reserve(span - have) || !self.at_top(header) {
                return false;
            }
            // SAFETY: the top above the bump is reserved and unused.
            unsafe { (*header).set_span(span) };
            self.bump = header.cast::<u8>().wrapping_add(span);
            return true;
        }
        // SAFETY: below the bump a block is followed by a header.
        let (tag, after) = unsafe { ((*next).tag(), (*next).span()) };
        if tag != Some(Tag::Freed) || have + after < span {
            return false;
        }
        // SAFETY: a free block is on its list; joined to ours, the whole is
        // ours, and its tail goes back by `shrink`.
        unsafe {
            self.bins.remove(next);
            (*header).set_span(have + after);
            self.shrink(header, span);
        }
        true
    }
    // ANCHOR_END: realloc

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
/// inside a block), and a header overwritten by the program. A block in a
/// thread cache still looks live here: `Tuned::refuse_if_cached` catches a
/// second free of it by the same thread. It cannot catch a pointer into
/// memory that is not mapped at all (reading its header faults), a double
/// free of a mapped block (its mapping is gone), a second free of a block
/// cached by another thread, nor one that comes after the block's memory
/// was handed out again.
#[inline]
fn checked_header(function: &str, ptr: *mut u8) -> *mut Header {
    if !(ptr as usize).is_multiple_of(ALIGN) {
        misuse(function, ptr, "not a pointer malloc returned (misaligned)");
    }
    let header = Header::of(ptr);
    // SAFETY: a pointer the program got from malloc has our header before
    // it; for anything else this is the read that decides.
    let (tag, span) = unsafe { ((*header).tag(), (*header).span()) };
    // Bytes that are not a header give a span no block has, most often.
    let plausible = (MIN_BLOCK..=MAX_REQUEST).contains(&span);
    if plausible && matches!(tag, Some(Tag::Live | Tag::Mapped)) {
        return header;
    }
    if plausible && tag == Some(Tag::Freed) {
        misuse(function, ptr, "the block was already freed");
    }
    misuse(
        function,
        ptr,
        "not the start of a block, or its header was overwritten",
    )
}

/// Stops the program: `function` was given `ptr`, which is `problem`. One
/// line on stderr, formatted without allocating, then SIGABRT.
#[cold]
#[inline(never)]
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

/// Stops the program: the heap's own structures at `at` are not what the
/// allocator wrote (`problem`), most likely a write after free or an
/// overflow by the program. Going on would hand out memory twice.
pub(crate) fn corrupted(at: *mut u8, problem: &str) -> ! {
    let mut line = Line::new();
    // Writing to a Line cannot fail; a line too long is cut.
    let _ = writeln!(
        line,
        "workbook malloc: heap corrupted at {at:p}: {problem}; aborting"
    );
    os::abort_with(line.as_str())
}

/// The byte freed blocks are filled with in the debug mode.
const PERTURB: u8 = 0xdb;

/// The payload of the free block at `header` between its forward link and
/// its footer: what the debug mode fills.
///
/// # Safety
///
/// `header` is a free block of ours: nobody else uses its payload.
unsafe fn free_payload<'a>(header: *mut Header) -> &'a mut [u8] {
    // SAFETY: the caller gives a free block; its payload is `usable` bytes,
    // at least 16: the first 8 hold the link, the last 8 the footer.
    unsafe {
        let usable = (*header).usable();
        let start = header.cast::<u8>().add(HEADER + 8);
        core::slice::from_raw_parts_mut(start, usable - 16)
    }
}

/// The bytes of the live block at `payload` after the `size` bytes asked
/// for, up to the end of its memory: the debug mode's guard bytes.
///
/// # Safety
///
/// `payload` is a live block of ours.
unsafe fn guard_bytes<'a, P: Pages>(payload: *mut u8) -> &'a mut [u8] {
    let header = Header::of(payload);
    // SAFETY: a live block's header is valid; its memory runs to the end of
    // its span (from the start of its mapping, for a mapped block).
    unsafe {
        let (size, span) = ((*header).size, (*header).span());
        let start = match (*header).tag() {
            Some(Tag::Mapped) => mapping_start::<P>(header).as_ptr(),
            _ => header.cast::<u8>(),
        };
        let end = start.add(span);
        let from = payload.add(size);
        core::slice::from_raw_parts_mut(from, end as usize - from as usize)
    }
}

/// Fills the guard bytes of the live block at `payload`.
///
/// # Safety
///
/// `payload` is a live block of ours.
unsafe fn fill_guard<P: Pages>(payload: *mut u8) {
    // SAFETY: as the caller promises.
    unsafe { guard_bytes::<P>(payload).fill(GUARD_BYTE) };
}

/// Whether the guard bytes of the live block at `payload` are as filled.
///
/// # Safety
///
/// `payload` is a live block of ours, filled by [`fill_guard`].
unsafe fn guard_intact<P: Pages>(payload: *mut u8) -> bool {
    // SAFETY: as the caller promises.
    unsafe { guard_bytes::<P>(payload).iter().all(|&b| b == GUARD_BYTE) }
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
            // SAFETY: a cached block is ours, and this thread's alone. Only
            // its size changes: its tag is still `Live`, and the heap may be
            // setting a flag in the same word (see `Header`).
            unsafe { (*header).size = size };
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
        if block.tag() == Some(Tag::Live) && !self.debug.load(Ordering::Relaxed) {
            self.refuse_if_cached("free", header);
            // The block's usable size is a multiple of 16: its exact class.
            if let Some(class) = class_of(block.usable())
                && let Some(cache) = self.caches.mine()
                // SAFETY: the caller gives the block back; nobody uses it now.
                && unsafe { cache.push(class, header, block.size) }
            {
                return;
            }
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
        let header = checked_header("realloc", ptr);
        self.refuse_if_cached("realloc", header);
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
        if self.debug.load(Ordering::Relaxed) {
            // The rest is guard bytes: not the program's to use.
            return block.size;
        }
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
        let (_, _, bytes) = self.caches.totals();
        self.heap.lock().check(bytes)
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
