//! The allocators every micro-benchmark compares, made fresh.
//!
//! In-process benchmarks, so the stages' heaps run on a simulated break (a
//! heap of their own next to the program's): the same code as on the real
//! break, minus the `brk` system call, which a steady-state loop never
//! makes. Mappings (stage 5 on) are real: simulated pages never reuse
//! addresses, so a loop of large blocks would run out of them, and the
//! cost of `mmap` is the point of those stages.

use malloc_core::{Malloc, RealPages, SimBreak, SystemMalloc};
use workbook_bench::Mimalloc;
use workbook_manifest::STAGES;

/// Makes a fresh allocator.
pub type Make = Box<dyn Fn() -> Box<dyn Malloc>>;

/// Name and constructor of every allocator measured: glibc, mimalloc, and
/// every stage of the manifest (`stage1`, `stage2`, …).
pub fn allocators() -> Vec<(String, Make)> {
    let mut list: Vec<(String, Make)> = vec![
        ("glibc".to_string(), Box::new(|| Box::new(SystemMalloc))),
        ("mimalloc".to_string(), Box::new(|| Box::new(Mimalloc))),
    ];
    for stage in STAGES {
        let number = stage.number;
        list.push((
            format!("stage{number}"),
            Box::new(move || {
                all_stages::with_sources(number, SimBreak::new(), RealPages::new())
                    .expect("all-stages makes every stage of the manifest")
            }),
        ));
    }
    list
}
