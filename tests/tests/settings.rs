//! Promises of the stages with settings (stage 6 on): `WORKBOOK_MALLOC` is
//! read as documented, a bad item is skipped with a one-line complaint, and
//! each setting changes what the heap does, as stage 6's chapter says:
//!
//! - `mmap_threshold`: requests from this size on get a mapping; set by
//!   hand, it stays put (no dynamic threshold); at most 32 MiB;
//! - `trim_threshold`: the top goes back to the OS only past it;
//! - `top_pad`: the break grows by what the top lacks plus this pad, so
//!   that the next requests need no system call.
//!
//! And from stage 8 on, the debug mode: `perturb` adds 8 guard bytes to a
//! block, and the heap check runs inside malloc and free only when
//! `check_every` asks for it.
//!
//! Each stage's own tests show its settings in detail; these hold for all.

use conformance::exercise::Boxed;
use malloc_core::{Malloc, SimBreak, SimPages};
use workbook_manifest::STAGES;

/// The largest `mmap_threshold` accepted (glibc's 64-bit
/// `DEFAULT_MMAP_THRESHOLD_MAX`).
const MMAP_THRESHOLD_MAX: usize = 32 << 20;

/// Each stage with settings, with a heap on simulated sources built from
/// `text`, and the complaints about `text`.
fn stages(text: &str) -> impl Iterator<Item = (u32, Boxed, Vec<String>)> {
    stages_on(text, SimBreak::new)
}

/// As [`stages`], on a break made by `brk` for each stage.
fn stages_on(
    text: &str,
    brk: impl Fn() -> SimBreak,
) -> impl Iterator<Item = (u32, Boxed, Vec<String>)> {
    STAGES
        .iter()
        .filter(|stage| all_stages::has_settings(stage.number))
        .map(move |stage| {
            let (heap, complaints) =
                all_stages::with_settings(stage.number, brk(), SimPages::new(), text)
                    .expect("a stage with settings");
            (stage.number, Boxed(heap), complaints)
        })
}

/// Allocates `size` bytes and frees them at once.
fn malloc_and_free(heap: &Boxed, size: usize) {
    let p = heap.malloc(size);
    assert!(!p.is_null(), "malloc({size})");
    // SAFETY: a live block of this heap, freed once.
    unsafe { heap.free(p) };
}

#[test]
fn settings_are_read_as_documented_and_bad_items_skipped() {
    let text = "mmap_threshold=0x40000:bogus=1:trim_threshold=1048576::top_pad=x:top_pad";
    for (n, heap, complaints) in stages(text) {
        let said: Vec<&str> = complaints
            .iter()
            .map(|c| c.split_once(": ").map_or(c.as_str(), |(item, _)| item))
            .collect();
        assert_eq!(
            said,
            ["bogus=1", "top_pad=x", "top_pad"],
            "stage {n}: {complaints:#?}"
        );
        assert!(
            complaints[0].starts_with(
                "bogus=1: unknown setting (known: mmap_threshold, trim_threshold, top_pad"
            ),
            "stage {n}: {}",
            complaints[0]
        );
        // A 256 KiB threshold (in hex): 200,000 bytes come from the heap.
        let p = heap.malloc(200_000);
        assert!(!p.is_null());
        assert_eq!(heap.stats().mmap_calls, 0, "stage {n}: {:?}", heap.stats());
        // Set by hand, it stays put: every 256 KiB request is mapped.
        for _ in 0..3 {
            malloc_and_free(&heap, 256 << 10);
        }
        assert_eq!(heap.stats().mmap_calls, 3, "stage {n}: {:?}", heap.stats());
        // A 1 MiB trim threshold: the 200,000 bytes freed on top stay.
        let held = heap.stats().heap_bytes;
        // SAFETY: a live block of this heap, freed once.
        unsafe { heap.free(p) };
        assert_eq!(heap.stats().heap_bytes, held, "stage {n}: the top stays");
        malloc_core::assert_sound(&heap);
    }
}

#[test]
fn the_mmap_threshold_has_a_ceiling() {
    for (n, heap, complaints) in stages(&format!("mmap_threshold={MMAP_THRESHOLD_MAX}")) {
        assert!(complaints.is_empty(), "stage {n}: {complaints:?}");
        malloc_and_free(&heap, 200_000);
        assert_eq!(heap.stats().mmap_calls, 0, "stage {n}: 32 MiB is allowed");
    }
    let too_big = format!("mmap_threshold={}", MMAP_THRESHOLD_MAX + 1);
    for (n, heap, complaints) in stages(&too_big) {
        assert!(
            complaints.len() == 1 && complaints[0].contains("at most"),
            "stage {n}: {complaints:?}"
        );
        // The default threshold (128 KiB) stays.
        malloc_and_free(&heap, 200_000);
        assert_eq!(heap.stats().mmap_calls, 1, "stage {n}: {:?}", heap.stats());
    }
}

