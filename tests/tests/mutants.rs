//! Tests of the suite itself: each deliberately broken allocator must fail
//! it, and for the reason planted. A mutant that passes means the suite has
//! gone blind to that kind of bug.

use conformance::differential::{Config, differential};
use conformance::edge;
use conformance::mutants::{
    Arena, DirtyCalloc, LyingUsableSize, Misaligned, NoCopyRealloc, Overlapping,
};
use malloc_core::Malloc;

/// Fewer cases than for a stage: a mutant fails within a few.
const QUICK: Config = Config {
    cases: 64,
    max_ops: 200,
};

/// Asserts that the differential test rejects the allocators `make` makes,
/// with a message that contains `expected`.
fn rejected<M: Malloc>(make: impl Fn() -> M, expected: &str) {
    match differential(make, QUICK) {
        Ok(()) => panic!("the suite let a mutant pass: it should see {expected:?}"),
        Err(message) => {
            assert!(
                message.contains(expected),
                "the mutant failed, but not with {expected:?}:\n{message}"
            );
            // The message is for people: it shows the trace and the heap map.
            assert!(message.contains(".rep format"), "no trace in:\n{message}");
            assert!(message.contains("heap map"), "no heap map in:\n{message}");
        }
    }
}

/// The base of the mutants is correct: each mutant fails for its own bug.
mod arena {
    conformance::suite!(
        #[cfg_attr(miri, ignore = "the mutants' base: the stages are what Miri checks")]
        suite,
        conformance::mutants::Arena::new
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "broken allocators: Miri stops at their undefined behaviour, before the suite can reject them"
)]
fn realloc_that_does_not_copy() {
    rejected(
        || NoCopyRealloc(Arena::new()),
        "realloc did not keep the data",
    );
    assert!(edge::realloc_keeps_data(&NoCopyRealloc(Arena::new())).is_err());
}

#[test]
#[cfg_attr(
    miri,
    ignore = "broken allocators: Miri stops at their undefined behaviour, before the suite can reject them"
)]
fn calloc_that_does_not_zero() {
    rejected(|| DirtyCalloc(Arena::new()), "calloc memory is not zeroed");
    assert!(edge::calloc_zeroes(&DirtyCalloc(Arena::new())).is_err());
}

#[test]
#[cfg_attr(
    miri,
    ignore = "broken allocators: Miri stops at their undefined behaviour, before the suite can reject them"
)]
fn overlapping_blocks() {
    rejected(|| Overlapping::new(Arena::new()), "blocks overlap");
    assert!(edge::malloc_zero(&Overlapping::new(Arena::new())).is_err());
}

#[test]
#[cfg_attr(
    miri,
    ignore = "broken allocators: Miri stops at their undefined behaviour, before the suite can reject them"
)]
fn misaligned_blocks() {
    rejected(|| Misaligned(Arena::new()), "is not aligned to");
    assert!(edge::malloc_zero(&Misaligned(Arena::new())).is_err());
}

#[test]
#[cfg_attr(
    miri,
    ignore = "broken allocators: Miri stops at their undefined behaviour, before the suite can reject them"
)]
fn usable_size_too_large() {
    // The lie makes a block's usable bytes reach into the next block.
    rejected(|| LyingUsableSize(Arena::new()), "blocks overlap");
    // Writing all usable bytes of each block spoils the next one's pattern.
    let found = edge::usable_size_covers_request(&LyingUsableSize(Arena::new()));
    assert!(found.is_err_and(|message| message.contains("fill pattern")));
}
