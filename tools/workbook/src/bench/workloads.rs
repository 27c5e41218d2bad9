//! The workloads: small allocation programs, each with a name and one
//! sentence saying what it exercises.
//!
//! Most workloads are traces (`malloc_trace::Trace`): the synthetic ones are
//! made here from a fixed seed, the real ones are read from `.rep` files. So
//! any of them can also be replayed alone with `cargo workbook replay`. The
//! two multi-threaded ones (`threads-*`) cannot be a trace, which has one
//! thread: they are programs of their own, in [`threads`](super::threads).

use std::path::{Path, PathBuf};

use malloc_trace::{Op, Trace};

use super::threads::{Kind, Threaded};

/// One workload: its name, what it shows, and where its ops come from.
pub struct Workload {
    /// A short name, unique in one run (`churn-10k`, `real/sort`).
    pub name: String,
    /// One sentence: what it does and why it is here.
    pub about: String,
    /// Its ops: made here, or read from a file.
    pub source: Source,
}

impl Workload {
    /// How many threads run it at once.
    pub fn threads(&self) -> usize {
        match self.source {
            Source::Threads(_) => 2,
            Source::Made(_) | Source::File(_) => 1,
        }
    }
}

/// Where a workload's ops come from.
pub enum Source {
    /// Made from a fixed seed.
    Made(Trace),
    /// A `.rep` file, read at run time.
    File(PathBuf),
    /// Two threads at once (not a trace).
    Threads(Threaded),
}

/// How big the synthetic workloads are.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// A few seconds for all of them: CI and learners.
    Quick,
    /// The full run, for the book.
    Full,
}

impl Size {
    /// `full` ops in a full run, a tenth of them in a quick one.
    fn ops(self, full: usize) -> usize {
        match self {
            Size::Quick => full / 10,
            Size::Full => full,
        }
    }
}

/// The synthetic workloads at `size`.
pub fn made(size: Size) -> Vec<Workload> {
    let churn_ops = size.ops(1_000_000);
    let made = |name: &str, about: &str, trace: Trace| Workload {
        name: name.to_string(),
        about: about.to_string(),
        source: Source::Made(trace),
    };
    vec![
        made(
            "churn-64",
            "Small-object churn: 64 live blocks of 16–1024 B, each step frees a random one and allocates a new one.",
            churn(64, churn_ops, 1),
        ),
        made(
            "churn-10k",
            "The same churn with 10,000 live blocks: free lists long enough to leave the cache.",
            churn(10_000, churn_ops, 2),
        ),
        made(
            "churn-100k",
            "The same churn with 100,000 live blocks (about 50 MiB live).",
            churn(100_000, churn_ops.max(200_000), 3),
        ),
        made(
            "phase-change",
            "The stage-4 lesson: 4,000 blocks of 1000 B allocated and freed, then 16,000 of 60 B, in turns.",
            phase_change(size.ops(40)),
        ),
        made(
            "realloc-growth",
            "Append-heavy strings (grown a few bytes at a time up to 16 KiB) and vectors (doubled up to 1 MiB), with small temporaries between.",
            realloc_growth(size.ops(400_000), 4),
        ),
        made(
            "large-blocks",
            "Sixteen live blocks of 64 KiB – 1 MiB around the mmap threshold, replaced one at a time.",
            large_blocks(size.ops(20_000), 5),
        ),
        made(
            "loop-256k",
            "One 256 KiB block allocated and freed in a loop: a mapping per block, or reuse.",
            loop_256k(size.ops(20_000)),
        ),
        made(
            "random-actions",
            "Random malloc, free and realloc (talc's benchmark), size = rand(16..rand(16..64 KiB)), up to 1,000 live.",
            random_actions(size.ops(400_000), 6),
        ),
        threaded(
            "threads-churn",
            "Two threads at once, each churning its own 1,000 live blocks of 16–1024 B: frees a random one, allocates a new one.",
            Threaded {
                kind: Kind::Churn,
                ops: size.ops(2_000_000),
            },
        ),
        threaded(
            "threads-handoff",
            "Two threads: one allocates blocks of 16–1024 B and passes them through a ring of 256 pointers to the other, which frees them: every free is of the other thread's block.",
            Threaded {
                kind: Kind::Handoff,
                ops: size.ops(2_000_000),
            },
        ),
    ]
}

