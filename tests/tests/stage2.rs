//! Stage 2 (buckets) against the whole suite, on a simulated break (also
//! with foreign gaps) and on the real program break.

use malloc_core::SimBreak;
use stage2_buckets::Buckets;

conformance::suite!(sim, || Buckets::with_source(SimBreak::new()));
conformance::suite!(
    #[cfg_attr(miri, ignore = "under Miri the suite runs once, on `sim`")]
    sim_foreign_gaps,
    || Buckets::with_source(SimBreak::new().with_foreign_gaps(3))
);
conformance::suite!(
    #[cfg_attr(miri, ignore = "the real break: Miri cannot run sbrk")]
    real_break,
    Buckets::new
);

/// The picture the book shows of this stage's heap after the fixed sequence.
#[test]
#[cfg_attr(miri, ignore = "reads its snapshot file: Miri keeps tests from files")]
fn heap_map_after_fixed_sequence() {
    let heap = Buckets::with_source(SimBreak::new());
    insta::assert_snapshot!(conformance::faults::fixed_sequence(&heap));
}
