//! The results of a benchmark run, as data: what the table, the charts and
//! the JSON file show.

use serde::{Deserialize, Serialize};

use super::allocators::{Allocator, SYSTEM};
use super::child::Percentiles;
use super::measure::Measured;
use crate::units::median;

/// A whole run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// The command that made them.
    pub command: String,
    /// The machine they were made on.
    pub machine: Machine,
    /// `quick` or `full`.
    pub size: String,
    /// Timed runs per allocator and workload.
    pub runs: usize,
    /// The allocators compared, in table order.
    pub allocators: Vec<AllocatorInfo>,
    /// One entry per workload.
    pub workloads: Vec<WorkloadResult>,
    /// How it was measured, in sentences.
    pub notes: Vec<String>,
    /// Wall time of the whole run.
    pub seconds: f64,
}

/// The machine, as far as a program can tell.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// CPUs this process may use.
    pub cpus: usize,
    /// Kernel release.
    pub kernel: String,
    /// glibc's version.
    pub glibc: String,
    /// mimalloc's version.
    pub mimalloc: String,
}

/// An allocator's key and label.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AllocatorInfo {
    /// `system`, `mimalloc`, `stage1`...
    pub key: String,
    /// `glibc`, `mimalloc`, `stage 1 (bump)`...
    pub label: String,
}

/// One workload's results.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkloadResult {
    /// Its name.
    pub name: String,
    /// What it does, in one sentence.
    pub about: String,
    /// Threads that run it at once.
    #[serde(default = "one")]
    pub threads: usize,
    /// Its ops.
    pub ops: usize,
    /// Peak live requested bytes.
    pub live_peak: usize,
    /// One row per allocator, in the run's order.
    pub rows: Vec<Row>,
}

/// Results written before multi-threaded workloads existed had one thread.
fn one() -> usize {
    1
}

/// One allocator on one workload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// The allocator's key.
    pub allocator: String,
    /// Median time per op in ns.
    pub ns_per_op: Option<f64>,
    /// Median time / glibc's median time.
    pub ratio: Option<f64>,
    /// Fastest run / glibc's median.
    pub ratio_min: Option<f64>,
    /// Slowest run / glibc's median.
    pub ratio_max: Option<f64>,
    /// Peak footprint in bytes.
    pub footprint: Option<usize>,
    /// Whether `footprint` is only a lower bound (and `utilization` an
    /// upper bound): glibc's on the multi-threaded workloads, read now and
    /// then rather than followed op by op.
    #[serde(default)]
    pub footprint_at_least: bool,
    /// Peak utilization in percent.
    pub utilization: Option<f64>,
    /// System calls (see `syscalls_exact`).
    pub syscalls: Option<u64>,
    /// Whether `syscalls` is an exact count (stages) or a lower bound (glibc).
    pub syscalls_exact: bool,
    /// Minor page faults during the ops.
    pub page_faults: u64,
    /// The op at which a request was first refused.
    pub out_of_memory_at: Option<u64>,
    /// Single-call latency percentiles, where measured.
    pub latency: Option<Percentiles>,
    /// Why there are no numbers, if the run failed.
    pub error: Option<String>,
}

impl Row {
    /// Whether the time and memory numbers are meaningful (the run ended
    /// without failing or running out of memory).
    pub fn complete(&self) -> bool {
        self.error.is_none() && self.out_of_memory_at.is_none()
    }
}

/// The rows of one workload from its measurements. Times are divided by
/// glibc's median time on the same workload in the same run.
pub fn rows(allocators: &[Allocator], measured: &mut [Measured]) -> Vec<Row> {
    let system_time = allocators
        .iter()
        .zip(measured.iter_mut())
        .find(|(a, _)| a.key == SYSTEM)
        .map(|(_, m)| median(&mut m.times))
        .filter(|&t| t > 0.0);
    allocators
        .iter()
        .zip(measured.iter_mut())
        .map(|(allocator, m)| {
            let memory = m.memory.as_ref().unwrap_or(&m.sample);
            let time = (!m.times.is_empty()).then(|| median(&mut m.times));
            let ratio = |t: Option<f64>| t.zip(system_time).map(|(t, s)| t / s);
            let min = m.times.iter().copied().reduce(f64::min);
            let max = m.times.iter().copied().reduce(f64::max);
            let utilization = memory
                .footprint
                .filter(|&f| f > 0)
                .map(|f| 100.0 * memory.live_peak as f64 / f as f64);
            Row {
                allocator: allocator.key.clone(),
                ns_per_op: time,
                ratio: ratio(time),
                ratio_min: ratio(min),
                ratio_max: ratio(max),
                footprint: memory.footprint,
                footprint_at_least: memory.footprint_at_least,
                utilization,
                syscalls: memory.syscalls,
                syscalls_exact: allocator.stage.is_some(),
                page_faults: m.sample.page_faults,
                out_of_memory_at: m.sample.out_of_memory_at,
                latency: m.latency,
                error: m.error.clone(),
            }
        })
        .collect()
}
