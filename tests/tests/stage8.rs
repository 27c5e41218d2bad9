//! Stage 8 (hardened) against the whole suite, on simulated sources (also
//! with foreign gaps in the break), on the real break and mmap, and in the
//! debug mode.

use malloc_core::{SimBreak, SimPages};
use stage8_hardened::{Hardened, Settings};

conformance::suite!(sim, || Hardened::with_sources(
    SimBreak::new(),
    SimPages::new()
));
conformance::suite!(
    #[cfg_attr(miri, ignore = "under Miri the suite runs once, on `sim`")]
    sim_foreign_gaps,
    || Hardened::with_sources(SimBreak::new().with_foreign_gaps(3), SimPages::new())
);
conformance::suite!(
    #[cfg_attr(miri, ignore = "the real break and mmap: Miri cannot run sbrk or mmap")]
    real,
    Hardened::new
);
// The debug mode (WORKBOOK_MALLOC=check_every=1000:perturb=1) must change
// nothing a correct program can see. (A check at every call walks the whole
// heap each time: the misuse tests use that, on small heaps.)
conformance::suite!(
    #[cfg_attr(miri, ignore = "under Miri the suite runs once, on `sim`")]
    debug_mode,
    || Hardened::with_settings(
        SimBreak::new(),
        SimPages::new(),
        Some(Settings {
            check_every: 1000,
            perturb: true,
            ..Settings::DEFAULT
        })
    )
);

/// The picture the book shows of this stage's heap after the fixed sequence.
#[test]
#[cfg_attr(miri, ignore = "reads its snapshot file: Miri keeps tests from files")]
fn heap_map_after_fixed_sequence() {
    let heap = Hardened::with_sources(SimBreak::new(), SimPages::new());
    insta::assert_snapshot!(conformance::faults::fixed_sequence(&heap));
}
