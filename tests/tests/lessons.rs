//! Each stage's lesson, run on the stage and on the stage before it: the
//! stage must pass and its predecessor fail, with the figures that show it.

use conformance::lessons;
use malloc_core::{SimBreak, SimPages};
use stage1_bump::Bump;
use stage2_buckets::Buckets;
use stage3_freelist::FreeLists;
use stage4_split::Split;
use stage5_mmap::Mmap;
use stage6_tuned::Tuned;
use stage7_merge::Merge;
use stage8_hardened::Hardened;
use stage9_threads::Threaded;

/// Asserts that `stage` learned the lesson and `before` did not.
fn learned(lesson: &str, stage: Result<String, String>, before: Result<String, String>) {
    match (&stage, &before) {
        (Ok(now), Err(then)) => println!("{lesson}\n  before: {then}\n  now:    {now}"),
        _ => panic!(
            "{lesson}: expected the stage to pass and the one before to fail\n  stage:  {stage:?}\n  before: {before:?}"
        ),
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of calls to show its number: hours under Miri"
)]
fn stage2_realloc_inside_a_class_moves_nothing() {
    learned(
        "stage 2 over 1: realloc inside a class",
        lessons::realloc_inside_a_class(&Buckets::with_source(SimBreak::new())),
        lessons::realloc_inside_a_class(&Bump::with_source(SimBreak::new())),
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of calls to show its number: hours under Miri"
)]
fn stage3_churn_keeps_the_footprint_flat() {
    let pairs = 1_000_000;
    learned(
        "stage 3 over 2: churn of 1,000,000 malloc/free pairs",
        lessons::churn_keeps_footprint_flat(&FreeLists::with_source(SimBreak::new()), pairs),
        lessons::churn_keeps_footprint_flat(&Buckets::with_source(SimBreak::new()), pairs),
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of calls to show its number: hours under Miri"
)]
fn stage4_phase_change_takes_no_new_memory() {
    learned(
        "stage 4 over 3: 10,000 × 1024 freed, then 40,000 × 64",
        lessons::phase_change_takes_no_new_memory(&Split::with_source(SimBreak::new())),
        lessons::phase_change_takes_no_new_memory(&FreeLists::with_source(SimBreak::new())),
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of calls to show its number: hours under Miri"
)]
fn stage5_a_freed_big_block_goes_back() {
    learned(
        "stage 5 over 4: malloc and free 10 MiB",
        lessons::big_block_goes_back(&Mmap::with_sources(SimBreak::new(), SimPages::new())),
        lessons::big_block_goes_back(&Split::with_source(SimBreak::new())),
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of calls to show its number: hours under Miri"
)]
fn stage6_no_syscall_storm_for_256_kib() {
    let rounds = 10_000;
    learned(
        "stage 6 over 5: 10,000 rounds of malloc+free of 256 KiB",
        lessons::no_syscall_storm(
            &Tuned::with_sources(SimBreak::new(), SimPages::new()),
            rounds,
        ),
        lessons::no_syscall_storm(
            &Mmap::with_sources(SimBreak::new(), SimPages::new()),
            rounds,
        ),
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of calls to show its number: hours under Miri"
)]
fn stage6_a_grown_buffer_freed_at_the_top_goes_back() {
    learned(
        "stage 6 over 5: a buffer grown by realloc to 4 MiB at the top, then freed",
        lessons::grown_buffer_is_trimmed(&Tuned::with_sources(SimBreak::new(), SimPages::new())),
        lessons::grown_buffer_is_trimmed(&Mmap::with_sources(SimBreak::new(), SimPages::new())),
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of calls to show its number: hours under Miri"
)]
fn stage7_a_burst_freed_in_reverse_goes_back_to_the_os() {
    learned(
        "stage 7 over 6: a burst of 1,000 × 5000 bytes, freed in reverse",
        lessons::burst_is_trimmed(&Merge::with_sources(SimBreak::new(), SimPages::new())),
        lessons::burst_is_trimmed(&Tuned::with_sources(SimBreak::new(), SimPages::new())),
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of calls to show its number: hours under Miri"
)]
fn stage7_freed_neighbours_merge() {
    learned(
        "stage 7 over 6: 1,000 neighbours of 1000 B freed, then 300 × 3000 B",
        lessons::neighbours_merge(&Merge::with_sources(SimBreak::new(), SimPages::new())),
        lessons::neighbours_merge(&Tuned::with_sources(SimBreak::new(), SimPages::new())),
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of calls to show its number: hours under Miri"
)]
fn stage8_misuse_stops_the_program() {
    learned(
        "stage 8 over 7: double frees, foreign pointers and overwritten headers",
        lessons::misuse_is_stopped(|| Hardened::with_sources(SimBreak::new(), SimPages::new())),
        lessons::misuse_is_stopped(|| Merge::with_sources(SimBreak::new(), SimPages::new())),
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of calls to show its number: hours under Miri"
)]
fn stage9_the_lock_is_rarely_taken() {
    learned(
        "stage 9 over 8: lock acquisitions, alone and with a producer and a consumer",
        lessons::lock_rarely_taken(&Threaded::with_sources(SimBreak::new(), SimPages::new())),
        lessons::lock_rarely_taken(&Hardened::with_sources(SimBreak::new(), SimPages::new())),
    );
}