#[test]
fn the_break_grows_by_what_the_top_lacks_plus_the_pad() {
    for pad in [0, 0x2000] {
        for (n, heap, complaints) in stages(&format!("top_pad={pad:#x}")) {
            assert!(complaints.is_empty(), "stage {n}: {complaints:?}");
            // One page and the pad, about 2000 bytes of the page left.
            assert!(!heap.malloc(2000).is_null());
            assert_eq!(
                heap.stats().heap_bytes,
                4096 + pad,
                "stage {n}, top pad {pad}"
            );
            // 3000 bytes: the top has about 2000 (and the pad), so one
            // more page and the pad again.
            assert!(!heap.malloc(3000).is_null());
            let grown = if pad == 0 { 2 * 4096 } else { 4096 + pad };
            assert_eq!(
                heap.stats().heap_bytes,
                grown,
                "stage {n}, top pad {pad}: the top counts"
            );
        }
    }
}

/// A block that just fails to fit a page with its overheads (a region
/// header, and from stage 7 on a fence) takes one growth of the break that
/// holds them all, not a page and then another growth.
#[test]
fn the_first_growth_holds_the_block_and_its_overheads() {
    for (n, heap, _) in stages("top_pad=0") {
        assert!(!heap.malloc(4064).is_null());
        let stats = heap.stats();
        assert_eq!(stats.brk_calls, 1, "stage {n}: {stats:?}");
        malloc_core::assert_sound(&heap);
    }
}

#[test]
fn the_top_pad_saves_system_calls() {
    let padded = stages("");
    let bare = stages("top_pad=0");
    for ((n, padded, _), (_, bare, _)) in padded.zip(bare) {
        for heap in [&padded, &bare] {
            for _ in 0..1000 {
                // Large blocks, not freed: each comes from the top.
                assert!(!heap.malloc(2000).is_null());
            }
        }
        let (padded, bare) = (padded.stats().brk_calls, bare.stats().brk_calls);
        assert!(
            padded * 10 <= bare,
            "stage {n}: padded {padded}, bare {bare}"
        );
    }
}

#[test]
fn the_top_goes_back_past_the_trim_threshold_and_not_before() {
    for (n, heap, _) in stages("trim_threshold=65536:top_pad=0") {
        let small = heap.malloc(100);
        let before = heap.stats().heap_bytes;
        // Freeing the most recent block leaves it all free at the top.
        malloc_and_free(&heap, 100_000);
        assert_eq!(heap.stats().heap_bytes, before, "stage {n}: trimmed");
        // Below the threshold, the top stays.
        let medium = heap.malloc(50_000);
        let grown = heap.stats().heap_bytes;
        // SAFETY: live blocks of this heap, each freed once.
        unsafe {
            heap.free(medium);
            assert_eq!(heap.stats().heap_bytes, grown, "stage {n}: kept");
            heap.free(small);
        }
        malloc_core::assert_sound(&heap);
    }
    // Less than a page free on top is not worth a system call.
    for (n, heap, _) in stages("trim_threshold=0:top_pad=0") {
        malloc_and_free(&heap, 2000);
        let stats = heap.stats();
        assert_eq!(
            (stats.brk_calls, stats.heap_bytes),
            (1, 4096),
            "stage {n}: {stats:?}"
        );
    }
}

/// When someone else moved the break, new memory is a region of its own,
/// and it must hold the whole block even though the old top had room for
/// part of it. Every growth here finds the break moved; the sizes tried
/// put the block, with its overheads, on each side of page boundaries.
#[test]
fn a_block_fits_in_a_region_after_a_foreign_gap() {
    let sizes: Vec<usize> = if cfg!(miri) {
        vec![4064, 4080, 6000]
    } else {
        (2000..=9000).step_by(16).collect()
    };
    for &size in &sizes {
        for (n, heap, _) in stages_on("top_pad=0", || SimBreak::new().with_foreign_gaps(1)) {
            assert!(!heap.malloc(1000).is_null());
            let p = heap.malloc(size);
            assert!(!p.is_null(), "stage {n}, malloc({size})");
            // SAFETY: `p` has `size` bytes.
            unsafe { p.write_bytes(0xa5, size) };
            // A block bigger than any free one: one more growth closes the
            // region (from stage 7 on, its fence goes in the room kept).
            assert!(!heap.malloc(16_000).is_null(), "stage {n}");
            malloc_core::assert_sound(&heap);
            // Each gap costs a region's overheads and a second try, not
            // many times the request.
            let grown = heap.stats().heap_bytes;
            assert!(
                grown <= 24 * 4096,
                "stage {n}: {grown} bytes, malloc({size})"
            );
        }
    }
}

/// Set in a child process this file runs: the test runs its child part.
const CHILD: &str = "WORKBOOK_TEST_CHILD";

/// Runs the test `name` again as a child process, with `WORKBOOK_MALLOC`
/// set to `settings`, and returns its stderr, failing if the child fails.
fn run_child(name: &str, settings: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().expect("the test program"))
        .args(["--exact", name, "--nocapture"])
        .env(CHILD, "1")
        .env("WORKBOOK_MALLOC", settings)
        .output()
        .expect("the test program runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "the child of {name} failed:\n{stderr}"
    );
    stderr
}

