//! Stage 6's own behaviour (the shared suite in tests/ checks the C contract;
//! tests/tests/settings.rs checks the settings of stages 6 on).

use exercise6_tuned::{Settings, Tuned, settings::MMAP_THRESHOLD_MAX};
use malloc_core::{Malloc, SimBreak, SimPages};

fn heap(settings: Settings) -> Tuned<SimBreak, SimPages> {
    Tuned::with_settings(SimBreak::new(), SimPages::new(), Some(settings))
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
    let mut why = String::new();
    let settings = Settings::parse(too_big.as_bytes(), |_, reason| why = reason.to_string());
    assert_eq!(settings, Settings::DEFAULT);
    assert!(why.contains("at most"), "{why}");
    let settings = Settings::parse(b"top_pad=0x2000", |_, why| panic!("{why}"));
    assert_eq!(settings.top_pad, 0x2000);
}

#[test]
fn freeing_a_mapped_block_raises_the_threshold() {
    let heap = heap(Settings::DEFAULT);
    let p = heap.malloc(256 << 10);
    assert_eq!(heap.stats().mmap_calls, 1, "256 KiB is mapped at first");
    // SAFETY: `p` is live.
    unsafe { heap.free(p) };
    let calls = heap.stats().syscalls();
    for _ in 0..100 {
        let p = heap.malloc(256 << 10);
        // SAFETY: `p` is live.
        unsafe { heap.free(p) };
    }
    assert!(heap.stats().syscalls() - calls <= 2, "{:?}", heap.stats());
    malloc_core::assert_sound(&heap);
}

#[test]
fn a_hand_set_threshold_stays_put() {
    let fixed = Settings::parse(b"mmap_threshold=131072", |_, _| {});
    let heap = heap(fixed);
    for _ in 0..10 {
        let p = heap.malloc(256 << 10);
        // SAFETY: `p` is live.
        unsafe { heap.free(p) };
    }
    assert_eq!(heap.stats().mmap_calls, 10, "{:?}", heap.stats());
}

#[test]
fn the_map_shows_the_settings() {
    let heap = heap(Settings::DEFAULT);
    heap.malloc(20);
    let mut map = String::new();
    heap.heap_map(&mut map).unwrap();
    assert!(
        map.contains(
            "settings: mmap threshold 131072, trim threshold 131072, top pad 131072 (dynamic)"
        ),
        "{map}"
    );
}
