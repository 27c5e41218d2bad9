//! The C API itself, called from C: every exported function with its edge
//! cases (tests/c/api.c), and running out of memory under a limit
//! (tests/c/out_of_memory.c), on every stage and on the system malloc, whose
//! behaviour the expectations follow.

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use common::{Allocator, compile_c, run, scratch};

/// Runs the C program `name` with `args` under every allocator; each must
/// exit 0. `limit_bytes`: an address-space limit (RLIMIT_AS) for the program.
fn on_every_allocator(name: &str, source: &str, args: &[&str], limit_bytes: Option<u64>) {
    let dir = scratch(&format!("{name}{}", args.join("-")));
    let exe = compile_c(&dir, name, source);
    let mut failures = Vec::new();
    for allocator in Allocator::all() {
        let mut command = Command::new(&exe);
        command.args(args);
        allocator.apply(&mut command);
        if let Some(limit) = limit_bytes {
            // SAFETY: the closure runs in the child between fork and exec and
            // only calls setrlimit, which is async-signal-safe.
            unsafe {
                command.pre_exec(move || {
                    let rlimit = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_AS, &rlimit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                })
            };
        }
        let outcome = run(&mut command, Duration::from_secs(60));
        let stdout = String::from_utf8_lossy(&outcome.stdout);
        println!(
            "{name} on {}: {} in {:.2}s: {}",
            allocator.name(),
            outcome.status_text(),
            outcome.elapsed.as_secs_f64(),
            stdout.trim().replace('\n', " / ")
        );
        if outcome.status_text() != "exit 0" {
            failures.push(format!(
                "{name} on {}: {}\n{stdout}{}",
                allocator.name(),
                outcome.status_text(),
                outcome.stderr_tail()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_function_keeps_c_semantics() {
    on_every_allocator("api", include_str!("c/api.c"), &[], None);
}

/// Large blocks (mapped from stage 5 on), medium and small ones.
#[test]
fn running_out_of_memory_gives_null_and_enomem() {
    for size in ["1048576", "1000", "64"] {
        on_every_allocator(
            "out_of_memory",
            include_str!("c/out_of_memory.c"),
            &[size],
            Some(256 << 20),
        );
    }
}
