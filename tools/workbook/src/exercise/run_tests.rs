//! Building and running an exercise's tests, and reading what happened.
//!
//! The tests are built with `cargo test --no-run` in a target directory of
//! their own (`WORKBOOK_TARGET_DIR`, else `exercises/` in `CARGO_TARGET_DIR`
//! or in the workspace's `target/`), so a check never waits for another
//! build's lock. Then each test binary runs with one test at a time, so
//! that a crash (a SIGSEGV in the learner's code, a SIGABRT from a heap
//! check) names the test it happened in: the tests before it keep their
//! results, and the ones after it run again without it. A binary that
//! runs for too long is stopped, and its running test counts as hung.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use holes::Exercise;

use crate::Failure;

/// How long one run of a test binary may take before its running test
/// counts as hung.
const PATIENCE: Duration = Duration::from_secs(300);

/// What one check of an exercise's tests found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Tests that passed, by name.
    pub passed: Vec<String>,
    /// Tests that failed: name and what they printed (the check's account,
    /// and the panic messages on the way).
    pub failed: Vec<(String, String)>,
    /// Tests that crashed the test binary or hung, and how.
    pub crashed: Vec<Crash>,
    /// What passing tests printed (the heap map beside the book's).
    pub printed: Vec<(String, String)>,
}

/// A test that ended its binary.
#[derive(Debug, Clone)]
pub struct Crash {
    /// The test that was running.
    pub test: String,
    /// "SIGSEGV", "SIGABRT", "hung (stopped after 300 s)"...
    pub how: String,
    /// Lines of its output that say something (an allocator's message).
    pub said: Vec<String>,
}

/// Where the exercises build: `WORKBOOK_TARGET_DIR`, else `exercises/` in
/// `CARGO_TARGET_DIR`, else `target/exercises` in the workspace.
pub fn target_dir(root: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("WORKBOOK_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        })
        .unwrap_or_else(|| root.join("target"));
    target.join("exercises")
}

/// Builds and runs the tests of `exercise`; an error when they do not
/// build (the compiler's messages are printed).
pub fn test(root: &Path, exercise: &Exercise) -> Result<Outcome, Failure> {
    eprintln!(
        "Checking exercise {} ({}): building and running its tests...",
        exercise.number,
        exercise.exercise_package()
    );
    let binaries = build(root, exercise)?;
    let dir = root.join("exercises").join(exercise.dir);
    let mut outcome = Outcome::default();
    for binary in binaries {
        run_binary(&binary, &dir, &mut outcome)?;
    }
    Ok(outcome)
}

/// Builds the tests; returns the test binaries.
fn build(root: &Path, exercise: &Exercise) -> Result<Vec<PathBuf>, Failure> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "test",
            "--no-run",
            "--message-format",
            "json-render-diagnostics",
            "--color",
            "never",
            "--package",
        ])
        .arg(exercise.exercise_package())
        .arg("--target-dir")
        .arg(target_dir(root))
        .current_dir(root)
        .output()
        .map_err(|e| Failure::Input(format!("cannot run cargo: {e}")))?;
    if !output.status.success() {
        println!(
            "{} Exercise {} does not build yet. The compiler says:\n",
            super::paint("✗", "31"),
            exercise.number
        );
        print!(
            "{}",
            compiler_messages(&String::from_utf8_lossy(&output.stderr))
        );
        println!(
            "\nFix these, then run `cargo workbook check {}` again.",
            exercise.number
        );
        return Err(Failure::Fail);
    }
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let is_test = message["profile"]["test"].as_bool() == Some(true);
        if let (true, Some(path)) = (is_test, message["executable"].as_str()) {
            binaries.push(PathBuf::from(path));
        }
    }
    Ok(binaries)
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
            "Executable",
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

