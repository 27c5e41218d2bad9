//! The allocators every micro-benchmark compares, made fresh.
//!
//! In-process benchmarks, so the stages' heaps run on a simulated break (a
//! heap of their own next to the program's): the same code as on the real
//! break, minus the `brk` system call, which a steady-state loop never
//! makes. Mappings (stages 5 and 6) are real: simulated pages never reuse
//! addresses, so a loop of large blocks would run out of them, and the
//! cost of `mmap` is the point of those stages.

use malloc_core::{Malloc, RealPages, SimBreak, SystemMalloc};
use workbook_bench::Mimalloc;

/// Makes a fresh allocator.
pub type Make = fn() -> Box<dyn Malloc>;

/// Name and constructor of every allocator measured.
pub fn allocators() -> Vec<(&'static str, Make)> {
    vec![
        ("glibc", || Box::new(SystemMalloc)),
        ("mimalloc", || Box::new(Mimalloc)),
        ("stage1", || {
            Box::new(stage1_bump::Bump::with_source(SimBreak::new()))
        }),
        ("stage2", || {
            Box::new(stage2_buckets::Buckets::with_source(SimBreak::new()))
        }),
        ("stage3", || {
            Box::new(stage3_freelist::FreeLists::with_source(SimBreak::new()))
        }),
        ("stage4", || {
            Box::new(stage4_split::Split::with_source(SimBreak::new()))
        }),
        ("stage5", || {
            Box::new(stage5_mmap::Mmap::with_sources(
                SimBreak::new(),
                RealPages::new(),
            ))
        }),
        ("stage6", || {
            Box::new(stage6_tuned::Tuned::with_sources(
                SimBreak::new(),
                RealPages::new(),
            ))
        }),
    ]
}
