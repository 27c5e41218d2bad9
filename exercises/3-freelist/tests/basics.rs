//! Stage 3's own behaviour (the shared suite in tests/ checks the C contract).

use exercise3_freelist::FreeLists;
use malloc_core::{Malloc, SimBreak};

#[ignore = "LIFO order is the stage's choice, not a rule: a list that reuses the oldest block first is just as right"]
#[test]
fn a_freed_block_is_reused_last_in_first_out() {
    let heap = FreeLists::with_source(SimBreak::new());
    let a = heap.malloc(50);
    let b = heap.malloc(50);
    let _c = heap.malloc(50);
    // SAFETY: `a` and `b` are live.
    unsafe {
        heap.free(a);
        heap.free(b);
    }
    malloc_core::assert_sound(&heap);
    assert_eq!(heap.malloc(60), b, "freed last, reused first");
    assert_eq!(heap.malloc(33), a);
    malloc_core::assert_sound(&heap);
}

#[test]
fn large_blocks_are_reused_best_fit() {
    let heap = FreeLists::with_source(SimBreak::new());
    let big = heap.malloc(10_000);
    let _sep1 = heap.malloc(2000);
    let small = heap.malloc(3000);
    let _sep2 = heap.malloc(2000);
    // SAFETY: both are live.
    unsafe {
        heap.free(big);
        heap.free(small);
    }
    assert_eq!(heap.malloc(2500), small, "the smallest block that fits");
    assert_eq!(heap.malloc(9000), big);
    malloc_core::assert_sound(&heap);
    let mut map = String::new();
    heap.heap_map(&mut map).unwrap();
    println!("{map}");
}

#[test]
fn churn_keeps_the_footprint_flat() {
    let heap = FreeLists::with_source(SimBreak::new());
    // Under Miri, which interprets every call, fewer pairs show the same.
    let pairs = if cfg!(miri) { 1_000 } else { 100_000 };
    for i in 0..pairs {
        let p = heap.malloc(16 + i % 1000);
        // SAFETY: `p` is live.
        unsafe { heap.free(p) };
    }
    assert_eq!(heap.stats().heap_bytes, 64 * 1024);
    malloc_core::assert_sound(&heap);
}
