//! `cargo workbook check N`: runs exercise N's tests and says in words what
//! failed.
//!
//! The tests run in a nested `cargo test` with a target directory of their
//! own (target/exercises, or `WORKBOOK_TARGET_DIR`), so a check never
//! waits for another build's lock. The report is made from libtest's
//! output: each failing test's panic message is the check's own account
//! (the property, the shrunk trace, the heap map), and tests/check.rs says
//! in a doc comment what each check asks.

use std::path::{Path, PathBuf};
use std::process::Command;

use holes::{EXERCISES, Exercise};

use super::progress::Progress;
use super::{find, paint};
use crate::Failure;

/// What one run of an exercise's tests found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Tests that passed, by name.
    pub passed: Vec<String>,
    /// Tests that failed: name and panic message.
    pub failed: Vec<(String, String)>,
    /// Where a `todo!()` panicked, if one did: `file:line:column`.
    pub open_hole: Option<String>,
}

/// Runs exercise `number`'s tests, prints the report, records the result.
pub fn run(root: &Path, number: u32) -> Result<(), Failure> {
    let exercise = find(number)?;
    let outcome = test(root, exercise)?;
    let passed = outcome.failed.is_empty();
    let mut progress = Progress::load(root);
    progress.set_passed(number, passed);
    progress.save(root).map_err(Failure::Input)?;
    print!("{}", report(root, exercise, &outcome, &progress));
    if passed { Ok(()) } else { Err(Failure::Fail) }
}

