//! Fill patterns: every block is filled with bytes derived from its id, so
//! that a block which loses its data, or which another block writes over,
//! shows it.
//!
//! Big blocks are filled and checked only in part (see [`sampled`]): the
//! start, the end, and a few bytes every [`STRIDE`]. The edges are where a
//! neighbour or a wrong size would show first, and touching every byte of a
//! multi-MiB block after every operation would make the tests slow. Under
//! Miri, which interprets every byte it touches, the samples are smaller
//! still.

use std::ops::Range;

/// Blocks up to this many bytes are filled and checked completely.
pub const WHOLE: usize = if cfg!(miri) { 1 << 10 } else { 64 << 10 };
/// In a bigger block, this many bytes at each end are filled and checked.
pub const EDGE: usize = if cfg!(miri) { 256 } else { 8 << 10 };
/// In a bigger block, a short run of bytes is filled and checked this often.
pub const STRIDE: usize = 64 << 10;
/// Bytes at each end of a block that [`check_edges`] looks at.
pub const QUICK: usize = 64;

/// The pattern byte at `offset` of the block named `id`.
///
/// Each 8-byte word of the pattern is a hash of the id and the word's index,
/// so two blocks (or two places in one block) never hold the same bytes,
/// and almost no word is all zero (so a pattern is never mistaken for
/// calloc's zeros).
pub fn pattern(id: usize, offset: usize) -> u8 {
    pattern_word(id, offset / 8).to_le_bytes()[offset % 8]
}

