//! The debug mode (`WORKBOOK_MALLOC=check_every=N:perturb=1`): checks that
//! cost time, for hunting a program's memory bugs.
//!
//! - `perturb`: freed blocks are filled with a pattern, checked when the
//!   block is handed out again (a write after free breaks it), and every
//!   block gets guard bytes after the bytes asked for, checked when it is
//!   freed (an overflow breaks them);
//! - `check_every`: the whole heap check runs every N mallocs and frees.
//!
//! A problem found stops the program, as a misuse does.

use core::fmt::Write as _;

use malloc_core::{Break, Line, Malloc, Pages, os};

use crate::block::{HEADER, Header, Tag};
use crate::mapped::mapping_start;
use crate::misuse::misuse;
use crate::{Heap, Threaded};

/// Bytes after each block the debug mode fills and checks (at least these
/// many: a block's payload is rounded up to 16 bytes).
pub const GUARD: usize = 8;

/// The byte guard bytes are filled with.
const GUARD_BYTE: u8 = 0xfd;

/// The byte freed blocks are filled with.
const PERTURB: u8 = 0xdb;

impl<S: Break, P: Pages> Heap<S, P> {
    /// The payload bytes to ask for `size`: more in the debug mode, for the
    /// guard bytes.
    pub(crate) fn room(&self, size: usize) -> usize {
        if self.settings.perturb {
            size + GUARD
        } else {
            size
        }
    }

    /// In the debug mode, fills the guard bytes of the block at `payload`
    /// (null: nothing to fill) and returns it.
    ///
    /// # Safety
    ///
    /// `payload` is null or a live block of ours.
    pub(crate) unsafe fn guarded(&self, payload: *mut u8) -> *mut u8 {
        if self.settings.perturb && !payload.is_null() {
            // SAFETY: as the caller promises.
            unsafe { guard_bytes::<P>(payload).fill(GUARD_BYTE) };
        }
        payload
    }

    /// In the debug mode, the guard bytes after the live block at `ptr` must
    /// be as `alloc` filled them: anything else is an overflow.
    pub(crate) fn guard_checked(&self, function: &str, ptr: *mut u8) {
        // SAFETY: the caller of `free` or `realloc` passes a live block.
        if self.settings.perturb && !unsafe { guard_intact::<P>(ptr) } {
            misuse(
                function,
                ptr,
                "bytes after the block were overwritten (an overflow)",
            );
        }
    }

    /// In the debug mode, fills the free block at `header` with the
    /// pattern that [`untouched`](Self::untouched) checks.
    pub(crate) fn perturb(&self, header: *mut Header) {
        if self.settings.perturb {
            // SAFETY: the caller gives a free block of ours.
            unsafe { free_payload(header) }.fill(PERTURB);
        }
    }

    /// In the debug mode, a block taken from a free list must still hold
    /// the pattern `file_free` wrote: anything else is a write after free.
    pub(crate) fn untouched(&self, header: *mut Header) {
        if !self.settings.perturb {
            return;
        }
        // SAFETY: a block just taken from a free list, filled when freed.
        if unsafe { free_payload(header) }
            .iter()
            .any(|&b| b != PERTURB)
        {
            let payload = header.cast::<u8>().wrapping_add(HEADER);
            misuse(
                "malloc",
                payload,
                "a freed block was written after it was freed",
            );
        }
    }

    /// In the debug mode, counts a malloc or free; true every
    /// `check_every` of them, when the heap check is due.
    pub(crate) fn check_due(&mut self) -> bool {
        if self.settings.check_every == 0 {
            return false;
        }
        self.ops_since_check += 1;
        let due = self.ops_since_check >= self.settings.check_every;
        if due {
            self.ops_since_check = 0;
        }
        due
    }
}

impl<S: Break, P: Pages> Threaded<S, P> {
    /// The debug mode's heap check: stops the program if the heap is not
    /// what it should be.
    pub(crate) fn check_or_stop(&self) {
        if let Err(error) = self.check() {
            let mut line = Line::new();
            // Writing to a Line cannot fail; a line too long is cut.
            let _ = writeln!(line, "workbook malloc: {error}; aborting");
            os::abort_with(line.as_str());
        }
    }
}

/// The payload of the free block at `header` between its forward link and
/// its footer: what the debug mode fills.
///
/// # Safety
///
/// `header` is a free block of ours: nobody else uses its payload.
unsafe fn free_payload<'a>(header: *mut Header) -> &'a mut [u8] {
    // SAFETY: the caller gives a free block; its payload is `usable` bytes,
    // at least 16: the first 8 hold the link, the last 8 the footer.
    unsafe {
        let usable = (*header).usable();
        let start = header.cast::<u8>().add(HEADER + 8);
        core::slice::from_raw_parts_mut(start, usable - 16)
    }
}

/// The bytes of the live block at `payload` after the `size` bytes asked
/// for, up to the end of its memory: the debug mode's guard bytes.
///
/// # Safety
///
/// `payload` is a live block of ours.
unsafe fn guard_bytes<'a, P: Pages>(payload: *mut u8) -> &'a mut [u8] {
    let header = Header::of(payload);
    // SAFETY: a live block's header is valid; its memory runs to the end of
    // its span (from the start of its mapping, for a mapped block).
    unsafe {
        let (size, span) = ((*header).size(), (*header).span());
        let start = match (*header).tag() {
            Some(Tag::Mapped) => mapping_start::<P>(header).as_ptr(),
            _ => header.cast::<u8>(),
        };
        let end = start.add(span);
        let from = payload.add(size);
        core::slice::from_raw_parts_mut(from, end as usize - from as usize)
    }
}

/// Whether the guard bytes of the live block at `payload` are as filled.
///
/// # Safety
///
/// `payload` is a live block of ours, filled by [`Heap::guarded`].
pub(crate) unsafe fn guard_intact<P: Pages>(payload: *mut u8) -> bool {
    // SAFETY: as the caller promises.
    unsafe { guard_bytes::<P>(payload).iter().all(|&b| b == GUARD_BYTE) }
}
