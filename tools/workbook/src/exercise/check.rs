//! `cargo workbook check N`: runs exercise N's tests and says in words what
//! failed: one paragraph per failing check (what it expects, what
//! happened, the shrunk trace and the heap map when it has them), the
//! hole to look at with the learner's own file and line, and a crash told
//! apart from a build failure.
//!
//! The tests run through [`run_tests`](super::run_tests); tests/check.rs
//! says in a doc comment what each check asks.

use std::path::Path;

use holes::{EXERCISES, Exercise, hole};

use super::progress::Progress;
use super::run_tests::{self, Crash, Outcome};
use super::{blame, find, paint};
use crate::Failure;

/// A hole in the learner's sources: where it is, and whether it is open.
#[derive(Clone, Debug)]
pub struct Spot {
    /// The hole's name.
    pub name: String,
    /// Its file, from the workspace root: `exercises/1-bump/src/lib.rs`.
    pub file: String,
    /// Its first and last line (1-based), the markers included.
    pub lines: (usize, usize),
    /// Whether it still holds only its `todo!()`.
    pub open: bool,
}

/// The holes of `exercise` as the learner's sources hold them now, in the
/// order the hints file lists them.
pub fn spots(root: &Path, exercise: &Exercise) -> Vec<Spot> {
    let src = root.join("exercises").join(exercise.dir).join("src");
    let mut spots = Vec::new();
    for (name, text) in holes::generate::read_dir(&src).unwrap_or_default() {
        let lines: Vec<&str> = text.lines().collect();
        for found in hole::find(&text).unwrap_or_default() {
            spots.push(Spot {
                name: found.name.clone(),
                file: format!("exercises/{}/src/{name}", exercise.dir),
                lines: (found.start, found.end + 1),
                open: hole::is_open(&found, &lines),
            });
        }
    }
    let order: Vec<String> = holes::read_hints(root)
        .ok()
        .and_then(|texts| texts.into_iter().find(|t| t.number == exercise.number))
        .map(|text| text.holes.into_iter().map(|hole| hole.name).collect())
        .unwrap_or_default();
    spots.sort_by_key(|spot| order.iter().position(|name| *name == spot.name));
    spots
}

/// The hole a failure points at, and why.
#[derive(Clone, Debug)]
pub struct Pointer {
    /// The hole.
    pub hole: String,
    /// Where, and what happened there, in words.
    pub why: String,
}

/// Runs exercise `number`'s tests, prints the report, records the result.
pub fn run(root: &Path, number: u32) -> Result<(), Failure> {
    let exercise = find(number)?;
    let outcome = run_tests::test(root, exercise)?;
    let passed = outcome.failed.is_empty() && outcome.crashed.is_empty();
    let spots = spots(root, exercise);
    let mut pointer = point(exercise, &outcome, &spots);
    if !passed && pointer.is_none() {
        let names: Vec<String> = checks(root, exercise)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        pointer = blame::find(root, exercise, &outcome, &spots, &names).or_else(|| emptied(&spots));
    }
    let mut progress = Progress::load(root);
    progress.set_passed(number, passed);
    progress.set_stuck(number, pointer.as_ref().map(|p| p.hole.as_str()));
    progress.save(root).map_err(Failure::Input)?;
    print!(
        "{}",
        report(root, exercise, &outcome, pointer.as_ref(), &progress)
    );
    if passed { Ok(()) } else { Err(Failure::Fail) }
}

/// A hole whose `todo!()` is gone but which holds no code yet: nothing
/// panics there, so only this says where to look.
fn emptied(spots: &[Spot]) -> Option<Pointer> {
    let spot = spots.iter().find(|spot| spot.open)?;
    Some(Pointer {
        hole: spot.name.clone(),
        why: format!(
            "{}:{} holds no code yet (only comments): fill it in",
            spot.file, spot.lines.0
        ),
    })
}

/// A panic in a test's output: where, and its message.
#[derive(Clone, Debug, PartialEq)]
struct Panic {
    place: String,
    message: String,
}

