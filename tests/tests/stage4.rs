//! Stage 4 (splitting) against the whole suite, on a simulated break (also
//! with foreign gaps) and on the real program break.

use malloc_core::{Malloc, SimBreak};
use stage4_split::Split;

conformance::suite!(sim, || Split::with_source(SimBreak::new()));
conformance::suite!(sim_foreign_gaps, || Split::with_source(
    SimBreak::new().with_foreign_gaps(3)
));
conformance::suite!(real_break, Split::new);
