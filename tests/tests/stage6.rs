//! Stage 6 (tuned) against the whole suite, on simulated sources (also with
//! foreign gaps in the break) and on the real break and mmap.

use malloc_core::{SimBreak, SimPages};
use stage6_tuned::Tuned;

conformance::suite!(sim, || Tuned::with_sources(
    SimBreak::new(),
    SimPages::new()
));
conformance::suite!(
    #[cfg_attr(miri, ignore = "under Miri the suite runs once, on `sim`")]
    sim_foreign_gaps,
    || Tuned::with_sources(SimBreak::new().with_foreign_gaps(3), SimPages::new())
);
conformance::suite!(
    #[cfg_attr(miri, ignore = "the real break and mmap: Miri cannot run sbrk or mmap")]
    real,
    Tuned::new
);
/// The picture the book shows of this stage's heap after the fixed sequence.
#[test]
#[cfg_attr(miri, ignore = "reads its snapshot file: Miri keeps tests from files")]
fn heap_map_after_fixed_sequence() {
    let heap = Tuned::with_sources(SimBreak::new(), SimPages::new());
    insta::assert_snapshot!(conformance::faults::fixed_sequence(&heap));
}
