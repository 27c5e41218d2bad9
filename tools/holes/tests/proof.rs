//! The exercises are sound: each hole is tested, each stage passes its
//! exercise's checks, and forwarding to the system malloc does not pass.
//!
//! The variants come from build.rs: for every hole of every stage, the stage
//! with only that hole open (a `todo!()`), and the stage with every hole
//! open (the exercise as a learner first gets it). Each must fail at least
//! one check. The filled exercise is the stage itself (tests/drift.rs
//! proves that filling the holes gives back the stage byte for byte), so
//! "passes filled" runs the checks on the stage. The checks run with fewer
//! random cases than a learner's (`Effort::Quick`) to keep this fast.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use conformance::exercise::{Effort, NAMES, Sources, run};
use holes::EXERCISES;
use malloc_core::{HeapError, Malloc, SourceStats, Stats, SystemMalloc, Tally};

include!(concat!(env!("OUT_DIR"), "/variants.rs"));

/// Progress on the terminal even when the test harness captures output.
fn progress(line: &str) {
    let _ = writeln!(std::io::stderr(), "    {line}");
}

/// Asserts that some check fails on the allocators `make` builds.
fn fails<M: Malloc>(exercise: u32, open: &str, make: fn(Sources) -> M) {
    let start = Instant::now();
    for name in NAMES {
        if let Err(problem) = run(exercise, name, make, Effort::Quick) {
            let first = problem.lines().next().unwrap_or("");
            progress(&format!(
                "exercise {exercise} with {open} open: `{name}` fails ({:.1?}): {first}",
                start.elapsed()
            ));
            return;
        }
    }
    panic!("exercise {exercise} with {open} open passes every check: no check reaches that hole");
}

/// Asserts that every check passes on the allocators `make` builds.
fn passes<M: Malloc>(exercise: u32, make: fn(Sources) -> M) {
    let start = Instant::now();
    for name in NAMES {
        if let Err(problem) = run(exercise, name, make, Effort::Quick) {
            panic!("exercise {exercise} filled with the stage's code fails `{name}`:\n{problem}");
        }
    }
    progress(&format!(
        "exercise {exercise} filled: every check passes ({:.1?})",
        start.elapsed()
    ));
}

/// What a careless fix might write: every call handed to the system malloc,
/// with honest-looking stats. It passes the differential test (it *is* the
/// reference), so the exercise checks must catch it some other way.
struct Forward {
    _sources: Sources,
    blocks: Mutex<(Tally, HashMap<usize, usize>)>,
}

fn forward(sources: Sources) -> Forward {
    Forward {
        _sources: sources,
        blocks: Mutex::new((Tally::new(), HashMap::new())),
    }
}

impl Forward {
    fn handed_out(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        if !ptr.is_null() {
            let mut blocks = self.blocks.lock().unwrap();
            blocks.0.malloc(size);
            blocks.1.insert(ptr as usize, size);
        }
        ptr
    }

    fn taken_back(&self, ptr: *mut u8) {
        let mut blocks = self.blocks.lock().unwrap();
        if let Some(size) = blocks.1.remove(&(ptr as usize)) {
            blocks.0.free(size);
        }
    }
}

// SAFETY: every block comes from the system malloc, which keeps the promises.
unsafe impl Malloc for Forward {
    fn malloc(&self, size: usize) -> *mut u8 {
        self.handed_out(SystemMalloc.malloc(size), size)
    }

    unsafe fn free(&self, ptr: *mut u8) {
        self.taken_back(ptr);
        // SAFETY: the caller passes a live block, which is the system's.
        unsafe { SystemMalloc.free(ptr) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        self.taken_back(ptr);
        // SAFETY: the caller passes a live block, which is the system's.
        let new = unsafe { SystemMalloc.realloc(ptr, size) };
        self.handed_out(new, size)
    }

    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        self.handed_out(SystemMalloc.memalign(align, size), size)
    }

    unsafe fn usable_size(&self, ptr: *mut u8) -> usize {
        // SAFETY: the caller passes a live block, which is the system's.
        unsafe { SystemMalloc.usable_size(ptr) }
    }

    fn stats(&self) -> Stats {
        let blocks = self.blocks.lock().unwrap();
        blocks.0.stats(SourceStats::new(), SourceStats::new())
    }

    fn check(&self) -> Result<(), HeapError> {
        Ok(())
    }

    fn heap_map(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        writeln!(out, "(everything is in the system malloc)")
    }
}

#[test]
fn forwarding_to_the_system_malloc_fails() {
    // The danger: the differential test alone cannot see it.
    run(1, "differential", forward, Effort::Quick).expect("forwarding passes the differential");
    for exercise in EXERCISES.iter().map(|exercise| exercise.number) {
        for name in ["memory_from_the_source", "heap_map_as_in_the_book"] {
            let result = run(exercise, name, forward, Effort::Quick);
            assert!(
                result.is_err(),
                "exercise {exercise}: forwarding to the system malloc passes `{name}`"
            );
        }
    }
}
