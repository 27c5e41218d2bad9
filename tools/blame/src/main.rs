//! Which hole breaks a check? `cargo workbook check` builds this with
//! `WORKBOOK_BLAME=N` when every hole of exercise N is filled and a check
//! still fails, then runs `workbook-blame HOLE CHECK...` once per filled
//! hole: the stage's own code with only that hole taken from the learner.
//! It prints one line per check, `CHECK name ok` or `CHECK name failed:
//! the first line of the problem`; a crash is a failure too (the workbook
//! runs each hole in a process of its own).

use std::process::ExitCode;

use conformance::exercise::{Boxed, Effort, Sources, run};

include!(concat!(env!("OUT_DIR"), "/variants.rs"));

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((hole, checks)) = args.split_first() else {
        eprintln!("usage: workbook-blame HOLE CHECK... (built for exercise {EXERCISE})");
        return ExitCode::from(2);
    };
    let Some((_, make)) = VARIANTS.iter().find(|(name, _)| name == hole) else {
        eprintln!("exercise {EXERCISE} has no filled hole `{hole}` here");
        return ExitCode::from(2);
    };
    for check in checks {
        match run(EXERCISE, check, *make, Effort::Full) {
            Ok(()) => println!("CHECK {check} ok"),
            Err(problem) => println!(
                "CHECK {check} failed: {}",
                problem.lines().next().unwrap_or("")
            ),
        }
    }
    ExitCode::SUCCESS
}
