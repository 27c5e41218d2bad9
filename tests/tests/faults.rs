//! Out of memory on every stage: the source is limited, so allocation fails
//! at some point; the heap must stay whole and every live block intact.

use conformance::faults::out_of_memory;
use conformance::pass;
use malloc_core::{SimBreak, SimPages};

const LIMIT: usize = 1 << 20;

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
