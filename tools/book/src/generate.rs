//! The book's generated files (`book/src/generated/`): the table of
//! stages, lesson figures, heap pictures, and the answers to the "predict,
//! then check" drills; and the course map in the README.
//!
//! Everything here is deterministic (simulated break and mappings, no
//! timings), so the committed copies can be compared byte for byte. The test
//! `tools/book/tests/book.rs` regenerates them in memory and fails if a
//! committed copy differs; `UPDATE_BOOK=1 cargo test -p workbook-book`
//! rewrites them (and the README's course map, between its markers). The
//! CLI's course map and `--help` text come from the workbook CLI itself and
//! are checked by `tools/workbook/tests/book_outputs.rs`.
//!
//! The stages come from the stage manifest (`workbook-manifest`) and are
//! made by `all-stages`: a new stage gets its heap picture, its column in
//! the trace tables and its row in the tables of stages with no change
//! here, and only its lesson figure to add (see [`lesson_figures`]).
//!
//! A figure that would change from run to run is made stable first: the
//! misuse messages of stage 8's lesson name the pointer, whose address
//! moves with every run, so the figure shows `0x…` in its place.

use std::path::Path;

use conformance::faults::fixed_sequence;
use conformance::lessons;
use conformance::misuse::{MISUSES, Outcome, try_in_child};
use malloc_core::{Malloc, SimBreak, SimPages};
use stage7_merge::Merge;
use stage8_hardened::Hardened;
use workbook_manifest::STAGES;

use crate::{drill, picture};

/// A fresh allocator of stage `n` on simulated memory, as `cargo workbook`
/// makes them, or why there is none.
pub fn stage(n: u32) -> Result<Box<dyn Malloc>, String> {
    all_stages::simulated(n).ok_or_else(|| match workbook_manifest::find(n) {
        Some(stage) => format!(
            "{} is in the manifest, but all-stages cannot make it: add its arm to \
             `with_sources` in stages/all/src/lib.rs",
            stage.label()
        ),
        None => workbook_manifest::no_such_stage(n),
    })
}

/// The line before the README's course map, which
/// [`readme_with_course_map`] rewrites up to [`README_END`].
pub const README_START: &str = "<!-- course map: generated from stages/manifest; \
    UPDATE_BOOK=1 cargo test -p workbook-book rewrites it -->";

/// The line after the README's course map.
pub const README_END: &str = "<!-- end of the course map -->";

/// The drills: a trace in `book/drills/`, and the stages whose chapter
/// asks the learner to predict its heap map.
pub const DRILLS: &[(&str, &[u32])] = &[
    ("five-ops", &[1, 2]),
    ("reuse", &[3]),
    ("split", &[3, 4]),
    ("threshold", &[5, 6]),
    ("trim", &[6, 7]),
    ("merge", &[6, 7]),
];

/// The policy drills: a trace in `book/drills/`, the stage, and the
/// policies whose heap maps the chapter "Choosing a policy" asks the
/// learner to predict.
pub const POLICY_DRILLS: &[(&str, u32, &[&str])] = &[("fit", 3, &["first-fit", "best-fit"])];

/// One generated file: its path under `book/src/generated/`, and contents.
pub struct Generated {
    /// Path relative to `book/src/generated/`.
    pub path: String,
    /// The file's text.
    pub text: String,
}

