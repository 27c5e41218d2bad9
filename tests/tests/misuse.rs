//! Misuse under stage 6: each misuse runs in a child process (this test
//! binary, started again with `MISUSE` set), which must die by SIGABRT
//! after one line on stderr naming the function, the pointer and the
//! problem.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use malloc_core::{Malloc, SimBreak, SimPages};
use stage6_tuned::{Settings, Tuned};

/// Does the misuse named by `MISUSE` (in the child); nothing otherwise.
#[test]
fn misuse_child() {
    let Ok(which) = std::env::var("MISUSE") else {
        return;
    };
    // The debug mode: check the heap at every call, fill freed blocks.
    let debug = Settings {
        check_every: 1,
        perturb: true,
        ..Settings::DEFAULT
    };
    let settings = which.starts_with("debug-").then_some(debug);
    let heap = Tuned::with_settings(SimBreak::new(), SimPages::new(), settings);
    let small = heap.malloc(40);
    let large = heap.malloc(5000);
    // SAFETY: none: each arm breaks the contract on purpose, and the
    // allocator must stop the process before anything else happens.
    unsafe {
        large.write_bytes(0xaa, 5000);
        match which.as_str() {
            "double-free-small" => {
                heap.free(small);
                heap.free(small);
            }
            "double-free-large" => {
                let _keep_off_the_top = heap.malloc(100);
                heap.free(large);
                heap.free(large);
            }
            "double-free-after-a-merge" => {
                // The second block merges into the first when freed: its
                // own header must still say it is free.
                let second = heap.malloc(5000);
                let _keep_off_the_top = heap.malloc(100);
                heap.free(large);
                heap.free(second);
                heap.free(second);
            }
            "misaligned" => heap.free(small.add(8)),
            "interior" => heap.free(large.add(1024)),
            "realloc-freed" => {
                heap.free(small);
                heap.realloc(small, 100);
            }
            "header-overwritten" => {
                small.sub(8).write_bytes(0xff, 8);
                heap.free(small);
            }
            "debug-write-after-free" => {
                heap.free(small);
                small.add(20).write(1);
                heap.malloc(40);
            }
            "debug-overflow-into-a-free-header" => {
                let next = heap.malloc(40);
                heap.free(next);
                // Forty bytes fit; writing 64 runs over the next block's
                // header, which the heap check (at every call) notices.
                small.write_bytes(0x11, 64);
                heap.malloc(5);
            }
            "write-after-free-into-a-link" => {
                // Large blocks skip the thread cache: this one goes on a
                // heap free list, its link in its first payload word.
                let _keep_off_the_top = heap.malloc(100);
                heap.free(large);
                large.write_bytes(0x41, 8);
                heap.malloc(5000);
            }
            "debug-overflow-into-guard-bytes" => {
                // Forty bytes asked for: the forty-first is a guard byte.
                small.add(40).write(0);
                heap.free(small);
            }
            other => panic!("unknown misuse {other}"),
        }
    }
    // Reaching here means the misuse went unnoticed: exit 0 says so.
    std::process::exit(0);
}

/// Runs the child for `which` and checks it died of SIGABRT with `message`.
fn aborts(which: &str, message: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "misuse_child", "--nocapture", "--test-threads=1"])
        .env("MISUSE", which)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{which}: expected an abort, got {:?}; stderr:\n{stderr}",
        out.status
    );
    let line = stderr
        .lines()
        .find(|line| line.starts_with("workbook malloc:"))
        .unwrap_or_else(|| panic!("{which}: no message; stderr:\n{stderr}"));
    assert!(line.contains(message), "{which}: {line}");
    assert!(line.contains("0x"), "{which}: the pointer is named: {line}");
}

#[test]
fn a_double_free_of_a_small_block_aborts() {
    aborts("double-free-small", "free(0x");
    aborts("double-free-small", "the block was already freed");
}

#[test]
fn a_double_free_of_a_large_block_aborts() {
    aborts("double-free-large", "the block was already freed");
}

#[test]
fn a_double_free_of_a_block_merged_into_its_neighbour_aborts() {
    aborts("double-free-after-a-merge", "the block was already freed");
}

#[test]
fn a_misaligned_pointer_aborts() {
    aborts("misaligned", "not a pointer malloc returned (misaligned)");
}

#[test]
fn a_pointer_inside_a_block_aborts() {
    aborts("interior", "not the start of a block");
}

#[test]
fn realloc_of_a_freed_block_aborts() {
    aborts("realloc-freed", "realloc(0x");
}

#[test]
fn an_overwritten_header_aborts() {
    aborts("header-overwritten", "its header was overwritten");
}

#[test]
fn the_debug_mode_reports_a_write_after_free() {
    aborts("debug-write-after-free", "malloc(0x");
    aborts("debug-write-after-free", "written after it was freed");
}

#[test]
fn the_debug_mode_reports_an_overflow_at_the_next_check() {
    aborts("debug-overflow-into-a-free-header", "heap check failed");
}

#[test]
fn a_free_list_link_overwritten_after_free_aborts() {
    aborts("write-after-free-into-a-link", "heap corrupted at 0x");
    aborts(
        "write-after-free-into-a-link",
        "a free-list link was overwritten",
    );
}

#[test]
fn the_debug_mode_reports_an_overflow_into_guard_bytes_on_free() {
    aborts("debug-overflow-into-guard-bytes", "free(0x");
    aborts(
        "debug-overflow-into-guard-bytes",
        "bytes after the block were overwritten",
    );
}
