//! Eight threads of 200,000 random operations each through the `GlobalAlloc`
//! adapter, on every stage's real sources, one stage after the other (eight
//! threads per stage are already four per core). Stages 1 and 2 never reuse
//! memory, so they run a tenth of the operations.

use conformance::pass;
use conformance::threads::stress;
use malloc_core::GlobalMalloc;

const THREADS: usize = 8;
const OPS: usize = 200_000;

#[test]
#[cfg_attr(miri, ignore = "the real sources: Miri cannot run sbrk or mmap")]
fn eight_threads_on_every_stage() {
    pass(stress(
        &GlobalMalloc(stage1_bump::Bump::new()),
        THREADS,
        OPS / 10,
    ));
    pass(stress(
        &GlobalMalloc(stage2_buckets::Buckets::new()),
        THREADS,
        OPS / 10,
    ));
    pass(stress(
        &GlobalMalloc(stage3_freelist::FreeLists::new()),
        THREADS,
        OPS,
    ));
    pass(stress(
        &GlobalMalloc(stage4_split::Split::new()),
        THREADS,
        OPS,
    ));
    pass(stress(
        &GlobalMalloc(stage5_mmap::Mmap::new()),
        THREADS,
        OPS,
    ));
    pass(stress(
        &GlobalMalloc(stage6_tuned::Tuned::new()),
        THREADS,
        OPS,
    ));
    pass(stress(
        &GlobalMalloc(stage7_merge::Merge::new()),
        THREADS,
        OPS,
    ));
    pass(stress(
        &GlobalMalloc(stage8_hardened::Hardened::new()),
        THREADS,
        OPS,
    ));
    pass(stress(
        &GlobalMalloc(stage9_threads::Threaded::new()),
        THREADS,
        OPS,
    ));
}