/// Every generated file, made afresh. `book` is the book's root (`book/`),
/// where the drill traces are read from.
pub fn all(book: &Path) -> Result<Vec<Generated>, String> {
    let mut out = Vec::new();
    let mut add = |path: String, text: String| out.push(Generated { path, text });

    // The table of stages the introduction shows.
    add("course-map.md".into(), course_map_table());

    // The heap after the fixed sequence of the snapshot tests, as pictures.
    for n in STAGES.iter().map(|stage| stage.number) {
        let map = fixed_sequence(&*stage(n)?);
        let pieces = picture::parse(&map)?;
        add(
            format!("heap-stage{n}.svg"),
            picture::svg(
                &format!("Stage {n} after the fixed sequence (faults::fixed_sequence)"),
                &pieces,
            ),
        );
    }

    // What each stage changed since the one before: the box that opens its
    // chapter (the exercise's holes masked).
    let root = book.join("..");
    for stage in STAGES {
        add(
            format!("changes-stage{}.md", stage.number),
            crate::diff::chapter_box(&root, stage)?,
        );
    }

    // The fixed sequence itself, cut from its source file.
    add("fixed-sequence.rs".into(), fixed_sequence_source(book)?);

    // The lessons, run as tests/tests/lessons.rs runs them: on the stage and
    // on the one before it. Stage 1 has none: there is no stage before it.
    for n in STAGES.iter().skip(1).map(|stage| stage.number) {
        let text = lesson_figures(n)?.ok_or_else(|| {
            format!(
                "stage {n} has no lesson figure for its chapter: add its lesson to \
                 `lesson_figures` in tools/book/src/generate.rs, as tests/tests/lessons.rs runs it"
            )
        })?;
        add(format!("lesson-stage{n}.txt"), text);
    }

    // Every misuse the tests know, on stage 7 and on stage 8 (in the debug
    // mode for those only it can see): the table of stage 8's chapter.
    add("misuse-stage8.md".into(), misuse_table());

    // Every sample and recorded trace on every stage: peak footprint and
    // utilization (no times: they vary from run to run).
    let traces = book.join("../traces");
    add("traces-samples.md".into(), trace_table(&traces, "traces")?);
    add(
        "traces-real.md".into(),
        trace_table(&traces.join("real"), "traces/real")?,
    );

    // The drills' answers: the map as text, and as a picture.
    for (name, stages) in DRILLS {
        let path = book.join("drills").join(format!("{name}.rep"));
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let trace = malloc_trace::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for &n in *stages {
            let heap = stage(n).map_err(|e| format!("drill {name}: {e}"))?;
            let map = drill::heap_map_after(&*heap, &trace)
                .map_err(|e| format!("{name} on stage {n}: {e}"))?;
            let pieces = picture::parse(&map)?;
            add(
                format!("drill-{name}-stage{n}.svg"),
                picture::svg(&format!("Stage {n} after drills/{name}.rep"), &pieces),
            );
            add(format!("drill-{name}-stage{n}.txt"), map);
        }
    }
    for (name, n, policies) in POLICY_DRILLS {
        let path = book.join("drills").join(format!("{name}.rep"));
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let trace = malloc_trace::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for policy in *policies {
            let chosen = all_stages::policy(*n, policy)?;
            let heap = all_stages::simulated_with_policy(*n, chosen)?;
            let map = drill::heap_map_after(&*heap, &trace)
                .map_err(|e| format!("{name} on stage {n} under {policy}: {e}"))?;
            let pieces = picture::parse(&map)?;
            add(
                format!("drill-{name}-stage{n}-{policy}.svg"),
                picture::svg(
                    &format!("Stage {n} after drills/{name}.rep, {policy}"),
                    &pieces,
                ),
            );
            add(format!("drill-{name}-stage{n}-{policy}.txt"), map);
        }
    }
    Ok(out)
}

