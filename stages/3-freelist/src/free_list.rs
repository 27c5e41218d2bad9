//! Free lists: freed blocks, linked through their own payloads, and the
//! choice of the list a freed block goes on.
//!
//! The course's lists are LIFO and the large list is searched best fit; the
//! policy lab (`with_policy`) can make them FIFO or address-ordered and
//! search first, next or worst fit instead.

use core::ptr;

use malloc_core::Break;
use malloc_core::policy::{Choices, Fit, Order, Policy};

use crate::block::{HEADER, Header};
use crate::{CLASSES, Heap, class_of};

/// The policy this stage teaches: best fit on the large list, LIFO lists.
pub const POLICY: Policy = Policy::new(Fit::Best, Order::Lifo, false);

/// The policies the lab can switch this stage to: any fit on the large
/// list, any order on every list (merging is stage 7's idea).
pub const CHOICES: Choices = Choices {
    default: POLICY,
    fits: &Fit::ALL,
    orders: &Order::ALL,
    merging: &[false],
};

/// A LIFO list of free blocks.
///
/// The list is *intrusive*: a free block's payload is not used by anybody,
/// so the link to the next free block is stored there. The list costs no
/// memory beyond the blocks themselves.
pub struct FreeList {
    head: *mut Header,
    len: usize,
    /// The last block, kept by FIFO lists only (stale when the list is not
    /// FIFO, or empty).
    tail: *mut Header,
    /// The block the last search took the block after (null: the head),
    /// where next fit starts.
    rover: *mut Header,
    /// The most blocks one walk of the list looked at.
    longest: usize,
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
            tail: ptr::null_mut(),
            rover: ptr::null_mut(),
            longest: 0,
        }
    }

    /// Blocks on the list.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The most blocks one walk of the list looked at (a search, or an
    /// address-ordered insertion).
    pub fn longest(&self) -> usize {
        self.longest
    }

    // EXERCISE BODY: push
    // EXERCISE BODY: pop
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
        // The best block so far, and the block before it (null: the head).
        let mut best: Option<(*mut Header, usize)> = None;
        let mut before: *mut Header = ptr::null_mut();
        let mut next = self.head;
        let mut visited = 0;
        while !next.is_null() {
            visited += 1;
            // SAFETY: blocks on the list are free blocks of ours.
            let block_span = unsafe { (*next).span() };
            if block_span >= span && best.is_none_or(|(_, s)| block_span < s) {
                best = Some((before, block_span));
                if block_span == span {
                    break; // Cannot do better.
                }
            }
            before = next;
            // SAFETY: blocks on the list are free blocks holding a link.
            next = unsafe { link(next).read() };
        }
        self.longest = self.longest.max(visited);
        let (before, _) = best?;
        // SAFETY: `before` is null or on the list, with a block after it.
        Some(unsafe { self.unlink_after(before) })
    }
    // ANCHOR_END: best_fit

    // ANCHOR: take
    /// Takes a block whose span is at least `span`, the one `fit` chooses
    /// (best fit is the course's; the others are the policy lab's).
    pub fn take(&mut self, span: usize, fit: Fit) -> Option<*mut Header> {
        if fit == Fit::Best {
            return self.take_best_fit(span);
        }
        // Next fit starts after the block the last search took the block
        // after, and goes round to it; the others walk from the head.
        let start = if fit == Fit::Next {
            self.rover
        } else {
            ptr::null_mut()
        };
        let mut chosen: Option<(*mut Header, usize)> = None;
        let mut before = start;
        let mut visited = 0;
        let mut next = if start.is_null() {
            self.head
        } else {
            // SAFETY: `start` (the rover) is a block on the list: only
            // `unlink_after` takes blocks off the large list, and it moves
            // the rover to a block that stays.
            unsafe { link(start).read() }
        };
        let mut wrapped = start.is_null();
        loop {
            if next.is_null() {
                if wrapped {
                    break;
                }
                wrapped = true;
                (before, next) = (ptr::null_mut(), self.head);
                continue;
            }
            visited += 1;
            // SAFETY: blocks on the list are free blocks of ours.
            let block_span = unsafe { (*next).span() };
            if block_span >= span && chosen.is_none_or(|(_, s)| block_span > s) {
                chosen = Some((before, block_span));
                if fit != Fit::Worst {
                    break;
                }
            }
            if wrapped && next == start {
                break; // Round to where the search began.
            }
            before = next;
            // SAFETY: blocks on the list are free blocks holding a link.
            next = unsafe { link(next).read() };
        }
        self.longest = self.longest.max(visited);
        let (before, _) = chosen?;
        // SAFETY: `before` is null or on the list, with a block after it.
        Some(unsafe { self.unlink_after(before) })
    }

    /// Takes the block after `before` (after the head if null) off the list.
    ///
    /// # Safety
    ///
    /// `before` is null or a block on the list, and a block follows it.
    unsafe fn unlink_after(&mut self, before: *mut Header) -> *mut Header {
        let place: *mut *mut Header = if before.is_null() {
            &mut self.head
        } else {
            link(before)
        };
        // SAFETY: `place` is the head or the link of a block on the list,
        // and holds a block on the list, which holds a link.
        let header = unsafe {
            let header = *place;
            *place = link(header).read();
            if (*place).is_null() {
                self.tail = before;
            }
            header
        };
        self.rover = before;
        self.len -= 1;
        header
    }

    // ANCHOR_END: take

    // ANCHOR: put
    /// Puts a free block on the list where `order` says: in front (LIFO,
    /// [`push`](Self::push)), at the end (FIFO), or by address.
    ///
    /// # Safety
    ///
    /// As for [`push`](Self::push).
    pub unsafe fn put(&mut self, header: *mut Header, order: Order) {
        match order {
            // SAFETY: as our caller promises.
            Order::Lifo => unsafe { self.push(header) },
            Order::Fifo => {
                // SAFETY: the payload of a free block is ours to write; a
                // FIFO list's tail is its last block when it has blocks.
                unsafe {
                    link(header).write(ptr::null_mut());
                    if self.head.is_null() {
                        self.head = header;
                    } else {
                        link(self.tail).write(header);
                    }
                }
                self.tail = header;
                self.len += 1;
            }
            Order::Address => {
                let mut before: *mut Header = ptr::null_mut();
                let mut next = self.head;
                let mut visited = 0;
                while !next.is_null() && next.addr() < header.addr() {
                    visited += 1;
                    before = next;
                    // SAFETY: blocks on the list are free blocks holding a link.
                    next = unsafe { link(next).read() };
                }
                // SAFETY: the payload of a free block is ours to write, and
                // `before` is on the list.
                unsafe {
                    link(header).write(next);
                    if before.is_null() {
                        self.head = header;
                    } else {
                        link(before).write(header);
                    }
                }
                self.len += 1;
                self.longest = self.longest.max(visited);
            }
        }
    }
    // ANCHOR_END: put

    /// The blocks on the list, at most `limit` of them (a corrupted list may
    /// loop forever).
    pub fn iter(&self, limit: usize) -> impl Iterator<Item = *mut Header> + '_ {
        // A block's link is read when the block after it is asked for, once
        // the caller has looked at the block: the heap check must not
        // follow a link it has not checked.
        let mut last: *mut Header = ptr::null_mut();
        core::iter::from_fn(move || {
            last = if last.is_null() {
                self.head
            } else {
                // SAFETY: `last` is on the list: a free block holding a link.
                unsafe { link(last).read() }
            };
            (!last.is_null()).then_some(last)
        })
        .take(limit)
    }
}

impl<S: Break> Heap<S> {
    // EXERCISE BODY: push_free
    // ANCHOR: push_free
    /// Puts a free block on the list of its class, or on the large list if
    /// its size is not a class (a large block, or one `memalign` made).
    ///
    /// # Safety
    ///
    /// `header` is a free block of ours, on no list.
    pub(crate) unsafe fn push_free(&mut self, header: *mut Header) {
        // SAFETY: the caller gives us one of our blocks.
        let usable = unsafe { (*header).usable() };
        let list = match class_of(usable) {
            Some(class) if usable == CLASSES[class] => &mut self.free[class],
            _ => &mut self.large_free,
        };
        // SAFETY: a free block of ours on no list, with a payload of at
        // least 16 bytes (every block has one).
        unsafe { list.put(header, self.policy.order) };
    }
    // ANCHOR_END: push_free

    /// The most blocks one walk of a free list looked at.
    pub(crate) fn longest_search(&self) -> usize {
        let longest = self.free.iter().map(FreeList::longest).max();
        longest.unwrap_or(0).max(self.large_free.longest())
    }
}
