//! Out of memory on every stage: the source is limited, or fails at random
//! points, so allocation fails; the heap must stay whole and every live
//! block intact.

use conformance::differential::Config;
use conformance::faults::{out_of_memory, random_failures};
use conformance::pass;
use malloc_core::{SimBreak, SimPages};

/// The source's limit: under Miri smaller, as every byte filled costs.
const LIMIT: usize = if cfg!(miri) { 256 << 10 } else { 1 << 20 };

#[test]
fn stage1_out_of_memory() {
    pass(out_of_memory(
        &stage1_bump::Bump::with_source(SimBreak::with_limit(LIMIT)),
        LIMIT,
    ));
}

#[test]
fn stage2_out_of_memory() {
    pass(out_of_memory(
        &stage2_buckets::Buckets::with_source(SimBreak::with_limit(LIMIT)),
        LIMIT,
    ));
}

#[test]
fn stage3_out_of_memory() {
    pass(out_of_memory(
        &stage3_freelist::FreeLists::with_source(SimBreak::with_limit(LIMIT)),
        LIMIT,
    ));
}

#[test]
fn stage4_out_of_memory() {
    pass(out_of_memory(
        &stage4_split::Split::with_source(SimBreak::with_limit(LIMIT)),
        LIMIT,
    ));
}

#[test]
fn stage5_out_of_memory_in_both_sources() {
    let heap =
        stage5_mmap::Mmap::with_sources(SimBreak::with_limit(LIMIT), SimPages::with_limit(LIMIT));
    pass(out_of_memory(&heap, 2 * LIMIT));
}

#[test]
fn stage6_out_of_memory_in_both_sources() {
    let heap =
        stage6_tuned::Tuned::with_sources(SimBreak::with_limit(LIMIT), SimPages::with_limit(LIMIT));
    pass(out_of_memory(&heap, 2 * LIMIT));
}

#[test]
fn stage7_out_of_memory_in_both_sources() {
    let heap =
        stage7_merge::Merge::with_sources(SimBreak::with_limit(LIMIT), SimPages::with_limit(LIMIT));
    pass(out_of_memory(&heap, 2 * LIMIT));
}

#[test]
fn stage8_out_of_memory_in_both_sources() {
    let heap = stage8_hardened::Hardened::with_sources(
        SimBreak::with_limit(LIMIT),
        SimPages::with_limit(LIMIT),
    );
    pass(out_of_memory(&heap, 2 * LIMIT));
}

#[test]
fn stage9_out_of_memory_in_both_sources() {
    let heap = stage9_threads::Threaded::with_sources(
        SimBreak::with_limit(LIMIT),
        SimPages::with_limit(LIMIT),
    );
    pass(out_of_memory(&heap, 2 * LIMIT));
}

/// About one growth (or mapping) in this many fails.
const ONE_IN: u64 = 3;

fn broken_break(seed: u64) -> SimBreak {
    SimBreak::new().with_random_failures(seed, ONE_IN)
}

fn broken_pages(seed: u64) -> SimPages {
    SimPages::new().with_random_failures(seed.rotate_left(17), ONE_IN)
}

#[test]
#[cfg_attr(miri, ignore = "under Miri, out_of_memory tests the failing sources")]
fn stage1_random_failures() {
    pass(random_failures(
        |seed| stage1_bump::Bump::with_source(broken_break(seed)),
        Config::from_env(),
    ));
}

#[test]
#[cfg_attr(miri, ignore = "under Miri, out_of_memory tests the failing sources")]
fn stage2_random_failures() {
    pass(random_failures(
        |seed| stage2_buckets::Buckets::with_source(broken_break(seed)),
        Config::from_env(),
    ));
}

#[test]
#[cfg_attr(miri, ignore = "under Miri, out_of_memory tests the failing sources")]
fn stage3_random_failures() {
    pass(random_failures(
        |seed| stage3_freelist::FreeLists::with_source(broken_break(seed)),
        Config::from_env(),
    ));
}

#[test]
#[cfg_attr(miri, ignore = "under Miri, out_of_memory tests the failing sources")]
fn stage4_random_failures() {
    pass(random_failures(
        |seed| stage4_split::Split::with_source(broken_break(seed)),
        Config::from_env(),
    ));
}

#[test]
#[cfg_attr(miri, ignore = "under Miri, out_of_memory tests the failing sources")]
fn stage5_random_failures() {
    pass(random_failures(
        |seed| stage5_mmap::Mmap::with_sources(broken_break(seed), broken_pages(seed)),
        Config::from_env(),
    ));
}

#[test]
#[cfg_attr(miri, ignore = "under Miri, out_of_memory tests the failing sources")]
fn stage6_random_failures() {
    pass(random_failures(
        |seed| stage6_tuned::Tuned::with_sources(broken_break(seed), broken_pages(seed)),
        Config::from_env(),
    ));
}

#[test]
#[cfg_attr(miri, ignore = "under Miri, out_of_memory tests the failing sources")]
fn stage7_random_failures() {
    pass(random_failures(
        |seed| stage7_merge::Merge::with_sources(broken_break(seed), broken_pages(seed)),
        Config::from_env(),
    ));
}

#[test]
#[cfg_attr(miri, ignore = "under Miri, out_of_memory tests the failing sources")]
fn stage8_random_failures() {
    pass(random_failures(
        |seed| stage8_hardened::Hardened::with_sources(broken_break(seed), broken_pages(seed)),
        Config::from_env(),
    ));
}

#[test]
#[cfg_attr(miri, ignore = "under Miri, out_of_memory tests the failing sources")]
fn stage9_random_failures() {
    pass(random_failures(
        |seed| stage9_threads::Threaded::with_sources(broken_break(seed), broken_pages(seed)),
        Config::from_env(),
    ));
}