/// Stage `n`'s lesson figures (`lesson-stageN.txt`): its lesson run on
/// stage `n - 1` and on stage `n`, or `None` if it has no lesson here yet.
fn lesson_figures(n: u32) -> Result<Option<String>, String> {
    let (before, now) = (stage(n - 1)?, stage(n)?);
    let (before, now) = (&*before, &*now);
    let pair =
        |lesson: fn(&dyn Malloc) -> Result<String, String>| figures(n, lesson(before), lesson(now));
    Ok(Some(match n {
        2 => pair(|heap| lessons::realloc_inside_a_class(heap)),
        3 => pair(|heap| lessons::churn_keeps_footprint_flat(heap, 1_000_000)),
        4 => pair(|heap| lessons::phase_change_takes_no_new_memory(heap)),
        5 => pair(|heap| lessons::big_block_goes_back(heap)),
        6 => {
            let storm = pair(|heap| lessons::no_syscall_storm(heap, 10_000));
            // A fresh pair: the storm has changed both heaps.
            let (before, now) = (stage(n - 1)?, stage(n)?);
            let grown = figures(
                n,
                lessons::grown_buffer_is_trimmed(&*before),
                lessons::grown_buffer_is_trimmed(&*now),
            );
            format!("{storm}\n{grown}")
        }
        7 => {
            let burst = pair(|heap| lessons::burst_is_trimmed(heap));
            // A fresh pair: the burst has changed both heaps.
            let (before, now) = (stage(n - 1)?, stage(n)?);
            let merge = figures(
                n,
                lessons::neighbours_merge(&*before),
                lessons::neighbours_merge(&*now),
            );
            format!("{burst}\n{merge}")
        }
        8 => {
            // Each misuse runs on a fresh allocator in a child process, so
            // the lesson makes its own, of a named type (a boxed one is not
            // a `Malloc` itself).
            let fresh7 = || Merge::with_sources(SimBreak::new(), SimPages::new());
            let fresh8 = || Hardened::with_sources(SimBreak::new(), SimPages::new());
            hide_addresses(&figures(
                n,
                lessons::misuse_is_stopped(fresh7),
                lessons::misuse_is_stopped(fresh8),
            ))
        }
        9 => pair(|heap| lessons::lock_rarely_taken(heap)),
        _ => return Ok(None),
    }))
}

/// A lesson's figures on stage `n - 1` (`before`) and on stage `n`
/// (`now`), in the words of `tests/tests/lessons.rs`.
fn figures(n: u32, before: Result<String, String>, now: Result<String, String>) -> String {
    let line = |stage: u32, result: Result<String, String>| match result {
        Ok(figures) => format!("stage {stage}: passes: {figures}\n"),
        Err(figures) => format!("stage {stage}: fails:  {figures}\n"),
    };
    format!("{}{}", line(n - 1, before), line(n, now))
}

/// The misuses of `conformance::misuse::MISUSES`, each tried in a child
/// process on a fresh stage 7 and a fresh stage 8, as a Markdown table of
/// how each child ended. Stage 8 runs in its debug mode (a heap check at
/// every call, freed blocks filled, guard bytes) for the misuses only that
/// mode can see, as `tests/tests/misuse.rs` runs them.
fn misuse_table() -> String {
    let debug = stage8_hardened::Settings {
        check_every: 1,
        perturb: true,
        ..stage8_hardened::Settings::DEFAULT
    };
    let mut out = String::from("| misuse | stage 7 | stage 8 |\n|---|---|---|\n");
    for misuse in MISUSES {
        let on7 = try_in_child(
            || Box::new(Merge::with_sources(SimBreak::new(), SimPages::new())),
            misuse.name,
        );
        let on8 = try_in_child(
            || {
                Box::new(Hardened::with_settings(
                    SimBreak::new(),
                    SimPages::new(),
                    misuse.debug.then_some(debug),
                ))
            },
            misuse.name,
        );
        let mode = if misuse.debug { " (debug mode)" } else { "" };
        // Every message is one line `workbook malloc: ...; aborting`: the
        // chapter says so once, and the table keeps the words between.
        let short = |outcome: Outcome| {
            outcome
                .describe()
                .replace("stopped: workbook malloc: ", "stopped: ")
                .replace("; aborting", "")
        };
        out.push_str(&format!(
            "| `{}`{mode} | {} | {} |\n",
            misuse.name,
            short(on7),
            short(on8)
        ));
    }
    hide_addresses(&out)
}