/// A bad `WORKBOOK_MALLOC` is told on stderr when a stage first reads it,
/// one line per bad item, a long item cut so that the line still ends. The
/// test runs itself again as a child process with the variable set.
#[test]
#[cfg_attr(miri, ignore = "runs a child process, which Miri cannot")]
fn complaints_reach_stderr_one_line_each() {
    if std::env::var_os(CHILD).is_some() {
        for stage in STAGES.iter().filter(|s| all_stages::has_settings(s.number)) {
            let heap = all_stages::simulated(stage.number).expect("a stage");
            malloc_and_free(&Boxed(heap), 100);
        }
        return;
    }
    let long = "x".repeat(300);
    let stderr = run_child(
        "complaints_reach_stderr_one_line_each",
        &format!("bogus=1:{long}"),
    );
    let lines: Vec<&str> = stderr.lines().collect();
    let stages = STAGES
        .iter()
        .filter(|s| all_stages::has_settings(s.number))
        .count();
    assert_eq!(lines.len(), 2 * stages, "{stderr}");
    let cut = format!("WORKBOOK_MALLOC: ignoring \"{long}");
    for pair in lines.chunks(2) {
        assert!(
            pair[0].starts_with(
                "WORKBOOK_MALLOC: ignoring \"bogus=1\": unknown setting \
                 (known: mmap_threshold, trim_threshold, top_pad"
            ),
            "{stderr}"
        );
        assert_eq!(pair[1], &cut[..255], "cut to 255 bytes and a newline");
    }
    assert!(stderr.ends_with('\n'));
}

/// From stage 8 on, the debug mode read from `WORKBOOK_MALLOC` (on the
/// first malloc, not when the allocator was made) holds from that first
/// block on: freed, a block goes back to the heap to be checked, not into a
/// thread cache; with `perturb`, it has guard bytes (its usable size is
/// what was asked).
#[test]
#[cfg_attr(miri, ignore = "runs a child process, which Miri cannot")]
fn the_debug_mode_read_from_the_environment_holds_from_the_first_block() {
    const NAME: &str = "the_debug_mode_read_from_the_environment_holds_from_the_first_block";
    if std::env::var_os(CHILD).is_none() {
        // Either switch alone is the debug mode.
        for settings in ["perturb=1", "check_every=1000"] {
            run_child(NAME, settings);
        }
        return;
    }
    let settings = std::env::var("WORKBOOK_MALLOC").expect("set by the parent");
    for stage in STAGES.iter().filter(|s| s.number >= 8) {
        let n = stage.number;
        let heap = Boxed(all_stages::simulated(n).expect("a stage"));
        let p = heap.malloc(40);
        // SAFETY: a live block of this heap, freed once.
        unsafe {
            if settings.starts_with("perturb") {
                assert_eq!(heap.usable_size(p), 40, "stage {n}: guard bytes");
            }
            heap.free(p);
        }
        let mut map = String::new();
        heap.heap_map(&mut map).unwrap();
        assert!(!map.contains("cached "), "stage {n}: {map}");
        malloc_core::assert_sound(&heap);
    }
}

/// The stages with the debug mode (`check_every`, `perturb`): 8 on.
fn debug_stages(text: &str) -> impl Iterator<Item = (u32, Boxed, Vec<String>)> {
    stages(text).filter(|&(n, _, _)| n >= 8)
}

/// From stage 8 on, `perturb=1` puts 8 guard bytes after each block, and
/// no more: two blocks of 32 bytes cut one after the other are a header
/// and 48 bytes apart (32 asked and 8 guard bytes, rounded up to 16).
#[test]
fn the_debug_mode_adds_eight_guard_bytes_to_a_block() {
    for (n, heap, complaints) in debug_stages("perturb=1") {
        assert!(complaints.is_empty(), "stage {n}: {complaints:?}");
        let [p, q] = [32; 2].map(|size| heap.malloc(size));
        assert_eq!(q.addr() - p.addr(), 16 + 48, "stage {n}");
        malloc_core::assert_sound(&heap);
    }
}

/// From stage 8 on, the heap check runs inside malloc and free only in
/// the debug mode (`check_every`): by default no call pays for a walk of
/// the heap. Here a block's header lies (a size bigger than the block)
/// while other blocks come and go: a check would stop the program.
#[test]
fn no_heap_check_runs_unless_asked() {
    /// The header's `size` word, two words before the payload.
    const SIZE_WORD: usize = 2;
    for (n, heap, _) in debug_stages("") {
        let [_, p, _] = [1500, 100, 1500].map(|size| heap.malloc(size));
        let size = p
            .wrapping_sub(SIZE_WORD * size_of::<usize>())
            .cast::<usize>();
        // SAFETY: `p`'s header, in the heap's own memory, put back below.
        let kept = unsafe { size.read() };
        // SAFETY: as above.
        unsafe { size.write(kept + 4096) };
        assert!(heap.check().is_err(), "stage {n}: the lie is seen");
        for _ in 0..100 {
            malloc_and_free(&heap, 200);
        }
        // SAFETY: as above.
        unsafe { size.write(kept) };
        malloc_core::assert_sound(&heap);
    }
}
