//! Every stage of the manifest has its test files here, and no file is
//! here for a stage the manifest lacks:
//!
//! - tests/stageN.rs: the whole suite on the stage, and the snapshot of its
//!   heap map after the fixed sequence (snapshots/stageN__...snap), which
//!   the book shows and the exercise checks compare with;
//! - tests/global_stageN.rs: the stage as a program's `#[global_allocator]`;
//! - tests/lessons.rs: from stage 2 on, the stage's lesson (a test named
//!   `stageN_...`), run on the stage and on the one before;
//! - tests/faults.rs and tests/stress.rs: out of memory, random failures of
//!   the sources, and eight threads, on each stage;
//! - .ci/miri: the stage's crate among the packages Miri tests.
//!
//! These files name each stage's type, so they list the stages by hand;
//! this test is what keeps the lists whole.

use std::path::{Path, PathBuf};

use workbook_manifest::STAGES;

/// This crate's tests/ folder.
fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

#[test]
#[cfg_attr(miri, ignore = "reads the tests folder: Miri keeps tests from files")]
fn every_stage_has_its_test_files() {
    let dir = tests_dir();
    let mut problems = Vec::new();
    for stage in STAGES {
        let n = stage.number;
        let files = [
            (
                format!("stage{n}.rs"),
                "the suite on the stage and its heap map snapshot, like the stage before's"
                    .to_string(),
            ),
            (
                format!("global_stage{n}.rs"),
                format!(
                    "the stage as #[global_allocator]: one line, \
                     `conformance::global_allocator_tests!({krate}::{ty}, {krate}::{ty}::new());`",
                    krate = stage.crate_name(),
                    ty = stage.type_name
                ),
            ),
            (
                format!("snapshots/stage{n}__heap_map_after_fixed_sequence.snap"),
                format!(
                    "the heap map snapshot: run `cargo test -p conformance --test stage{n}` \
                     and review the .snap.new it writes"
                ),
            ),
        ];
        for (file, fix) in files {
            if !dir.join(&file).is_file() {
                problems.push(format!(
                    "{}: there is no tests/tests/{file}: add {fix}",
                    stage.label()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
#[cfg_attr(miri, ignore = "reads the tests folder: Miri keeps tests from files")]
fn every_stage_from_2_on_has_a_lesson_test() {
    let lessons = std::fs::read_to_string(tests_dir().join("lessons.rs")).unwrap();
    let mut problems = Vec::new();
    for stage in STAGES.iter().skip(1) {
        let n = stage.number;
        if !lessons.contains(&format!("fn stage{n}_")) {
            problems.push(format!(
                "{}: tests/tests/lessons.rs has no lesson test `fn stage{n}_...`: add one that \
                 proves \"{}\" on stage {n} and fails on stage {} (with `learned`)",
                stage.label(),
                stage.lesson,
                n - 1
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
#[cfg_attr(miri, ignore = "reads the tests folder: Miri keeps tests from files")]
fn every_stage_runs_in_the_fault_and_stress_tests() {
    let read = |file: &str| std::fs::read_to_string(tests_dir().join(file)).unwrap();
    let (faults, stress) = (read("faults.rs"), read("stress.rs"));
    let mut problems = Vec::new();
    for stage in STAGES {
        let n = stage.number;
        for test in ["out_of_memory", "random_failures"] {
            if !faults.contains(&format!("fn stage{n}_{test}")) {
                problems.push(format!(
                    "{}: tests/tests/faults.rs has no test `fn stage{n}_{test}...`: add one \
                     like the stage before's",
                    stage.label()
                ));
            }
        }
        let global = format!(
            "GlobalMalloc({}::{}::new())",
            stage.crate_name(),
            stage.type_name
        );
        if !stress.contains(&global) {
            problems.push(format!(
                "{}: tests/tests/stress.rs does not stress stage {n}: add \
                 `pass(stress(&{global}, THREADS, OPS));` to `eight_threads_on_every_stage`",
                stage.label()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
#[cfg_attr(miri, ignore = "reads the tests folder: Miri keeps tests from files")]
fn no_test_file_is_for_a_stage_the_manifest_lacks() {
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(tests_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let number = name
            .strip_suffix(".rs")
            .and_then(|stem| stem.strip_prefix("global_").or(Some(stem)))
            .and_then(|stem| stem.strip_prefix("stage"))
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(n) = number
            && workbook_manifest::find(n).is_none()
        {
            problems.push(format!(
                "tests/tests/{name} tests stage {n}, which stages/manifest/src/lib.rs does not \
                 list: add the stage to STAGES (or remove the file)"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
#[cfg_attr(miri, ignore = "reads the tests folder: Miri keeps tests from files")]
fn every_stage_runs_under_miri() {
    let script = tests_dir().join("../../.ci/miri");
    let script = std::fs::read_to_string(script).unwrap();
    let problems: Vec<String> = STAGES
        .iter()
        .filter(|stage| !script.contains(&format!("-p {}\n", stage.package())))
        .map(|stage| {
            format!(
                "{}: .ci/miri does not run its tests under Miri: add `-p {}` to its packages",
                stage.label(),
                stage.package()
            )
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
