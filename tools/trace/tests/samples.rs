//! The sample traces in `traces/`: how they are made, and that they are
//! still what this file makes.
//!
//! Each trace is written by a small function below from a fixed seed, so it
//! is the same on every machine. To change one, edit its function and run
//!
//! ```text
//! UPDATE_TRACES=1 cargo test -p malloc-trace --test samples
//! ```
//!
//! which rewrites the files; without `UPDATE_TRACES` the test fails when a
//! file and its function disagree.

use std::path::PathBuf;

use malloc_core::SystemMalloc;
use malloc_trace::{Op, Trace, parse, replay};

/// A function that makes a sample.
type Make = fn() -> Trace;

/// Every sample: its file name and the function that makes it.
const SAMPLES: [(&str, Make); 4] = [
    ("small-churn.rep", small_churn),
    ("realloc-growth.rep", realloc_growth),
    ("phase-change.rep", phase_change),
    ("mixed.rep", mixed),
];

/// A tiny deterministic random number generator (xorshift64*): the samples
/// must not change when a dependency does.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: usize, high: usize) -> usize {
        low + (self.next() % (high - low + 1) as u64) as usize
    }

    /// A size spread evenly over the powers of two from `low` to `high`
    /// (small sizes common, large ones rare, as in real programs).
    fn size(&mut self, low: usize, high: usize) -> usize {
        let bits = self.between(low.ilog2() as usize, high.ilog2() as usize);
        self.between(1 << bits, (2 << bits) - 1).clamp(low, high)
    }
}

fn malloc(id: usize, size: usize) -> Op {
    Op::Malloc { id: Some(id), size }
}

fn free(id: usize) -> Op {
    Op::Free { id: Some(id) }
}

/// Frees every id still live, in order.
fn free_the_rest(ops: &mut Vec<Op>, live: &[bool]) {
    for (id, &is_live) in live.iter().enumerate() {
        if is_live {
            ops.push(free(id));
        }
    }
}

/// Small blocks (8 to 256 bytes) allocated and freed at random, about 32
/// live at a time: a program's everyday churn. An allocator that never
/// reuses memory (stage 1, 2) grows all along; one that reuses (stage 3) stays flat.
fn small_churn() -> Trace {
    let mut random = Random(0x5eed_0001);
    let mut live = [false; 64];
    let mut ops = Vec::new();
    while ops.len() < 2000 {
        let id = random.between(0, live.len() - 1);
        ops.push(if live[id] {
            free(id)
        } else {
            malloc(id, random.size(8, 256))
        });
        live[id] = !live[id];
    }
    free_the_rest(&mut ops, &live);
    Trace::new(ops)
}

/// Eight buffers that grow by half each time (like a `Vec` or a C string
/// builder) from 16 bytes to about 32 KiB, between short-lived small blocks.
/// Shows what realloc costs when it must move, and what moving leaves behind.
fn realloc_growth() -> Trace {
    const BUFFERS: usize = 8;
    let mut random = Random(0x5eed_0002);
    let mut sizes = [0usize; BUFFERS];
    let mut live = vec![false; BUFFERS + 16];
    let mut ops = Vec::new();
    loop {
        let growing: Vec<usize> = (0..BUFFERS).filter(|&b| sizes[b] < 32 << 10).collect();
        if growing.is_empty() {
            break;
        }
        let b = growing[random.between(0, growing.len() - 1)];
        sizes[b] = if sizes[b] == 0 { 16 } else { sizes[b] * 3 / 2 };
        ops.push(Op::Realloc {
            id: Some(b),
            size: sizes[b],
        });
        live[b] = true;
        // A few small temporaries (ids after the buffers) come and go.
        for _ in 0..random.between(0, 4) {
            let id = BUFFERS + random.between(0, 15);
            ops.push(if live[id] {
                free(id)
            } else {
                malloc(id, random.size(16, 128))
            });
            live[id] = !live[id];
        }
    }
    free_the_rest(&mut ops, &live);
    Trace::new(ops)
}

/// Phase 1: 400 blocks of 1000 bytes, all freed. Phase 2: 1600 blocks of
/// 60 bytes, all freed. Memory freed in one size is needed in another:
/// stage 4 (splitting) serves phase 2 from phase 1's memory.
fn phase_change() -> Trace {
    let mut ops = Vec::new();
    for (count, size) in [(400, 1000), (1600, 60)] {
        for id in 0..count {
            ops.push(malloc(id, size));
        }
        for id in 0..count {
            ops.push(free(id));
        }
    }
    Trace::new(ops)
}

/// Every kind of op, sizes from 1 byte to 64 KiB with now and then a large
/// block of 200 KiB to 1 MiB (above the mmap threshold of stage 5), a few
/// calloc and memalign requests, and null pointers freed and reallocated.
fn mixed() -> Trace {
    let mut random = Random(0x5eed_0004);
    let mut live = [false; 100];
    let mut ops = Vec::new();
    while ops.len() < 1500 {
        let id = random.between(0, live.len() - 1);
        let dice = random.between(1, 100);
        if dice <= 2 {
            ops.push(Op::Free { id: None });
            continue;
        }
        let size = if dice <= 5 {
            random.size(200 << 10, 1 << 20)
        } else {
            random.size(1, 64 << 10)
        };
        ops.push(match (live[id], dice) {
            (true, ..=40) => Op::Realloc { id: Some(id), size },
            (true, _) => free(id),
            (false, ..=10) => Op::Calloc {
                id: Some(id),
                count: random.between(1, 16),
                size: size / 16 + 1,
            },
            (false, ..=15) => Op::Memalign {
                id: Some(id),
                align: 1 << random.between(4, 12),
                size,
            },
            (false, _) => malloc(id, size),
        });
        live[id] = !matches!(ops.last(), Some(Op::Free { .. }));
    }
    free_the_rest(&mut ops, &live);
    Trace::new(ops)
}

fn traces_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../traces")
}

#[test]
fn samples_are_what_their_functions_make() {
    let update = std::env::var_os("UPDATE_TRACES").is_some();
    for (name, make) in SAMPLES {
        let path = traces_dir().join(name);
        let text = make().to_string();
        if update {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let on_disk =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            on_disk == text,
            "traces/{name} differs from what its function makes: \
             run `UPDATE_TRACES=1 cargo test -p malloc-trace --test samples`"
        );
    }
}

#[test]
fn samples_parse_replay_and_stay_small() {
    for (name, make) in SAMPLES {
        let trace = make();
        let text = trace.to_string();
        assert!(text.len() < 100 << 10, "{name} is {} bytes", text.len());
        let parsed = parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed, trace, "{name}");
        assert!(trace.header_warnings().is_empty(), "{name}");
        let r = replay(&SystemMalloc, &trace).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.left_live, 0, "{name} frees all it allocates");
        assert_eq!(r.failed, 0, "{name}");
    }
}
