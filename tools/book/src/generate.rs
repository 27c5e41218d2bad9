//! The book's generated files (`book/src/generated/`): lesson figures, heap
//! pictures, and the answers to the "predict, then check" drills.
//!
//! Everything here is deterministic (simulated break and mappings, no
//! timings), so the committed copies can be compared byte for byte. The test
//! `tools/book/tests/book.rs` regenerates them in memory and fails if a
//! committed copy differs; `UPDATE_BOOK=1 cargo test -p workbook-book`
//! rewrites them. The course map and `--help` text come from the workbook
//! CLI itself and are checked by `tools/workbook/tests/book_outputs.rs`.

use std::path::Path;

use conformance::faults::fixed_sequence;
use conformance::lessons;
use malloc_core::{Malloc, SimBreak, SimPages};
use stage1_bump::Bump;
use stage2_buckets::Buckets;
use stage3_freelist::FreeLists;
use stage4_split::Split;
use stage5_mmap::Mmap;
use stage6_tuned::Tuned;

use crate::{drill, picture};

/// A fresh allocator of stage `n` (1 to 6) on simulated memory, as
/// `cargo workbook` makes them.
pub fn stage(n: u32) -> Option<Box<dyn Malloc>> {
    Some(match n {
        1 => Box::new(Bump::with_source(SimBreak::new())),
        2 => Box::new(Buckets::with_source(SimBreak::new())),
        3 => Box::new(FreeLists::with_source(SimBreak::new())),
        4 => Box::new(Split::with_source(SimBreak::new())),
        5 => Box::new(Mmap::with_sources(SimBreak::new(), SimPages::new())),
        6 => Box::new(Tuned::with_sources(SimBreak::new(), SimPages::new())),
        _ => return None,
    })
}

/// The drills: a trace in `book/drills/`, and the stages whose chapter
/// asks the learner to predict its heap map.
pub const DRILLS: &[(&str, &[u32])] = &[
    ("five-ops", &[1, 2]),
    ("reuse", &[3]),
    ("split", &[3, 4]),
    ("threshold", &[5, 6]),
    ("trim", &[5, 6]),
];

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

    // The heap after the fixed sequence of the snapshot tests, as pictures.
    let maps = [
        fixed_sequence(&Bump::with_source(SimBreak::new())),
        fixed_sequence(&Buckets::with_source(SimBreak::new())),
        fixed_sequence(&FreeLists::with_source(SimBreak::new())),
        fixed_sequence(&Split::with_source(SimBreak::new())),
        fixed_sequence(&Mmap::with_sources(SimBreak::new(), SimPages::new())),
        fixed_sequence(&Tuned::with_sources(SimBreak::new(), SimPages::new())),
    ];
    for (n, map) in (1..).zip(maps) {
        let pieces = picture::parse(&map)?;
        add(
            format!("heap-stage{n}.svg"),
            picture::svg(
                &format!("Stage {n} after the fixed sequence (faults::fixed_sequence)"),
                &pieces,
            ),
        );
    }

    // The fixed sequence itself, cut from its source file.
    add("fixed-sequence.rs".into(), fixed_sequence_source(book)?);

    // The lessons, run as tests/tests/lessons.rs runs them: on the stage and
    // on the one before it.
    let bump = || Bump::with_source(SimBreak::new());
    let buckets = || Buckets::with_source(SimBreak::new());
    let free_lists = || FreeLists::with_source(SimBreak::new());
    let split = || Split::with_source(SimBreak::new());
    let mmap = || Mmap::with_sources(SimBreak::new(), SimPages::new());
    let tuned = || Tuned::with_sources(SimBreak::new(), SimPages::new());
    add(
        "lesson-stage2.txt".into(),
        figures(
            2,
            lessons::realloc_inside_a_class(&bump()),
            lessons::realloc_inside_a_class(&buckets()),
        ),
    );
    add(
        "lesson-stage3.txt".into(),
        figures(
            3,
            lessons::churn_keeps_footprint_flat(&buckets(), 1_000_000),
            lessons::churn_keeps_footprint_flat(&free_lists(), 1_000_000),
        ),
    );
    add(
        "lesson-stage4.txt".into(),
        figures(
            4,
            lessons::phase_change_takes_no_new_memory(&free_lists()),
            lessons::phase_change_takes_no_new_memory(&split()),
        ),
    );
    add(
        "lesson-stage5.txt".into(),
        figures(
            5,
            lessons::big_block_goes_back(&split()),
            lessons::big_block_goes_back(&mmap()),
        ),
    );
    let storm = figures(
        6,
        lessons::no_syscall_storm(&mmap(), 10_000),
        lessons::no_syscall_storm(&tuned(), 10_000),
    );
    let trim = figures(
        6,
        lessons::burst_is_trimmed(&mmap()),
        lessons::burst_is_trimmed(&tuned()),
    );
    add("lesson-stage6.txt".into(), format!("{storm}\n{trim}"));

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
            let heap = stage(n).expect("stage");
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
    Ok(out)
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

/// A Markdown table: every `.rep` file in `dir` on every stage, as peak
/// footprint in KiB and peak utilization (the malloc lab's U).
fn trace_table(dir: &Path, shown_as: &str) -> Result<String, String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "rep"))
        .collect();
    names.sort();
    let mut out = String::from(
        "| trace | live peak | stage 1 | stage 2 | stage 3 | stage 4 | stage 5 | stage 6 |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for path in names {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let trace = malloc_trace::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        out.push_str(&format!(
            "| `{shown_as}/{file}` | {} KiB |",
            trace.peak_live_bytes().div_ceil(1024)
        ));
        for n in 1..=6 {
            let heap = stage(n).expect("stage");
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
