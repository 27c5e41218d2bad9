//! Stage 7's own behaviour (the shared suite in tests/ checks the C contract).

use malloc_core::{Malloc, SimBreak, SimPages};
use stage7_merge::{Merge, Settings};

fn heap() -> Merge<SimBreak, SimPages> {
    Merge::with_settings(SimBreak::new(), SimPages::new(), Some(Settings::DEFAULT))
}

#[test]
fn a_freed_block_merges_with_free_neighbours() {
    let heap = heap();
    // A guard keeps them off the top.
    let blocks: Vec<_> = (0..3).map(|_| heap.malloc(2000)).collect();
    let guard = heap.malloc(16);
    // SAFETY: live blocks, each freed once.
    unsafe {
        heap.free(blocks[0]);
        heap.free(blocks[2]);
        heap.free(blocks[1]);
    }
    malloc_core::assert_sound(&heap);
    let mut map = String::new();
    heap.heap_map(&mut map).unwrap();
    // One free block of the three spans (header included), not three.
    assert_eq!(map.matches("free           in").count(), 1, "{map}");
    assert!(
        map.contains(&format!("free           in {:>6}", 3 * 2016 - 16)),
        "{map}"
    );
    // The merged block serves a request as big as all three.
    let big = heap.malloc(3 * 2016 - 16);
    assert_eq!(big, blocks[0], "{map}");
    // SAFETY: live blocks, each freed once.
    unsafe {
        heap.free(big);
        heap.free(guard);
    }
    malloc_core::assert_sound(&heap);
}

#[test]
fn realloc_grows_into_a_free_neighbour_in_place() {
    let heap = heap();
    let a = heap.malloc(2000);
    let b = heap.malloc(2000);
    let guard = heap.malloc(16);
    // SAFETY: live blocks; `b` is freed once; `a` is resized and freed once.
    unsafe {
        a.write_bytes(7, 2000);
        heap.free(b);
        let grown = heap.realloc(a, 3000);
        assert_eq!(grown, a, "grew in place, into the free block after it");
        assert!((0..2000).all(|i| *grown.add(i) == 7));
        malloc_core::assert_sound(&heap);
        // The rest of the free block stays free, after the grown block.
        let rest = heap.malloc(900);
        assert_eq!(rest, a.add(3008 + 16));
        heap.free(rest);
        heap.free(grown);
        heap.free(guard);
    }
    malloc_core::assert_sound(&heap);
}

#[test]
fn a_burst_freed_in_any_order_goes_back_to_the_os() {
    for reverse in [false, true] {
        let heap = heap();
        let first = heap.malloc(100);
        let before = heap.stats().heap_bytes;
        let mut burst: Vec<_> = (0..1000).map(|_| heap.malloc(5000)).collect();
        let peak = heap.stats().heap_bytes;
        if reverse {
            burst.reverse();
        }
        for &p in &burst {
            // SAFETY: live blocks, freed once.
            unsafe { heap.free(p) };
        }
        let after = heap.stats().heap_bytes;
        assert!(peak > 4_000_000);
        assert!(
            after <= before + Settings::DEFAULT.trim_threshold,
            "before {before}, peak {peak}, after {after}"
        );
        // SAFETY: live.
        unsafe { heap.free(first) };
        malloc_core::assert_sound(&heap);
    }
}

#[test]
fn blocks_are_cut_at_their_own_size() {
    let heap = heap();
    for size in [1, 17, 100, 1000, 5000] {
        let p = heap.malloc(size);
        // SAFETY: `p` is live, freed once.
        unsafe {
            assert_eq!(heap.usable_size(p), size.div_ceil(16).max(1) * 16);
            heap.free(p);
        }
    }
}

/// Settings given to `with_settings` are the ones used: the environment is
/// read only when none were given.
#[test]
fn given_settings_are_kept() {
    let low = Settings {
        mmap_threshold: 8192,
        dynamic: false,
        ..Settings::DEFAULT
    };
    let heap = Merge::with_settings(SimBreak::new(), SimPages::new(), Some(low));
    let p = heap.malloc(8192);
    let held = heap.stats();
    // SAFETY: `p` is live; freed once.
    unsafe { heap.free(p) };
    assert_eq!(
        (held.mmap_calls, held.mapped_bytes),
        (1, 3 * 4096),
        "malloc(8192) with an 8192-byte threshold: {held:?}"
    );
}
