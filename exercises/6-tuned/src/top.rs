//! Growth and the top: taking memory from the break in steps, and giving the
//! free top of the heap back.

use core::ptr;

use malloc_core::{Break, Pages, align_up};

use crate::Heap;
use crate::block::{HEADER, Region};

/// Memory is given back to the OS in whole pages.
const PAGE: usize = 4096;

impl<S: Break, P: Pages> Heap<S, P> {
    // ANCHOR: reserve
    /// Makes sure `bytes` more fit between the bump and the end, growing the
    /// break if not. Returns false when the source is out of memory.
    pub(crate) fn reserve(&mut self, bytes: usize) -> bool {
        let top = (self.end as usize) - (self.bump as usize);
        if top >= bytes {
            return true;
        }
        // What the top lacks (it will most likely grow in place), with the
        // room for a region header in case the new memory is not contiguous
        // with ours, and the top pad for the requests to come.
        let pad = self.settings.top_pad;
        if !self.grow(align_up(bytes + HEADER - top + pad, PAGE)) {
            return false;
        }
        // Someone moved the break: the new memory is a new region, and
        // counting on the old top we asked for too little. Asking for all
        // of it is enough, whether the break moves again or not.
        (self.end as usize) - (self.bump as usize) >= bytes
            || self.grow(align_up(bytes + HEADER + pad, PAGE))
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
                // SAFETY: `current` is our live region header.
                unsafe { self.close_region(region) };
            }
            self.current = region;
            self.current_mapped = from_break.is_none();
            self.bump = start.wrapping_add(HEADER);
            self.end = start.wrapping_add(step);
            // The tail of the old region can no longer be extended.
            self.last = ptr::null_mut();
        }
        self.note_footprint();
        true
    }

    /// Closes the current region, before `next` becomes the current one:
    /// its blocks end where the bump is.
    ///
    /// # Safety
    ///
    /// `current` is our region.
    unsafe fn close_region(&mut self, next: *mut Region) {
        // SAFETY: as the caller promises.
        unsafe {
            (*self.current).end = self.bump;
            (*self.current).next = next;
        }
    }

    /// The footprint changed: remember its peak.
    pub(crate) fn note_footprint(&mut self) {
        let bytes = self.source.stats().bytes + self.pages.stats().bytes;
        self.tally.footprint(bytes);
    }

    // EXERCISE BODY: trim
    // ANCHOR: trim
    /// Gives the top of the heap back to the OS when more than the trim
    /// threshold is free there, keeping the top pad.
    pub(crate) fn trim(&mut self) {
        // When more than the trim threshold is free at the top of the heap (between
        // the bump and the end), give it back to the OS, keeping the top pad, in
        // whole pages.
        todo!("hole `trim`");
    }
    // ANCHOR_END: trim
}
