//! The learner's loop: the exercises' progress, `check`, `hint`, `watch`,
//! `reset` and `solution`.
//!
//! The exercises live in exercises/N-name, one crate each, made from the
//! stages by tools/holes. Progress is kept in exercises/.progress, a small
//! text file in the workspace (git ignores it): which exercises passed
//! their last check, and how many hints of each were shown.

pub mod blame;
pub mod check;
pub mod progress;
pub mod run_tests;
pub mod watch;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use holes::{EXERCISES, Exercise, generate, hole};

use crate::Failure;
use crate::table::table;
use progress::Progress;

/// The workspace root: the nearest directory at or above the current one
/// that holds exercises/hints.md, else the one this binary was built in.
pub fn root() -> PathBuf {
    let here = std::env::current_dir().unwrap_or_default();
    here.ancestors()
        .find(|dir| dir.join("exercises/hints.md").is_file() && dir.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// The exercise numbered `number`, or a usage error listing them.
pub fn find(number: u32) -> Result<&'static Exercise, Failure> {
    holes::find(number).ok_or_else(|| Failure::Usage(workbook_manifest::no_such_exercise(number)))
}

/// `text` in a colour (an ANSI code), on a terminal only.
pub fn paint(text: &str, code: &str) -> String {
    if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// The exercise to do next: the first that has not passed.
pub fn next(progress: &Progress) -> Option<&'static Exercise> {
    EXERCISES
        .iter()
        .find(|exercise| !progress.passed(exercise.number))
}

/// The exercises part of the course map: progress and what to do next.
pub fn print_map(root: &Path) {
    let progress = Progress::load(root);
    let next = next(&progress);
    println!("{}", paint("Exercises", "1"));
    let mut rows = vec![vec![
        "exercise".to_string(),
        "crate".to_string(),
        "status".to_string(),
        "read first".to_string(),
    ]];
    for exercise in EXERCISES {
        let status = if progress.passed(exercise.number) {
            paint("passes", "32")
        } else if next.is_some_and(|n| n.number == exercise.number) {
            paint("next", "33")
        } else {
            "to do".to_string()
        };
        rows.push(vec![
            exercise.number.to_string(),
            exercise.exercise_dir(),
            status,
            exercise.chapter(),
        ]);
    }
    print!("{}", table(&rows, 2));
    println!();
    let done = EXERCISES
        .iter()
        .filter(|e| progress.passed(e.number))
        .count();
    match next {
        Some(exercise) => {
            let n = exercise.number;
            println!(
                "{done} of {} exercises pass. Next: exercise {n}.",
                EXERCISES.len()
            );
            println!(
                "  1. read {}\n  2. fill the holes (each a `todo!()`) in exercises/{}/src\n  3. cargo workbook check {n}     (or `cargo workbook watch` to re-check on save)",
                exercise.chapter(),
                exercise.dir
            );
            println!("  stuck? cargo workbook hint {n}");
        }
        None => println!("All {done} exercises pass: you have built a real malloc."),
    }
    println!();
}

/// `cargo workbook hint N [HOLE]`: the next hint for a hole, one level at
/// a time: the idea, the approach, then nearly the code. Without HOLE, the
/// hole the last failing check pointed at, else the first hole still open.
pub fn hint(root: &Path, number: u32, hole: Option<&str>) -> Result<(), Failure> {
    let exercise = find(number)?;
    let texts = holes::read_hints(root).map_err(Failure::Input)?;
    let text = texts
        .into_iter()
        .find(|t| t.number == number)
        .ok_or_else(|| {
            Failure::Input(format!("exercises/hints.md has no `# Exercise {number}`"))
        })?;
    let names: Vec<&str> = text.holes.iter().map(|h| h.name.as_str()).collect();
    let listed = || {
        names
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut progress = Progress::load(root);
    let spots = check::spots(root, exercise);
    let chosen = match hole {
        Some(name) => {
            if !names.contains(&name) {
                return Err(Failure::Usage(format!(
                    "exercise {number} has no hole `{name}`; its holes are {}",
                    listed()
                )));
            }
            name.to_string()
        }
        None => match progress
            .stuck(number)
            .filter(|stuck| names.contains(stuck))
            .map(str::to_string)
            .or_else(|| {
                spots
                    .iter()
                    .find(|spot| spot.open)
                    .map(|spot| spot.name.clone())
            }) {
            Some(name) => name,
            None => {
                println!(
                    "Every hole of exercise {number} is filled. Run `cargo workbook check {number}`: \
                     when a check fails, it names the hole to look at, and `cargo workbook hint \
                     {number}` then gives that hole's next hint. Or name one: `cargo workbook \
                     hint {number} HOLE` (the holes are {}).",
                    listed()
                );
                return Ok(());
            }
        },
    };
    let hints = &text.find(&chosen).expect("a hole of the hints file").hints;
    if hints.is_empty() {
        return Err(Failure::Input(format!(
            "exercises/hints.md has no hints for hole `{chosen}` of exercise {number}"
        )));
    }
    let level = (progress.hints_shown(number, &chosen) + 1).min(hints.len());
    progress.set_hints_shown(number, &chosen, level);
    progress.save(root).map_err(Failure::Input)?;
    let (title, body) = &hints[level - 1];
    println!(
        "{} (exercise {number}, {}): {title}\n",
        paint(
            &format!("Hint {level} of {} for hole `{chosen}`", hints.len()),
            "1"
        ),
        exercise.short_name
    );
    for line in body.lines() {
        println!("  {line}");
    }
    println!();
    if let Some(spot) = spots.iter().find(|spot| spot.name == chosen) {
        println!("The hole is in {}, from line {}.", spot.file, spot.lines.0);
    }
    if level < hints.len() {
        println!(
            "Run `cargo workbook hint {number}{}` again for the next hint.",
            if hole.is_some() {
                format!(" {chosen}")
            } else {
                String::new()
            }
        );
    } else {
        println!(
            "That was the last hint for `{chosen}`. `cargo workbook solution {number}` shows the \
             stage's code once the exercise passes."
        );
    }
    Ok(())
}

/// `cargo workbook solution N`: the stage's code for each hole, once the
/// exercise passes (or with `force`).
pub fn solution(root: &Path, number: u32, force: bool) -> Result<(), Failure> {
    let exercise = find(number)?;
    let progress = Progress::load(root);
    if !progress.passed(number) && !force {
        println!(
            "Exercise {number} does not pass yet, so its solution stays hidden: try\n  cargo workbook check {number}\n  cargo workbook hint {number}\nor see it anyway with `cargo workbook solution {number} --force`."
        );
        return Err(Failure::Fail);
    }
    let stage = root.join("stages").join(exercise.dir).join("src");
    for (file, text) in generate::read_dir(&stage).map_err(Failure::Input)? {
        let lines: Vec<&str> = text.lines().collect();
        for found in hole::find(&text).map_err(Failure::Input)? {
            println!(
                "{} in src/{file} (stages/{}/src/{file}, lines {}-{}):",
                paint(&format!("hole `{}`", found.name), "1"),
                exercise.dir,
                found.start + 1,
                found.end
            );
            // The book's anchors mean nothing here.
            for line in &lines[found.start..found.end] {
                if !line.contains("// ANCHOR") {
                    println!("  {line}");
                }
            }
            println!();
        }
    }
    println!(
        "The whole stage, with its chapter: stages/{}/ and {}.",
        exercise.dir,
        exercise.chapter()
    );
    Ok(())
}

/// `cargo workbook reset N`: puts the skeleton back in exercises/N/src,
/// after asking (unless `yes`).
pub fn reset(root: &Path, number: u32, yes: bool) -> Result<(), Failure> {
    let exercise = find(number)?;
    let src = format!("exercises/{}/src", exercise.dir);
    if !yes {
        print!("This puts the holes back in {src}: your code there is lost. Reset? [y/N] ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("Nothing changed.");
            return Err(Failure::Fail);
        }
    }
    let texts = holes::read_hints(root).map_err(Failure::Input)?;
    let files = generate::skeleton_sources(root, exercise, &texts).map_err(Failure::Input)?;
    let dir = root.join("exercises").join(exercise.dir);
    for (path, text) in files {
        std::fs::write(dir.join(&path), text)
            .map_err(|e| Failure::Input(format!("writing {src}/{path}: {e}")))?;
    }
    let mut progress = Progress::load(root);
    progress.set_passed(number, false);
    progress.forget_hints(number);
    progress.set_stuck(number, None);
    progress.save(root).map_err(Failure::Input)?;
    println!("Exercise {number} is back to its skeleton: {src}.");
    Ok(())
}
