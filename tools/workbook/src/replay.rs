//! `cargo workbook replay TRACE --stage N`: a trace on a stage and on the
//! system malloc, side by side.
//!
//! How it measures, and why:
//! - Each stage run gets a fresh allocator on a simulated break, so runs are
//!   independent and its stats (footprint, system calls) are exact.
//! - The system malloc's stats (`mallinfo2`) have no peak and count the
//!   whole process, so it gets one extra "memory pass" that reads its
//!   footprint after every op; its time comes from separate timed passes.
//! - Time is the median of `--runs` runs per allocator, the two taking turns
//!   (and turns about who goes first), because this machine is noisy; it is
//!   shown as a ratio to the system malloc measured in the same run.

use std::path::Path;

use malloc_core::{Malloc, SystemMalloc};
use malloc_trace::{Pass, Replay, ReplayError, Trace, parse, replay, replay_pass};

use crate::Failure::{self, Input};
use crate::stages::{self, Stage};
use crate::table::table;
use crate::units::{bytes, median, nanos, percent};

/// Reads, parses and validates the trace at `path` (its header's warnings
/// go to stderr), as every command that replays a trace does.
pub fn load(path: &Path) -> Result<Trace, Failure> {
    let name = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| Input(format!("cannot read {name}: {e}")))?;
    let trace = parse(&text).map_err(|e| Input(format!("{name}: {e}")))?;
    drop(text);
    malloc_trace::validate(&trace).map_err(|e| Input(format!("{name}: {e}")))?;
    for warning in trace.header_warnings() {
        eprintln!("note: {name}: {warning}");
    }
    Ok(trace)
}

/// Runs the `replay` command, on the stage's own policy or on `policy`.
pub fn run(
    path: &Path,
    stage_number: u32,
    policy: Option<&str>,
    runs: usize,
) -> Result<(), Failure> {
    let stage = stages::get(stage_number);
    let policy = stages::policy(stage, policy)?;
    let name = path.display();
    let trace = load(path)?;
    let bad_op = |e: ReplayError| Input(format!("{name}: {e}"));

    // Both allocators are called through `dyn Malloc`, so both pay the same
    // indirect call per op.
    let system: &dyn Malloc = &SystemMalloc;
    // Memory first (it also warms the system malloc up), then time.
    let system_memory = replay_pass(system, &trace, Pass::Memory).map_err(bad_op)?;
    let on_stage = || replay(&*stages::simulated_with(stage, policy), &trace).map_err(bad_op);
    let on_system = || replay(system, &trace).map_err(bad_op);
    let mut stage_runs = Vec::with_capacity(runs);
    let mut system_times = Vec::with_capacity(runs);
    for round in 0..runs {
        // Take turns going first, so that neither always runs on a warm cache.
        if round % 2 == 0 {
            stage_runs.push(on_stage()?);
            system_times.push(on_system()?.ns_per_op());
        } else {
            system_times.push(on_system()?.ns_per_op());
            stage_runs.push(on_stage()?);
        }
    }

    let mut stage_times: Vec<f64> = stage_runs.iter().map(Replay::ns_per_op).collect();
    let stage_time = median(&mut stage_times);
    let system_time = median(&mut system_times);
    print_report(
        &name.to_string(),
        &trace,
        (stage, &stages::label(stage, policy)),
        &stage_runs[0],
        &system_memory,
        [stage_time, system_time],
        runs,
    );
    Ok(())
}

/// Prints the side-by-side table. `times` are the median ns per op of the
/// stage and of the system malloc.
fn print_report(
    name: &str,
    trace: &Trace,
    (stage, label): (&Stage, &str),
    on_stage: &Replay,
    on_system: &Replay,
    times: [f64; 2],
    runs: usize,
) {
    println!(
        "{name}: {} ops, {} ids, peak live {}",
        trace.ops.len(),
        trace.header.ids,
        bytes(on_stage.live_peak)
    );
    println!();

    let brk = on_stage.after.brk_calls - on_stage.before.brk_calls;
    let stage_calls = format!(
        "{} ({brk} brk, {} mmap)",
        on_stage.syscalls(),
        on_stage.syscalls() - brk
    );
    let system_calls = match on_system.memory {
        Some(seen) if seen.footprint_changes > 0 => format!(">= {} (seen)", seen.footprint_changes),
        Some(_) => "none seen".to_string(),
        None => "-".to_string(),
    };
    let ratio = |t: f64| {
        if times[1] > 0.0 {
            format!("{:.2}x", t / times[1])
        } else {
            "-".to_string()
        }
    };
    let row = |label: &str, a: String, b: String| vec![label.to_string(), a, b];
    let rows = vec![
        row("", label.to_string(), "system malloc".to_string()),
        row(
            "peak footprint",
            bytes(on_stage.footprint_peak()),
            bytes(on_system.footprint_peak()),
        ),
        row(
            "peak utilization",
            percent(on_stage.utilization()),
            percent(on_system.utilization()),
        ),
        row("system calls", stage_calls, system_calls),
        row(
            "page faults",
            on_stage.page_faults.to_string(),
            on_system.page_faults.to_string(),
        ),
        row("time per op", nanos(times[0]), nanos(times[1])),
        row("time vs system", ratio(times[0]), ratio(times[1])),
    ];
    print!("{}", table(&rows, 2));
    println!();

    let mut notes = vec![
        format!(
            "Time: median of {runs} run{} each, the two allocators taking turns.",
            if runs == 1 { "" } else { "s" }
        ),
        "Utilization: peak live bytes / peak footprint (bytes taken from the OS).".to_string(),
        format!(
            "Stage {}: a fresh heap on a simulated break for every run.",
            stage.number
        ),
        "System malloc: footprint and page faults from a first pass that reads mallinfo2 after \
         every op (the whole process's heap, less what the rest of the program holds; the heap \
         then stays warm between runs). It counts no system calls: \">= N\" is how often its \
         footprint changed."
            .to_string(),
    ];
    if on_stage.left_live > 0 {
        notes.push(format!(
            "{} blocks were still live when the trace ended; the replay freed them after it.",
            on_stage.left_live
        ));
    }
    for (who, r) in [("stage", on_stage), ("system malloc", on_system)] {
        if r.failed > 0 {
            notes.push(format!("{} requests returned null on the {who}.", r.failed));
        }
    }
    for note in notes {
        println!("{}", wrap(&note, 78));
    }
}

/// Wraps `text` at spaces to lines of at most `width` characters.
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for word in text.split(' ') {
        let len = word.chars().count();
        if line_len > 0 && line_len + 1 + len > width {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += len;
    }
    out
}
