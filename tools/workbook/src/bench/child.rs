//! One measurement, in a process of its own.
//!
//! `cargo workbook bench` runs itself again (`bench --child KEY --mode MODE
//! TRACE`) for every measurement, so that each allocator starts fresh: its
//! own break, its own mappings, no pages faulted in by an earlier run, and
//! for glibc and mimalloc no heap warmed up by another allocator's run. The
//! child replays the trace (or runs the multi-threaded workload) once and
//! prints one line of JSON: a [`Sample`].

use std::path::Path;

use malloc_core::Malloc;
use malloc_trace::{Trace, parse, replay};
use serde::{Deserialize, Serialize};

use super::allocators::{self, SYSTEM};
use super::glibc_watch::GlibcWatch;
use super::probe::Probe;
use super::threads::{self, Threaded};

/// What a child measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
pub enum Mode {
    /// Time the whole replay; nothing runs between ops.
    Time,
    /// Follow the footprint op by op (for allocators whose counters have no
    /// peak: glibc's).
    Memory,
    /// Time every single call.
    Latency,
}

/// What one child measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Sample {
    /// Ops replayed.
    pub ops: usize,
    /// Mean time per op, in ns.
    pub ns_per_op: f64,
    /// Peak of live requested bytes.
    pub live_peak: usize,
    /// Peak footprint in bytes, if this measurement can tell it.
    pub footprint: Option<usize>,
    /// Whether `footprint` is only a lower bound: read now and then while
    /// threads ran, not followed op by op (glibc on the multi-threaded
    /// workloads).
    #[serde(default)]
    pub footprint_at_least: bool,
    /// System calls: exact for the stages (they count them), a lower bound
    /// for glibc (how often its footprint changed), none for mimalloc.
    pub syscalls: Option<u64>,
    /// Minor page faults during the ops.
    pub page_faults: u64,
    /// The op at which a request was first refused, if any was.
    pub out_of_memory_at: Option<u64>,
    /// Latency percentiles, in a latency measurement.
    pub latency: Option<Percentiles>,
}

/// Percentiles of single-call times, in ns, less the timer's own cost.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Percentiles {
    /// Half the calls are at least this fast.
    pub p50: f64,
    /// 99% are.
    pub p99: f64,
    /// 99.9% are.
    pub p999: f64,
    /// The slowest call.
    pub max: f64,
    /// The timer's own cost, subtracted from every value above.
    pub timer: f64,
}

/// Runs one measurement and prints its [`Sample`] as JSON on stdout.
/// `budget`: bytes a stage may take (as a data-size limit) before its
/// requests fail, so that stages without reuse stop in bounded memory.
pub fn run(key: &str, mode: Mode, trace_path: &Path, budget: u64) -> Result<(), String> {
    let trace = read_and_keep(trace_path)?;
    let made = allocators::make(key).ok_or_else(|| format!("no allocator {key}"))?;
    // glibc's memory is followed through a watch; its time never is.
    let watch = (key == SYSTEM && mode == Mode::Memory).then(GlibcWatch::new);
    let allocator: &dyn Malloc = match &watch {
        Some(watch) => watch,
        None => &*made,
    };
    let is_stage = key.starts_with("stage");
    let probe = Probe::new(
        allocator,
        (mode == Mode::Latency).then_some(trace.ops.len()),
    );

    // One call first, outside the measurement: lazy start-up (mimalloc's
    // process and thread set-up, a stage reading its settings) is paid once
    // per process, not per op, and glibc's was paid by this program already.
    // SAFETY: a block just returned, freed once.
    unsafe { allocator.free(allocator.malloc(1)) };

    let limit = is_stage.then(|| limit_data(budget));
    let replay = replay(&probe, trace).map_err(|e| e.to_string());
    if let Some(old) = limit {
        restore_data_limit(old);
    }
    let replay = replay?;

    let footprint = match (key, mode) {
        (SYSTEM, Mode::Memory) => Some(replay.footprint_peak()),
        // mallinfo2 has no peak: only a memory pass knows glibc's.
        (SYSTEM, _) => None,
        _ => Some(replay.footprint_peak()),
    };
    let syscalls = if is_stage {
        Some(replay.syscalls())
    } else {
        watch.as_ref().map(GlibcWatch::changes)
    };
    let out_of_memory_at = probe.first_null();
    let latency = (mode == Mode::Latency).then(|| percentiles(probe.into_latencies()));
    print(&Sample {
        ops: replay.ops,
        ns_per_op: replay.ns_per_op(),
        live_peak: replay.live_peak,
        footprint,
        footprint_at_least: false,
        syscalls,
        page_faults: replay.page_faults,
        out_of_memory_at,
        latency,
    })
}

