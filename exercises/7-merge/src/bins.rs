//! Bins: free blocks of any size, in doubly linked lists sorted by size.
//!
//! Stage 6's free lists were singly linked, one per class: taking a block
//! out of the middle meant walking its list. Merging a freed block with a
//! free neighbour takes the neighbour off whatever list it is on, so here
//! every free block also knows its predecessor on the list: the forward link
//! is in its first payload word, the back link in its header's `size` word
//! (a free block has no requested size).

use core::ptr;

use malloc_core::policy::{Fit, Order};

use crate::block::{HEADER, Header};

/// Stores the link to `target` in the word at `at`: as a pointer, never as
/// a bare number, so that it keeps the right to reach its block.
///
/// # Safety
///
/// `at` is a link word of a free block of ours.
unsafe fn write_link(at: *mut *mut Header, target: *mut Header) {
    // SAFETY: the caller gives a word we may write.
    unsafe { at.write(target) };
}

/// Reads the link stored in the word at `at`.
///
/// # Safety
///
/// `at` is a link word of a free block of ours.
unsafe fn read_link(at: *mut *mut Header) -> *mut Header {
    // SAFETY: the caller gives a word we wrote a link into.
    unsafe { at.read() }
}

/// Where a free block keeps its forward link: its first payload word.
fn next_link(header: *mut Header) -> *mut *mut Header {
    header.cast::<u8>().wrapping_add(HEADER).cast()
}

/// Where a free block keeps its back link: its header's `size` word.
fn prev_link(header: *mut Header) -> *mut *mut Header {
    header.cast()
}

/// Bins: one per payload size up to 1024 bytes (16-byte steps: exact fits
/// for small requests, as glibc's small bins), then four per doubling up to
/// 64 MiB, the last one for everything bigger.
pub const BINS: usize = 128;

/// The bins of single sizes: 16, 32, ... 1024.
const EXACT_BINS: usize = 64;

// ANCHOR: bins
/// The bin a free block of `usable` payload bytes is filed in: the largest
/// whose smallest size is at most `usable`, so that every block in bin `b`
/// can serve a request of [`bin_floor`]`(b)` bytes.
pub fn bin_of(usable: usize) -> usize {
    if usable <= 16 * EXACT_BINS {
        return usable / 16 - 1;
    }
    // Which doubling, then which quarter of it.
    let doubling = (usize::BITS - 1 - usable.leading_zeros()) as usize;
    let quarter = (usable >> (doubling - 2)) & 3;
    (EXACT_BINS + (doubling - 10) * 4 + quarter).min(BINS - 1)
}

/// The smallest payload a block in `bin` may have (for the bin just above
/// the exact ones, 1024: its blocks are bigger).
pub const fn bin_floor(bin: usize) -> usize {
    if bin < EXACT_BINS {
        16 * (bin + 1)
    } else {
        let doubling = 10 + (bin - EXACT_BINS) / 4;
        (4 + (bin - EXACT_BINS) % 4) << (doubling - 2)
    }
}
// ANCHOR_END: bins

/// Blocks a search looks at in a bin whose blocks may be too small.
const SCAN: usize = 8;

/// The free lists, one per bin, and a bit per bin saying which hold blocks.
pub struct Bins {
    heads: [*mut Header; BINS],
    /// Bit `b` is set when bin `b` is not empty: finding the smallest
    /// non-empty bin above some size is one instruction.
    nonempty: u128,
    /// Which block `take` chooses (the policy lab's switch; best in the
    /// course).
    pub fit: Fit,
    /// Where `push` puts a block in its bin (LIFO in the course).
    pub order: Order,
    /// The most blocks one search (or address-ordered insertion) looked at.
    pub longest: usize,
}

impl Bins {
    /// All bins empty.
    pub const fn new() -> Self {
        Bins {
            heads: [ptr::null_mut(); BINS],
            nonempty: 0,
            fit: Fit::Best,
            order: Order::Lifo,
            longest: 0,
        }
    }