/// A multi-threaded workload.
fn threaded(name: &str, about: &str, work: Threaded) -> Workload {
    Workload {
        name: name.to_string(),
        about: about.to_string(),
        source: Source::Threads(work),
    }
}

/// The `.rep` files in `dir`, sorted by name, as workloads named `real/NAME`.
pub fn real_traces(dir: &Path) -> Vec<Workload> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rep"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            Workload {
                name: format!("real/{stem}"),
                about: format!("A recorded real program ({stem}), replayed op by op."),
                source: Source::File(path),
            }
        })
        .collect()
}

/// A trace file given on the command line, as a workload.
pub fn given(path: &Path) -> Workload {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    Workload {
        name: format!("file/{stem}"),
        about: format!("The trace {}, given on the command line.", path.display()),
        source: Source::File(path.to_path_buf()),
    }
}

/// A small, fast, seeded random number generator (xorshift64*): the same
/// seed makes the same workload on every machine.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `low..high` (`high > low`).
    pub fn range(&mut self, low: usize, high: usize) -> usize {
        low + (self.next() % (high - low) as u64) as usize
    }
}

/// Ids of live blocks, with the free ids kept for reuse, so traces need
/// few ids.
struct Ids {
    live: Vec<usize>,
    spare: Vec<usize>,
    next: usize,
}

impl Ids {
    fn new() -> Self {
        Ids {
            live: Vec::new(),
            spare: Vec::new(),
            next: 0,
        }
    }

    /// A new id, now live.
    fn take(&mut self) -> usize {
        let id = self.spare.pop().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        });
        self.live.push(id);
        id
    }

    /// Removes the live id at `index` (order does not matter) and returns it.
    fn release(&mut self, index: usize) -> usize {
        let id = self.live.swap_remove(index);
        self.spare.push(id);
        id
    }
}

fn malloc(id: usize, size: usize) -> Op {
    Op::Malloc { id: Some(id), size }
}

fn free(id: usize) -> Op {
    Op::Free { id: Some(id) }
}

fn realloc(id: usize, size: usize) -> Op {
    Op::Realloc { id: Some(id), size }
}

/// `live` blocks of 16–1024 B, then steps that free a random block and
/// allocate a new one, until `ops` ops; then everything is freed.
pub fn churn(live: usize, ops: usize, seed: u64) -> Trace {
    let mut rng = Rng::new(seed);
    let mut ids = Ids::new();
    let mut trace = Vec::with_capacity(ops + 2 * live);
    for _ in 0..live {
        trace.push(malloc(ids.take(), rng.range(16, 1025)));
    }
    while trace.len() < ops + live {
        let index = rng.range(0, ids.live.len());
        trace.push(free(ids.release(index)));
        trace.push(malloc(ids.take(), rng.range(16, 1025)));
    }
    trace.extend(ids.live.iter().map(|&id| free(id)));
    Trace::new(trace)
}

/// `rounds` rounds of: 4,000 × 1000 B allocated then freed, then
/// 16,000 × 60 B allocated then freed.
pub fn phase_change(rounds: usize) -> Trace {
    let mut trace = Vec::new();
    for _ in 0..rounds.max(1) {
        for (count, size) in [(4_000, 1000), (16_000, 60)] {
            trace.extend((0..count).map(|id| malloc(id, size)));
            trace.extend((0..count).map(free));
        }
    }
    Trace::new(trace)
}

/// 24 strings growing a few bytes at a time and 8 vectors doubling, each
/// freed and started again when it reaches its target size, with a small
/// temporary allocated and freed every fourth op.
pub fn realloc_growth(ops: usize, seed: u64) -> Trace {
    const STRINGS: usize = 24;
    const BUFFERS: usize = STRINGS + 8;
    let temporary = BUFFERS;
    let mut rng = Rng::new(seed);
    let mut size = [0usize; BUFFERS];
    let mut target = [0usize; BUFFERS];
    let mut trace = Vec::with_capacity(ops + 2 * BUFFERS);
    while trace.len() < ops {
        let b = rng.range(0, BUFFERS);
        if size[b] == 0 {
            size[b] = 16;
            target[b] = if b < STRINGS {
                rng.range(256, 16 << 10)
            } else {
                rng.range(4 << 10, 1 << 20)
            };
            trace.push(malloc(b, size[b]));
        } else if size[b] >= target[b] {
            size[b] = 0;
            trace.push(free(b));
        } else {
            size[b] = if b < STRINGS {
                size[b] + rng.range(1, 64)
            } else {
                size[b] * 2
            };
            trace.push(realloc(b, size[b]));
        }
        if trace.len() % 4 == 0 {
            trace.push(malloc(temporary, rng.range(16, 128)));
            trace.push(free(temporary));
        }
    }
    trace.extend((0..BUFFERS).filter(|&b| size[b] > 0).map(free));
    Trace::new(trace)
}

