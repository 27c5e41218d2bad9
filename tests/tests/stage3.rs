//! Stage 3 (free lists) against the whole suite, on a simulated break (also
//! with foreign gaps) and on the real program break.

use malloc_core::{Malloc, SimBreak};
use stage3_freelist::FreeLists;

conformance::suite!(sim, || FreeLists::with_source(SimBreak::new()));
conformance::suite!(sim_foreign_gaps, || FreeLists::with_source(
    SimBreak::new().with_foreign_gaps(3)
));
conformance::suite!(real_break, FreeLists::new);