/// Runs every test of one binary, one at a time, going on after a crash
/// with the tests that did not run yet.
fn run_binary(binary: &Path, dir: &Path, outcome: &mut Outcome) -> Result<(), Failure> {
    let all = list(binary, dir)?;
    let mut left: Vec<String> = all.clone();
    while !left.is_empty() {
        let run = run_some(binary, dir, &left, left.len() == all.len())?;
        let report = parse(&run.stdout);
        let crashed = !matches!(run.ended, Ended::Normally) || report.running.is_some();
        let mut done: Vec<String> = Vec::new();
        for name in &report.passed {
            outcome.passed.push(name.clone());
            done.push(name.clone());
        }
        for (name, text) in &report.failed {
            // After a crash, libtest never printed why a test failed: it
            // runs again, without the test that crashed.
            if crashed && text.is_empty() {
                continue;
            }
            outcome.failed.push((name.clone(), text.clone()));
            done.push(name.clone());
        }
        done.extend(report.ignored.iter().cloned());
        outcome.printed.extend(report.printed);
        match (&report.running, run.ended) {
            (None, Ended::Normally) => break,
            (running, ended) => {
                // The binary died in `running` (or before any test: then
                // every test left counts as crashed, once).
                let how = match ended {
                    Ended::Signal(signal) => signal_name(signal),
                    Ended::Hung => format!("hung (stopped after {} s)", PATIENCE.as_secs()),
                    Ended::Normally => "ended early".to_string(),
                };
                let said = last_words(&run.stderr);
                let tests: Vec<String> = match running {
                    Some(test) => vec![test.clone()],
                    None => left.clone(),
                };
                for test in &tests {
                    outcome.crashed.push(Crash {
                        test: test.clone(),
                        how: how.clone(),
                        said: Vec::clone(&said),
                    });
                }
                done.extend(tests);
            }
        }
        let before = left.len();
        left.retain(|name| !done.contains(name));
        if left.len() == before {
            break; // No progress: nothing more to learn from this binary.
        }
    }
    Ok(())
}

/// The tests of a binary, by name.
fn list(binary: &Path, dir: &Path) -> Result<Vec<String>, Failure> {
    let output = Command::new(binary)
        .args(["--list", "--format", "terse"])
        .current_dir(dir)
        .output()
        .map_err(|e| Failure::Input(format!("cannot run {}: {e}", binary.display())))?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_string)
        .collect())
}

/// How a run of a test binary ended.
enum Ended {
    Normally,
    Signal(i32),
    Hung,
}

/// What a run of a test binary printed, and how it ended.
struct Run {
    stdout: String,
    stderr: String,
    ended: Ended,
}

/// Runs the tests `names` of `binary` (all of them if `all`), one at a
/// time, showing what passing tests print too.
fn run_some(binary: &Path, dir: &Path, names: &[String], all: bool) -> Result<Run, Failure> {
    let mut command = Command::new(binary);
    command
        .args(["--test-threads=1", "--show-output", "--color", "never"])
        .env("RUST_BACKTRACE", "0")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !all {
        command.arg("--exact").args(names);
    }
    let mut child = command
        .spawn()
        .map_err(|e| Failure::Input(format!("cannot run {}: {e}", binary.display())))?;
    // Read both pipes while the tests run: a full pipe would stop them.
    let mut stdout_pipe = child.stdout.take().expect("piped");
    let mut stderr_pipe = child.stderr.take().expect("piped");
    let stdout = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout_pipe.read_to_end(&mut text);
        text
    });
    let stderr = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut text);
        text
    });
    let start = Instant::now();
    let ended = loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                break status.signal().map_or(Ended::Normally, Ended::Signal);
            }
            Ok(None) if start.elapsed() > PATIENCE => {
                let _ = child.kill();
                let _ = child.wait();
                break Ended::Hung;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(Failure::Input(format!("waiting for the tests: {e}"))),
        }
    };
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    Ok(Run {
        stdout: text(stdout.join().unwrap_or_default()),
        stderr: text(stderr.join().unwrap_or_default()),
        ended,
    })
}

