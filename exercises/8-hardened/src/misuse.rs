//! Misuse stops the program: a pointer `free` or `realloc` cannot have
//! handed out, or heap structures the program overwrote, end it with one
//! line on stderr and SIGABRT, as glibc does ("free(): double free
//! detected"). Going on would corrupt the heap: a block on a free list twice
//! is handed out twice.

use core::fmt::Write as _;

use malloc_core::{ALIGN, Line, MAX_REQUEST, os};

use crate::MIN_BLOCK;
use crate::block::{Header, Tag};

// EXERCISE BODY: checked_header
// ANCHOR: misuse
/// The header of the block `function` was given, if `ptr` looks like a live
/// block of ours; otherwise the program is stopped with a message.
///
/// It catches a double free (also of a block merged into a neighbour since:
/// its own header still says it is free), a pointer malloc never returned
/// (misaligned, or inside a block), and a header overwritten by the
/// program. It cannot catch a pointer into memory that is not mapped at all
/// (reading its header faults), a double free of a mapped block (its
/// mapping is gone), nor one that comes after the block's memory was handed
/// out again.
pub(crate) fn checked_header(function: &str, ptr: *mut u8) -> *mut Header {
    // Return the header of the block `ptr` points to if it looks like a live
    // block of ours (a plausible span, tagged live or mapped). Otherwise stop
    // the program with `misuse`: "not a pointer malloc returned (misaligned)"
    // for a pointer that is not 16-aligned, "the block was already freed" for
    // a block tagged free, and "not the start of a block, or its header was
    // overwritten" for anything else.
    todo!("hole `checked_header`");
}

/// Stops the program: `function` was given `ptr`, which is `problem`. One
/// line on stderr, formatted without allocating, then SIGABRT.
#[cold]
#[inline(never)]
pub(crate) fn misuse(function: &str, ptr: *mut u8, problem: &str) -> ! {
    let mut line = Line::new();
    // Writing to a Line cannot fail; a line too long is cut.
    let _ = writeln!(
        line,
        "workbook malloc: {function}({ptr:p}): {problem}; aborting"
    );
    os::abort_with(line.as_str())
}
// ANCHOR_END: misuse

/// Stops the program: the heap's own structures at `at` are not what the
/// allocator wrote (`problem`), most likely a write after free or an
/// overflow by the program. Going on would hand out memory twice.
#[cold]
#[inline(never)]
pub(crate) fn corrupted(at: *mut u8, problem: &str) -> ! {
    let mut line = Line::new();
    // Writing to a Line cannot fail; a line too long is cut.
    let _ = writeln!(
        line,
        "workbook malloc: heap corrupted at {at:p}: {problem}; aborting"
    );
    os::abort_with(line.as_str())
}
