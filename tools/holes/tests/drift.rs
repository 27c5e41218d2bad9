//! Skeleton and stage cannot drift: every committed exercise is exactly
//! what the generator makes from its stage, and filling its holes with the
//! stage's code gives back the stage.
//!
//! A learner works in exercises/N-name/src, so a file there may hold
//! filled holes. Then the committed skeleton (from git) is compared
//! instead, with one line saying so, and the root `cargo test` stays green
//! while the learner works.
//!
//! `UPDATE_EXERCISES=1` rewrites the exercises instead of comparing, but
//! never a file whose holes are filled: it names them and fails. Put their
//! holes back first (`cargo workbook reset N`), or overwrite them anyway
//! with `UPDATE_EXERCISES=force`.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use conformance::exercise::{NAMES, describe};
use holes::{EXERCISES, generate, hints, hole};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One line on the terminal, even when the test harness captures output.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "    note: {line}");
}

/// The committed version of `path` (relative to the root), if git has it.
fn committed(root: &Path, path: &str) -> Option<String> {
    let output = Command::new("git")
        .args(["show", &format!("HEAD:{path}")])
        .current_dir(root)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn exercises_are_generated_from_their_stages() {
    let root = root();
    let texts = holes::read_hints(&root).unwrap();
    let checks: Vec<_> = NAMES.iter().map(|&name| (name, describe(name))).collect();
    let update = std::env::var("UPDATE_EXERCISES").ok();
    let force = update.as_deref() == Some("force");
    let mut problems = Vec::new();
    let mut kept = Vec::new();
    for exercise in EXERCISES {
        let dir = root.join("exercises").join(exercise.dir);
        let files = generate::exercise(&root, exercise, &texts, &checks).unwrap();
        let mut edited = false;
        for (path, text) in &files {
            let target = dir.join(path);
            let name = format!("exercises/{}/{path}", exercise.dir);
            let on_disk = fs::read_to_string(&target).ok();
            if on_disk.as_deref() == Some(text) {
                continue;
            }
            let filled = on_disk.as_deref().is_some_and(hole::has_filled_holes);
            if update.is_some() {
                if filled && !force {
                    kept.push(name);
                    continue;
                }
                fs::create_dir_all(target.parent().unwrap()).unwrap();
                fs::write(&target, text).unwrap();
            } else if filled {
                // A learner's work: the committed skeleton must be current.
                edited = true;
                match committed(&root, &name) {
                    Some(skeleton) if skeleton == *text => {}
                    Some(_) => problems.push(format!(
                        "{name} holds filled holes, and its committed skeleton differs from \
                         what the generator makes"
                    )),
                    None => say(&format!(
                        "{name} holds filled holes, and git has no committed skeleton to \
                         compare: skipped"
                    )),
                }
            } else {
                problems.push(format!("{name} differs"));
            }
        }
        if edited {
            say(&format!(
                "exercises/{}/src holds your filled holes: the committed skeleton is compared \
                 instead",
                exercise.dir
            ));
        }
        // Nothing else in src/ and tests/: a file the stage lost must go.
        for sub in ["src", "tests"] {
            for (name, _) in generate::read_dir(&dir.join(sub)).unwrap() {
                let path = format!("{sub}/{name}");
                if !files.iter().any(|(p, _)| *p == path) {
                    if update.is_some() {
                        fs::remove_file(dir.join(&path)).unwrap();
                    } else {
                        problems.push(format!(
                            "exercises/{}/{path} has no stage file",
                            exercise.dir
                        ));
                    }
                }
            }
        }
    }
    assert!(
        kept.is_empty(),
        "not rewritten, because their holes are filled (a learner's work):\n  {}\n\
         Put their holes back first (`cargo workbook reset N`), or overwrite them anyway with \
         UPDATE_EXERCISES=force cargo test -p holes --test drift",
        kept.join("\n  ")
    );
    assert!(
        problems.is_empty(),
        "the exercises drifted from their stages:\n  {}\n\
         Regenerate them: UPDATE_EXERCISES=1 cargo test -p holes --test drift \
         (it leaves files whose holes are filled alone)",
        problems.join("\n  ")
    );
}

/// exercises/README.md lists each exercise's holes with their sizes, as
/// the stages have them now.
#[test]
fn the_readme_lists_the_holes_and_their_sizes() {
    let root = root();
    let texts = holes::read_hints(&root).unwrap();
    let path = root.join("exercises/README.md");
    let readme = fs::read_to_string(&path).unwrap();
    let table = generate::holes_table(&root, &texts).unwrap();
    let fresh = generate::readme_with_table(&readme, &table).unwrap();
    if fresh == readme {
        return;
    }
    if std::env::var_os("UPDATE_EXERCISES").is_some() {
        fs::write(&path, fresh).unwrap();
        return;
    }
    panic!(
        "exercises/README.md's table of holes is not the stages':\n{table}\n\
         Rewrite it: UPDATE_EXERCISES=1 cargo test -p holes --test drift"
    );
}

#[test]
fn filling_the_holes_gives_back_the_stage() {
    let root = root();
    let texts = holes::read_hints(&root).unwrap();
    for exercise in EXERCISES {
        // The generated skeleton: the test above proves it is the
        // committed one, and it holds no learner's work.
        let skeletons = generate::skeleton_sources(&root, exercise, &texts).unwrap();
        let stage = root.join("stages").join(exercise.dir).join("src");
        let mut holes = 0;
        for (name, text) in generate::read_dir(&stage).unwrap() {
            let path = format!("src/{name}");
            let (_, skeleton) = skeletons
                .iter()
                .find(|(p, _)| *p == path)
                .expect("a skeleton for every stage file");
            holes += hole::find(skeleton).unwrap().len();
            let filled = hole::fill(skeleton, &text).unwrap();
            if let Some((at, (a, b))) = filled
                .lines()
                .zip(text.lines())
                .enumerate()
                .find(|(_, (a, b))| a != b)
            {
                panic!(
                    "exercises/{}/src/{name} filled is not the stage's, from line {}:\n  filled: {a}\n  stage:  {b}",
                    exercise.dir,
                    at + 1
                );
            }
            assert_eq!(
                filled.lines().count(),
                text.lines().count(),
                "exercises/{}/src/{name} filled is not the stage's: lengths differ",
                exercise.dir
            );
        }
        assert!(holes >= 2, "exercise {} has {holes} holes", exercise.number);
    }
}

#[test]
fn every_hole_has_its_hints_and_no_hint_is_stray() {
    let root = root();
    let texts = holes::read_hints(&root).unwrap();
    let mut problems = Vec::new();
    for exercise in EXERCISES {
        let Some(text) = texts.iter().find(|t| t.number == exercise.number) else {
            problems.push(format!(
                "exercises/hints.md has no `# Exercise {}`",
                exercise.number
            ));
            continue;
        };
        let stage = root.join("stages").join(exercise.dir).join("src");
        let mut names = Vec::new();
        for (_, source) in generate::read_dir(&stage).unwrap() {
            names.extend(hole::find(&source).unwrap().into_iter().map(|h| h.name));
        }
        for name in &names {
            let Some(hole) = text.find(name) else {
                problems.push(format!(
                    "exercise {}: hole `{name}` has no `## hole {name}` in exercises/hints.md",
                    exercise.number
                ));
                continue;
            };
            let levels: Vec<&str> = hole.hints.iter().map(|(level, _)| level.as_str()).collect();
            if levels != hints::LEVELS || hole.hints.iter().any(|(_, text)| text.is_empty()) {
                problems.push(format!(
                    "exercise {}, hole `{name}`: its hints are {levels:?}; write one of each \
                     level, in order: {:?}",
                    exercise.number,
                    hints::LEVELS
                ));
            }
        }
        for hole in &text.holes {
            if !names.contains(&hole.name) {
                problems.push(format!(
                    "exercises/hints.md describes hole `{}` of exercise {}, which the stage \
                     does not have",
                    hole.name, exercise.number
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