/// The panics in a test's output, in order.
fn panics(text: &str) -> Vec<Panic> {
    let mut found: Vec<Panic> = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("thread '")
            && let Some(at) = rest.find("panicked at ")
        {
            let place = rest[at + "panicked at ".len()..].trim_end_matches(':');
            found.push(Panic {
                place: place.to_string(),
                message: String::new(),
            });
            inside = true;
            continue;
        }
        if line.starts_with("note: run with `RUST_BACKTRACE")
            || line.starts_with("stack backtrace:")
        {
            inside = false;
        } else if inside && let Some(panic) = found.last_mut() {
            panic.message.push_str(line);
            panic.message.push('\n');
        }
    }
    for panic in &mut found {
        panic.message = panic.message.trim_end().to_string();
    }
    found
}

/// The check's own account of a failure: the message of the last panic.
fn verdict(text: &str) -> String {
    panics(text)
        .pop()
        .map(|panic| panic.message)
        .unwrap_or_else(|| text.trim().to_string())
}

/// The hole a failure points at from what panicked: an open hole's
/// `todo!()`, or a panic on a line inside a hole. Checks in their order.
fn point(exercise: &Exercise, outcome: &Outcome, spots: &[Spot]) -> Option<Pointer> {
    let mine = format!("exercises/{}/src/", exercise.dir);
    let mut inside_a_hole = None;
    for (_, text) in &outcome.failed {
        for panic in panics(text) {
            let Some(at) = panic.place.find(&mine) else {
                continue;
            };
            let place = &panic.place[at..];
            if let Some(rest) = panic.message.strip_prefix("not yet implemented: hole `") {
                let hole = rest.split('`').next().unwrap_or("").to_string();
                return Some(Pointer {
                    why: format!("its `todo!()` at {place} was reached: it is still open"),
                    hole,
                });
            }
            let (file, line) = split_place(place);
            let spot = spots
                .iter()
                .find(|spot| spot.file == file && (spot.lines.0..=spot.lines.1).contains(&line));
            if let (Some(spot), None) = (spot, &inside_a_hole) {
                inside_a_hole = Some(Pointer {
                    hole: spot.name.clone(),
                    why: format!(
                        "your code panicked at {place}: {}",
                        panic.message.lines().next().unwrap_or("")
                    ),
                });
            }
        }
    }
    inside_a_hole
}

/// `file` and line of `file:line:column`.
fn split_place(place: &str) -> (&str, usize) {
    let mut parts = place.rsplitn(3, ':');
    let _column = parts.next();
    let line = parts.next().and_then(|l| l.parse().ok()).unwrap_or(0);
    (parts.next().unwrap_or(place), line)
}

/// The checks of `exercise` in the order tests/check.rs lists them, each
/// with what it asks (its doc comment).
fn checks(root: &Path, exercise: &Exercise) -> Vec<(String, String)> {
    let path = root
        .join("exercises")
        .join(exercise.dir)
        .join("tests/check.rs");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut checks = Vec::new();
    let mut doc = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("/// ") {
            if !doc.is_empty() {
                doc.push(' ');
            }
            doc.push_str(rest);
        } else if let Some(rest) = line.strip_prefix("fn ")
            && let Some(name) = rest.strip_suffix("() {")
        {
            checks.push((name.to_string(), doc.trim_end_matches('.').to_string()));
            doc.clear();
        } else if !line.starts_with("#[") {
            doc.clear();
        }
    }
    checks
}

