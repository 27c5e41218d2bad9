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
    heap.check().unwrap();
    assert_eq!(
        heap.stats().heap_bytes,
        before,
        "no new memory: the 1024s were split"
    );
}

#[test]
fn a_large_free_block_is_split_for_a_smaller_large_request() {
    let heap = Split::with_source(SimBreak::new());
    let big = heap.malloc(20_000);
    let _guard = heap.malloc(2000);
    // SAFETY: `big` is live.
    unsafe { heap.free(big) };
    let a = heap.malloc(5000);
    let b = heap.malloc(5000);
    assert_eq!(a, big);
    assert_eq!(b as usize, a as usize + 5008 + 16);
    let small = heap.malloc(100);
    assert!((small as usize) > (big as usize) && (small as usize) < (big as usize) + 20_000);
    heap.check().unwrap();
    let mut map = String::new();
    heap.heap_map(&mut map).unwrap();
    println!("{map}");
}