    /// Puts a free block at the front of its bin.
    ///
    /// # Safety
    ///
    /// `header` is a free block of ours, on no list.
    pub unsafe fn push(&mut self, header: *mut Header) {
        if self.order == Order::Address {
            // SAFETY: as our caller promises.
            return unsafe { self.insert_by_address(header) };
        }
        // SAFETY: the caller gives one of our blocks.
        let bin = bin_of(unsafe { (*header).usable() });
        let head = self.heads[bin];
        // SAFETY: the link words of free blocks are ours to write.
        unsafe {
            write_link(next_link(header), head);
            write_link(prev_link(header), ptr::null_mut());
            if !head.is_null() {
                write_link(prev_link(head), header);
            }
        }
        self.heads[bin] = header;
        self.nonempty |= 1 << bin;
    }

    // ANCHOR: remove
    /// Takes a free block off its bin, wherever it is in the list: its
    /// neighbours on the list are linked to each other.
    ///
    /// # Safety
    ///
    /// `header` is a free block of ours, on one of these lists.
    pub unsafe fn remove(&mut self, header: *mut Header) {
        // SAFETY: the caller gives a listed free block: its links are set.
        let (bin, next, prev) = unsafe {
            (
                bin_of((*header).usable()),
                read_link(next_link(header)),
                read_link(prev_link(header)),
            )
        };
        // SAFETY: neighbours on a list are listed free blocks too.
        unsafe {
            if !next.is_null() {
                write_link(prev_link(next), prev);
            }
            if prev.is_null() {
                self.heads[bin] = next;
            } else {
                write_link(next_link(prev), next);
            }
        }
        if next.is_null() && prev.is_null() {
            self.nonempty &= !(1 << bin);
        }
    }
    // ANCHOR_END: remove

    // ANCHOR: take
    /// Takes a free block with at least `usable` payload bytes, if there is
    /// one: from the smallest bin whose blocks all fit, after a look at a
    /// few blocks of the bin below it, where some may.
    pub fn take(&mut self, usable: usize) -> Option<*mut Header> {
        match self.fit {
            Fit::First => return self.take_first(usable),
            Fit::Worst => return self.take_worst(usable),
            Fit::Best | Fit::Next => {}
        }
        let floor = bin_of(usable);
        let mut first_fitting = floor;
        if bin_floor(floor) < usable {
            let mut header = self.heads[floor];
            for looked in 1..=SCAN {
                if header.is_null() {
                    break;
                }
                self.longest = self.longest.max(looked);
                // SAFETY: listed blocks are free blocks of ours.
                if unsafe { (*header).usable() } >= usable {
                    // SAFETY: found on a list just now.
                    unsafe { self.remove(header) };
                    return Some(header);
                }
                // SAFETY: as above.
                header = unsafe { read_link(next_link(header)) };
            }
            first_fitting += 1;
        }
        let above = self.nonempty.checked_shr(first_fitting as u32).unwrap_or(0);
        if above == 0 {
            return None;
        }
        let bin = first_fitting + above.trailing_zeros() as usize;
        // In a bin of one size any block will do; in a wider bin, the
        // smallest of the first few wastes least.
        let mut best = self.heads[bin];
        if bin >= EXACT_BINS {
            let mut header = best;
            for looked in 1..=SCAN {
                self.longest = self.longest.max(looked);
                // SAFETY: listed blocks are free blocks of ours.
                unsafe {
                    header = read_link(next_link(header));
                    if header.is_null() {
                        break;
                    }
                    if (*header).usable() < (*best).usable() {
                        best = header;
                    }
                }
            }
        }
        // SAFETY: `best` is a listed free block.
        unsafe { self.remove(best) };
        Some(best)
    }
    // ANCHOR_END: take