/// The report of a check, in words.
pub fn report(
    root: &Path,
    exercise: &Exercise,
    outcome: &Outcome,
    pointer: Option<&Pointer>,
    progress: &Progress,
) -> String {
    let n = exercise.number;
    let total = outcome.passed.len() + outcome.failed.len() + outcome.crashed.len();
    let mut out = String::new();
    let heap_map = outcome
        .printed
        .iter()
        .find(|(name, text)| name == "heap_map_as_in_the_book" && text.contains(conformance_mark()))
        .map(|(_, text)| text.clone());
    if outcome.failed.is_empty() && outcome.crashed.is_empty() {
        out.push_str(&format!(
            "{} Exercise {n} ({}) passes: all {total} checks, the whole conformance suite, stage {n}'s lesson and rules, and its own tests.\n\n",
            paint("✓", "32"),
            exercise.short_name
        ));
        if let Some(text) = &heap_map {
            out.push_str(&heap_map_note(text));
        }
        match super::next(progress) {
            Some(next) => out.push_str(&format!(
                "Well done. Next: exercise {} ({}): read {}, then `cargo workbook check {}`.\n\
                 To compare your code with the stage's: `cargo workbook solution {n}`.\n",
                next.number,
                next.short_name,
                next.chapter(),
                next.number
            )),
            None => out.push_str(&format!(
                "Every one of the {} exercises passes: you have built a real malloc, from sbrk to {}.\n",
                EXERCISES.len(),
                EXERCISES.last().map_or("the end", |last| last.name)
            )),
        }
        return out;
    }
    let failing = outcome.failed.len() + outcome.crashed.len();
    out.push_str(&format!(
        "{} Exercise {n} ({}): {failing} of {total} checks fail.\n\n",
        paint("✗", "31"),
        exercise.short_name
    ));
    if let Some(pointer) = pointer {
        out.push_str(&format!(
            "{} `{}`: {}.\n\n",
            paint("The hole to look at:", "1"),
            pointer.hole,
            pointer.why
        ));
    }
    let checks = checks(root, exercise);
    let rank = |name: &str| {
        checks
            .iter()
            .position(|(check, _)| check == name)
            .unwrap_or(checks.len())
    };
    let mut failed: Vec<&(String, String)> = outcome.failed.iter().collect();
    failed.sort_by_key(|(name, _)| (rank(name), name.clone()));
    // Checks that fail the same way are told once.
    let mut told: Vec<(String, String, Vec<String>)> = Vec::new();
    for (name, text) in failed {
        let message = verdict(text);
        let key = failure_key(&message);
        match told.iter_mut().find(|(k, _, _)| *k == key) {
            // The one with a trace and a heap map tells the group.
            Some((_, first, same)) if message.contains("after the last op of this trace") => {
                same.insert(0, std::mem::replace(first, name.clone()));
            }
            Some((_, _, same)) => same.push(name.clone()),
            None => told.push((key, name.clone(), Vec::new())),
        }
    }
    for (number, (_, name, same)) in told.iter().enumerate() {
        let text = &outcome
            .failed
            .iter()
            .find(|(n, _)| n == name)
            .expect("a failed test")
            .1;
        out.push_str(&paragraph(exercise, number + 1, name, text, &checks));
        if !same.is_empty() {
            out.push_str(&format!(
                "   The same problem makes these fail too: {}.\n",
                same.iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push('\n');
    }
    // Checks that crashed the same way are told once.
    let mut crashes: Vec<(&Crash, Vec<&str>)> = Vec::new();
    for crash in &outcome.crashed {
        match crashes
            .iter_mut()
            .find(|(first, _)| first.how == crash.how && first.said == crash.said)
        {
            Some((_, same)) => same.push(&crash.test),
            None => crashes.push((crash, Vec::new())),
        }
    }
    for (number, (crash, same)) in crashes.iter().enumerate() {
        out.push_str(&crash_paragraph(
            told.len() + number + 1,
            crash,
            same,
            &checks,
        ));
    }
    if let Some(text) = &heap_map {
        out.push_str(&heap_map_note(text));
    }
    let hole = pointer.map(|p| p.hole.clone());
    match hole {
        Some(hole) => {
            let shown = progress.hints_shown(n, &hole);
            out.push_str(&format!(
                "Stuck? `cargo workbook hint {n}` gives hint {} of 3 for `{hole}`. The idea is in {}.\n",
                (shown + 1).min(3),
                exercise.chapter()
            ));
        }
        None => out.push_str(&format!(
            "Stuck? `cargo workbook hint {n} HOLE` gives the next hint for a hole. The idea is in {}.\n",
            exercise.chapter()
        )),
    }
    out
}

/// What makes two failures the same: an open hole's `todo!()`, or the
/// same panic in the allocator, whatever check met it; else the message.
fn failure_key(message: &str) -> String {
    for line in message.lines() {
        if let Some(at) = line.find("not yet implemented: hole `") {
            return line[at..].to_string();
        }
        if let Some(at) = line.find("the allocator panicked: ") {
            return line[at + "the allocator panicked: ".len()..].to_string();
        }
        // The same broken heap, met after different calls.
        if let Some(at) = line.find("heap check failed at ") {
            let problem = line[at..].split_once(": ").map_or("", |(_, p)| p);
            return problem
                .split(" (after ")
                .next()
                .unwrap_or(problem)
                .to_string();
        }
    }
    message.to_string()
}

/// The mark the conformance checks put before a heap map comparison.
fn conformance_mark() -> &'static str {
    "HEAP MAP BESIDE THE BOOK'S"
}

/// The heap map beside the book's, as information.
fn heap_map_note(text: &str) -> String {
    let body = text
        .split_once(conformance_mark())
        .map_or(text, |(_, rest)| rest)
        .trim();
    let mut out = format!(
        "{}\n",
        paint("About your heap map (information, not a failure):", "1")
    );
    for line in body.lines() {
        out.push_str(format!("  {line}").trim_end());
        out.push('\n');
    }
    out.push('\n');
    out
}

/// One failing check, in words: what it expects, what happened.
fn paragraph(
    exercise: &Exercise,
    number: usize,
    name: &str,
    text: &str,
    checks: &[(String, String)],
) -> String {
    let message = verdict(text);
    let what = match checks.iter().find(|(check, _)| check == name) {
        Some((_, doc)) => format!("{doc} (`{name}`)"),
        None => {
            // One of the stage's own tests: its name says what it expects.
            let place = panics(text)
                .into_iter()
                .rev()
                .find(|panic| panic.place.contains("/tests/"))
                .map(|panic| format!(", {}", panic.place))
                .unwrap_or_default();
            format!(
                "{} (stage {}'s own test `{name}`{place})",
                name.replace('_', " "),
                exercise.number
            )
        }
    };
    let mut out = format!("{} {what}\n", paint(&format!("{number}."), "1"));
    for line in message.lines() {
        let line = match line {
            l if l.starts_with("after the last op of this trace") => format!(
                "   {}",
                paint(
                    "The shortest sequence of operations that fails (a .rep trace; its last op failed; replay it with `cargo workbook replay`):",
                    "1"
                )
            ),
            "heap map at the failure:" | "heap map:" => {
                format!("   {}", paint("The heap map at the failure:", "1"))
            }
            l => format!("   {l}"),
        };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A check that crashed the tests or hung (and others that did the same).
fn crash_paragraph(
    number: usize,
    crash: &Crash,
    same: &[&str],
    checks: &[(String, String)],
) -> String {
    let what = checks
        .iter()
        .find(|(check, _)| *check == crash.test)
        .map_or_else(|| crash.test.replace('_', " "), |(_, doc)| doc.clone());
    let mut out = format!(
        "{} {what} (`{}`)\n   The tests crashed with {} in `{}`, before the check could say \
         what went wrong. The checks that ran before it are reported here; the ones after it \
         ran again without it.\n",
        paint(&format!("{number}."), "1"),
        crash.test,
        crash.how,
        crash.test
    );
    for line in &crash.said {
        out.push_str(&format!("   Its last words: {line}\n"));
    }
    if !same.is_empty() {
        out.push_str(&format!(
            "   These crashed the same way: {}.\n",
            same.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_panic_is_the_verdict_and_places_split() {
        let text = "\nthread 'differential' panicked at exercises/3-freelist/src/free_list.rs:59:9:\n\
                    not yet implemented: hole `pop`\nnote: run with `RUST_BACKTRACE=1`\n\
                    thread 'differential' panicked at tests/src/exercise.rs:90:9:\n\
                    the differential test failed\ntrace\n";
        let found = panics(text);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].message, "not yet implemented: hole `pop`");
        assert_eq!(verdict(text), "the differential test failed\ntrace");
        assert_eq!(
            split_place("exercises/3-freelist/src/free_list.rs:59:9"),
            ("exercises/3-freelist/src/free_list.rs", 59)
        );
    }

    #[test]
    fn an_emptied_hole_is_pointed_at_and_filled_ones_are_not() {
        let spot = |name: &str, open| Spot {
            name: name.to_string(),
            file: "exercises/7-merge/src/merge.rs".to_string(),
            lines: (58, 69),
            open,
        };
        assert!(emptied(&[spot("merge_before", false)]).is_none());
        let pointer = emptied(&[spot("merge_before", false), spot("merge_after", true)]).unwrap();
        assert_eq!(pointer.hole, "merge_after");
        assert!(
            pointer.why.contains("merge.rs:58 holds no code"),
            "{}",
            pointer.why
        );
    }
}