/// 16 live blocks of 64 KiB – 1 MiB (spread evenly on a log scale), one
/// replaced per step.
pub fn large_blocks(ops: usize, seed: u64) -> Trace {
    let mut rng = Rng::new(seed);
    let mut size = || {
        // 2^16 to 2^20, with the exponent's fraction random too.
        let exponent = 16.0 + 4.0 * (rng.next() % 10_000) as f64 / 10_000.0;
        2f64.powf(exponent) as usize
    };
    let mut ids = Ids::new();
    let mut trace = Vec::with_capacity(ops + 32);
    for _ in 0..16 {
        trace.push(malloc(ids.take(), size()));
    }
    let mut pick = Rng::new(seed + 100);
    while trace.len() < ops {
        let index = pick.range(0, ids.live.len());
        trace.push(free(ids.release(index)));
        trace.push(malloc(ids.take(), size()));
    }
    trace.extend(ids.live.iter().map(|&id| free(id)));
    Trace::new(trace)
}

/// `malloc(256 KiB)`, `free`, `ops / 2` times.
pub fn loop_256k(ops: usize) -> Trace {
    let trace = (0..ops / 2).flat_map(|_| [malloc(0, 256 << 10), free(0)]);
    Trace::new(trace.collect())
}

/// talc's random actions: allocate, free or reallocate at random, with
/// size = rand(16..rand(16..64 KiB)) (mostly small, sometimes large), at
/// most 1,000 blocks live.
pub fn random_actions(ops: usize, seed: u64) -> Trace {
    const MAX_LIVE: usize = 1000;
    let mut rng = Rng::new(seed);
    let size = |rng: &mut Rng| {
        let limit = rng.range(17, 64 << 10);
        rng.range(16, limit)
    };
    let mut ids = Ids::new();
    let mut trace = Vec::with_capacity(ops + MAX_LIVE);
    while trace.len() < ops {
        let action = rng.range(0, 4);
        if ids.live.is_empty() || (action < 2 && ids.live.len() < MAX_LIVE) {
            let n = size(&mut rng);
            trace.push(malloc(ids.take(), n));
        } else if action == 2 || ids.live.len() >= MAX_LIVE {
            let index = rng.range(0, ids.live.len());
            trace.push(free(ids.release(index)));
        } else {
            let id = ids.live[rng.range(0, ids.live.len())];
            let n = size(&mut rng);
            trace.push(realloc(id, n));
        }
    }
    trace.extend(ids.live.iter().map(|&id| free(id)));
    Trace::new(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_workloads_free_what_they_allocate() {
        for workload in made(Size::Quick) {
            assert!(workload.about.ends_with('.'), "{}", workload.name);
            let trace = match &workload.source {
                Source::Made(trace) => trace,
                // Tested in `threads`.
                Source::Threads(work) => {
                    assert!(work.ops > 0, "{}", workload.name);
                    continue;
                }
                Source::File(_) => panic!("{} is made", workload.name),
            };
            assert!(!trace.ops.is_empty(), "{}", workload.name);
            // Every live block is freed at the end: replaying leaves none.
            let r = malloc_trace::replay(&malloc_core::SystemMalloc, trace).unwrap();
            assert_eq!(r.left_live, 0, "{}", workload.name);
        }
        let names: Vec<String> = made(Size::Quick).into_iter().map(|w| w.name).collect();
        assert_eq!(
            names,
            [
                "churn-64",
                "churn-10k",
                "churn-100k",
                "phase-change",
                "realloc-growth",
                "large-blocks",
                "loop-256k",
                "random-actions",
                "threads-churn",
                "threads-handoff",
            ]
        );
    }

    #[test]
    fn same_seed_same_workload() {
        assert_eq!(churn(10, 100, 7), churn(10, 100, 7));
        assert_ne!(churn(10, 100, 7), churn(10, 100, 8));
    }
}
