//! Threads and forks under every stage's preload library: 8 threads of
//! 200,000 random operations each, checking their blocks' contents, while
//! the main thread forks 100 times and every child allocates (in a thread of
//! its own) and exits. A hang is caught by the time limit.

mod common;

use std::time::Duration;

use common::{Allocator, compile_c, run, scratch};

const SOURCE: &str = include_str!("c/stress.c");

/// Generous: the slowest stage takes a few seconds here.
const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn threads_and_forks_on_every_stage() {
    if common::which("cc").is_none() {
        println!("skipping: `cc` is not installed");
        return;
    }
    let dir = scratch("stress");
    let stress = compile_c(&dir, "stress", SOURCE);
    let mut failures = Vec::new();
    for allocator in Allocator::all() {
        // Stages 1 and 2 never reuse memory: 1.6 million operations would
        // take gigabytes, so they run a tenth of the work (and all forks).
        let ops = match &allocator {
            Allocator::Stage(library) if library.stage <= 2 => "20000",
            _ => "200000",
        };
        let mut command = std::process::Command::new(&stress);
        command.args(["8", ops, "100"]);
        allocator.apply(&mut command);
        let outcome = run(&mut command, LIMIT);
        let stdout = String::from_utf8_lossy(&outcome.stdout);
        println!(
            "{}: {} in {:.1}s: {}",
            allocator.name(),
            outcome.status_text(),
            outcome.elapsed.as_secs_f64(),
            stdout.trim()
        );
        if !outcome.status.is_some_and(|s| s.success()) {
            failures.push(format!(
                "{}: {}\n{}{}",
                allocator.name(),
                outcome.status_text(),
                stdout,
                outcome.stderr_tail()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