/// Runs one measurement of a multi-threaded workload and prints its
/// [`Sample`] as JSON on stdout. Memory as for a trace, except glibc's:
/// one of the threads reads `mallinfo2` now and then (a lower bound of the
/// peak), since following it op by op would need a lock around both threads.
pub fn run_threaded(key: &str, mode: Mode, work: Threaded, budget: u64) -> Result<(), String> {
    if mode == Mode::Latency {
        return Err("single-call latency is not measured on multi-threaded workloads".into());
    }
    let made = allocators::make(key).ok_or_else(|| format!("no allocator {key}"))?;
    let allocator: &dyn Malloc = &*made;
    let is_stage = key.starts_with("stage");
    // One call first, outside the measurement, as for a trace (each thread
    // makes its own too).
    // SAFETY: a block just returned, freed once.
    unsafe { allocator.free(allocator.malloc(1)) };

    let sample_memory = key == SYSTEM && mode == Mode::Memory;
    let out = threads::run(allocator, work, sample_memory, is_stage.then_some(budget));
    let footprint = match key {
        SYSTEM if !sample_memory => None,
        _ => Some(out.footprint_peak()),
    };
    let syscalls = if is_stage {
        Some(out.syscalls())
    } else {
        out.sampled.map(|(_, changes)| changes)
    };
    print(&Sample {
        ops: usize::try_from(out.ops).unwrap_or(usize::MAX),
        ns_per_op: out.ns_per_op(),
        live_peak: out.live_peak,
        footprint,
        footprint_at_least: sample_memory,
        syscalls,
        page_faults: out.page_faults,
        out_of_memory_at: out.out_of_memory_at,
        latency: None,
    })
}

/// Prints a sample as one line of JSON, for the parent to read.
fn print(sample: &Sample) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string(sample).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// Reads a trace and keeps every byte of it until the process ends.
///
/// Why keep the text: glibc raises its mmap threshold when a mapped block
/// is freed (its dynamic threshold), and the text of a big trace is such a
/// block. Freeing it would change how glibc serves the workload's large
/// blocks. The process ends right after the measurement anyway.
fn read_and_keep(path: &Path) -> Result<&'static Trace, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let text: &'static str = String::leak(text);
    let trace = parse(text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Box::leak(Box::new(trace)))
}

/// Limits the process's data size (break and private mappings) to what it
/// uses now plus `budget` bytes; returns the old limit.
pub(super) fn limit_data(budget: u64) -> libc::rlimit {
    let now = data_size().unwrap_or(0);
    // SAFETY: an all-zero rlimit is a valid value of this plain C struct.
    let mut old: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `old` is a valid place to write.
    unsafe { libc::getrlimit(libc::RLIMIT_DATA, &mut old) };
    let new = libc::rlimit {
        rlim_cur: (now + budget).min(old.rlim_max),
        rlim_max: old.rlim_max,
    };
    // SAFETY: a valid rlimit; lowering the soft limit is always allowed.
    unsafe { libc::setrlimit(libc::RLIMIT_DATA, &new) };
    old
}

/// Puts the data-size limit back, so the child can print its results.
pub(super) fn restore_data_limit(old: libc::rlimit) {
    // SAFETY: a valid rlimit, as it was before.
    unsafe { libc::setrlimit(libc::RLIMIT_DATA, &old) };
}

/// The process's data size now (`VmData`), in bytes.
fn data_size() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmData:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// p50, p99, p99.9 and max of `times` (ns), less the timer's cost.
fn percentiles(mut times: Vec<u32>) -> Percentiles {
    let timer = timer_cost();
    times.sort_unstable();
    let at = |q: f64| {
        if times.is_empty() {
            return 0.0;
        }
        let index = ((times.len() - 1) as f64 * q).round() as usize;
        (f64::from(times[index]) - timer).max(0.0)
    };
    Percentiles {
        p50: at(0.5),
        p99: at(0.99),
        p999: at(0.999),
        max: at(1.0),
        timer,
    }
}

/// The median time of timing nothing, in ns.
fn timer_cost() -> f64 {
    let mut times: Vec<u128> = (0..10_000)
        .map(|_| {
            let start = std::time::Instant::now();
            start.elapsed().as_nanos()
        })
        .collect();
    times.sort_unstable();
    times[times.len() / 2] as f64
}
