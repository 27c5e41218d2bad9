//! Which hole breaks a check, when every hole is filled and no panic says
//! where: each filled hole is tried alone in the stage's own code (the
//! other holes the stage's), through the checks that failed. A hole that
//! still fails them there is the one to look at.
//!
//! The variants are built by tools/blame (`WORKBOOK_BLAME=N`) in the
//! exercises' target directory, so only the variants themselves compile;
//! each runs in a process of its own, so that a crash blames its hole
//! instead of ending the search.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use holes::Exercise;

use super::check::{Pointer, Spot};
use super::run_tests::{Outcome, target_dir};

/// How long one hole may run the failing checks.
const PATIENCE: Duration = Duration::from_secs(120);

/// The hole that fails `checks` alone in the stage's code, if every hole is
/// filled and exactly such a hole exists. Progress goes to stderr.
pub fn find(
    root: &Path,
    exercise: &Exercise,
    outcome: &Outcome,
    spots: &[Spot],
    checks: &[String],
) -> Option<Pointer> {
    if spots.is_empty() || spots.iter().any(|spot| spot.open) {
        return None;
    }
    let mut failing: Vec<&str> = outcome
        .failed
        .iter()
        .map(|(name, _)| name.as_str())
        .chain(outcome.crashed.iter().map(|crash| crash.test.as_str()))
        .filter(|name| checks.iter().any(|check| check == name))
        .collect();
    if failing.is_empty() {
        return None;
    }
    // The order the report tells them in: the differential (with its
    // trace) first, then the order of tests/check.rs.
    failing.sort_by_key(|name| {
        (
            *name != "differential",
            checks.iter().position(|check| check == name),
        )
    });
    eprintln!(
        "Every hole is filled: trying each of your holes alone in stage {}'s code, to find the \
         one that breaks {}...",
        exercise.number,
        failing
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let binary = match build(root, exercise) {
        Ok(binary) => binary,
        Err(problem) => {
            eprintln!("(could not try the holes one by one: {problem})");
            return None;
        }
    };
    let mut guilty = Vec::new();
    for spot in spots {
        if let Some(why) = try_hole(&binary, &spot.name, &failing) {
            guilty.push((spot, why));
        }
    }
    match guilty.first() {
        Some((spot, why)) => Some(Pointer {
            hole: spot.name.clone(),
            why: format!(
                "alone in the stage's code (every other hole the stage's own), your `{}` \
                 ({}:{}) still {why}{}",
                spot.name,
                spot.file,
                spot.lines.0,
                if guilty.len() > 1 {
                    format!(
                        "; so do {}",
                        guilty[1..]
                            .iter()
                            .map(|(spot, _)| format!("`{}`", spot.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else {
                    String::new()
                }
            ),
        }),
        None => {
            eprintln!(
                "Each of your holes passes alone with the stage's code around it: together they \
                 fail. Look at how they fit: what one writes, the other must read the same way."
            );
            None
        }
    }
}

/// Builds tools/blame for `exercise`; returns its binary.
fn build(root: &Path, exercise: &Exercise) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--message-format",
            "json",
            "--package",
            "workbook-blame",
        ])
        .arg("--target-dir")
        .arg(target_dir(root))
        .env("WORKBOOK_BLAME", exercise.number.to_string())
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err("the holes do not build inside the stage's code".to_string());
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo built no binary".to_string())
}

/// Runs the failing checks on the stage with only `hole` the learner's:
/// what failed, in words, or `None` if they all pass.
fn try_hole(binary: &Path, hole: &str, checks: &[&str]) -> Option<String> {
    let mut child = Command::new(binary)
        .arg(hole)
        .args(checks)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut pipe = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() > PATIENCE => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let text = reader.join().unwrap_or_default();
    if let Some(line) = text.lines().find(|line| line.contains(" failed: ")) {
        let (check, problem) = line
            .trim_start_matches("CHECK ")
            .split_once(" failed: ")
            .unwrap_or(("a check", line));
        let _ = problem; // The check's own paragraph says it in full.
        return Some(format!("fails `{check}`"));
    }
    match status {
        Some(status) if status.success() => None,
        Some(_) => Some("crashes the checks".to_string()),
        None => Some(format!("runs the checks for over {} s", PATIENCE.as_secs())),
    }
}
