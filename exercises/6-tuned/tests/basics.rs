//! Stage 6's own behaviour (the shared suite in tests/ checks the C contract).

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

/// What `WORKBOOK_MALLOC` complaints look like on stderr: one line each,
/// a long item cut so that the line still ends. The test runs itself again
/// as a child process, with the variable set, and reads its stderr.
#[test]
#[cfg_attr(miri, ignore = "runs a child process, which Miri cannot")]
fn complaints_are_one_line_each_on_stderr() {
    const CHILD: &str = "WORKBOOK_TEST_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let _ = Settings::from_env();
        return;
    }
    // This test's path in its program: its module path less the crate's
    // name (this file may be included as a module of another program).
    let module = module_path!()
        .split_once("::")
        .map(|(_, rest)| format!("{rest}::"));
    let name = format!(
        "{}complaints_are_one_line_each_on_stderr",
        module.unwrap_or_default()
    );
    let long = "x".repeat(300);
    let out = std::process::Command::new(std::env::current_exe().expect("the test program"))
        .args(["--exact", &name, "--nocapture"])
        .env(CHILD, "1")
        .env("WORKBOOK_MALLOC", format!("bogus=1:{long}"))
        .output()
        .expect("the test program runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert_eq!(
        lines[0],
        "WORKBOOK_MALLOC: ignoring \"bogus=1\": unknown setting \
         (known: mmap_threshold, trim_threshold, top_pad)"
    );
    let cut = format!("WORKBOOK_MALLOC: ignoring \"{long}");
    assert_eq!(
        lines[1],
        &cut[..255],
        "a long item is cut to 255 bytes and a newline"
    );
    assert!(stderr.ends_with('\n'));
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
fn the_top_goes_back_past_the_trim_threshold() {
    let settings = Settings {
        trim_threshold: 64 << 10,
        top_pad: 0,
        ..Settings::DEFAULT
    };
    let heap = heap(settings);
    let small = heap.malloc(100);
    let before = heap.stats().heap_bytes;
    let big = heap.malloc(100_000);
    assert!(heap.stats().heap_bytes >= before + 100_000);
    // SAFETY: live blocks, freed once; `big` is the most recent block, so
    // freeing it moves the bump back and leaves 100,000 free bytes on top.
    unsafe { heap.free(big) };
    assert_eq!(heap.stats().heap_bytes, before, "{:?}", heap.stats());
    // Below the threshold, the top stays.
    let medium = heap.malloc(50_000);
    let grown = heap.stats().heap_bytes;
    // SAFETY: as above.
    unsafe { heap.free(medium) };
    assert_eq!(heap.stats().heap_bytes, grown);
    // SAFETY: live.
    unsafe { heap.free(small) };
    malloc_core::assert_sound(&heap);
}

#[test]
fn the_top_pad_saves_system_calls() {
    let padded = heap(Settings::DEFAULT);
    let bare = heap(Settings {
        top_pad: 0,
        ..Settings::DEFAULT
    });
    for heap in [&padded, &bare] {
        for _ in 0..1000 {
            // Large blocks, not freed: each comes from the top.
            heap.malloc(2000);
        }
    }
    let (padded, bare) = (padded.stats().brk_calls, bare.stats().brk_calls);
    assert!(padded * 10 <= bare, "padded {padded}, bare {bare}");
}

#[test]
fn the_break_grows_by_what_the_top_lacks() {
    let heap = heap(Settings {
        top_pad: 0,
        ..Settings::DEFAULT
    });
    // One page (a large block: small ones take a whole bucket), about
    // 2000 bytes of it left at the top.
    assert!(!heap.malloc(2000).is_null());
    assert_eq!(heap.stats().heap_bytes, 4096);
    // 3000 bytes: the top has about 2000, so one more page is enough.
    assert!(!heap.malloc(3000).is_null());
    assert_eq!(heap.stats().heap_bytes, 2 * 4096, "the top counts");
}

#[test]
fn trimming_less_than_a_page_makes_no_system_call() {
    let heap = heap(Settings {
        top_pad: 0,
        trim_threshold: 0,
        ..Settings::DEFAULT
    });
    let p = heap.malloc(2000);
    // SAFETY: `p` is live; freeing it leaves less than a page at the top.
    unsafe { heap.free(p) };
    let stats = heap.stats();
    assert_eq!((stats.brk_calls, stats.heap_bytes), (1, 4096));
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