/// What a dying test binary wrote that says why: the allocator's own line
/// ("workbook malloc: ..."), and panics that could not unwind (a broken
/// precondition of the standard library, a panic while panicking).
fn last_words(stderr: &str) -> Vec<String> {
    let lines: Vec<&str> = stderr.lines().collect();
    let mut said = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("workbook malloc:") {
            said.push(line.to_string());
        } else if let Some(at) = line.find("panicked at ") {
            let place = line[at + "panicked at ".len()..].trim_end_matches(':');
            let message = lines.get(i + 1).copied().unwrap_or("").trim();
            said.push(format!("a panic at {place}: {message}"));
        }
    }
    said.dedup();
    said
}

/// A signal's name, as a learner may look it up.
fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGSEGV => "SIGSEGV (a memory error: a bad pointer was followed)".to_string(),
        libc::SIGBUS => "SIGBUS (a memory error)".to_string(),
        libc::SIGABRT => "SIGABRT (the program was stopped on purpose)".to_string(),
        libc::SIGILL => "SIGILL".to_string(),
        libc::SIGFPE => "SIGFPE".to_string(),
        libc::SIGKILL => "SIGKILL".to_string(),
        other => format!("signal {other}"),
    }
}

/// What libtest printed about a run, one test at a time.
#[derive(Debug, Default)]
pub struct Report {
    /// Tests that passed.
    pub passed: Vec<String>,
    /// Tests that failed, with what they printed.
    pub failed: Vec<(String, String)>,
    /// Tests that were ignored.
    pub ignored: Vec<String>,
    /// What passing tests printed (with `--show-output`).
    pub printed: Vec<(String, String)>,
    /// The test that started and never finished (the binary died in it).
    pub running: Option<String>,
}

/// Reads libtest's output of a single-threaded run.
pub fn parse(stdout: &str) -> Report {
    let mut report = Report::default();
    let mut sections: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut section: Option<String> = None;
    for line in stdout.lines() {
        let header = line
            .strip_prefix("---- ")
            .and_then(|rest| rest.strip_suffix(" stdout ----"));
        if let Some(name) = header {
            section = Some(name.to_string());
            sections.entry(name.to_string()).or_default();
            continue;
        }
        if line == "failures:" || line == "successes:" {
            section = None;
            continue;
        }
        if let Some(name) = &section {
            sections.get_mut(name).expect("opened above").push(line);
            continue;
        }
        // "test NAME ... ok": with one test at a time, "test NAME ... " is
        // printed when it starts and the verdict when it ends.
        if let Some(rest) = line.strip_prefix("test ") {
            let Some((name, verdict)) = rest.split_once(" ... ") else {
                continue;
            };
            let name = name.to_string();
            match verdict.trim() {
                "ok" => report.passed.push(name),
                "FAILED" => report.failed.push((name, String::new())),
                "" => report.running = Some(name),
                v if v.starts_with("ignored") => report.ignored.push(name),
                _ => {}
            }
            if !verdict.trim().is_empty() {
                report.running = None;
            }
        }
    }
    for (name, text) in &mut report.failed {
        if let Some(lines) = sections.get(name) {
            *text = lines.join("\n").trim().to_string();
        }
    }
    for name in &report.passed {
        if let Some(lines) = sections.get(name) {
            let text = lines.join("\n").trim().to_string();
            if !text.is_empty() {
                report.printed.push((name.clone(), text));
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_verdicts_sections_and_the_test_that_crashed() {
        let stdout = "\nrunning 4 tests\ntest a ... ok\ntest b ... FAILED\ntest c ... ignored, why\n\
                      test d ... \nsuccesses:\n\n---- a stdout ----\nhello\n\nsuccesses:\n    a\n\n\
                      failures:\n\n---- b stdout ----\n\nthread 'b' panicked at x.rs:1:2:\nboom\n\n\
                      failures:\n    b\n";
        let report = parse(stdout);
        assert_eq!(report.passed, ["a"]);
        assert_eq!(report.ignored, ["c"]);
        assert_eq!(report.running.as_deref(), Some("d"));
        assert_eq!(report.failed.len(), 1);
        assert!(report.failed[0].1.contains("boom"), "{:?}", report.failed);
        assert_eq!(report.printed, [("a".to_string(), "hello".to_string())]);
    }
}
