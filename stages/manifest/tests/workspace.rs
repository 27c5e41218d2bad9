//! The workspace's `Cargo.toml` and directories agree with the manifest:
//! every stage's crate, preload crate and exercise is a member, the stages
//! and preload crates are default members (so the root `cargo test` runs
//! them) and the exercises are not (their holes are open), every stage is a
//! workspace dependency, and no stage directory exists that the manifest
//! lacks.

use std::path::{Path, PathBuf};

use workbook_manifest::{STAGES, Stage};

/// The workspace root (this crate is stages/manifest).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    let full = root().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The quoted strings of the array `key = [ ... ]` that starts a line of
/// `toml`, comments left out. Enough TOML for the workspace's lists.
fn array(toml: &str, key: &str) -> Vec<String> {
    let start = format!("{key} = [");
    let mut lines = toml.lines().skip_while(|line| !line.starts_with(&start));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("the root Cargo.toml has no `{key} = [` line"));
    let mut items = Vec::new();
    for line in std::iter::once(&first[start.len()..]).chain(lines) {
        let line = line.split('#').next().unwrap_or("");
        items.extend(
            line.split('"')
                .skip(1)
                .step_by(2)
                .map(|item| item.to_string()),
        );
        if line.contains(']') {
            return items;
        }
    }
    panic!("the root Cargo.toml's `{key}` list has no closing `]`")
}

/// The `name = { path = "..." }` lines of `[workspace.dependencies]`.
fn dependency_paths(toml: &str) -> Vec<(String, String)> {
    toml.lines()
        .skip_while(|line| line.trim() != "[workspace.dependencies]")
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter_map(|line| {
            let (name, value) = line.split_once('=')?;
            let path = value.split("path = \"").nth(1)?.split('"').next()?;
            Some((name.trim().to_string(), path.to_string()))
        })
        .collect()
}

/// The `name = "..."` of the `[package]` in `dir`/Cargo.toml.
fn package_name(dir: &str) -> Option<String> {
    let text = std::fs::read_to_string(root().join(dir).join("Cargo.toml")).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("name = \""))
        .and_then(|rest| rest.split('"').next())
        .map(str::to_string)
}

/// The names of the directories in `dir` that `looks_like` a stage's.
fn stage_like_dirs(dir: &str, looks_like: impl Fn(&str) -> bool) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("cannot read {dir}: {e}"))
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            (entry.path().is_dir() && looks_like(&name)).then_some(name)
        })
        .collect();
    found.sort();
    found
}

/// `stage` in words for a failure message.
fn who(stage: &Stage) -> String {
    format!("{} in stages/manifest", stage.label())
}

#[test]
fn every_stage_its_preload_crate_and_its_exercise_are_workspace_members() {
    let toml = read("Cargo.toml");
    let members = array(&toml, "members");
    let defaults = array(&toml, "default-members");
    let mut problems = Vec::new();
    for stage in STAGES {
        for (dir, what) in [
            (stage.stage_dir(), "its crate"),
            (stage.preload_dir(), "its preload crate"),
        ] {
            if !members.contains(&dir) {
                problems.push(format!(
                    "{}: the root Cargo.toml's `members` lacks \"{dir}\" ({what}): add it there",
                    who(stage)
                ));
            }
            if !defaults.contains(&dir) {
                problems.push(format!(
                    "{}: the root Cargo.toml's `default-members` lacks \"{dir}\" ({what}), so \
                     the root `cargo test` would skip it: add it there",
                    who(stage)
                ));
            }
        }
        let exercise = stage.exercise_dir();
        if !members.contains(&exercise) {
            problems.push(format!(
                "{}: the root Cargo.toml's `members` lacks \"{exercise}\" (its exercise), so \
                 `cargo workbook check {}` cannot build it: add it there",
                who(stage),
                stage.number
            ));
        }
        if defaults.contains(&exercise) {
            problems.push(format!(
                "{}: \"{exercise}\" is in the root Cargo.toml's `default-members`: remove it \
                 (an exercise's open holes would fail the root `cargo test`)",
                who(stage)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_stage_is_a_workspace_dependency() {
    let dependencies = dependency_paths(&read("Cargo.toml"));
    let mut problems = Vec::new();
    for stage in STAGES {
        let wanted = (stage.package(), stage.stage_dir());
        if !dependencies.contains(&wanted) {
            problems.push(format!(
                "{}: the root Cargo.toml's [workspace.dependencies] lacks the line\n  \
                 {} = {{ path = \"{}\" }}",
                who(stage),
                wanted.0,
                wanted.1
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_crate_has_the_name_the_manifest_derives() {
    let mut problems = Vec::new();
    for stage in STAGES {
        for (dir, wanted) in [
            (stage.stage_dir(), stage.package()),
            (stage.preload_dir(), stage.preload_package()),
            (stage.exercise_dir(), stage.exercise_package()),
        ] {
            match package_name(&dir) {
                Some(name) if name == wanted => {}
                Some(name) => problems.push(format!(
                    "{}: {dir}/Cargo.toml names its package \"{name}\"; the manifest \
                     derives \"{wanted}\": rename one of them",
                    who(stage)
                )),
                None => problems.push(format!(
                    "{}: there is no {dir}/Cargo.toml with a package name: create the crate \
                     (package \"{wanted}\"){}",
                    who(stage),
                    if dir.starts_with("exercises/") {
                        " with `UPDATE_EXERCISES=1 cargo test -p holes --test drift`"
                    } else {
                        ""
                    }
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_stage_directory_is_missing_from_the_manifest() {
    let numbered = |name: &str| {
        name.split_once('-')
            .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
    };
    let preload = |name: &str| {
        name.strip_prefix("stage")
            .is_some_and(|n| n.parse::<u32>().is_ok())
    };
    let mut problems = Vec::new();
    let known = |dir: &str| STAGES.iter().any(|stage| stage.dir == dir);
    for dir in stage_like_dirs("stages", numbered) {
        if !known(&dir) {
            problems.push(format!(
                "stages/{dir} looks like a stage, but stages/manifest/src/lib.rs has no stage \
                 with dir \"{dir}\": add its entry to STAGES (or remove the directory)"
            ));
        }
    }
    for dir in stage_like_dirs("exercises", numbered) {
        if !known(&dir) {
            problems.push(format!(
                "exercises/{dir} has no stage with dir \"{dir}\" in stages/manifest/src/lib.rs: \
                 add the stage's entry to STAGES (or remove the directory)"
            ));
        }
    }
    for dir in stage_like_dirs("tools/preload", preload) {
        let path = format!("tools/preload/{dir}");
        if !STAGES.iter().any(|stage| stage.preload_dir() == path) {
            problems.push(format!(
                "{path} is a preload crate for a stage that stages/manifest/src/lib.rs does \
                 not list: add the stage's entry to STAGES (or remove the directory)"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_list_parser_reads_the_workspace_lists() {
    let toml = "members = [\n  \"a\", # \"not this\"\n  \"b\",\n]\nother = [\"c\"]\n";
    assert_eq!(array(toml, "members"), ["a", "b"]);
    assert_eq!(array(toml, "other"), ["c"]);
}
