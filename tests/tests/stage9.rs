//! Stage 9 (threads) against the whole suite, on simulated sources (also
//! with foreign gaps in the break), on the real break and mmap, and in the
//! debug mode.

use malloc_core::{SimBreak, SimPages};
use stage9_threads::{Settings, Threaded};

conformance::suite!(sim, || Threaded::with_sources(
    SimBreak::new(),
    SimPages::new()
));
conformance::suite!(
    #[cfg_attr(miri, ignore = "under Miri the suite runs once, on `sim`")]
    sim_foreign_gaps,
    || Threaded::with_sources(SimBreak::new().with_foreign_gaps(3), SimPages::new())
);
conformance::suite!(
    #[cfg_attr(miri, ignore = "the real break and mmap: Miri cannot run sbrk or mmap")]
    real,
    Threaded::new
);
// The debug mode (WORKBOOK_MALLOC=check_every=1000:perturb=1) must change
// nothing a correct program can see.
conformance::suite!(
    #[cfg_attr(miri, ignore = "under Miri the suite runs once, on `sim`")]
    debug_mode,
    || Threaded::with_settings(
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
    let heap = Threaded::with_sources(SimBreak::new(), SimPages::new());
    insta::assert_snapshot!(conformance::faults::fixed_sequence(&heap));
}
