//! The headers written into the heap, and the boundary tag that lets a
//! freed block find the free block before it.

use core::sync::atomic::{AtomicUsize, Ordering};

use malloc_core::ALIGN;

/// Bytes of a block header (and of a region header): one [`ALIGN`] unit, so
/// the payload after it stays aligned.
pub const HEADER: usize = 16;

/// What a block is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    /// Handed out and not freed (or kept in a thread cache: see `cache`).
    Live = 1,
    /// Freed: on a free list, waiting to be used again.
    Freed = 2,
    /// Filler that `memalign` left before an aligned block, or the fence
    /// that closes a region.
    Padding = 3,
    /// Handed out, with a mapping of its own (its span is the mapping's
    /// length).
    Mapped = 4,
}

/// The low bits of `span_tag` that hold the tag.
const TAG_BITS: usize = 7;

// ANCHOR: boundary_tag
/// A flag next to the tag: the block just before this one is free, and its
/// last word holds its span (its *footer*). dlmalloc's `PREV_INUSE` bit,
/// upside down.
const PREV_FREE: usize = 8;

/// The 16 bytes before every payload.
///
/// A block's span (header plus payload) is a multiple of [`ALIGN`], so the
/// low four bits of `span_tag` are free: the tag and the [`PREV_FREE`] flag
/// live there, as dlmalloc keeps its flags in the low bits of its size.
///
/// Both words are atomic (read and written with plain, relaxed loads and
/// stores): freeing a block sets the flag in its *neighbour's* header,
/// under the heap's lock, while the neighbour's owner may be writing its
/// own header in the lock-free fast path. Even a `&Header` made to read the
/// neighbour's flag counts as a read of every plain word in it, so a plain
/// `size` would race with its owner's writes (Miri found that race).
#[repr(C)]
pub struct Header {
    /// Bytes requested (0 for padding and for blocks in a thread cache). A
    /// free block keeps its free-list back link here instead.
    size: AtomicUsize,
    /// The block's span in bytes, with its [`Tag`] and [`PREV_FREE`] flag in
    /// the low four bits.
    span_tag: AtomicUsize,
}
// ANCHOR_END: boundary_tag

impl Header {
    /// A header for a block of `span` bytes holding `size` requested bytes,
    /// whose predecessor is not free.
    #[inline]
    pub fn new(tag: Tag, size: usize, span: usize) -> Self {
        debug_assert!(span.is_multiple_of(ALIGN) && span >= HEADER);
        Header {
            size: AtomicUsize::new(size),
            span_tag: AtomicUsize::new(span | tag as usize),
        }
    }

    /// Bytes requested (0 for padding and for blocks in a thread cache).
    #[inline]
    pub fn size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    /// Changes the requested bytes.
    #[inline]
    pub fn set_size(&self, size: usize) {
        self.size.store(size, Ordering::Relaxed);
    }

    /// The header of the block whose payload starts at `payload`.
    #[inline]
    pub fn of(payload: *mut u8) -> *mut Header {
        payload.wrapping_sub(HEADER).cast()
    }

    #[inline]
    fn bits(&self) -> usize {
        self.span_tag.load(Ordering::Relaxed)
    }

    #[inline]
    fn set_bits(&self, bits: usize) {
        self.span_tag.store(bits, Ordering::Relaxed);
    }

    /// Header plus payload, in bytes.
    #[inline]
    pub fn span(&self) -> usize {
        self.bits() & !(ALIGN - 1)
    }

    /// The tag, or `None` if the low bits hold no valid tag (a stray write
    /// overwrote the header).
    #[inline]
    pub fn tag(&self) -> Option<Tag> {
        // A table, not a `match`: this runs on every `free`, and a jump
        // table's indirect jump costs more than the lookup.
        const TAGS: [Option<Tag>; 8] = [
            None,
            Some(Tag::Live),
            Some(Tag::Freed),
            Some(Tag::Padding),
            Some(Tag::Mapped),
            None,
            None,
            None,
        ];
        TAGS[self.bits() & TAG_BITS]
    }

    /// Whether the block before this one is free (see [`PREV_FREE`]).
    #[inline]
    pub fn prev_free(&self) -> bool {
        self.bits() & PREV_FREE != 0
    }

    /// Sets or clears the [`PREV_FREE`] flag, keeping the rest.
    #[inline]
    pub fn set_prev_free(&self, free: bool) {
        let bits = self.bits() & !PREV_FREE;
        self.set_bits(if free { bits | PREV_FREE } else { bits });
    }

    /// Changes the span, keeping the tag and the flag.
    #[inline]
    pub fn set_span(&self, span: usize) {
        debug_assert!(span.is_multiple_of(ALIGN) && span >= HEADER);
        self.set_bits(span | (self.bits() & (ALIGN - 1)));
    }

    /// Makes a free block live again for `size` requested bytes, keeping
    /// its span.
    #[inline]
    pub fn reuse(&mut self, size: usize) {
        self.set_size(size);
        self.set_tag(Tag::Live);
    }

    /// Changes the tag, keeping the span and the flag.
    #[inline]
    pub fn set_tag(&self, tag: Tag) {
        self.set_bits((self.bits() & !TAG_BITS) | tag as usize);
    }

    /// Bytes the caller may use.
    #[inline]
    pub fn usable(&self) -> usize {
        self.span() - HEADER
    }
}

/// The 16 bytes at the start of each region of contiguous memory.
#[repr(C)]
pub struct Region {
    /// The next region (null for the last).
    pub next: *mut Region,
    /// Where this region's blocks end, once a newer region exists.
    pub end: *mut u8,
}

impl Region {
    /// A region with no successor yet.
    #[inline]
    pub fn new() -> Self {
        Region {
            next: core::ptr::null_mut(),
            end: core::ptr::null_mut(),
        }
    }
}
