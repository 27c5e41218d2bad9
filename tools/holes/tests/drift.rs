//! Skeleton and stage cannot drift: every committed exercise is exactly
//! what the generator makes from its stage, and filling its holes with the
//! stage's code gives back the stage. `UPDATE_EXERCISES=1` rewrites the
//! exercises instead of comparing.

use std::fs;
use std::path::{Path, PathBuf};

use conformance::exercise::{NAMES, describe};
use holes::{EXERCISES, generate, hole};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn exercises_are_generated_from_their_stages() {
    let root = root();
    let texts = holes::read_hints(&root).unwrap();
    let checks: Vec<_> = NAMES.iter().map(|&name| (name, describe(name))).collect();
    let update = std::env::var_os("UPDATE_EXERCISES").is_some();
    let mut problems = Vec::new();
    for exercise in EXERCISES {
        let dir = root.join("exercises").join(exercise.dir);
        let files = generate::exercise(&root, exercise, &texts, &checks).unwrap();
        for (path, text) in &files {
            let target = dir.join(path);
            if update {
                fs::create_dir_all(target.parent().unwrap()).unwrap();
                if fs::read_to_string(&target).ok().as_deref() != Some(text) {
                    fs::write(&target, text).unwrap();
                }
            } else if fs::read_to_string(&target).ok().as_deref() != Some(text) {
                problems.push(format!("exercises/{}/{path} differs", exercise.dir));
            }
        }
        // Nothing else in src/ and tests/: a file the stage lost must go.
        for sub in ["src", "tests"] {
            for (name, _) in generate::read_dir(&dir.join(sub)).unwrap() {
                let path = format!("{sub}/{name}");
                if !files.iter().any(|(p, _)| *p == path) {
                    if update {
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
        problems.is_empty(),
        "the exercises drifted from their stages:\n  {}\n\
         Regenerate them: UPDATE_EXERCISES=1 cargo test -p holes --test drift",
        problems.join("\n  ")
    );
}

#[test]
fn filling_the_holes_gives_back_the_stage() {
    if std::env::var_os("UPDATE_EXERCISES").is_some() {
        return; // The other test is rewriting the files right now.
    }
    let root = root();
    for exercise in EXERCISES {
        let stage = root.join("stages").join(exercise.dir).join("src");
        let mut holes = 0;
        for (name, text) in generate::read_dir(&stage).unwrap() {
            let path = root
                .join("exercises")
                .join(exercise.dir)
                .join("src")
                .join(&name);
            let skeleton = fs::read_to_string(&path).unwrap();
            holes += hole::find(&skeleton).unwrap().len();
            let filled = hole::fill(&skeleton, &text).unwrap();
            if let Some((at, (a, b))) = filled
                .lines()
                .zip(text.lines())
                .enumerate()
                .find(|(_, (a, b))| a != b)
            {
                panic!(
                    "exercises/{}/src/{name} filled is not the stage's, from line {}:\n  filled: {a}\n  stage:  {b}\n\
                     Regenerate: UPDATE_EXERCISES=1 cargo test -p holes --test drift",
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
fn every_exercise_has_hints_and_no_stray_holes() {
    let root = root();
    let texts = holes::read_hints(&root).unwrap();
    for exercise in EXERCISES {
        let text = texts
            .iter()
            .find(|t| t.number == exercise.number)
            .unwrap_or_else(|| panic!("no hints for exercise {}", exercise.number));
        assert!(
            text.hints.len() >= 3,
            "exercise {}: fewer than 3 hints",
            exercise.number
        );
        let stage = root.join("stages").join(exercise.dir).join("src");
        let mut names = Vec::new();
        for (_, source) in generate::read_dir(&stage).unwrap() {
            names.extend(hole::find(&source).unwrap().into_iter().map(|h| h.name));
        }
        for (hole, _) in &text.holes {
            assert!(
                names.contains(hole),
                "exercises/hints.md describes hole `{hole}` of exercise {}, which the stage does not have",
                exercise.number
            );
        }
    }
}