/// Runs the tests of `exercise` and reads their outcome; an error when they
/// do not build (the compiler's messages are printed).
pub fn test(root: &Path, exercise: &Exercise) -> Result<Outcome, Failure> {
    let target = std::env::var_os("WORKBOOK_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/exercises"));
    eprintln!(
        "Checking exercise {} ({}): building and running its tests...",
        exercise.number,
        exercise.exercise_package()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["test", "--no-fail-fast", "--color", "never", "--package"])
        .arg(exercise.exercise_package())
        .arg("--target-dir")
        .arg(&target)
        .env("RUST_BACKTRACE", "0")
        .current_dir(root)
        .output()
        .map_err(|e| Failure::Input(format!("running cargo: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let outcome = parse(&stdout);
    if !output.status.success() && outcome.failed.is_empty() {
        // Nothing ran: the code does not build.
        println!(
            "{} Exercise {} does not build yet. The compiler says:\n",
            paint("✗", "31"),
            exercise.number
        );
        print!("{}", compiler_messages(&stderr));
        println!(
            "\nFix these, then run `cargo workbook check {}` again.",
            exercise.number
        );
        return Err(Failure::Fail);
    }
    Ok(outcome)
}

/// Reads libtest's output: the result of each test, and the panic message
/// of each failure.
pub fn parse(stdout: &str) -> Outcome {
    let mut outcome = Outcome::default();
    let mut messages: Vec<(String, String)> = Vec::new();
    let mut section: Option<(String, Vec<&str>)> = None;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("test ") {
            if let Some(name) = rest.strip_suffix(" ... ok") {
                outcome.passed.push(name.to_string());
                continue;
            }
            if rest.ends_with(" ... FAILED") {
                continue;
            }
        }
        let header = line
            .strip_prefix("---- ")
            .and_then(|rest| rest.strip_suffix(" stdout ----"));
        if header.is_some() || line == "failures:" {
            if let Some((name, lines)) = section.take() {
                messages.push((name, last_panic(&lines, &mut outcome.open_hole)));
            }
            section = header.map(|name| (name.to_string(), Vec::new()));
        } else if let Some((_, lines)) = &mut section {
            lines.push(line);
        }
    }
    outcome.failed = messages;
    outcome
}

/// The message of the last panic in a test's output (the test's verdict),
/// noting where a `todo!()` panicked on the way.
fn last_panic(lines: &[&str], open_hole: &mut Option<String>) -> String {
    let mut message = Vec::new();
    let mut inside = false;
    for (i, line) in lines.iter().enumerate() {
        if let Some(rest) = line.strip_prefix("thread '")
            && let Some(at) = rest.find("panicked at ")
        {
            let place = rest[at + "panicked at ".len()..].trim_end_matches(':');
            let next = lines.get(i + 1).copied().unwrap_or("");
            if next.starts_with("not yet implemented") && open_hole.is_none() {
                *open_hole = Some(place.to_string());
            }
            message.clear();
            inside = true;
            continue;
        }
        if line.starts_with("note: run with `RUST_BACKTRACE")
            || line.starts_with("stack backtrace:")
        {
            inside = false;
        } else if inside {
            message.push(*line);
        }
    }
    message.join("\n").trim_end().to_string()
}

/// The errors in cargo's output, without its progress lines.
fn compiler_messages(stderr: &str) -> String {
    let mut out = String::new();
    for line in stderr.lines() {
        let trimmed = line.trim_start();
        if [
            "Compiling",
            "Finished",
            "Running",
            "Blocking",
            "Downloaded",
            "Locking",
        ]
        .iter()
        .any(|word| trimmed.starts_with(word))
        {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The checks of `exercise` in the order tests/check.rs lists them, each
/// with what it asks (its doc comment).
fn checks(root: &Path, exercise: &Exercise) -> Vec<(String, String)> {
    let path = root
        .join("exercises")
        .join(exercise.dir)
        .join("tests/check.rs");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut checks = Vec::new();
    let mut doc = "";
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("/// ") {
            doc = rest.trim_end_matches('.');
        } else if let Some(rest) = line.strip_prefix("fn ")
            && let Some(name) = rest.strip_suffix("() {")
        {
            checks.push((name.to_string(), doc.to_string()));
        }
    }
    checks
}

/// The report of a check, in words.
pub fn report(root: &Path, exercise: &Exercise, outcome: &Outcome, progress: &Progress) -> String {
    let n = exercise.number;
    let total = outcome.passed.len() + outcome.failed.len();
    let mut out = String::new();
    if outcome.failed.is_empty() {
        out.push_str(&format!(
            "{} Exercise {n} ({}) passes: all {total} tests, the whole conformance suite and stage {n}'s lesson.\n\n",
            paint("✓", "32"),
            exercise.short_name
        ));
        match super::next(progress) {
            Some(next) => out.push_str(&format!(
                "Well done. Next: exercise {} ({}): read {}, then `cargo workbook check {}`.\n\
                 To compare your code with the stage's: `cargo workbook solution {n}`.\n",
                next.number,
                next.short_name,
                next.chapter(),
                next.number
            )),
            None => out.push_str(&format!(
                "Every one of the {} exercises passes: you have built a real malloc, from sbrk to {}.\n",
                EXERCISES.len(),
                EXERCISES.last().map_or("the end", |last| last.name)
            )),
        }
        return out;
    }
    out.push_str(&format!(
        "{} Exercise {n} ({}): {} of {total} tests fail.\n\n",
        paint("✗", "31"),
        exercise.short_name,
        outcome.failed.len()
    ));
    // The differential test's report has the most in it (the shrunk trace
    // and the heap map), so it goes first; then the order of tests/check.rs.
    let checks = checks(root, exercise);
    let rank = |name: &str| {
        if name == "differential" {
            return 0;
        }
        checks
            .iter()
            .position(|(check, _)| check == name)
            .map_or(checks.len() + 1, |at| at + 1)
    };
    let (name, message) = outcome
        .failed
        .iter()
        // Ties broken by name: libtest reports in the order tests finish.
        .min_by_key(|(name, _)| (rank(name), name.clone()))
        .expect("a failure");
    let property = checks
        .iter()
        .find(|(check, _)| check == name)
        .map(|(_, doc)| doc.clone())
        .unwrap_or_else(|| name.replace('_', " "));
    out.push_str(&format!(
        "{} {property}\n",
        paint("The property that failed:", "1")
    ));
    out.push_str(&format!("  (test `{name}`)\n\n"));
    if let Some(place) = &outcome.open_hole {
        out.push_str(&format!(
            "A hole is still open: the `todo!()` at {place} was reached.\n\n"
        ));
    }
    out.push_str(&format!("{}\n", paint("What went wrong:", "1")));
    for line in message.lines() {
        let line = match line {
            l if l.starts_with("after the last op of this trace") => paint(
                "The shortest sequence of operations that fails (a .rep trace; its last op failed):",
                "1",
            ),
            "heap map at the failure:" => paint("The heap map at the failure:", "1"),
            l => format!("  {l}"),
        };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let others: Vec<&str> = outcome
        .failed
        .iter()
        .map(|(other, _)| other.as_str())
        .filter(|other| other != name)
        .collect();
    if !others.is_empty() {
        let mut others = others;
        others.sort_by_key(|other| (rank(other), *other));
        out.push_str(&format!("\nAlso failing: {}.\n", others.join(", ")));
    }
    let hint = match progress.hints_shown(n) {
        0 => "shows a first hint".to_string(),
        shown => format!("shows the next hint ({shown} shown so far)"),
    };
    out.push_str(&format!(
        "\nStuck? `cargo workbook hint {n}` {hint}. The idea is in {}.\n",
        exercise.chapter()
    ));
    out
}
