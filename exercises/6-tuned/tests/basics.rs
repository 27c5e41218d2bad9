//! Stage 6's own behaviour (the shared suite in tests/ checks the C contract).

use exercise6_tuned::{CLASSES, Settings, Tuned, class_of, settings::MMAP_THRESHOLD_MAX};
use malloc_core::{Malloc, SimBreak, SimPages};

fn heap(settings: Settings) -> Tuned<SimBreak, SimPages> {
    Tuned::with_settings(SimBreak::new(), SimPages::new(), Some(settings))
}

#[test]
fn class_of_is_the_smallest_class_that_fits() {
    for size in 0..=2000 {
        let searched = CLASSES.iter().position(|&class| size <= class);
        assert_eq!(class_of(size), searched, "class_of({size})");
    }
    // Every multiple of 16 up to 1024 is a class: no request wastes more
    // than 15 bytes to rounding.
    for pair in CLASSES.windows(2) {
        assert_eq!(pair[1] - pair[0], 16, "{pair:?}");
    }
    assert_eq!(CLASSES.last(), Some(&1024));
}

#[test]
fn settings_parse_and_complain() {
    let mut complaints = Vec::new();
    let settings = Settings::parse(
        b"mmap_threshold=262144:bogus=1:trim_threshold=0x100000::top_pad=x:top_pad",
        |item, why| complaints.push(format!("{}: {why}", String::from_utf8_lossy(item))),
    );
    assert_eq!(settings.mmap_threshold, 262_144);
    assert_eq!(settings.trim_threshold, 1 << 20);
    assert_eq!(settings.top_pad, Settings::DEFAULT.top_pad);
    assert!(!settings.dynamic, "a hand-set threshold stays put");
    assert_eq!(complaints.len(), 3, "{complaints:?}");
    assert!(complaints[0].starts_with("bogus=1: unknown setting"));
    let too_big = format!("mmap_threshold={}", MMAP_THRESHOLD_MAX + 1);
    let settings = Settings::parse(too_big.as_bytes(), |_, _| {});
    assert_eq!(settings, Settings::DEFAULT);
}

#[test]
fn freeing_a_mapped_block_raises_the_threshold() {
    let heap = heap(Settings::DEFAULT);
    let p = heap.malloc(256 << 10);
    // SAFETY: `p` is live.
    unsafe { heap.free(p) };
    let calls = heap.stats().syscalls();
    for _ in 0..100 {
        let p = heap.malloc(256 << 10);
        // SAFETY: `p` is live.
        unsafe { heap.free(p) };
    }
    assert!(heap.stats().syscalls() - calls <= 2, "{:?}", heap.stats());
    heap.check().unwrap();
}

#[test]
fn a_burst_freed_in_reverse_goes_back_to_the_os() {
    let heap = heap(Settings::DEFAULT);
    let first = heap.malloc(100);
    let before = heap.stats().heap_bytes;
    let burst: Vec<_> = (0..1000).map(|_| heap.malloc(5000)).collect();
    let peak = heap.stats().heap_bytes;
    for &p in burst.iter().rev() {
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
    heap.check().unwrap();
}

#[test]
fn the_map_shows_settings_and_lists() {
    let heap = heap(Settings::DEFAULT);
    let blocks: Vec<_> = [20, 20, 100, 3000, 40]
        .iter()
        .map(|&n| heap.malloc(n))
        .collect();
    // SAFETY: live blocks, freed once.
    unsafe {
        heap.free(blocks[0]);
        heap.free(blocks[2]);
    }
    let mut map = String::new();
    heap.heap_map(&mut map).unwrap();
    assert!(map.contains("mmap threshold 131072"), "{map}");
    // Small blocks freed by this thread wait in its cache, not on the lists.
    assert!(
        map.lines().any(|line| line == "free blocks by bin:"),
        "{map}"
    );
    assert_eq!(map.matches("cached").count(), 2, "{map}");
}

#[test]
fn a_freed_block_merges_with_free_neighbours() {
    let heap = heap(Settings::DEFAULT);
    // Large enough to skip the thread cache, and a guard keeps them off the top.
    let blocks: Vec<_> = (0..3).map(|_| heap.malloc(2000)).collect();
    let guard = heap.malloc(16);
    // SAFETY: live blocks, each freed once.
    unsafe {
        heap.free(blocks[0]);
        heap.free(blocks[2]);
        heap.free(blocks[1]);
    }
    heap.check().unwrap();
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
    heap.check().unwrap();
}

#[test]
fn realloc_grows_into_a_free_neighbour_in_place() {
    let heap = heap(Settings::DEFAULT);
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
        heap.check().unwrap();
        // The rest of the free block stays free, after the grown block.
        let rest = heap.malloc(900);
        assert_eq!(rest, a.add(3008 + 16));
        heap.free(rest);
        heap.free(grown);
        heap.free(guard);
    }
    heap.check().unwrap();
}

#[test]
fn the_debug_mode_gives_blocks_guard_bytes() {
    let debug = Settings {
        perturb: true,
        ..Settings::DEFAULT
    };
    let heap = heap(debug);
    let p = heap.malloc(32);
    // SAFETY: `p` is live; freed once.
    unsafe {
        // The requested size, not the block's: the rest is guard bytes.
        assert_eq!(heap.usable_size(p), 32);
        p.write_bytes(1, 32);
        heap.check().unwrap();
        heap.free(p);
    }
    heap.check().unwrap();
}
