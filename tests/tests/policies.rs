//! The policy lab's variants: every policy each stage can run (its
//! `choices()`, see `malloc_core::policy`) against the suite's
//! single-threaded checks, edge cases and the differential test. The
//! stage's own policy runs the whole suite in tests/stageN.rs; the others
//! run fewer random sequences here, to keep `cargo test` short.

use malloc_core::{Malloc, Policy, SimBreak, SimPages};

use conformance::differential::Config;

/// Random sequences per variant (the default policy runs 256).
const CASES: u32 = 64;

/// Runs the checks on every policy of the allocators `make` makes but the
/// default, and fails with every variant that failed.
fn every_variant<M: Malloc>(stage: u32, make: impl Fn(Policy) -> M) {
    let choices = make(
        all_stages::choices(stage)
            .expect("a stage with choices")
            .default,
    )
    .choices()
    .expect("the stage says what it can run");
    let mut problems = Vec::new();
    let mut ran = 0;
    for policy in choices.policies().skip(1) {
        let name = choices.name(policy);
        let config = Config {
            cases: CASES,
            max_ops: 200,
        };
        if let Err(problem) = conformance::variant(|| make(policy), config) {
            problems.push(format!("stage {stage} under {name}: {problem}"));
        }
        ran += 1;
    }
    assert!(ran > 0, "stage {stage} has no policy but its own to test");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a hundred variants are too slow interpreted: Miri runs each stage\'s own policy"
)]
fn stage3_every_policy() {
    every_variant(3, |p| {
        stage3_freelist::FreeLists::with_source(SimBreak::new()).with_policy(p)
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a hundred variants are too slow interpreted: Miri runs each stage\'s own policy"
)]
fn stage4_every_policy() {
    every_variant(4, |p| {
        stage4_split::Split::with_source(SimBreak::new()).with_policy(p)
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a hundred variants are too slow interpreted: Miri runs each stage\'s own policy"
)]
fn stage5_every_policy() {
    every_variant(5, |p| {
        stage5_mmap::Mmap::with_sources(SimBreak::new(), SimPages::new()).with_policy(p)
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a hundred variants are too slow interpreted: Miri runs each stage\'s own policy"
)]
fn stage6_every_policy() {
    every_variant(6, |p| {
        stage6_tuned::Tuned::with_sources(SimBreak::new(), SimPages::new()).with_policy(p)
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a hundred variants are too slow interpreted: Miri runs each stage\'s own policy"
)]
fn stage7_every_policy() {
    every_variant(7, |p| {
        stage7_merge::Merge::with_sources(SimBreak::new(), SimPages::new()).with_policy(p)
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a hundred variants are too slow interpreted: Miri runs each stage\'s own policy"
)]
fn stage8_every_policy() {
    every_variant(8, |p| {
        stage8_hardened::Hardened::with_sources(SimBreak::new(), SimPages::new()).with_policy(p)
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a hundred variants are too slow interpreted: Miri runs each stage\'s own policy"
)]
fn stage9_every_policy() {
    every_variant(9, |p| {
        stage9_threads::Threaded::with_sources(SimBreak::new(), SimPages::new()).with_policy(p)
    });
}

/// Every stage with choices has its test here.
#[test]
fn every_stage_with_choices_is_tested_here() {
    let this = include_str!("policies.rs");
    for n in all_stages::stages_with_choices() {
        assert!(
            this.contains(&format!("fn stage{n}_every_policy")),
            "stage {n} has policies to switch: add `fn stage{n}_every_policy` to tests/tests/policies.rs"
        );
    }
}

/// Each fit and order takes the block it says, on stage 3's large list:
/// three free blocks of 1100, 2000 and 2000 bytes (a live block keeps them
/// from the top), freed in the order `freed` (indices into them), then
/// requests of `asks` bytes. Returns which of the three each request got.
fn picks(policy: &str, freed: [usize; 3], asks: &[usize]) -> Vec<Option<usize>> {
    let policy = all_stages::policy(3, policy).unwrap();
    let heap = stage3_freelist::FreeLists::with_source(SimBreak::new()).with_policy(policy);
    let blocks = [1100, 2000, 2000].map(|size| heap.malloc(size));
    let keep = heap.malloc(1200);
    for i in freed {
        // SAFETY: a live block of `heap`, freed once.
        unsafe { heap.free(blocks[i]) };
    }
    let got = asks
        .iter()
        .map(|&size| {
            let p = heap.malloc(size);
            blocks.iter().position(|&b| b == p)
        })
        .collect();
    heap.check().unwrap();
    assert!(!keep.is_null());
    got
}

#[test]
fn each_fit_and_order_takes_the_block_it_says() {
    // FIFO keeps the list in the order of the frees: 1100, 2000, 2000.
    let fifo = [0, 1, 2];
    assert_eq!(
        picks("first-fit,fifo", fifo, &[1900, 1030]),
        [Some(1), Some(0)]
    );
    // Next fit goes on after the block before the one it took last.
    assert_eq!(
        picks("next-fit,fifo", fifo, &[1900, 1030]),
        [Some(1), Some(2)]
    );
    assert_eq!(
        picks("best-fit,fifo", fifo, &[1900, 1030]),
        [Some(1), Some(0)]
    );
    assert_eq!(picks("worst-fit,fifo", fifo, &[1030]), [Some(1)]);
    // LIFO puts the block freed last in front; address order sorts.
    let shuffled = [2, 0, 1];
    assert_eq!(picks("first-fit,lifo", shuffled, &[1030]), [Some(1)]);
    assert_eq!(
        picks("first-fit,address-ordered", shuffled, &[1030]),
        [Some(0)]
    );
    assert_eq!(picks("first-fit,fifo", shuffled, &[1030]), [Some(2)]);
}
