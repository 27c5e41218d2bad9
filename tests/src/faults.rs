//! Out of memory: when the source runs dry, the allocator says null, and
//! the heap stays whole.

use malloc_core::Malloc;
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestError, TestRunner};

use crate::differential::{Config, Failing, run_sequence_with};
use crate::{fill, ops};

/// Random sequences on an allocator whose memory sources fail at random
/// points: `make(seed)` builds the allocator with sources failing as the
/// seed says. Every call must either succeed or return null, and after
/// every call the heap checks itself and every live block keeps its data
/// (the differential checks, with null allowed anywhere).
pub fn random_failures<M: Malloc>(make: impl Fn(u64) -> M, config: Config) -> Result<(), String> {
    let mut runner = TestRunner::new(proptest::test_runner::Config {
        cases: config.cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    });
    let strategy = (any::<u64>(), ops::sequence(config.max_ops));
    let failures = std::cell::Cell::new(0);
    let result = runner.run(&strategy, |(seed, ops)| {
        let failed =
            run_sequence_with(&make(seed), &ops, Failing::Allowed).map_err(TestCaseError::fail)?;
        failures.set(failures.get() + failed);
        Ok(())
    });
    match result {
        // A fault test in which nothing failed would prove nothing.
        Ok(()) if failures.get() == 0 => Err("no call failed: the sources never said no".into()),
        Ok(()) => Ok(()),
        Err(TestError::Fail(reason, (seed, ops))) => Err(format!(
            "with sources failing at random (seed {seed}, {} ops):\n{reason}",
            ops.len()
        )),
        Err(TestError::Abort(reason)) => Err(format!("the fault test gave up: {reason}")),
    }
}

/// Allocates blocks of mixed sizes until the allocator returns null (its
/// source is limited), then checks: the heap is consistent, every live
/// block still holds its data, a huge request still fails cleanly, and
/// everything can be freed. `limit` is the most the source can give, to
/// stop a heap that never fails.
pub fn out_of_memory<M: Malloc>(heap: &M, limit: usize) -> Result<(), String> {
    let sizes = [24, 1000, 40, 5000, 100, 70_000, 16, 300_000, 600];
    let mut live = Vec::new();
    let mut asked = 0;
    for i in 0.. {
        let size = sizes[i % sizes.len()];
        let p = heap.malloc(size);
        if p.is_null() {
            break;
        }
        // SAFETY: a fresh block of `size` bytes.
        unsafe { fill::write(p, i, 0..size) };
        live.push((p, i, size));
        asked += size;
        if asked > 4 * limit {
            return Err(format!(
                "{asked} bytes allocated from a source limited to {limit}"
            ));
        }
    }
    heap.check()
        .map_err(|e| format!("after running out of memory: {e}"))?;
    if !heap.malloc(usize::MAX / 2).is_null() || !heap.calloc(usize::MAX, 2).is_null() {
        return Err("a huge request succeeded".into());
    }
    for &(p, id, size) in &live {
        // SAFETY: a live block of `size` bytes.
        if let Some((at, found, expected)) = unsafe { fill::find_wrong(p, id, 0..size) } {
            return Err(format!(
                "block {id} ({size} bytes) lost its data at byte {at}: {found:#x} instead of {expected:#x}"
            ));
        }
    }
    for &(p, ..) in &live {
        // SAFETY: live blocks, freed once.
        unsafe { heap.free(p) };
    }
    heap.check()
        .map_err(|e| format!("after freeing everything: {e}"))?;
    if live.is_empty() {
        return Err("not even one block fitted: the test proves nothing".into());
    }
    Ok(())
}

/// The fixed sequence whose heap map each stage's snapshot shows (and the
/// book prints): a few calls that touch every stage's idea.
pub fn fixed_sequence<M: Malloc + ?Sized>(heap: &M) -> String {
    let a = heap.malloc(10);
    let b = heap.malloc(100);
    let c = heap.calloc(2, 8);
    let d = heap.memalign(256, 40);
    // SAFETY: live blocks of `heap`, each freed at most once.
    let live = unsafe {
        heap.free(a);
        let b = heap.realloc(b, 300);
        let e = heap.malloc(5000);
        let f = heap.malloc(12); // stage 3 on: takes a's place
        heap.free(e);
        let g = heap.malloc(48); // stage 4 on: splits b's old block
        let h = heap.malloc(200_000); // stage 5 on: a mapping of its own
        [b, c, d, f, g, h]
    };
    assert!(
        live.iter().all(|p| !p.is_null()),
        "the fixed sequence failed"
    );
    let mut map = String::new();
    heap.heap_map(&mut map).expect("writing to a String");
    map
}
