//! Stage 1 (bump) against the whole suite: on a simulated break, on a
//! simulated break where someone else takes memory every third growth, and
//! on the real program break (which glibc moves too, in a test process).

use malloc_core::SimBreak;
use stage1_bump::Bump;

conformance::suite!(sim, || Bump::with_source(SimBreak::new()));
conformance::suite!(
    #[cfg_attr(miri, ignore = "under Miri the suite runs once, on `sim`")]
    sim_foreign_gaps,
    || Bump::with_source(SimBreak::new().with_foreign_gaps(3))
);
conformance::suite!(
    #[cfg_attr(miri, ignore = "the real break: Miri cannot run sbrk")]
    real_break,
    Bump::new
);

/// The picture the book shows of a bump heap after a few calls.
#[test]
#[cfg_attr(miri, ignore = "reads its snapshot file: Miri keeps tests from files")]
fn heap_map_after_fixed_sequence() {
    let heap = Bump::with_source(SimBreak::new());
    insta::assert_snapshot!(conformance::faults::fixed_sequence(&heap));
}