/// The pattern word at word index `index` of the block named `id`.
fn pattern_word(id: usize, index: usize) -> u64 {
    // splitmix64: a cheap hash with every input bit reaching every output bit.
    let mut x = ((id as u64) << 32 ^ index as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The byte ranges of a `len`-byte block that get filled and checked:
/// the whole block if it is small, else both ends and a run every [`STRIDE`].
#[allow(clippy::single_range_in_vec_init)] // A list of ranges, sometimes of one.
pub fn sampled(len: usize) -> Vec<Range<usize>> {
    if len <= WHOLE {
        return vec![0..len];
    }
    let mut ranges = vec![0..EDGE];
    let mut at = EDGE + STRIDE;
    while at + 64 <= len - EDGE {
        ranges.push(at..at + 64);
        at += STRIDE;
    }
    ranges.push(len - EDGE..len);
    ranges
}

/// The part of [`sampled`]`(len)` inside the first `prefix` bytes: what a
/// block of `len` filled bytes still holds after `realloc` kept `prefix`.
pub fn sampled_prefix(len: usize, prefix: usize) -> Vec<Range<usize>> {
    sampled(len)
        .into_iter()
        .map(|range| range.start.min(prefix)..range.end.min(prefix))
        .filter(|range| !range.is_empty())
        .collect()
}

/// The first and last [`QUICK`] bytes of a `len`-byte block: a cheap check
/// that still sees a neighbour writing across a boundary.
#[allow(clippy::single_range_in_vec_init)] // A list of ranges, sometimes of one.
pub fn edges(len: usize) -> Vec<Range<usize>> {
    if len <= 2 * QUICK {
        vec![0..len]
    } else {
        vec![0..QUICK, len - QUICK..len]
    }
}

/// Writes the pattern of block `id` over `range` of the block at `ptr`.
///
/// # Safety
///
/// `ptr..ptr + range.end` is writable memory that nothing else uses.
pub unsafe fn write(ptr: *mut u8, id: usize, range: Range<usize>) {
    let mut at = range.start;
    while at < range.end {
        if at.is_multiple_of(8) && at + 8 <= range.end {
            // SAFETY: inside the range the caller vouches for; the pointer
            // may be unaligned (memalign(1, n)), so write unaligned.
            unsafe {
                ptr.add(at)
                    .cast::<u64>()
                    .write_unaligned(pattern_word(id, at / 8))
            };
            at += 8;
        } else {
            // SAFETY: inside the range the caller vouches for.
            unsafe { ptr.add(at).write(pattern(id, at)) };
            at += 1;
        }
    }
}

/// Finds the first byte in `range` of the block at `ptr` that is not the
/// pattern of block `id`; returns its offset, the byte found and the byte
/// expected.
///
/// # Safety
///
/// `ptr..ptr + range.end` is readable memory.
pub unsafe fn find_wrong(
    ptr: *const u8,
    id: usize,
    range: Range<usize>,
) -> Option<(usize, u8, u8)> {
    let mut at = range.start;
    while at < range.end {
        if at.is_multiple_of(8) && at + 8 <= range.end {
            // SAFETY: inside the range the caller vouches for.
            let found = unsafe { ptr.add(at).cast::<u64>().read_unaligned() };
            let expected = pattern_word(id, at / 8);
            if found != expected {
                // Report the first wrong byte of this word.
                let (found, expected) = (found.to_le_bytes(), expected.to_le_bytes());
                let i = (0..8).find(|&i| found[i] != expected[i]).unwrap_or(0);
                return Some((at + i, found[i], expected[i]));
            }
            at += 8;
        } else {
            // SAFETY: inside the range the caller vouches for.
            let found = unsafe { ptr.add(at).read() };
            if found != pattern(id, at) {
                return Some((at, found, pattern(id, at)));
            }
            at += 1;
        }
    }
    None
}

/// Finds the first byte in `range` of the block at `ptr` that is not zero.
///
/// # Safety
///
/// `ptr..ptr + range.end` is readable memory.
pub unsafe fn find_nonzero(ptr: *const u8, range: Range<usize>) -> Option<(usize, u8)> {
    for at in range {
        // SAFETY: inside the range the caller vouches for.
        let found = unsafe { ptr.add(at).read() };
        if found != 0 {
            return Some((at, found));
        }
    }
    None
}

/// Fills the sampled part of a `len`-byte block with the pattern of `id`.
///
/// # Safety
///
/// `ptr..ptr + len` is writable memory that nothing else uses.
pub unsafe fn fill(ptr: *mut u8, id: usize, len: usize) {
    for range in sampled(len) {
        // SAFETY: the ranges lie inside the block the caller vouches for.
        unsafe { write(ptr, id, range) };
    }
}

/// Checks `ranges` of the block at `ptr` against the pattern of `id`;
/// the error says where the first wrong byte is.
///
/// # Safety
///
/// Every range lies in readable memory starting at `ptr`.
pub unsafe fn check(ptr: *const u8, id: usize, ranges: &[Range<usize>]) -> Result<(), String> {
    for range in ranges {
        // SAFETY: the caller vouches for the ranges.
        if let Some((at, found, expected)) = unsafe { find_wrong(ptr, id, range.clone()) } {
            return Err(format!(
                "byte {at} of block {id} at {ptr:p} is {found:#04x}, its fill pattern says {expected:#04x}"
            ));
        }
    }
    Ok(())
}

/// Checks that the sampled part of the first `len` bytes at `ptr` is zero.
///
/// # Safety
///
/// `ptr..ptr + len` is readable memory.
pub unsafe fn check_zero(ptr: *const u8, len: usize) -> Result<(), String> {
    for range in sampled(len) {
        // SAFETY: the ranges lie inside the block the caller vouches for.
        if let Some((at, found)) = unsafe { find_nonzero(ptr, range) } {
            return Err(format!(
                "byte {at} of {len} at {ptr:p} is {found:#04x}, not zero"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_check_agrees_at_any_offset() {
        let mut buf = vec![0u8; 300];
        for start in 0..9 {
            let ptr = buf[start..].as_mut_ptr();
            // SAFETY: 290 bytes of `buf` follow `ptr`.
            unsafe {
                write(ptr, 7, 3..290);
                assert_eq!(find_wrong(ptr, 7, 3..290), None);
                assert!(find_wrong(ptr, 8, 3..290).is_some());
            }
        }
    }

    #[test]
    fn a_wrong_byte_is_found_exactly() {
        let mut buf = vec![0u8; 100];
        let ptr = buf.as_mut_ptr();
        // SAFETY: `buf` has 100 bytes.
        unsafe {
            write(ptr, 1, 0..100);
            *ptr.add(42) ^= 0xff;
            assert_eq!(find_wrong(ptr, 1, 0..100).map(|w| w.0), Some(42));
        }
    }

    #[test]
    fn samples_cover_both_ends() {
        let ranges = sampled(3 << 20);
        assert_eq!(ranges.first(), Some(&(0..EDGE)));
        assert_eq!(ranges.last(), Some(&((3 << 20) - EDGE..3 << 20)));
        assert_eq!(sampled(100), vec![0..100]);
    }
}
