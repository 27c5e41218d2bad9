//! Merging: a freed block joins the free blocks on either side of it and the
//! top, so that no two free blocks are ever neighbours.
//!
//! A block finds the block after it from its own span. To find the block
//! before it, it needs a *boundary tag*: a free block writes its span in its
//! last word (its footer), and the block after it carries a flag saying "the
//! block before me is free" (see `block`).

use malloc_core::{Break, Pages};

use crate::Heap;
use crate::block::{HEADER, Header, Tag};

/// The smallest block: a header and the smallest payload, room for a free
/// block's forward link and footer. A piece left over by a split must be at
/// least this big to be a block of its own.
pub const MIN_BLOCK: usize = HEADER + 16;

/// The block that starts right after the block at `header`.
pub fn next_block(header: *mut Header) -> *mut Header {
    // SAFETY: `header` is one of our blocks.
    let span = unsafe { (*header).span() };
    header.cast::<u8>().wrapping_add(span).cast()
}

/// Where a free block of `span` bytes at `header` keeps its footer: its last
/// word, just before the next block's header.
pub fn footer(header: *mut Header, span: usize) -> *mut usize {
    header.cast::<u8>().wrapping_add(span - 8).cast()
}

impl<S: Break, P: Pages> Heap<S, P> {
    // ANCHOR: free_and_merge
    /// Makes the block at `header` free: merged with a free block on either
    /// side, and with the top if it ends there, so that no two free blocks
    /// are ever neighbours (and the heap keeps few, large free blocks).
    ///
    /// # Safety
    ///
    /// `header` is a block of ours that nobody uses any more, on no list.
    pub(crate) unsafe fn free_and_merge(&mut self, header: *mut Header) {
        if !self.policy.merge {
            // SAFETY: as our caller promises.
            return unsafe { self.free_unmerged(header) };
        }
        let mut start = header;
        // SAFETY: the caller gives one of our blocks.
        let mut span = unsafe { (*header).span() };
        // EXERCISE: merge_before
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
        // EXERCISE END
        let mut next = start.cast::<u8>().wrapping_add(span);
        // EXERCISE: merge_after
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
        // EXERCISE END
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
    // ANCHOR_END: free_and_merge

    /// The policy lab's no-merge: the block is filed as it is, even next to
    /// a free block. Only the top still takes a block that ends at it, and
    /// then each free block that ends at the top in turn: no free block may
    /// end at the bump.
    ///
    /// # Safety
    ///
    /// As for [`free_and_merge`](Self::free_and_merge).
    unsafe fn free_unmerged(&mut self, header: *mut Header) {
        // SAFETY: the caller gives one of our blocks.
        let (span, prev_free) = unsafe { ((*header).span(), (*header).prev_free()) };
        if header.cast::<u8>().wrapping_add(span) != self.bump {
            // SAFETY: the bytes are ours and unused, and a header follows.
            unsafe {
                self.file_free(header, span);
                (*header).set_prev_free(prev_free);
            }
            return;
        }
        let mut start = header;
        // SAFETY: the flag says the block before is free, and its footer,
        // just before our header, holds its span; a free block is listed.
        unsafe {
            while (*start).prev_free() {
                let before = start.cast::<usize>().sub(1).read();
                start = start.cast::<u8>().wrapping_sub(before).cast();
                self.bins.remove(start);
            }
        }
        self.bump = start.cast();
        self.trim();
    }

    // EXERCISE BODY: file_free
    // ANCHOR: file_free
    /// Makes `start .. start + span` one free block on its list: header,
    /// footer, and the flag in the block after it.
    ///
    /// # Safety
    ///
    /// The bytes are ours and unused, the block before them is not free,
    /// and a block header (or a region's fence) follows them.
    pub(crate) unsafe fn file_free(&mut self, start: *mut Header, span: usize) {
        // SAFETY: as the caller promises.
        unsafe {
            start.write(Header::new(Tag::Freed, 0, span));
            footer(start, span).write(span);
            (*next_block(start)).set_prev_free(true);
            self.bins.push(start);
        }
    }
    // ANCHOR_END: file_free

    /// Cuts the block at `header` (not on a list) down to `span` bytes when
    /// what is left can be a block; the rest is freed (merged with a
    /// free block after it). Otherwise the block keeps its span, and the
    /// block after it learns that its predecessor is no longer free.
    ///
    /// # Safety
    ///
    /// `header` is a block of ours spanning at least `span` bytes, whose
    /// bytes past `span` nobody uses.
    pub(crate) unsafe fn cut_down(&mut self, header: *mut Header, span: usize) {
        // SAFETY: the caller gives one of our blocks.
        let total = unsafe { (*header).span() };
        if total >= span + MIN_BLOCK {
            let rest = header.cast::<u8>().wrapping_add(span).cast::<Header>();
            // SAFETY: both parts lie inside the block; the rest is unused.
            unsafe {
                (*header).set_span(span);
                rest.write(Header::new(Tag::Live, 0, total - span));
                self.free_and_merge(rest);
            }
        } else {
            let next = next_block(header);
            if next.cast() != self.bump {
                // SAFETY: below the bump a block is followed by a header.
                unsafe { (*next).set_prev_free(false) };
            }
        }
    }

    // ANCHOR: realloc
    /// Makes the live block at `header` span `span` bytes where it is, if it
    /// can: smaller by giving back its tail, bigger by taking in the top or
    /// a free block after it. False if it would have to move.
    ///
    /// # Safety
    ///
    /// `header` is a live block of ours.
    pub(crate) unsafe fn resize_in_place(&mut self, header: *mut Header, span: usize) -> bool {
        // SAFETY: the caller gives a live block of ours.
        let have = unsafe { (*header).span() };
        if span <= have {
            // SAFETY: the bytes past `span` are the caller's no more.
            unsafe { self.cut_down(header, span) };
            return true;
        }
        let next = next_block(header);
        if next.cast() == self.bump {
            // At the top: grow into it.
            if !self.reserve(span - have) || next_block(header).cast() != self.bump {
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
        // ours, and its tail goes back by `cut_down`.
        unsafe {
            self.bins.remove(next);
            (*header).set_span(have + after);
            self.cut_down(header, span);
        }
        true
    }
    // ANCHOR_END: realloc
}

// ANCHOR: check_merged
/// What the heap check asks of a block of `span` bytes tagged `tag` at
/// `header`, after a block tagged `before` (`None` at a region's start):
/// its flag says whether the block before is free, a free block's footer
/// holds its span, and (when `merging`) no two free blocks are neighbours.
pub(crate) fn check_merged(
    header: *mut Header,
    tag: Tag,
    span: usize,
    before: Option<Tag>,
    merging: bool,
) -> Result<(), &'static str> {
    // SAFETY: the walk gives a block of ours with a valid header.
    if unsafe { (*header).prev_free() } != (before == Some(Tag::Freed)) {
        return Err("the flag saying whether the block before is free is wrong");
    }
    if tag == Tag::Freed {
        if merging && before == Some(Tag::Freed) {
            return Err("two free blocks side by side (not merged)");
        }
        // SAFETY: a free block's last word is its footer.
        if unsafe { footer(header, span).read() } != span {
            return Err("a free block's footer does not match its span");
        }
    }
    Ok(())
}
// ANCHOR_END: check_merged
