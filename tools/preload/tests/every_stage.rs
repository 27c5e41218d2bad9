//! Every stage of the manifest has its preload crate, tools/preload/stageN,
//! and its library is that stage: the crate's names are the ones the
//! manifest derives, its lib.rs exports stage N's allocator, and the built
//! library says "stage N" in its statistics.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Allocator, libraries, run, workspace};
use workbook_manifest::{STAGES, Stage};

/// What is wrong with `stage`'s preload crate, each with its fix.
fn crate_problems(stage: &Stage) -> Vec<String> {
    let dir = stage.preload_dir();
    let read = |file: &str| std::fs::read_to_string(workspace().join(&dir).join(file));
    let (Ok(toml), Ok(lib)) = (read("Cargo.toml"), read("src/lib.rs")) else {
        return vec![format!(
            "{}: there is no {dir} with Cargo.toml and src/lib.rs: copy tools/preload/stage1 \
             and change its numbers and names, and add \"{dir}\" to the workspace's members \
             and default-members",
            stage.label()
        )];
    };
    let wanted_lines = [
        (
            format!("name = \"{}\"", stage.preload_package()),
            "the package name",
        ),
        (
            format!("name = \"{}\"", stage.preload_library()),
            "the library name, under [lib]",
        ),
        (
            "crate-type = [\"cdylib\"]".to_string(),
            "a C library, under [lib]",
        ),
        (
            format!("{}.workspace = true", stage.package()),
            "the stage crate, under [dependencies]",
        ),
    ];
    let mut problems = Vec::new();
    for (line, what) in wanted_lines {
        if !toml.lines().any(|l| l.trim() == line) {
            problems.push(format!(
                "{}: {dir}/Cargo.toml lacks the line `{line}` ({what})",
                stage.label()
            ));
        }
    }
    let allocator = format!("{}::{}", stage.crate_name(), stage.type_name);
    let export = format!(
        "preload::export!({}, {allocator}, {allocator}::new());",
        stage.number
    );
    // Compared without white space: rustfmt may break the call into lines.
    let squeeze = |text: &str| text.split_whitespace().collect::<String>();
    if !squeeze(&lib).contains(&squeeze(&export)) {
        problems.push(format!(
            "{}: {dir}/src/lib.rs does not export stage {}: it should say\n  {export}",
            stage.label(),
            stage.number
        ));
    }
    problems
}

#[test]
fn every_stage_has_a_preload_crate_that_exports_it() {
    let problems: Vec<String> = STAGES.iter().flat_map(crate_problems).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_library_reports_its_own_stage() {
    for library in libraries() {
        let mut command = Command::new("true");
        Allocator::Stage(library).apply(&mut command);
        command.env("WORKBOOK_STATS", "1");
        let outcome = run(&mut command, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&outcome.stderr);
        let wanted = format!("workbook stage {} (pid", library.stage);
        assert!(
            stderr.contains(&wanted),
            "`true` under {} with WORKBOOK_STATS=1 ({}) should print `{wanted} ...`; \
             its stderr:\n{stderr}",
            library.path.display(),
            outcome.status_text()
        );
    }
}
