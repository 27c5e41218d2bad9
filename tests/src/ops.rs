//! The operations of the differential test, and how proptest picks them.
//!
//! An operation names a live block by an [`Index`] into the list of live
//! blocks, not by an id: whatever the shrinker deletes, every remaining
//! operation still means something (an index is taken modulo the number of
//! live blocks; with none alive, `Realloc` and `Free` do nothing).

use proptest::prelude::*;
use proptest::sample::{Index, select};

/// One call into the allocator.
#[derive(Clone, Debug)]
pub enum Op {
    /// `malloc(size)`: a new block.
    Malloc {
        /// Bytes requested.
        size: usize,
    },
    /// `calloc(count, size)`: a new, zeroed block.
    Calloc {
        /// Number of elements.
        count: usize,
        /// Bytes per element.
        size: usize,
    },
    /// `memalign(align, size)`: a new block at an alignment.
    Memalign {
        /// The alignment asked for (not always a power of two).
        align: usize,
        /// Bytes requested.
        size: usize,
    },
    /// `realloc(block, size)` on a live block.
    Realloc {
        /// Which live block.
        block: Index,
        /// The new size.
        size: usize,
    },
    /// `free(block)` on a live block.
    Free {
        /// Which live block.
        block: Index,
    },
}

/// Sizes where allocators keep their off-by-one bugs: tiny sizes, powers of
/// two ±1 (the size classes 16, 64, 256, 1024 among them), a page ±1, and the
/// mmap threshold (128 KiB) ±1.
pub const EDGE_SIZES: &[usize] = &[
    0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512,
    513, 1023, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 4097, 8191, 8192, 8193, 65535, 65536,
    65537, 131071, 131072, 131073,
];

/// A few MiB: requests that later stages map on their own.
pub const LARGE_SIZES: &[usize] = &[1 << 20, (1 << 20) + 1, (2 << 20) - 1, 3 << 20, 4 << 20];

/// Requests no allocator can serve: both sides must say null.
pub const IMPOSSIBLE_SIZES: &[usize] = &[usize::MAX, usize::MAX - 15, isize::MAX as usize + 1];

/// Alignments for `memalign`: mostly powers of two, sometimes not.
pub const ALIGNMENTS: &[usize] = &[
    16,
    32,
    64,
    1,
    2,
    4,
    8,
    128,
    256,
    512,
    1024,
    4096,
    8192,
    65536,
    1 << 20,
    3,
    24,
    0,
    48,
];

/// Calloc arguments whose product overflows a `usize`.
pub const OVERFLOWING_CALLOCS: &[(usize, usize)] = &[
    (usize::MAX, 2),
    (2, usize::MAX / 2 + 1),
    (1 << 32, 1 << 32),
    (usize::MAX, usize::MAX),
];

/// A request size, biased to the edges. Shrinking goes toward small sizes.
pub fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        40 => 0usize..=300,
        40 => select(EDGE_SIZES),
        10 => 300usize..=5000,
        1 => select(LARGE_SIZES),
        1 => select(IMPOSSIBLE_SIZES),
    ]
}

/// A size without the large and impossible ones (for calloc, which zeroes
/// and so touches every byte).
pub fn small_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        50 => 0usize..=300,
        50 => select(EDGE_SIZES),
    ]
}

/// One operation. Mallocs and frees dominate, as in real programs.
pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => size().prop_map(|size| Op::Malloc { size }),
        8 => (0usize..=4, small_size()).prop_map(|(count, size)| Op::Calloc { count, size }),
        1 => select(OVERFLOWING_CALLOCS).prop_map(|(count, size)| Op::Calloc { count, size }),
        6 => (select(ALIGNMENTS), size()).prop_map(|(align, size)| Op::Memalign { align, size }),
        15 => (any::<Index>(), size()).prop_map(|(block, size)| Op::Realloc { block, size }),
        30 => any::<Index>().prop_map(|block| Op::Free { block }),
    ]
}

/// A sequence of 1 to `max` operations.
pub fn sequence(max: usize) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 1..=max.max(1))
}
