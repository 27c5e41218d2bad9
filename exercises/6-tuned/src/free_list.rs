//! Free lists: freed blocks, linked through their own payloads, and the
//! choice of the list a freed block goes on.

use core::ptr;

use malloc_core::{Break, Pages};

use crate::block::{HEADER, Header};
use crate::{CLASSES, Heap, class_of};

/// A LIFO list of free blocks.
///
/// The list is *intrusive*: a free block's payload is not used by anybody,
/// so the link to the next free block is stored there. The list costs no
/// memory beyond the blocks themselves.
pub struct FreeList {
    head: *mut Header,
    len: usize,
}

/// Where a free block keeps the link to the next one: its first payload word.
fn link(header: *mut Header) -> *mut *mut Header {
    header.cast::<u8>().wrapping_add(HEADER).cast()
}

impl FreeList {
    /// An empty list.
    pub const fn new() -> Self {
        FreeList {
            head: ptr::null_mut(),
            len: 0,
        }
    }

    /// Blocks on the list.
    pub fn len(&self) -> usize {
        self.len
    }

    // ANCHOR: push_pop
    /// Puts a block on the list.
    ///
    /// # Safety
    ///
    /// `header` is a free block of ours, with at least 8 payload bytes, and
    /// on no list.
    pub unsafe fn push(&mut self, header: *mut Header) {
        // SAFETY: the payload of a free block is ours to write.
        unsafe { link(header).write(self.head) };
        self.head = header;
        self.len += 1;
    }

    /// Takes the block pushed last, if any.
    pub fn pop(&mut self) -> Option<*mut Header> {
        if self.head.is_null() {
            return None;
        }
        let header = self.head;
        // SAFETY: blocks on the list are free blocks holding a link.
        self.head = unsafe { link(header).read() };
        self.len -= 1;
        Some(header)
    }
    // ANCHOR_END: push_pop

    // ANCHOR: best_fit
    /// Takes the smallest block whose span is at least `span` (best fit:
    /// less waste than the first that fits, for one walk of the list).
    pub fn take_best_fit(&mut self, span: usize) -> Option<*mut Header> {
        let mut best: Option<(*mut *mut Header, usize)> = None;
        let mut place: *mut *mut Header = &mut self.head;
        // SAFETY: `place` is the list head or the link of a block on the
        // list; blocks on the list are free blocks holding a link.
        unsafe {
            while !(*place).is_null() {
                let block_span = (**place).span();
                if block_span >= span && best.is_none_or(|(_, s)| block_span < s) {
                    best = Some((place, block_span));
                    if block_span == span {
                        break; // Cannot do better.
                    }
                }
                place = link(*place);
            }
            let (place, _) = best?;
            let header = *place;
            *place = link(header).read();
            self.len -= 1;
            Some(header)
        }
    }
    // ANCHOR_END: best_fit

    /// The blocks on the list, at most `limit` of them (a corrupted list may
    /// loop forever).
    pub fn iter(&self, limit: usize) -> impl Iterator<Item = *mut Header> + '_ {
        let mut next = self.head;
        core::iter::from_fn(move || {
            let header = next;
            if header.is_null() {
                return None;
            }
            // SAFETY: blocks on the list are free blocks holding a link.
            next = unsafe { link(header).read() };
            Some(header)
        })
        .take(limit)
    }
}

impl<S: Break, P: Pages> Heap<S, P> {
    // ANCHOR: push_free
    /// Puts a free block on a class's list, or on the large list if it is
    /// bigger than every class.
    ///
    /// # Safety
    ///
    /// `header` is a free block of ours, on no list.
    pub(crate) unsafe fn push_free(&mut self, header: *mut Header) {
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
    }
    // ANCHOR_END: push_free
}
