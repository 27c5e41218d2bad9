//! The `workbook` binary, run as a learner runs it.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the binary from the repository's root (where `traces/` is).
fn workbook(args: &[&str]) -> Output {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    Command::new(env!("CARGO_BIN_EXE_workbook"))
        .args(args)
        .current_dir(root)
        .output()
        .expect("the workbook binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn no_arguments_prints_the_course_map() {
    let out = workbook(&[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("stage 1"), "{stdout}");
    assert!(
        stdout.contains("cargo workbook replay TRACE --stage N"),
        "{stdout}"
    );
    // Not a terminal here, so no colour codes.
    assert!(!stdout.contains('\x1b'), "{stdout}");
}

#[test]
fn replays_a_sample_trace_on_stage_1() {
    let out = workbook(&[
        "replay",
        "traces/small-churn.rep",
        "--stage",
        "1",
        "--runs",
        "1",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    for word in [
        "utilization",
        "peak footprint",
        "time vs system",
        "stage 1 (bump)",
    ] {
        assert!(stdout.contains(word), "no {word:?} in:\n{stdout}");
    }
}

#[test]
fn a_malformed_trace_names_its_line() {
    let path = std::env::temp_dir().join(format!("workbook-bad-{}.rep", std::process::id()));
    std::fs::write(&path, "0\n1\n2\n1\na 0 16\nq 0 16\n").unwrap();
    let out = workbook(&["replay", path.to_str().unwrap(), "--stage", "1"]);
    std::fs::remove_file(&path).unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr.contains("line 6: unknown op `q`"), "{stderr}");
}

#[test]
fn a_trace_that_frees_a_dead_block_names_its_op() {
    let path = std::env::temp_dir().join(format!("workbook-dead-{}.rep", std::process::id()));
    std::fs::write(&path, "0\n1\n2\n1\na 0 16\nf 0\nf 0\n").unwrap();
    let out = workbook(&["replay", path.to_str().unwrap(), "--stage", "1"]);
    std::fs::remove_file(&path).unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr.contains("op 3 frees id 0, which holds no block"),
        "{stderr}"
    );
}

/// `map` and `replay` check a trace with the same validator, and say the
/// same one line about it.
#[test]
fn map_and_replay_refuse_the_same_traces_with_the_same_words() {
    for (ops, expected) in [
        (
            "a 0 16\na 0 16\n",
            "op 2 allocates id 0, which still holds a block",
        ),
        (
            "m 0 3 16\n",
            "op 1 asks memalign for an alignment of 3, which is not a power of two",
        ),
        (
            "a 0 16\nf 0\nf 0\n",
            "op 3 frees id 0, which holds no block",
        ),
    ] {
        let path = std::env::temp_dir().join(format!(
            "workbook-validate-{}-{}.rep",
            std::process::id(),
            expected.len()
        ));
        std::fs::write(&path, format!("0\n1\n2\n1\n{ops}")).unwrap();
        let path_text = path.to_str().unwrap();
        for args in [
            &["map", path_text, "--stage", "1"][..],
            &["replay", path_text, "--stage", "1", "--runs", "1"],
        ] {
            let out = workbook(args);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
            assert_eq!(
                stderr.lines().filter(|l| l.starts_with("error:")).count(),
                1,
                "{args:?}: {stderr}"
            );
            assert!(stderr.contains(expected), "{args:?}: {stderr}");
        }
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn run_without_a_program_says_so_in_one_line() {
    let out = workbook(&["run", "3"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: give the program to run after `--`"),
        "{stderr}"
    );
}

#[test]
fn a_trace_that_cannot_be_written_fails_before_the_program_runs() {
    let out = workbook(&[
        "run",
        "3",
        "--trace",
        "/nonexistent/dir/out.rep",
        "--",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot write the trace to /nonexistent/dir/out.rep"),
        "{stderr}"
    );
}

#[test]
fn a_missing_stage_is_a_clear_error() {
    let last = workbook_manifest::STAGES.last().expect("a stage").number;
    for stage in [last + 1, 0] {
        let expected = workbook_manifest::no_such_stage(stage);
        let stage = stage.to_string();
        for args in [
            &["replay", "traces/small-churn.rep", "--stage", &stage][..],
            &["map", "book/drills/five-ops.rep", "--stage", &stage],
            &["run", &stage, "--", "true"],
            &["bench", "--stages", &stage],
        ] {
            let out = workbook(args);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
            assert!(stderr.contains(&expected), "{args:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        }
    }
}

#[test]
fn a_missing_file_is_an_error() {
    let out = workbook(&["replay", "traces/no-such-trace.rep", "--stage", "1"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(text(&out.stderr).contains("cannot read traces/no-such-trace.rep"));
}

#[test]
fn explores_the_split_drill_op_by_op() {
    let out = workbook(&["explore", "book/drills/split.rep", "--stage", "4"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    // Op 4 asks for 60 bytes: stage 4 cuts the freed 1024 into 64s.
    for line in ["op 4: a 2 60", "free lists now: 64: 12, 1024: 0"] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }

    let out = workbook(&["explore", "book/drills/split.rep", "--stage", "3", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["stage"], 3);
    assert_eq!(json["ops"].as_array().map(Vec::len), Some(5));
    // The heap before the first op, and after each of the five.
    assert_eq!(json["steps"].as_array().map(Vec::len), Some(6));
    assert_eq!(json["footprint"].as_array().map(Vec::len), Some(6));
}

/// The peak utilization `replay` prints for the stage (its first column).
fn stage_utilization(stdout: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("peak utilization"))
        .unwrap_or_else(|| panic!("no utilization in:\n{stdout}"));
    line.split_whitespace().nth(2).unwrap().to_string()
}

#[test]
fn replays_a_trace_under_first_fit_and_best_fit() {
    let mut seen = Vec::new();
    for policy in ["first-fit", "best-fit"] {
        let out = workbook(&[
            "replay",
            "traces/mixed.rep",
            "--stage",
            "3",
            "--policy",
            policy,
            "--runs",
            "1",
        ]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        let label = format!("stage 3 (free-list reuse) under {policy},lifo");
        assert!(stdout.contains(&label), "no {label:?} in:\n{stdout}");
        seen.push(stage_utilization(&stdout));
    }
    // Best fit fills the holes first fit leaves on this trace.
    assert_eq!(seen, ["35.6%", "53.3%"]);
}

#[test]
fn maps_the_fit_drill_under_two_policies() {
    let map = |policy: &str| {
        let out = workbook(&[
            "map",
            "book/drills/fit.rep",
            "--stage",
            "3",
            "--policy",
            policy,
        ]);
        assert!(out.status.success(), "{out:?}");
        text(&out.stdout)
    };
    let (first, best) = (map("first-fit"), map("best-fit"));
    // First fit leaves a hole and grows the heap; best fit fills every hole.
    assert!(first.contains("large: 1"), "{first}");
    assert!(best.contains("large: 0"), "{best}");
}

#[test]
fn a_policy_the_stage_cannot_run_is_a_one_line_error() {
    let mut errors = String::new();
    for args in [
        &[
            "replay",
            "traces/mixed.rep",
            "--stage",
            "3",
            "--policy",
            "fastest-fit",
        ][..],
        &[
            "replay",
            "traces/mixed.rep",
            "--stage",
            "3",
            "--policy",
            "merge",
        ],
        &[
            "map",
            "book/drills/fit.rep",
            "--stage",
            "4",
            "--policy",
            "first-fit,best-fit",
        ],
        &[
            "map",
            "book/drills/fit.rep",
            "--stage",
            "2",
            "--policy",
            "first-fit",
        ],
        &["policies", "traces/mixed.rep", "--stage", "1"],
    ] {
        let out = workbook(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        errors.push_str(&format!("{}\n{stderr}\n", args.join(" ")));
    }
    insta::assert_snapshot!(errors);
}

#[test]
fn policies_compares_every_policy_of_a_stage() {
    let out = workbook(&[
        "policies",
        "traces/mixed.rep",
        "book/drills/fit.rep",
        "--stage",
        "3",
        "--no-time",
    ]);
    assert!(out.status.success(), "{out:?}");
    insta::assert_snapshot!(text(&out.stdout));

    let out = workbook(&[
        "policies",
        "book/drills/fit.rep",
        "--stage",
        "4",
        "--runs",
        "1",
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rows = json.as_array().expect("an array of rows");
    assert_eq!(rows.len(), 12, "{json}");
    assert_eq!(rows[0]["policy"], "best-fit,lifo");
    assert_eq!(rows[0]["own"], true);
    assert_eq!(rows[0]["time_vs_own"], 1.0);
    assert!(
        rows.iter().all(|r| r["ns_per_op"].as_f64().is_some()),
        "{json}"
    );
}