    /// First fit (the policy lab's): the first block that fits in the
    /// smallest bin that may hold one, walked to its end, else the first
    /// block of the next bin up that has one.
    fn take_first(&mut self, usable: usize) -> Option<*mut Header> {
        let floor = bin_of(usable);
        let mut looked = 0;
        let mut header = self.heads[floor];
        while !header.is_null() {
            looked += 1;
            // SAFETY: listed blocks are free blocks of ours.
            if unsafe { (*header).usable() } >= usable {
                break;
            }
            // SAFETY: as above.
            header = unsafe { read_link(next_link(header)) };
        }
        if header.is_null() {
            let above = self.nonempty.checked_shr(floor as u32 + 1).unwrap_or(0);
            if above != 0 {
                header = self.heads[floor + 1 + above.trailing_zeros() as usize];
                looked += 1;
            }
        }
        self.longest = self.longest.max(looked);
        if header.is_null() {
            return None;
        }
        // SAFETY: `header` is a listed free block.
        unsafe { self.remove(header) };
        Some(header)
    }

    /// Worst fit (the policy lab's): the largest block of the highest bin
    /// that has blocks, if it is big enough.
    fn take_worst(&mut self, usable: usize) -> Option<*mut Header> {
        if self.nonempty == 0 {
            return None;
        }
        let bin = (u128::BITS - 1 - self.nonempty.leading_zeros()) as usize;
        let mut worst = self.heads[bin];
        let mut header = worst;
        let mut looked = 0;
        while !header.is_null() {
            looked += 1;
            // SAFETY: listed blocks are free blocks of ours.
            unsafe {
                if (*header).usable() > (*worst).usable() {
                    worst = header;
                }
                header = read_link(next_link(header));
            }
        }
        self.longest = self.longest.max(looked);
        // SAFETY: `worst` is a listed free block (the bin is not empty).
        if unsafe { (*worst).usable() } < usable {
            return None;
        }
        // SAFETY: as above.
        unsafe { self.remove(worst) };
        Some(worst)
    }

    /// Puts a free block in its bin at its place by address (the policy
    /// lab's address-ordered lists).
    ///
    /// # Safety
    ///
    /// `header` is a free block of ours, on no list.
    unsafe fn insert_by_address(&mut self, header: *mut Header) {
        // SAFETY: the caller gives one of our blocks.
        let bin = bin_of(unsafe { (*header).usable() });
        let mut prev: *mut Header = ptr::null_mut();
        let mut next = self.heads[bin];
        let mut looked = 0;
        while !next.is_null() && next.addr() < header.addr() {
            looked += 1;
            prev = next;
            // SAFETY: listed blocks are free blocks of ours.
            next = unsafe { read_link(next_link(next)) };
        }
        self.longest = self.longest.max(looked);
        // SAFETY: the link words of free blocks are ours to write; `prev`
        // and `next` are listed neighbours (or null).
        unsafe {
            write_link(next_link(header), next);
            write_link(prev_link(header), prev);
            if !next.is_null() {
                write_link(prev_link(next), header);
            }
            if prev.is_null() {
                self.heads[bin] = header;
            } else {
                write_link(next_link(prev), header);
            }
        }
        self.nonempty |= 1 << bin;
    }

    /// The blocks in `bin`, at most `limit` of them (a corrupted list may
    /// loop forever), for the heap check: a block's link is read only when
    /// the next block is asked for, so the caller can check each block
    /// before the walk goes through it.
    pub fn iter(&self, bin: usize, limit: usize) -> impl Iterator<Item = *mut Header> + '_ {
        let mut next = self.heads[bin];
        let mut last: *mut Header = ptr::null_mut();
        core::iter::from_fn(move || {
            if !last.is_null() {
                // SAFETY: the caller checked `last` is a free block of ours
                // before asking for the block after it.
                next = unsafe { read_link(next_link(last)) };
            }
            last = next;
            (!next.is_null()).then_some(next)
        })
        .take(limit)
    }
}
