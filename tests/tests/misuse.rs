//! Misuse from stage 8 on: each misuse runs in a child process, which must
//! die by SIGABRT after one line on stderr naming the function, the pointer
//! and the problem. Stage 7 lets them all pass: see the lesson in
//! lessons.rs.

use malloc_core::{Malloc, SimBreak, SimPages};
use stage8_hardened::{Hardened, Settings};
use stage9_threads::Threaded;

use conformance::misuse::{MISUSES, try_in_child};

/// The stages that stop misuse.
const STAGES: &[u32] = &[8, 9];

/// A fresh allocator of `stage`, in the debug mode (a heap check at every
/// call, freed blocks filled) if `debug`.
fn make(stage: u32, debug: bool) -> Box<dyn Malloc> {
    let settings = Settings {
        check_every: 1,
        perturb: true,
        ..Settings::DEFAULT
    };
    match stage {
        8 => Box::new(Hardened::with_settings(
            SimBreak::new(),
            SimPages::new(),
            debug.then_some(settings),
        )),
        9 => Box::new(Threaded::with_settings(
            SimBreak::new(),
            SimPages::new(),
            debug.then_some(stage9_threads::Settings {
                check_every: settings.check_every,
                perturb: settings.perturb,
                ..stage9_threads::Settings::DEFAULT
            }),
        )),
        other => panic!("no misuse test for stage {other}"),
    }
}

/// Checks that misuse `name` stops every stage with its message, and that
/// the message names the pointer.
fn aborts(name: &str) {
    let misuse = MISUSES
        .iter()
        .find(|m| m.name == name)
        .expect("a known misuse");
    for &stage in STAGES {
        let outcome = try_in_child(|| make(stage, misuse.debug), name);
        assert!(
            outcome.stopped_with(misuse.message),
            "stage {stage}, {name}: expected an abort saying {:?}, got: {}\nstderr:\n{}",
            misuse.message,
            outcome.describe(),
            outcome.stderr
        );
        let line = outcome.message.unwrap_or_default();
        assert!(line.contains("0x"), "{name}: the pointer is named: {line}");
    }
}

#[test]
#[cfg_attr(miri, ignore = "forks a child process: Miri cannot fork")]
fn a_double_free_of_a_small_block_aborts() {
    aborts("double-free-small");
}

#[test]
#[cfg_attr(miri, ignore = "forks a child process: Miri cannot fork")]
fn a_double_free_of_a_large_block_aborts() {
    aborts("double-free-large");
}

#[test]
#[cfg_attr(miri, ignore = "forks a child process: Miri cannot fork")]
fn a_double_free_of_a_block_merged_into_its_neighbour_aborts() {
    aborts("double-free-after-a-merge");
}

#[test]
#[cfg_attr(miri, ignore = "forks a child process: Miri cannot fork")]
fn a_misaligned_pointer_aborts() {
    aborts("misaligned");
}

#[test]
#[cfg_attr(miri, ignore = "forks a child process: Miri cannot fork")]
fn a_pointer_inside_a_block_aborts() {
    aborts("interior");
}

#[test]
#[cfg_attr(miri, ignore = "forks a child process: Miri cannot fork")]
fn realloc_of_a_freed_block_aborts() {
    aborts("realloc-freed");
}

#[test]
#[cfg_attr(miri, ignore = "forks a child process: Miri cannot fork")]
fn an_overwritten_header_aborts() {
    aborts("header-overwritten");
}

#[test]
#[cfg_attr(miri, ignore = "forks a child process: Miri cannot fork")]
fn a_free_list_link_overwritten_after_free_aborts() {
    aborts("write-after-free-into-a-link");
}

#[test]
#[cfg_attr(miri, ignore = "forks a child process: Miri cannot fork")]
fn an_address_written_over_a_free_list_link_aborts() {
    aborts("write-after-free-pointer-into-a-link");
}

#[test]
#[cfg_attr(miri, ignore = "forks a child process: Miri cannot fork")]
fn the_debug_mode_reports_a_write_after_free() {
    aborts("debug-write-after-free");
}

#[test]
#[cfg_attr(miri, ignore = "forks a child process: Miri cannot fork")]
fn the_debug_mode_reports_an_overflow_at_the_next_check() {
    aborts("debug-overflow-into-the-next-header");
}

#[test]
#[cfg_attr(miri, ignore = "forks a child process: Miri cannot fork")]
fn the_debug_mode_reports_an_overflow_into_guard_bytes_on_free() {
    aborts("debug-overflow-into-guard-bytes");
}

/// Every misuse in the list has its test above.
#[test]
fn every_misuse_is_tried() {
    let source = include_str!("misuse.rs");
    for misuse in MISUSES {
        assert!(
            source.contains(&format!("aborts(\"{}\")", misuse.name)),
            "no test tries {}",
            misuse.name
        );
    }
}
