//! Buckets: a small request is rounded up to a size class and served from
//! its class's bucket, a run of equal blocks carved from the break.

use core::ptr;

use malloc_core::Break;

use crate::Heap;
use crate::block::{HEADER, Header, Tag};

// EXERCISE BODY: class_of
// ANCHOR: classes
// ANCHOR: class_table
/// The size classes: a request of at most 1024 bytes is rounded up to one
/// of these.
pub const CLASSES: [usize; 4] = [16, 64, 256, 1024];

/// A bucket of a class holds about this many bytes of blocks.
pub const BUCKET_BYTES: usize = 16 * 1024;
// ANCHOR_END: class_table

/// The index in [`CLASSES`] of the smallest class that holds `size` bytes,
/// or `None` for a large request.
pub fn class_of(size: usize) -> Option<usize> {
    CLASSES.iter().position(|&class| size <= class)
}
// ANCHOR_END: classes

/// The part of a bucket not handed out yet: blocks are taken from `next`
/// until it reaches `end`.
#[derive(Clone, Copy)]
pub struct Bucket {
    pub next: *mut u8,
    pub end: *mut u8,
}

impl Bucket {
    /// An empty bucket: the first request of its class carves a real one.
    pub const fn new() -> Self {
        Bucket {
            next: ptr::null_mut(),
            end: ptr::null_mut(),
        }
    }
}

impl<S: Break> Heap<S> {
    // EXERCISE BODY: alloc_small
    // ANCHOR: alloc_small
    /// Hands out a block of class `class` for `size` bytes from its bucket,
    /// carving a new bucket from the bump when the current one is used up.
    pub(crate) fn alloc_small(&mut self, class: usize, size: usize) -> *mut u8 {
        let span = HEADER + CLASSES[class];
        let bucket = self.buckets[class];
        if (bucket.end as usize) - (bucket.next as usize) < span {
            let bytes = BUCKET_BYTES / span * span;
            if !self.reserve(bytes) {
                return ptr::null_mut();
            }
            self.buckets[class] = Bucket {
                next: self.bump,
                end: self.bump.wrapping_add(bytes),
            };
            self.bump = self.bump.wrapping_add(bytes);
            // A bucket now lies between the most recent block and the bump.
            self.last = ptr::null_mut();
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
}
