//! Stage 7's own behaviour (the shared suite in tests/ checks the C contract).

use exercise7_merge::{BINS, Merge, Settings, bin_floor, bin_of};
use malloc_core::{Malloc, SimBreak, SimPages};

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

/// The bins file every payload size once, in order: one bin per size up to
/// 1024 bytes, then four per doubling, each block in the last bin whose
/// floor it reaches (so a bin's floor is a promise about all its blocks).
#[test]
fn bins_file_every_size_in_the_last_bin_it_reaches() {
    let floors: Vec<usize> = [0, 1, 62, 63, 64, 65, 66, 67, 68, 72, BINS - 1]
        .map(bin_floor)
        .into();
    assert_eq!(
        floors,
        [
            16,
            32,
            1008,
            1024,
            1024,
            1280,
            1536,
            1792,
            2048,
            4096,
            7 << 23
        ],
        "the floors of bins 0, 1, 62-68, 72 and the last"
    );
    for bin in 65..BINS {
        assert!(bin_floor(bin - 1) < bin_floor(bin), "bin {bin}'s floor");
    }
    let sizes = (16..=1 << 15)
        .step_by(16)
        .chain((15..30).flat_map(|shift| [(1 << shift) - 16, 1 << shift, (5 << shift) / 4]));
    for usable in sizes {
        let bin = bin_of(usable);
        if usable <= 1024 {
            assert_eq!(bin, usable / 16 - 1, "an exact bin for {usable}");
            continue;
        }
        assert!(
            bin_floor(bin) <= usable && (bin == BINS - 1 || usable < bin_floor(bin + 1)),
            "{usable} bytes went in bin {bin}, whose floor is {}",
            bin_floor(bin)
        );
    }
    assert_eq!(
        bin_of(usize::MAX & !15),
        BINS - 1,
        "the last bin takes the rest"
    );
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
