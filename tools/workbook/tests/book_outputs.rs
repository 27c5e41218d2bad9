//! The command output the book shows (book/src/generated/*.txt) is what the
//! CLI prints now. `UPDATE_BOOK=1 cargo test -p workbook --test book_outputs`
//! rewrites the files.
//!
//! The course map ends with the learner's own progress (read from
//! `exercises/.progress`); the book shows a fresh start. When a progress
//! file exists, only the part before the exercises is compared.

use std::path::Path;
use std::process::Command;

/// Runs the CLI with `args` at the workspace root (stdout is a pipe, so no
/// colours) and returns what it printed.
fn output(args: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_workbook"))
        .args(args)
        .current_dir(root)
        .env("COLUMNS", "100")
        .output()
        .expect("running the workbook CLI");
    assert!(out.status.success(), "workbook {args:?} failed");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Compares `text` with the committed file, or rewrites it.
fn same_as_committed(name: &str, text: &str, compare_up_to: Option<&str>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join("book/src/generated").join(name);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let cut = |s: &str| -> String {
        match compare_up_to.and_then(|marker| s.find(marker)) {
            Some(at) => s[..at].to_string(),
            None => s.to_string(),
        }
    };
    if cut(&committed) == cut(text) {
        return;
    }
    if std::env::var_os("UPDATE_BOOK").is_some_and(|v| v == "1") && compare_up_to.is_none() {
        std::fs::write(&path, text).unwrap();
        println!("rewrote {}", path.display());
        return;
    }
    panic!(
        "{} is stale: the CLI now prints\n{text}\nrewrite it with: \
         UPDATE_BOOK=1 cargo test -p workbook --test book_outputs \
         (with no exercises/.progress, so the map shows a fresh start)",
        path.display()
    );
}

#[test]
fn course_map_in_the_book_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fresh = !root.join("exercises/.progress").exists();
    let marker = (!fresh).then_some("\nExercises\n");
    same_as_committed("course-map.txt", &output(&[]), marker);
}

#[test]
fn help_in_the_book_is_current() {
    same_as_committed("workbook-help.txt", &output(&["--help"]), None);
}

#[test]
fn map_help_in_the_book_is_current() {
    same_as_committed("map-help.txt", &output(&["map", "--help"]), None);
}

#[test]
fn class_table_in_the_book_is_current() {
    same_as_committed("classes.txt", &output(&["classes"]), None);
}

/// The policy lab's table in "Choosing a policy": stage 4's policies on
/// the project's traces, without the time column (time changes from run
/// to run; the other columns are exact on the simulated break).
#[test]
fn policy_table_in_the_book_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut args = vec!["policies".to_string()];
    for dir in ["traces", "traces/real"] {
        let mut traces: Vec<String> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".rep"))
            .map(|name| format!("{dir}/{name}"))
            .collect();
        traces.sort();
        args.extend(traces);
    }
    args.extend(["--stage", "4", "--no-time"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    same_as_committed("policies-stage4.txt", &output(&args), None);
}