/// `text` with every hexadecimal address (`0x7f3a…`) replaced by `0x…`:
/// the simulated heap lies at a different address in every run, and the
/// book's figures must not change from run to run.
fn hide_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        let digits = rest[at + 2..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len() - at - 2);
        if digits == 0 {
            out.push_str("0x");
        } else {
            out.push_str("0x…");
        }
        rest = &rest[at + 2 + digits..];
    }
    out.push_str(rest);
    out
}

/// A Markdown table: every `.rep` file in `dir` on every stage, as peak
/// footprint in KiB and peak utilization (the malloc lab's U).
fn trace_table(dir: &Path, shown_as: &str) -> Result<String, String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "rep"))
        .collect();
    names.sort();
    let mut out = String::from("| trace | live peak |");
    for stage in STAGES {
        out.push_str(&format!(" stage {} |", stage.number));
    }
    out.push_str("\n|---|--:|");
    out.push_str(&"--:|".repeat(STAGES.len()));
    out.push('\n');
    for path in names {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let trace = malloc_trace::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        out.push_str(&format!(
            "| `{shown_as}/{file}` | {} KiB |",
            trace.peak_live_bytes().div_ceil(1024)
        ));
        for n in STAGES.iter().map(|stage| stage.number) {
            let heap = stage(n)?;
            let replay = malloc_trace::replay(&*heap, &trace)
                .map_err(|e| format!("{file} on stage {n}: {e}"))?;
            let utilization = replay
                .utilization()
                .map_or("-".to_string(), |u| format!("{u:.0}%"));
            out.push_str(&format!(
                " {} KiB, {utilization} |",
                replay.footprint_peak().div_ceil(1024)
            ));
        }
        out.push('\n');
    }
    Ok(out)
}

/// The source of `conformance::faults::fixed_sequence`, from its doc
/// comment to its closing brace, as it is in `tests/src/faults.rs`.
fn fixed_sequence_source(book: &Path) -> Result<String, String> {
    let path = book.join("../tests/src/faults.rs");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let start = text
        .find("/// The fixed sequence")
        .ok_or("tests/src/faults.rs has no `/// The fixed sequence` doc comment")?;
    let body = &text[start..];
    let end = body
        .find("\n}\n")
        .ok_or("fixed_sequence has no closing brace at column 0")?;
    Ok(body[..end + 3].to_string())
}

/// The table of stages, in Markdown, from the stage manifest: the
/// introduction includes it (`generated/course-map.md`), and the README
/// holds a copy between its markers.
pub fn course_map_table() -> String {
    let mut out = String::from(
        "| stage | crate | idea | lesson: what its test proves |\n|---|---|---|---|\n",
    );
    for stage in STAGES {
        out.push_str(&format!(
            "| {} {} | `{}` | {} | {} |\n",
            stage.number,
            stage.name,
            stage.stage_dir(),
            stage.idea,
            stage.lesson
        ));
    }
    out
}

/// `readme` (the text of README.md) with the course map between
/// [`README_START`] and [`README_END`] made afresh.
pub fn readme_with_course_map(readme: &str) -> Result<String, String> {
    let missing = |marker: &str| {
        format!(
            "README.md has no line `{marker}`: put the two marker lines \
             `{README_START}` and `{README_END}` where the course map goes"
        )
    };
    let start = readme
        .find(README_START)
        .ok_or_else(|| missing(README_START))?;
    let body = start + README_START.len();
    let end = body
        + readme[body..]
            .find(README_END)
            .ok_or_else(|| missing(README_END))?;
    Ok(format!(
        "{}\n{}{}",
        &readme[..body],
        course_map_table(),
        &readme[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::hide_addresses;

    #[test]
    fn addresses_are_hidden_and_the_rest_kept() {
        assert_eq!(
            hide_addresses("free(0x7f0dd3400020): freed; at 0x60, not 0x; 10x"),
            "free(0x…): freed; at 0x…, not 0x; 10x"
        );
        assert_eq!(hide_addresses("ends in 0xab"), "ends in 0x…");
    }
}
