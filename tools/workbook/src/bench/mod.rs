//! `cargo workbook bench`: every stage against glibc and mimalloc on the
//! same workloads, time and memory, as a table, JSON and charts.
//!
//! How it measures, and why (also printed with the results):
//! - Every run is a fresh process (this program, `bench --child`), on the
//!   real break and real `mmap`: each allocator starts with an empty heap,
//!   pays its own page faults, and glibc never shares its heap with a
//!   stage. A first round is a warm-up and is thrown away.
//! - The allocators take turns, one run each per round, so that a noisy
//!   moment of the machine falls on all of them; times are medians and are
//!   always divided by glibc's median in the same run.
//! - Footprint: the stages count it exactly; glibc's comes from a separate
//!   run that follows `mallinfo2` op by op ([`glibc_watch`]) (on the
//!   multi-threaded workloads: reads it now and then, a lower bound);
//!   mimalloc's is its own count of committed memory.
//!
//! Files: [`workloads`] (what runs), [`threads`] (the multi-threaded
//! ones), [`child`] (one measurement), [`measure`] (all of them),
//! [`results`], [`table`] (with the targets), [`reference`], [`charts`]
//! (drawn with [`svg`]).
//!
//! `cargo workbook bench --redraw` draws the book's charts and page again
//! from its results.json, without measuring.

mod allocators;
mod charts;
mod child;
mod glibc_watch;
mod measure;
mod probe;
mod progress;
mod reference;
mod results;
mod svg;
mod table;
mod threads;
mod workloads;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::Failure::{self, Input, Usage};
use measure::Plan;
use progress::Progress;
use results::{AllocatorInfo, Machine, Results};
use workloads::{Size, Workload};

/// The options of `cargo workbook bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Extra traces (.rep) to run as workloads, besides the built-in ones
    /// and traces/real/*.rep.
    #[arg(value_name = "TRACE")]
    traces: Vec<PathBuf>,
    /// The stages to measure, e.g. `--stages 3,6` (default: all).
    #[arg(long, value_delimiter = ',', value_parser = crate::stages::parse_number)]
    stages: Vec<u32>,
    /// The workloads to run, by name or name prefix, e.g.
    /// `--workloads churn,real` (default: all; `--workloads list` lists them).
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<String>,
    /// Smaller workloads: seconds, for CI and learners.
    #[arg(long)]
    quick: bool,
    /// Timed runs per allocator and workload; the time shown is their median.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..))]
    runs: u16,
    /// Also writes the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also writes the charts (SVG) into DIR.
    #[arg(long, value_name = "DIR")]
    svg: Option<PathBuf>,
    /// Writes results.md, results.json and the charts into the book
    /// (book/src/bench/).
    #[arg(long)]
    book: bool,
    /// Measures nothing: draws the book's charts and results.md again from
    /// book/src/bench/results.json (after a change to the charts or the
    /// page, not to the numbers).
    #[arg(long, conflicts_with_all = ["book", "json", "quick", "child"])]
    redraw: bool,
    /// Internal: runs one measurement of this allocator and prints it.
    #[arg(long, hide = true, value_name = "ALLOCATOR")]
    child: Option<String>,
    /// Internal: what the child measures.
    #[arg(long, hide = true, value_enum, default_value = "time")]
    mode: child::Mode,
    /// Internal: bytes a stage may take before its requests fail.
    #[arg(long, hide = true, default_value_t = 1 << 30)]
    budget: u64,
    /// Internal: the multi-threaded workload the child runs (`churn:OPS`,
    /// `handoff:OPS`), instead of a trace.
    #[arg(long, hide = true, value_name = "KIND:OPS")]
    threaded: Option<threads::Threaded>,
}

