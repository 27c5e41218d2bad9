//! Splitting: when a class has no free block and its bucket is used up, a
//! bigger free block is cut into blocks of that class.

use malloc_core::{Break, Pages};

use crate::block::{HEADER, Header, Tag};
use crate::free_list::FreeList;
use crate::{CLASSES, Heap};

/// The smallest block: a header and the smallest payload. A piece left over
/// by a split must be at least this big to be a block of its own.
pub const MIN_BLOCK: usize = HEADER + CLASSES[0];

impl<S: Break, P: Pages> Heap<S, P> {
    /// Takes a free block bigger than class `class` needs: from the next
    /// class up that has one, else the block the policy's fit takes from
    /// the large list (best fit in the course).
    pub(crate) fn take_bigger(&mut self, class: usize) -> Option<*mut Header> {
        let bigger = self.free[class + 1..].iter_mut().find_map(FreeList::pop);
        bigger.or_else(|| {
            self.large_free
                .take(HEADER + CLASSES[class], self.policy.fit)
        })
    }

    // ANCHOR: split
    /// Cuts the free block at `header` into blocks of `span` bytes. The
    /// first stays at `header` for the caller; the others go on the free
    /// list. A tail too small to be a block joins the last piece.
    ///
    /// # Safety
    ///
    /// `header` is a free block of ours on no list, spanning at least `span`.
    pub(crate) unsafe fn split(&mut self, header: *mut Header, span: usize) {
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
    pub(crate) unsafe fn split_off(&mut self, header: *mut Header, span: usize) {
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
}
