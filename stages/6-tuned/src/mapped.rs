//! Mapped blocks: a request of at least the mmap threshold gets a mapping
//! of its own, which `free` gives straight back to the OS.

use core::ptr;
use core::ptr::NonNull;

use malloc_core::{ALIGN, Break, Pages, align_up};

use crate::block::{HEADER, Header, Tag};
use crate::{Heap, settings::MMAP_THRESHOLD_MAX};

impl<S: Break, P: Pages> Heap<S, P> {
    // ANCHOR: alloc_mapped
    /// Gives a block of `size` bytes, aligned to `align`, a mapping of its
    /// own: the header in the first page, the payload after it.
    pub(crate) fn alloc_mapped(&mut self, size: usize, align: usize) -> *mut u8 {
        let page = P::PAGE;
        // Room for the header and the worst padding the alignment needs.
        let bytes = align_up(HEADER + size + (align - ALIGN), page);
        let Some(start) = self.pages.map(bytes) else {
            return ptr::null_mut();
        };
        let start = start.as_ptr();
        let payload = start.map_addr(|a| align_up(a + HEADER, align));
        let header = payload.wrapping_sub(HEADER).cast::<Header>();
        // The mapping must start in the header's page: `free` finds it
        // there. Whole pages before it (big alignments) go back at once.
        let head = (header.addr() & !(page - 1)) - start.addr();
        if head > 0 {
            // SAFETY: leading pages of our new mapping, unused.
            unsafe { self.pages.unmap(NonNull::new_unchecked(start), head) };
        }
        // SAFETY: the header lies in the mapping, before the payload.
        unsafe { header.write(Header::new(Tag::Mapped, size, bytes - head)) };
        self.mapped_blocks += 1;
        self.mapped_bytes += size;
        self.tally.malloc(size);
        self.note_footprint();
        payload
    }

    /// Gives the mapping of a mapped block back to the OS.
    ///
    /// # Safety
    ///
    /// `header` is a live mapped block of ours.
    pub(crate) unsafe fn free_mapped(&mut self, header: *mut Header) {
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
    pub(crate) unsafe fn realloc_mapped(&mut self, ptr: *mut u8, size: usize) -> *mut u8 {
        let header = Header::of(ptr);
        // SAFETY: a live mapped block's header is valid.
        let (old, bytes) = unsafe { ((*header).size, (*header).span()) };
        let start = mapping_start::<P>(header);
        // ANCHOR: remap
        if size >= self.settings.mmap_threshold && start.as_ptr() == header.cast() {
            let new_bytes = align_up(HEADER + size, P::PAGE);
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
}

/// The start of a mapped block's mapping: the start of its header's page.
pub fn mapping_start<P: Pages>(header: *mut Header) -> NonNull<u8> {
    let start = header.cast::<u8>().map_addr(|a| a & !(P::PAGE - 1));
    // SAFETY: a header's page starts at a non-zero address.
    unsafe { NonNull::new_unchecked(start) }
}