/// The repository's root (this crate is tools/workbook).
fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Runs the `bench` command.
pub fn run(args: Args) -> Result<(), Failure> {
    if let Some(key) = &args.child {
        if let Some(work) = args.threaded {
            return child::run_threaded(key, args.mode, work, args.budget).map_err(Input);
        }
        let trace = args
            .traces
            .first()
            .ok_or(Usage("--child needs a trace or --threaded".into()))?;
        return child::run(key, args.mode, trace, args.budget).map_err(Input);
    }
    if args.redraw {
        return redraw(&args);
    }
    let started = Instant::now();
    let size = if args.quick { Size::Quick } else { Size::Full };
    let workloads = choose_workloads(&args, size)?;
    let stages = if args.stages.is_empty() {
        crate::stages::STAGES
            .iter()
            .map(|stage| stage.number)
            .collect()
    } else {
        args.stages.clone()
    };
    let allocators = allocators::chosen(&stages);
    // Single-call latency: the references and the top stage measured.
    let top = allocators
        .iter()
        .filter(|a| a.stage.is_some())
        .max_by_key(|a| a.stage)
        .map(|a| a.key.as_str());
    let latency_of: Vec<&str> = ["system", "mimalloc"].into_iter().chain(top).collect();
    let scratch = std::env::temp_dir().join(format!("workbook-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .map_err(|e| Input(format!("cannot create {}: {e}", scratch.display())))?;
    let budget: u64 = if args.quick { 256 << 20 } else { 1 << 30 };
    let plan = Plan {
        allocators: &allocators,
        runs: usize::from(args.runs),
        budget,
        latency_of: &latency_of,
        scratch: &scratch,
    };

    let mut progress = Progress::new(plan.steps(&workloads));
    let mut measured = Vec::new();
    for (i, workload) in workloads.iter().enumerate() {
        let mut results = plan
            .measure(workload, i == 0, &mut progress)
            .map_err(Input)?;
        let (ops, live_peak) = shape(workload, &results);
        measured.push(results::WorkloadResult {
            name: workload.name.clone(),
            about: workload.about.clone(),
            threads: workload.threads(),
            ops,
            live_peak,
            rows: results::rows(&allocators, &mut results),
        });
    }
    progress.finish();
    let _ = std::fs::remove_dir_all(&scratch);

    let results = Results {
        command: command_line(&args),
        machine: machine(),
        size: if args.quick { "quick" } else { "full" }.to_string(),
        runs: usize::from(args.runs),
        allocators: allocators
            .iter()
            .map(|a| AllocatorInfo {
                key: a.key.clone(),
                label: a.label.clone(),
            })
            .collect(),
        workloads: measured,
        notes: notes(usize::from(args.runs), budget),
        seconds: started.elapsed().as_secs_f64(),
    };
    print!("{}", table::text(&results));
    println!("Finished in {:.1} s.", results.seconds);
    write_outputs(&args, &results)
}

/// The workloads the options ask for.
fn choose_workloads(args: &Args, size: Size) -> Result<Vec<Workload>, Failure> {
    let mut all = workloads::made(size);
    all.extend(workloads::real_traces(&root().join("traces/real")));
    if args.workloads.iter().any(|w| w == "list") {
        for w in &all {
            println!("{:<16} {}", w.name, w.about);
        }
        return Err(Usage("pick workloads from the list above".into()));
    }
    if !args.workloads.is_empty() {
        all.retain(|w| {
            args.workloads
                .iter()
                .any(|name| w.name.starts_with(name.as_str()))
        });
        if all.is_empty() && args.traces.is_empty() {
            return Err(Usage(
                "no workload matches; `--workloads list` lists them".into(),
            ));
        }
    }
    for path in &args.traces {
        if !path.is_file() {
            return Err(Input(format!("cannot read {}", path.display())));
        }
        all.push(workloads::given(path));
    }
    Ok(all)
}

/// A workload's op count and peak live bytes, from any allocator that ran
/// it to the end.
fn shape(workload: &Workload, results: &[measure::Measured]) -> (usize, usize) {
    let sample = results
        .iter()
        .find(|m| m.error.is_none() && m.sample.out_of_memory_at.is_none() && m.sample.ops > 0)
        .map(|m| (m.sample.ops, m.sample.live_peak));
    match (sample, &workload.source) {
        (Some(shape), _) => shape,
        (None, workloads::Source::Made(trace)) => (trace.ops.len(), trace.peak_live_bytes()),
        // Its peak live bytes are counted while it runs.
        (None, workloads::Source::Threads(work)) => (work.ops, 0),
        (None, workloads::Source::File(_)) => (0, 0),
    }
}

/// Writes JSON, charts and the book's files, as asked.
fn write_outputs(args: &Args, results: &Results) -> Result<(), Failure> {
    let json = serde_json::to_string_pretty(results).map_err(|e| Input(e.to_string()))?;
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text)
            .map_err(|e| Input(format!("cannot write {}: {e}", path.display())))
    };
    if let Some(path) = &args.json {
        write(path, &json)?;
    }
    if let Some(dir) = &args.svg {
        charts::write(results, dir).map_err(Input)?;
    }
    if args.book {
        let dir = root().join("book/src/bench");
        write(&dir.join("results.json"), &json)?;
        write_book_page(results, &dir)?;
        println!("Wrote the results and charts into {}.", dir.display());
    }
    Ok(())
}

/// Writes the book's charts and results.md for `results` into `dir`.
fn write_book_page(results: &Results, dir: &Path) -> Result<(), Failure> {
    charts::write(results, dir).map_err(Input)?;
    let list = charts::list(results);
    let list: Vec<(&str, &str)> = list.iter().map(|(f, t)| (*f, t.as_str())).collect();
    let path = dir.join("results.md");
    std::fs::write(&path, table::markdown(results, &list))
        .map_err(|e| Input(format!("cannot write {}: {e}", path.display())))
}

