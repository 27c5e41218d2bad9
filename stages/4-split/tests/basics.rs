//! Stage 4's own behaviour (the shared suite in tests/ checks the C contract).

use malloc_core::{Malloc, SimBreak};
use stage4_split::Split;

#[test]
fn freed_big_blocks_serve_small_requests() {
    let heap = Split::with_source(SimBreak::new());
    let big: Vec<_> = (0..1000).map(|_| heap.malloc(1024)).collect();
    for p in big {
        // SAFETY: `p` is live.
        unsafe { heap.free(p) };
    }
    let before = heap.stats().heap_bytes;
    for _ in 0..4000 {
        assert!(!heap.malloc(64).is_null());
    }
    malloc_core::assert_sound(&heap);
    assert_eq!(
        heap.stats().heap_bytes,
        before,
        "no new memory: the 1024s were split"
    );
}

#[test]
fn a_large_free_block_serves_small_requests_but_large_ones_whole() {
    let heap = Split::with_source(SimBreak::new());
    let big = heap.malloc(20_000);
    let _guard = heap.malloc(2000);
    // SAFETY: `big` is live.
    unsafe { heap.free(big) };
    let small = heap.malloc(100);
    assert_eq!(small, big, "the first piece of the split block");
    let after_split = heap.stats().heap_bytes;
    let large = heap.malloc(3000);
    assert!(
        (large as usize) > (big as usize) + 16_000,
        "a large request takes a whole block: the rest of the split one"
    );
    assert_eq!(heap.stats().heap_bytes, after_split, "no new memory");
    malloc_core::assert_sound(&heap);
    let mut map = String::new();
    heap.heap_map(&mut map).unwrap();
    println!("{map}");
}
