//! Running the measurements: every workload on every allocator, each run in
//! a fresh child process, the allocators taking turns.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use super::allocators::{Allocator, SYSTEM};
use super::child::{Mode, Percentiles, Sample};
use super::progress::Progress;
use super::workloads::{Source, Workload};

/// Everything measured for one allocator on one workload.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// Time per op of each timed run, in ns (the warm-up run not included).
    pub times: Vec<f64>,
    /// The first timed run's sample (footprint, syscalls, faults...).
    pub sample: Sample,
    /// The memory pass, for allocators that need one (glibc).
    pub memory: Option<Sample>,
    /// Latency percentiles, for the allocators whose tail is shown.
    pub latency: Option<Percentiles>,
    /// Why the measurement failed, if it did (a crash, a bad trace).
    pub error: Option<String>,
}

/// How to measure.
pub struct Plan<'a> {
    /// The allocators, the system malloc first.
    pub allocators: &'a [Allocator],
    /// Timed runs per allocator and workload (after one warm-up run).
    pub runs: usize,
    /// Bytes a stage may take before its requests fail.
    pub budget: u64,
    /// Allocators whose single-call latencies are measured.
    pub latency_of: &'a [&'a str],
    /// Where made workloads are written as `.rep` files for the children.
    pub scratch: &'a Path,
}

impl Plan<'_> {
    /// Child processes `workloads` take: the progress bar's total.
    pub fn steps(&self, workloads: &[Workload]) -> usize {
        let latency = self
            .allocators
            .iter()
            .filter(|a| self.latency_of.contains(&a.key.as_str()))
            .count();
        let per_workload = |w: &Workload| {
            let latency = if times_single_calls(w) { latency } else { 0 };
            self.allocators.len() * self.runs + 1 + latency
        };
        self.allocators.len() + workloads.iter().map(per_workload).sum::<usize>()
    }

    /// Measures `workload` on every allocator; one result per allocator, in
    /// the plan's order. With `warm_up`, a first round is run and thrown
    /// away.
    pub fn measure(
        &self,
        workload: &Workload,
        warm_up: bool,
        progress: &mut Progress,
    ) -> Result<Vec<Measured>, String> {
        let input = self.input(workload)?;
        let mut results = vec![Measured::default(); self.allocators.len()];
        let n = self.allocators.len();
        // Round 0 warms up (caches, the binary's pages, the CPU's clock) and
        // is thrown away; every run is a fresh process, so once per benchmark
        // is enough. Then each round runs every allocator once, starting one
        // further along each time (A B C, B C A, ...), so that slow moments
        // of a noisy machine spread over all of them.
        let first_round = if warm_up { 0 } else { 1 };
        for round in first_round..=self.runs {
            for turn in 0..n {
                let index = (turn + round) % n;
                let result = &mut results[index];
                progress.step(&workload.name);
                if result.error.is_some() {
                    continue;
                }
                match child(&self.allocators[index].key, Mode::Time, &input, self.budget) {
                    Ok(sample) if round > 0 => {
                        result.times.push(sample.ns_per_op);
                        if result.times.len() == 1 {
                            result.sample = sample;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => result.error = Some(e),
                }
            }
        }
        for (allocator, result) in self.allocators.iter().zip(&mut results) {
            let key = allocator.key.as_str();
            if key == SYSTEM {
                progress.step(&workload.name);
                match child(key, Mode::Memory, &input, self.budget) {
                    Ok(sample) => result.memory = Some(sample),
                    Err(e) => result.error = Some(e),
                }
            }
            if self.latency_of.contains(&key) && times_single_calls(workload) {
                progress.step(&workload.name);
                if let Ok(sample) = child(key, Mode::Latency, &input, self.budget) {
                    result.latency = sample.latency;
                }
            }
        }
        Ok(results)
    }

    /// What the child is told to run: a `.rep` file (the workload's own, or
    /// the made trace written to the scratch folder), or a multi-threaded
    /// workload by its spec.
    fn input(&self, workload: &Workload) -> Result<Vec<OsString>, String> {
        match &workload.source {
            Source::File(path) => Ok(vec![path.into()]),
            Source::Made(trace) => {
                let path = self
                    .scratch
                    .join(format!("{}.rep", workload.name.replace('/', "-")));
                std::fs::write(&path, trace.to_string())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                Ok(vec![path.into()])
            }
            Source::Threads(work) => Ok(vec!["--threaded".into(), work.to_string().into()]),
        }
    }
}

/// Whether single calls are timed on `workload` (the latency table): not
/// on the multi-threaded ones, where a call's time says as much about what
/// the other thread was doing as about the call.
fn times_single_calls(workload: &Workload) -> bool {
    workload.threads() == 1
}

/// Runs one measurement in a child process (this program, `bench --child`);
/// `input`: the child's arguments that say what to run.
fn child(key: &str, mode: Mode, input: &[OsString], budget: u64) -> Result<Sample, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mode_name = match mode {
        Mode::Time => "time",
        Mode::Memory => "memory",
        Mode::Latency => "latency",
    };
    let output = Command::new(exe)
        .args(["bench", "--child", key, "--mode", mode_name, "--budget"])
        .arg(budget.to_string())
        .args(input)
        .output()
        .map_err(|e| format!("cannot start a measurement: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("").trim();
        return Err(format!("the run failed ({}): {last}", output.status));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("unreadable measurement: {e}"))
}