/// `--redraw`: the book's charts and page from its results.json, and the
/// charts into `--svg DIR` too if asked.
fn redraw(args: &Args) -> Result<(), Failure> {
    let dir = root().join("book/src/bench");
    let path = dir.join("results.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Input(format!("cannot read {}: {e}", path.display())))?;
    let results: Results =
        serde_json::from_str(&text).map_err(|e| Input(format!("{}: {e}", path.display())))?;
    write_book_page(&results, &dir)?;
    if let Some(svg) = &args.svg {
        charts::write(&results, svg).map_err(Input)?;
    }
    println!(
        "Drew the charts and results.md in {} again from results.json.",
        dir.display()
    );
    Ok(())
}

/// The command as a person would type it again.
fn command_line(args: &Args) -> String {
    let mut words = vec!["cargo workbook bench".to_string()];
    words.extend(std::env::args().skip(2).filter(|a| a != "--book"));
    if args.book {
        words.push("--book".into());
    }
    words.join(" ")
}

/// What this machine is.
fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU".into(), |s| s.trim().to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or("?".into(), |s| s.trim().to_string());
    // SAFETY: gnu_get_libc_version returns a static C string.
    let glibc = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
    // SAFETY: mi_version only reads a constant.
    let mi = unsafe { libmimalloc_sys::mi_version() };
    Machine {
        cpu,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel,
        glibc: glibc.to_string_lossy().into_owned(),
        mimalloc: format!("{}.{}.{}", mi / 10000, mi / 100 % 100, mi % 100),
    }
}

/// How the numbers were made, for the reader of the table.
fn notes(runs: usize, budget: u64) -> Vec<String> {
    vec![
        format!(
            "Time: each run is a fresh process on the real break and mmap (a new heap, its own \
             page faults, no heap shared with glibc); one warm-up round (before the first workload) is thrown away, then \
             {runs} rounds in which the allocators take turns. The ratio is the median time over \
             glibc's median; min–max are the fastest and slowest runs over the same median."
        ),
        "Every allocator is called the same way (through `dyn Malloc` and one thin wrapper; \
         on the multi-threaded workloads through `&dyn Malloc` alone), and every block's first \
         and last byte are written, as a program would."
            .to_string(),
        "Peak footprint: bytes taken from the OS (break + mappings) at their peak. Stages count \
         it exactly; glibc's comes from a separate run that reads mallinfo2 (arena + mmapped \
         bytes) after every op that moved the break or touched a block of 128 KiB or more (the \
         only ways it can change), less what the process held before; mimalloc's is its own \
         peak of committed memory (mi_process_info; on Linux, its read/write reserved memory)."
            .to_string(),
        "Peak utilization: peak live requested bytes / peak footprint, mapped memory included."
            .to_string(),
        "Syscalls: the stages count theirs exactly; for glibc \">= N\" is how often its \
         footprint changed between ops (each change is at least one brk or mmap call); \
         mimalloc's are not counted (n/a)."
            .to_string(),
        format!(
            "Multi-threaded workloads (threads-*): two threads on one allocator, started \
             together. Each thread's sizes and choices come from a fixed seed and are made before \
             the clock starts, as are the tables of live blocks and the handoff's ring of {ring} \
             pointers (with std's allocator). Time: wall time from the first thread's start to \
             the last one's end, over both threads' ops (the churn's threads each fill their live \
             set, then wait for each other, then churn). Footprint and syscalls: exact for the \
             stages, mimalloc's as above; glibc's footprint is a lower bound (\">=\", so its \
             utilization is an upper bound, \"<=\"): in the separate memory run one thread reads \
             mallinfo2, which adds up every arena (the main one and each thread's), every \
             {every} of its ops, so a peak between two reads can be missed; its syscalls are the \
             changes between reads. Peak live is counted by the workload, the same way for every \
             allocator: the two threads' own peaks added (churn; a few percent above their peak \
             together at most), or the most bytes the consumer found waiting in the ring \
             when it looked (handoff; a lower bound). Out of memory: both threads' ops \
             when a request was first refused (the other thread stops at its next step). Page \
             faults: both threads'.",
            ring = threads::RING,
            every = threads::SAMPLE_EVERY,
        ),
        format!(
            "Stages run with a data-size limit of {} (RLIMIT_DATA): stages that never reuse \
             memory stop there and are shown as out of memory at the op that first failed.",
            crate::units::bytes(budget as usize)
        ),
        "Latency: every call timed alone in one more fresh run; the timer's own cost (its \
         median, about 20 ns) is subtracted. A max of a few ms is the process being preempted \
         on a busy machine, not the allocator. Not measured on the multi-threaded workloads: a \
         call's time there says as much about what the other thread was doing as about the call."
            .to_string(),
    ]
}
