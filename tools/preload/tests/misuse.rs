//! Misuse through the C API under the preload libraries of the stages that
//! stop it (8 and 9): the program must die by SIGABRT after one line on
//! stderr that names the function and the problem. (Stages 1 to 7 cannot
//! tell; their chapters say so.)

mod common;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use common::{Allocator, compile_c, libraries, run, scratch};

#[test]
fn hardened_stages_stop_each_misuse_with_a_message() {
    if common::which("cc").is_none() {
        println!("skipping: `cc` is not installed");
        return;
    }
    let dir = scratch("misuse");
    let program = compile_c(&dir, "misuse", include_str!("c/misuse.c"));
    let hardened: Vec<_> = libraries().iter().filter(|l| l.stage >= 8).collect();
    assert!(
        !hardened.is_empty(),
        "stages 8 and up have preload libraries"
    );
    for stage in hardened {
        for (misuse, debug, message) in [
            ("double-free", "", "free(0x"),
            ("double-free-large", "", "the block was already freed"),
            ("interior", "", "not the start of a block"),
            ("realloc-freed", "", "realloc(0x"),
            (
                "write-after-free",
                "perturb=1",
                "written after it was freed",
            ),
            (
                "overflow",
                "perturb=1",
                "bytes after the block were overwritten",
            ),
            ("free-list-link", "", "a free-list link was overwritten"),
        ] {
            let mut command = std::process::Command::new(&program);
            command.arg(misuse);
            Allocator::Stage(stage).apply(&mut command);
            command.env("WORKBOOK_MALLOC", debug);
            let outcome = run(&mut command, Duration::from_secs(30));
            let stderr = String::from_utf8_lossy(&outcome.stderr);
            println!(
                "stage {}, {misuse}: {}: {}",
                stage.stage,
                outcome.status_text(),
                stderr.trim()
            );
            assert_eq!(
                outcome.status.and_then(|s| s.signal()),
                Some(libc::SIGABRT),
                "{misuse}: {} {stderr}",
                outcome.status_text()
            );
            assert!(
                stderr.contains("workbook malloc:") && stderr.contains(message),
                "{misuse}: {stderr}"
            );
        }
    }
}
