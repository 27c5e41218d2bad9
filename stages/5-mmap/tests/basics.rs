//! Stage 5's own behaviour (the shared suite in tests/ checks the C contract).

use malloc_core::{Malloc, SimBreak, SimPages};
use stage5_mmap::{MMAP_THRESHOLD, Mmap};

fn heap() -> Mmap<SimBreak, SimPages> {
    Mmap::with_sources(SimBreak::new(), SimPages::new())
}

#[test]
fn a_large_block_goes_back_to_the_os() {
    let heap = heap();
    let small = heap.malloc(100);
    let before = heap.stats().footprint();
    let big = heap.malloc(10 << 20);
    assert!(heap.stats().mapped_bytes >= 10 << 20);
    // SAFETY: `big` is live and 10 MiB long.
    unsafe {
        big.write_bytes(7, 10 << 20);
        heap.free(big);
    }
    assert_eq!(heap.stats().footprint(), before);
    assert_eq!(heap.stats().munmap_calls, 1);
    // SAFETY: `small` is live.
    unsafe { heap.free(small) };
    malloc_core::assert_sound(&heap);
}

#[test]
fn realloc_of_a_mapped_block_remaps() {
    let heap = heap();
    let p = heap.malloc(MMAP_THRESHOLD);
    // SAFETY: `p` is live; each step keeps the data.
    unsafe {
        p.write_bytes(3, MMAP_THRESHOLD);
        let q = heap.realloc(p, 4 * MMAP_THRESHOLD);
        assert_eq!(*q.add(MMAP_THRESHOLD - 1), 3);
        let r = heap.realloc(q, 100);
        assert_eq!(*r.add(99), 3);
        assert_eq!(heap.stats().mapped_bytes, 0, "back in the heap");
        heap.free(r);
    }
    malloc_core::assert_sound(&heap);
}

#[test]
fn the_heap_grows_by_mappings_when_the_break_is_full() {
    let heap = Mmap::with_sources(SimBreak::with_limit(0), SimPages::new());
    // Under Miri, which interprets every call, fewer blocks show the same.
    let count = if cfg!(miri) { 1_000 } else { 10_000 };
    let blocks: Vec<_> = (0..count).map(|_| heap.malloc(100)).collect();
    assert!(blocks.iter().all(|p| !p.is_null()));
    let stats = heap.stats();
    assert_eq!(stats.heap_bytes, 0, "the break never grew");
    assert!(
        stats.mmap_calls < 100,
        "regions, not a mapping per block: {stats:?}"
    );
    malloc_core::assert_sound(&heap);
    let mut map = String::new();
    heap.heap_map(&mut map).unwrap();
    assert!(map.contains("region at"), "{map}");
    for p in blocks {
        // SAFETY: live blocks, freed once.
        unsafe { heap.free(p) };
    }
    malloc_core::assert_sound(&heap);
}

#[test]
fn big_alignments_in_mappings() {
    let heap = heap();
    for shift in 4..=21 {
        let align = 1usize << shift;
        let p = heap.memalign(align, MMAP_THRESHOLD + 1);
        assert_eq!(p as usize % align, 0);
        // SAFETY: `p` is live.
        unsafe {
            assert!(heap.usable_size(p) > MMAP_THRESHOLD);
            p.write_bytes(1, MMAP_THRESHOLD + 1);
            heap.free(p);
        }
    }
    assert_eq!(heap.stats().mapped_bytes, 0);
    malloc_core::assert_sound(&heap);
}
