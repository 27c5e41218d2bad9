//! The course's six stages, in one table.
//!
//! Adding a built stage to the CLI is one line: give its entry a `new`
//! that makes a fresh allocator. Everything else (the course map, replay,
//! the list of stages in error messages) reads this table.

use malloc_core::{Malloc, SimBreak, SimPages};

/// One stage of the course.
pub struct Stage {
    /// Its number, 1 to 6.
    pub number: u32,
    /// Its short name, as in its crate's name (`stage1-bump`).
    pub name: &'static str,
    /// What it adds to the previous stage.
    pub idea: &'static str,
    /// What a learner takes away, in one line.
    pub teaches: &'static str,
    /// Makes a fresh allocator of this stage; `None` until the stage is built.
    ///
    /// Stages run on a simulated break: each run gets a heap of its own (runs
    /// are independent, the footprint is exact), and the system malloc in the
    /// same process keeps the real break to itself.
    pub new: Option<fn() -> Box<dyn Malloc>>,
}

/// Every stage of the course, built or not, in order.
pub const STAGES: &[Stage] = &[
    Stage {
        number: 1,
        name: "bump",
        idea: "move the break with sbrk, align, grow in steps",
        teaches: "where heap memory comes from: the break, alignment, a header per block",
        new: Some(|| Box::new(stage1_bump::Bump::with_source(SimBreak::new()))),
    },
    Stage {
        number: 2,
        name: "buckets",
        idea: "size classes 16/64/256/1024, a region of equal blocks per class",
        teaches: "rounding up to classes, so every block's size is known",
        new: Some(|| Box::new(stage2_buckets::Buckets::with_source(SimBreak::new()))),
    },
    Stage {
        number: 3,
        name: "free-list reuse",
        idea: "free blocks go on intrusive free lists; malloc takes from them first",
        teaches: "reusing memory: the footprint stays flat under churn",
        new: Some(|| Box::new(stage3_freelist::FreeLists::with_source(SimBreak::new()))),
    },
    Stage {
        number: 4,
        name: "bucket splitting",
        idea: "an empty bucket splits a block taken from a bigger one",
        teaches: "memory freed in one size can serve another",
        new: Some(|| Box::new(stage4_split::Split::with_source(SimBreak::new()))),
    },
    Stage {
        number: 5,
        name: "mmap for large",
        idea: "requests of 128 KiB and more are mapped alone, unmapped on free",
        teaches: "giving big blocks back to the OS",
        new: Some(|| {
            Box::new(stage5_mmap::Mmap::with_sources(
                SimBreak::new(),
                SimPages::new(),
            ))
        }),
    },
    Stage {
        number: 6,
        name: "threshold tuning",
        idea: "dynamic mmap threshold, trim threshold, growth step, finer classes",
        teaches: "choosing an allocator's knobs by measuring them",
        new: Some(|| {
            Box::new(stage6_tuned::Tuned::with_sources(
                SimBreak::new(),
                SimPages::new(),
            ))
        }),
    },
];

/// The stage numbered `number`, if there is one.
pub fn find(number: u32) -> Option<&'static Stage> {
    STAGES.iter().find(|stage| stage.number == number)
}

/// The stages that are built, as "1 (bump), 2 (buckets)".
pub fn built_list() -> String {
    STAGES
        .iter()
        .filter(|stage| stage.new.is_some())
        .map(|stage| format!("{} ({})", stage.number, stage.name))
        .collect::<Vec<_>>()
        .join(", ")
}
