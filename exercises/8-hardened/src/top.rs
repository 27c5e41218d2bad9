//! Growth and the top: taking memory from the break in steps, and giving the
//! free top of the heap back.

use malloc_core::{Break, Pages, align_up};

use crate::block::{HEADER, Header, Region, Tag};
use crate::{Heap, MIN_BLOCK};

/// Memory is given back to the OS in whole pages.
const PAGE: usize = 4096;

impl<S: Break, P: Pages> Heap<S, P> {
    // ANCHOR: reserve
    /// Makes sure `bytes` more fit between the bump and the end, growing the
    /// break if not. Returns false when the source is out of memory.
    ///
    /// A region always keeps [`HEADER`] bytes spare after the bump: when it
    /// is closed, a fence goes there, so that a block at its end never
    /// looks for a neighbour past it.
    pub(crate) fn reserve(&mut self, bytes: usize) -> bool {
        let top = (self.end as usize) - (self.bump as usize);
        if top >= bytes + HEADER {
            return true;
        }
        // What the top lacks (it will most likely grow in place), with the
        // room for a region header and a fence in case the new memory is not
        // contiguous with ours, and the top pad for the requests to come.
        let pad = self.settings.top_pad;
        if !self.grow(align_up(bytes + 2 * HEADER - top + pad, PAGE)) {
            return false;
        }
        // Someone moved the break: the new memory is a new region, and
        // counting on the old top we asked for too little. Asking for all
        // of it is enough, whether the break moves again or not.
        (self.end as usize) - (self.bump as usize) >= bytes + HEADER
            || self.grow(align_up(bytes + 2 * HEADER + pad, PAGE))
    }
    // ANCHOR_END: reserve

    /// Takes `step` more bytes from the break, else from a mapping: the
    /// current region gets longer, or a new one starts. Returns false when
    /// the source is out of memory.
    fn grow(&mut self, step: usize) -> bool {
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
        true
    }

    // ANCHOR: close_region
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
    // ANCHOR_END: close_region

    /// The footprint changed: remember its peak.
    pub(crate) fn note_footprint(&mut self) {
        let bytes = self.source.stats().bytes + self.pages.stats().bytes;
        self.tally.footprint(bytes);
    }

    // ANCHOR: trim
    /// Gives the top of the heap back to the OS when more than the trim
    /// threshold is free there, keeping the top pad.
    pub(crate) fn trim(&mut self) {
        let top = self.end as usize - self.bump as usize;
        // A region mapped because the break could not grow is not the top
        // of the break: shrinking the break would cut another region.
        if top <= self.settings.trim_threshold || self.current_mapped {
            return;
        }
        // Keep the top pad, and at least room for a region's fence.
        let keep = self.settings.top_pad.max(HEADER);
        let give = (top - keep.min(top)) & !(PAGE - 1);
        // SAFETY: the bytes above the bump hold no block; `cut_down` refuses
        // if someone else moved the break since we grew it.
        if give > 0 && unsafe { self.source.shrink(give) } {
            self.end = self.end.wrapping_sub(give);
        }
    }
    // ANCHOR_END: trim
}
