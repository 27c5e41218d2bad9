//! The headers stage 1 writes into the heap.

/// Bytes of a block header (and of a region header): one [`ALIGN`] unit, so
/// the payload after it stays aligned.
///
/// [`ALIGN`]: malloc_core::ALIGN
pub const HEADER: usize = 16;

/// What a block is. The values spell LIVE, FREE and PADD in ASCII: unlikely
/// bit patterns, so that the heap check notices a header overwritten by a
/// stray write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Tag {
    /// Handed out and not freed.
    Live = 0x4c49_5645,
    /// Freed; its bytes are never used again (stage 3 will reuse them).
    Freed = 0x4652_4545,
    /// Filler that `memalign` left before an aligned block.
    Padding = 0x5041_4444,
}

/// The 16 bytes before every payload.
#[repr(C)]
pub struct Header {
    /// Bytes requested (for padding: bytes of filler after this header).
    pub size: usize,
    /// What the block is.
    pub tag: Tag,
}

impl Header {
    /// A header for a block of `size` bytes.
    pub fn new(tag: Tag, size: usize) -> Self {
        Header { size, tag }
    }

    /// The header of the block whose payload starts at `payload`.
    pub fn of(payload: *mut u8) -> *mut Header {
        payload.wrapping_sub(HEADER).cast()
    }
}

/// The 16 bytes at the start of each region of contiguous memory.
#[repr(C)]
pub struct Region {
    /// The next region (null for the last).
    pub next: *mut Region,
    /// Where this region's blocks end, once a newer region exists.
    pub end: *mut u8,
}

impl Region {
    /// A region with no successor yet.
    pub fn new() -> Self {
        Region {
            next: core::ptr::null_mut(),
            end: core::ptr::null_mut(),
        }
    }
}
