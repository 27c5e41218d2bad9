//! Promises every stage keeps that the suite cannot ask of any allocator
//! (the system malloc has no stats; the suite's own test allocator keeps
//! its books in a side table):
//!
//! - stats count a `memalign` only when its alignment is more than every
//!   block has anyway (16 bytes): the others are plain mallocs;
//! - the heap check sees a block header that a buggy program overwrote.
//!   The check is the tool every other test leans on, so a check that
//!   always answers "fine" must fail somewhere: here;
//! - `lock_for_fork` holds every other thread's malloc until
//!   `unlock_after_fork`, which the LD_PRELOAD library's `fork` relies on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use conformance::edge::check_finds_a_broken_header;
use conformance::exercise::Boxed;
use malloc_core::Malloc;
use workbook_manifest::STAGES;

/// Every stage, fresh, on simulated sources.
fn stages() -> impl Iterator<Item = (u32, Boxed)> {
    STAGES.iter().map(|stage| {
        let heap = all_stages::simulated(stage.number).expect("a stage of the manifest");
        (stage.number, Boxed(heap))
    })
}

#[test]
fn every_stage_sees_an_overwritten_header() {
    let problems: Vec<String> = stages()
        .filter_map(|(n, heap)| {
            check_finds_a_broken_header(&heap)
                .err()
                .map(|problem| format!("stage {n}: {problem}"))
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn stats_count_memaligns_above_16_bytes() {
    for (n, heap) in stages() {
        for align in [1, 8, 16, 32, 4096] {
            let counted = heap.stats().memaligns;
            let p = heap.memalign(align, 24);
            assert!(
                !p.is_null(),
                "stage {n}: memalign({align}, 24) returned null"
            );
            let expected = counted + u64::from(align > 16);
            assert_eq!(
                heap.stats().memaligns,
                expected,
                "stage {n}: stats().memaligns after memalign({align}, 24)"
            );
            // SAFETY: a live block of this heap.
            unsafe { heap.free(p) };
        }
    }
}

#[test]
fn lock_for_fork_holds_other_threads_mallocs() {
    for (n, heap) in stages() {
        let served = AtomicBool::new(false);
        heap.lock_for_fork();
        thread::scope(|scope| {
            let worker = scope.spawn(|| {
                let p = heap.malloc(64);
                served.store(true, Ordering::SeqCst);
                if p.is_null() {
                    return false;
                }
                // SAFETY: a live block of this heap, freed by its owner.
                unsafe { heap.free(p) };
                true
            });
            // Long enough for an unheld malloc to finish many times over;
            // a held one cannot finish at all, however long this is.
            thread::sleep(Duration::from_millis(50));
            let early = served.load(Ordering::SeqCst);
            // SAFETY: this thread took the lock with lock_for_fork above.
            unsafe { heap.unlock_after_fork() };
            assert!(
                !early,
                "stage {n}: another thread's malloc finished while lock_for_fork held the heap"
            );
            let got = worker.join().expect("the worker thread");
            assert!(got, "stage {n}: malloc(64) after the unlock returned null");
        });
    }
}
