//! Stage 2's own behaviour (the shared suite in tests/ checks the C contract).

use malloc_core::{Malloc, SimBreak};
use stage2_buckets::{Buckets, CLASSES, class_of};

#[test]
fn requests_round_up_to_a_class() {
    assert_eq!(class_of(0), Some(0));
    assert_eq!(class_of(16), Some(0));
    assert_eq!(class_of(17), Some(1));
    assert_eq!(class_of(1024), Some(3));
    assert_eq!(class_of(1025), None);
    let heap = Buckets::with_source(SimBreak::new());
    for (size, class) in [(1, 16), (17, 64), (65, 256), (1000, 1024), (5000, 5008)] {
        let p = heap.malloc(size);
        // SAFETY: `p` is live.
        let usable = unsafe { heap.usable_size(p) };
        assert_eq!(usable, class, "usable size of malloc({size})");
    }
    malloc_core::assert_sound(&heap);
}

#[test]
fn realloc_inside_a_class_does_not_move() {
    let heap = Buckets::with_source(SimBreak::new());
    let p = heap.malloc(20);
    let _below = heap.malloc(20);
    // SAFETY: `p` is live.
    let q = unsafe { heap.realloc(p, 64) };
    assert_eq!(p, q);
    malloc_core::assert_sound(&heap);
}

#[test]
fn blocks_of_one_class_share_a_bucket() {
    let heap = Buckets::with_source(SimBreak::new());
    let a = heap.malloc(60) as usize;
    let big = heap.malloc(2000) as usize;
    let b = heap.malloc(60) as usize;
    assert_eq!(b - a, 16 + CLASSES[1], "neighbours in the 64 bucket");
    assert!(big > b, "the large block comes after the bucket");
    malloc_core::assert_sound(&heap);
    let mut map = String::new();
    heap.heap_map(&mut map).unwrap();
    println!("{map}");
}
