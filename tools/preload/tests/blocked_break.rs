//! When the break cannot grow, stages 5 and 6 take their next region from a
//! mapping (as glibc does) and keep serving small requests; stages 1 to 4
//! return NULL with ENOMEM and the program goes on.

mod common;

use std::time::Duration;

use common::{Allocator, compile_c, run, scratch};

#[test]
fn a_blocked_break_falls_back_to_mappings_from_stage_5() {
    if common::which("cc").is_none() {
        println!("skipping: `cc` is not installed");
        return;
    }
    let dir = scratch("blocked-break");
    let program = compile_c(&dir, "blocked_break", include_str!("c/blocked_break.c"));
    for allocator in Allocator::all() {
        let mut command = std::process::Command::new(&program);
        allocator.apply(&mut command);
        let outcome = run(&mut command, Duration::from_secs(60));
        let stdout = String::from_utf8_lossy(&outcome.stdout).trim().to_string();
        println!("{}: {} {stdout}", allocator.name(), outcome.status_text());
        assert!(
            outcome.status.is_some_and(|s| s.success()),
            "{}: {} {stdout}{}",
            allocator.name(),
            outcome.status_text(),
            outcome.stderr_tail()
        );
        let serves_all = match &allocator {
            Allocator::System => true,
            Allocator::Stage(library) => library.stage >= 5,
        };
        if serves_all {
            assert_eq!(stdout, "allocated 20000, failed 0", "{}", allocator.name());
        } else {
            assert!(
                !stdout.ends_with("failed 0"),
                "{}: {stdout}",
                allocator.name()
            );
        }
    }
}
