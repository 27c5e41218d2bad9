//! Stage 1's own behaviour (the shared suite in tests/ checks the C contract).

use malloc_core::{Malloc, SimBreak};
use stage1_bump::{Bump, GROW_STEP};

#[test]
fn freeing_the_most_recent_block_moves_the_bump_back() {
    let heap = Bump::with_source(SimBreak::new());
    let a = heap.malloc(100);
    let b = heap.malloc(100);
    // SAFETY: `b` is a live block of `heap`.
    unsafe { heap.free(b) };
    let c = heap.malloc(100);
    assert_eq!(
        c, b,
        "the bump moved back, so the next block takes b's place"
    );
    // SAFETY: `a` is live; it is not the most recent block.
    unsafe { heap.free(a) };
    let d = heap.malloc(100);
    assert!(d > c, "a freed block below the top is lost");
    malloc_core::assert_sound(&heap);
}

#[test]
fn the_break_grows_in_steps() {
    let heap = Bump::with_source(SimBreak::new());
    for _ in 0..1000 {
        assert!(!heap.malloc(48).is_null());
    }
    let stats = heap.stats();
    assert_eq!(
        stats.brk_calls, 1,
        "1000 × 64 bytes fit in one {GROW_STEP}-byte step"
    );
    assert_eq!(stats.heap_bytes, GROW_STEP);
}

#[test]
fn the_last_block_grows_in_place() {
    let heap = Bump::with_source(SimBreak::new());
    let p = heap.malloc(10);
    // SAFETY: `p` is live.
    let q = unsafe { heap.realloc(p, 100_000) };
    assert_eq!(p, q);
    malloc_core::assert_sound(&heap);
}

#[test]
fn a_foreign_sbrk_starts_a_new_region() {
    let heap = Bump::with_source(SimBreak::new().with_foreign_gaps(2));
    let mut blocks = Vec::new();
    for _ in 0..5 {
        blocks.push(heap.malloc(40_000));
    }
    malloc_core::assert_sound(&heap);
    let mut map = String::new();
    heap.heap_map(&mut map).unwrap();
    assert!(map.matches("region").count() >= 2, "{map}");
    println!("{map}");
}
