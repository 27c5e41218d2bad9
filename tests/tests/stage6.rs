//! Stage 6 (tuned) against the whole suite, on simulated sources (also with
//! foreign gaps in the break) and on the real break and mmap.

use malloc_core::{SimBreak, SimPages};
use stage6_tuned::Tuned;

conformance::suite!(sim, || Tuned::with_sources(
    SimBreak::new(),
    SimPages::new()
));
conformance::suite!(sim_foreign_gaps, || Tuned::with_sources(
    SimBreak::new().with_foreign_gaps(3),
    SimPages::new()
));
conformance::suite!(real, Tuned::new);
/// The picture the book shows of this stage's heap after the fixed sequence.
#[test]
fn heap_map_after_fixed_sequence() {
    let heap = Tuned::with_sources(SimBreak::new(), SimPages::new());
    insta::assert_snapshot!(conformance::faults::fixed_sequence(&heap));
}
