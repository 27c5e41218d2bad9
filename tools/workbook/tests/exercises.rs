//! The learner's loop, run as a learner runs it: the course map with
//! progress, a failing and a passing `check`, hints, solution and reset.
//!
//! Each test works in a workspace of its own in a temporary directory (a
//! copy of the root manifest that holds only exercise 1), so that the
//! state of the real exercises/ never matters. The nested builds share
//! this test's target directory, so they reuse the suite already built.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

/// Checks build exercise 1 in this test's target directory: one at a
/// time, or one would run the other's binary.
static BUILDS: Mutex<()> = Mutex::new(());

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A workspace holding exercise 1 (its skeleton, or `solved` with the
/// stage's code in its holes), the hints, and stage 1's sources.
fn workspace(name: &str, solved: bool) -> PathBuf {
    let repo = repo().canonicalize().unwrap();
    let dir = std::env::temp_dir().join(format!("workbook-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("exercises")).unwrap();
    let manifest = fs::read_to_string(repo.join("Cargo.toml")).unwrap();
    fs::write(dir.join("Cargo.toml"), only_exercise_1(&manifest, &repo)).unwrap();
    fs::copy(repo.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    fs::copy(
        repo.join("exercises/hints.md"),
        dir.join("exercises/hints.md"),
    )
    .unwrap();
    copy_dir(
        &repo.join("exercises/1-bump"),
        &dir.join("exercises/1-bump"),
    );
    // The skeleton as the generator makes it: the repository's own
    // exercises/1-bump/src may hold a learner's work in progress.
    let texts = holes::read_hints(&repo).unwrap();
    let exercise = holes::find(1).unwrap();
    for (path, text) in holes::generate::skeleton_sources(&repo, exercise, &texts).unwrap() {
        fs::write(dir.join("exercises/1-bump").join(path), text).unwrap();
    }
    copy_dir(&repo.join("stages/1-bump"), &dir.join("stages/1-bump"));
    if solved {
        // Filling the holes gives back the stage (tests/drift.rs in
        // tools/holes proves it), so the solved exercise is the stage's src.
        copy_dir(
            &repo.join("stages/1-bump/src"),
            &dir.join("exercises/1-bump/src"),
        );
    }
    dir
}

/// The root manifest with exercise 1 as its only member, and paths made
/// absolute (its profiles stay, so the nested builds reuse our artifacts).
fn only_exercise_1(manifest: &str, repo: &Path) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in manifest.lines() {
        if line.starts_with("members = [") {
            out.push_str("members = [\"exercises/1-bump\"]\n");
            skipping = true;
        } else if line.starts_with("default-members = [") {
            skipping = true;
        } else if skipping {
            skipping = line != "]";
        } else {
            out.push_str(&line.replace("path = \"", &format!("path = \"{}/", repo.display())));
            out.push('\n');
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target).unwrap();
        }
    }
}

/// Runs the workbook in `dir` with `input` on stdin.
fn workbook(dir: &Path, args: &[&str], input: &str) -> Output {
    // This test's target directory: target/debug/workbook -> target.
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_workbook"));
    let target = exe.parent().unwrap().parent().unwrap();
    let mut child = Command::new(&exe)
        .args(args)
        .current_dir(dir)
        .env("WORKBOOK_TARGET_DIR", target)
        .env("PROPTEST_RNG_SEED", "1")
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Output without what changes from run to run: line numbers in source
/// paths, and addresses.
fn filtered(text: &str) -> String {
    text.split_inclusive([' ', '\n'])
        .map(|word| {
            let (word, end) = word.split_at(word.trim_end().len());
            let word = if let Some(at) = word.find(".rs:") {
                format!(
                    "{}.rs:[line]{}",
                    &word[..at],
                    if word.ends_with('.') { "." } else { "" }
                )
            } else if word.starts_with("0x") && word.len() > 10 {
                "[address]".to_string()
            } else {
                word.to_string()
            };
            format!("{word}{end}")
        })
        .collect()
}

#[test]
fn the_course_map_shows_progress_and_the_next_exercise() {
    let dir = workspace("map", false);
    fs::write(dir.join("exercises/.progress"), "passed 1\nhints 2 1\n").unwrap();
    let out = workbook(&dir, &[], "");
    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    // The exercises' part of the map (the stages' part is tests/cli.rs's).
    let exercises = &stdout[stdout.find("Exercises\n").expect("an Exercises section")..];
    insta::assert_snapshot!(exercises);
    assert!(!stdout.contains('\x1b'), "no colour when not on a terminal");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn check_fails_open_and_passes_filled() {
    let _one_at_a_time = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let open = workspace("open", false);
    let out = workbook(&open, &["check", "1"], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    insta::assert_snapshot!("check_fails_open", filtered(&text(&out.stdout)));
    let progress = fs::read_to_string(open.join("exercises/.progress")).unwrap_or_default();
    assert!(!progress.contains("passed 1"), "{progress}");

    let solved = workspace("solved", true);
    let out = workbook(&solved, &["check", "1"], "");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    insta::assert_snapshot!("check_passes_filled", filtered(&text(&out.stdout)));
    let progress = fs::read_to_string(solved.join("exercises/.progress")).unwrap();
    assert!(progress.contains("passed 1"), "{progress}");
    // Passed, the solution shows without --force.
    let out = workbook(&solved, &["solution", "1"], "");
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).contains("hole `bump`"));
    fs::remove_dir_all(open).unwrap();
    fs::remove_dir_all(solved).unwrap();
}

#[test]
fn hints_come_one_level_at_a_time_for_the_first_open_hole() {
    let dir = workspace("hints", false);
    let first = text(&workbook(&dir, &["hint", "1"], "").stdout);
    let second = text(&workbook(&dir, &["hint", "1"], "").stdout);
    assert!(
        first.starts_with("Hint 1 of 3 for hole `payload_size` (exercise 1, bump): the idea"),
        "{first}"
    );
    assert!(
        second.starts_with("Hint 2 of 3 for hole `payload_size` (exercise 1, bump): the approach"),
        "{second}"
    );
    assert_ne!(first.lines().nth(2), second.lines().nth(2));
    // A hole by name has hints of its own, from the first.
    let bump = text(&workbook(&dir, &["hint", "1", "bump"], "").stdout);
    assert!(bump.starts_with("Hint 1 of 3 for hole `bump`"), "{bump}");
    assert!(bump.contains("exercises/1-bump/src/lib.rs"), "{bump}");
    // With the first hole filled, the next open one comes.
    let lib = dir.join("exercises/1-bump/src/lib.rs");
    let filled = fs::read_to_string(&lib).unwrap().replacen(
        "todo!(\"hole `payload_size`\");",
        "align_up(size.max(1), ALIGN)",
        1,
    );
    fs::write(&lib, filled).unwrap();
    let next = text(&workbook(&dir, &["hint", "1"], "").stdout);
    assert!(next.starts_with("Hint 2 of 3 for hole `bump`"), "{next}");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_crash_is_told_from_a_build_failure_and_the_other_checks_keep_their_results() {
    let _one_at_a_time = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace("crash", true);
    let lib = dir.join("exercises/1-bump/src/lib.rs");
    // A wild read for one size only: the checks that ask for 1000 bytes
    // crash the test binary with SIGSEGV; the others pass.
    let crashing = fs::read_to_string(&lib).unwrap().replacen(
        "    align_up(size.max(1), ALIGN)\n",
        "    if size == 1000 {\n        // SAFETY: none: a crash on purpose.\n        unsafe { core::ptr::read_volatile(8 as *const usize) };\n    }\n    align_up(size.max(1), ALIGN)\n",
        1,
    );
    fs::write(&lib, crashing).unwrap();
    let out = workbook(&dir, &["check", "1"], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("does not build"), "{stdout}");
    assert!(stdout.contains("crashed with SIGSEGV"), "{stdout}");
    assert!(
        stdout.contains("`memory_from_the_source`"),
        "the crashed check is named: {stdout}"
    );
    // The checks before and after it ran: malloc(0) passes.
    assert!(!stdout.contains("(`malloc_zero`)"), "{stdout}");
    assert!(
        stdout.contains(" checks fail.") && stdout.contains(" of 23 "),
        "{stdout}"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_solution_waits_for_a_pass_unless_forced() {
    let dir = workspace("solution", false);
    let out = workbook(&dir, &["solution", "1"], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!text(&out.stdout).contains("align_up"));
    let out = workbook(&dir, &["solution", "1", "--force"], "");
    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("hole `payload_size`") && stdout.contains("align_up"),
        "{stdout}"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn reset_asks_then_restores_the_skeleton() {
    let dir = workspace("reset", false);
    let lib = dir.join("exercises/1-bump/src/lib.rs");
    let skeleton = fs::read_to_string(&lib).unwrap();
    fs::write(&lib, "// my attempt\n").unwrap();
    let out = workbook(&dir, &["reset", "1"], "n\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(fs::read_to_string(&lib).unwrap(), "// my attempt\n");
    let out = workbook(&dir, &["reset", "1"], "y\n");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::read_to_string(&lib).unwrap(), skeleton);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn usage_errors_exit_with_2() {
    let dir = workspace("usage", false);
    let beyond = (workbook_manifest::STAGES.len() + 1).to_string();
    for args in [
        &["check", beyond.as_str()][..],
        &["hint", "0"],
        &["hint", "1", "no_such_hole"],
        &["check"],
        &["solution", "x"],
    ] {
        let out = workbook(&dir, args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
    let out = workbook(&dir, &["hint", "1", "no_such_hole"], "");
    assert_eq!(
        text(&out.stderr),
        "error: exercise 1 has no hole `no_such_hole`; its holes are `payload_size`, `bump`\n"
    );
    for command in ["check", "hint", "watch", "reset", "solution"] {
        let out = workbook(&dir, &[command, "--help"], "");
        assert!(
            out.status.success() && !out.stdout.is_empty(),
            "{command} --help"
        );
    }
    fs::remove_dir_all(dir).unwrap();
}
