//! The heap explorer's data: a trace run op by op on a real stage, with the
//! heap as the stage's own map describes it after every op.
//!
//! Nothing here knows how an allocator works. After each op the stage
//! writes its heap map (`Malloc::heap_map`), [`picture::parse`] reads it
//! back into blocks, and [`picture::free_lists`] reads its free lists; the
//! footprint and live bytes are the stage's own [`Stats`]. The explorer page
//! (`book/src/explorer.md`, drawn by `book/src/explorer/explorer.js`) only
//! draws these states: no allocator is written again in JavaScript.
//!
//! To stay small, a step stores only what changed: the blocks of the step
//! before that it replaces (runs of equal blocks stay folded, as the map
//! folds them), and the free lists and settings only when they change.
//! Long traces are cut to their first [`MAX_OPS`] ops.
//!
//! `cargo workbook explore TRACE --stage N --json` prints one [`Exploration`];
//! the book build ([`write_book_data`]) writes one per offered trace and
//! stage beside the explorer page.
//!
//! [`Stats`]: malloc_core::Stats

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::picture::{self, Kind, Piece};
use crate::{drill, generate};

/// The most ops of a trace the explorer steps through: the recorded real
/// programs are cut to their start (tens of thousands of ops would make
/// megabytes of data, and nobody steps through them one by one).
pub const MAX_OPS: usize = 1000;

/// The header before every block, in bytes: 16 on every stage (each
/// stage's `block::HEADER`). The maps that give a block's usable size say
/// it too (span = header + usable), and a test checks that they agree.
pub const HEADER: usize = 16;

/// Where the book build puts the explorer's data, inside the built book.
pub const DATA_DIR: &str = "explorer/data";

/// A trace on one stage, op by op.
#[derive(Clone, Debug, Serialize)]
pub struct Exploration {
    /// The trace, as offered (e.g. `book/drills/split.rep`).
    pub trace: String,
    /// The stage's number.
    pub stage: u32,
    /// The stage's name in the course's words (`free-list reuse`).
    pub stage_name: String,
    /// What the stage's map calls itself (`free-list allocator`).
    pub allocator: String,
    /// Ops in the whole trace (more than `ops` when it was cut).
    pub trace_ops: usize,
    /// The header before every block, in bytes ([`HEADER`]).
    pub header: usize,
    /// The ops run, as `.rep` lines (`a 0 1000`, `f 0`).
    pub ops: Vec<String>,
    /// Bytes taken from the OS (break and mappings) at each step.
    pub footprint: Vec<usize>,
    /// Bytes the program asked for and holds at each step.
    pub live: Vec<usize>,
    /// The heap before the first op (step 0) and after each op (step n
    /// after op n).
    pub steps: Vec<Step>,
}

/// The heap after one op, as a change to the step before.
///
/// A block is known by its offset (mappings, which the map counts
/// together, by their kind): `changed` holds the blocks that are new or
/// differ from the block at their offset the step before, `gone` the
/// offsets of blocks that are no more (taken into a neighbour, or given
/// back). Blocks are drawn in address order, mappings last.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Step {
    /// Offsets of the blocks of the step before that are gone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gone: Vec<usize>,
    /// The blocks that are new or changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<Block>,
    /// The free lists or bins whose length changed, with their new length
    /// (a bin the map no longer names is empty: 0). Step 0 names every
    /// list the map names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<(String, usize)>,
    /// The stage's settings line (stages 6 on), when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<String>,
}

/// One line of a heap map: a block, or a run of equal blocks, written as a
/// JSON array `[kind, offset, bytes, count, requested, usable]`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Block(
    /// `live`, `lost`, `free`, `cached`, `padding`, `bucket` (the part of a
    /// bucket not handed out yet), `top` or `mapped`.
    pub &'static str,
    /// Offset of its first header from the heap's start (0 for mappings).
    pub usize,
    /// Bytes it covers, headers included (all blocks of a run).
    pub usize,
    /// Blocks in the run.
    pub usize,
    /// Bytes requested, per block, where the map says.
    pub Option<usize>,
    /// Bytes usable, per block, where the map says.
    pub Option<usize>,
);

impl Block {
    fn from_piece(piece: &Piece) -> Block {
        let kind = match piece.kind {
            Kind::Live => "live",
            Kind::Lost => "lost",
            Kind::Free => "free",
            Kind::Cached => "cached",
            Kind::Padding => "padding",
            Kind::BucketTail => "bucket",
            Kind::Top => "top",
            Kind::Mapped => "mapped",
        };
        Block(
            kind,
            piece.offset,
            piece.bytes,
            piece.count,
            piece.requested,
            piece.usable,
        )
    }

    /// What a step knows the block by: its offset, or `None` for the
    /// mappings (the map counts them together, with no offset).
    fn key(&self) -> Option<usize> {
        (self.0 != "mapped").then_some(self.1)
    }
}

/// Runs the first [`MAX_OPS`] ops of `trace` (named `name`) on a fresh
/// stage `number` on simulated memory, and records the heap after each.
pub fn explore(
    name: &str,
    trace: &malloc_trace::Trace,
    number: u32,
) -> Result<Exploration, String> {
    let stage =
        workbook_manifest::find(number).ok_or_else(|| workbook_manifest::no_such_stage(number))?;
    let heap = generate::stage(number)?;
    let cut = malloc_trace::Trace::new(trace.ops.iter().take(MAX_OPS).copied().collect());
    let mut recorder = Recorder::default();
    let mut allocator = String::new();
    let mut look = |recorder: &mut Recorder| -> Result<(), String> {
        let mut map = String::new();
        heap.heap_map(&mut map)
            .map_err(|_| "writing the heap map failed".to_string())?;
        if allocator.is_empty() {
            allocator = map
                .lines()
                .next()
                .and_then(|line| line.split(':').next())
                .unwrap_or_default()
                .to_string();
        }
        let stats = heap.stats();
        recorder.record(&map, stats.footprint(), stats.live_bytes)
    };
    look(&mut recorder)?;
    drill::run(&*heap, &cut, |_| look(&mut recorder))
        .map_err(|e| format!("{name} on stage {number}: {e}"))?;
    Ok(Exploration {
        trace: name.to_string(),
        stage: number,
        stage_name: stage.name.to_string(),
        allocator,
        trace_ops: trace.ops.len(),
        header: HEADER,
        ops: cut.ops.iter().map(ToString::to_string).collect(),
        footprint: recorder.footprint,
        live: recorder.live,
        steps: recorder.steps,
    })
}

/// Turns heap maps, one per step, into changes.
#[derive(Default)]
struct Recorder {
    blocks: BTreeMap<Option<usize>, Block>,
    /// The lists as the map names them, in its order.
    lists: Vec<(String, usize)>,
    settings: Option<String>,
    steps: Vec<Step>,
    footprint: Vec<usize>,
    live: Vec<usize>,
}

impl Recorder {
    fn record(&mut self, map: &str, footprint: usize, live: usize) -> Result<(), String> {
        let blocks: BTreeMap<Option<usize>, Block> = picture::parse(map)?
            .iter()
            .map(Block::from_piece)
            .map(|block| (block.key(), block))
            .collect();
        let lists = picture::free_lists(map)?;
        let settings = map
            .lines()
            .find_map(|line| line.strip_prefix("settings: "))
            .map(str::to_string);
        let first = self.steps.is_empty();
        let step = Step {
            gone: self
                .blocks
                .values()
                .filter(|old| !blocks.contains_key(&old.key()))
                .map(|old| old.1)
                .collect(),
            changed: blocks
                .iter()
                .filter(|(key, block)| self.blocks.get(key) != Some(block))
                .map(|(_, block)| block.clone())
                .collect(),
            lists: lists
                .iter()
                .filter(|list| first || !self.lists.contains(list))
                .cloned()
                .chain(
                    self.lists
                        .iter()
                        .filter(|(name, _)| !lists.iter().any(|(n, _)| n == name))
                        .map(|(name, _)| (name.clone(), 0)),
                )
                .collect(),
            settings: (self.settings != settings)
                .then(|| settings.clone())
                .flatten(),
        };
        self.steps.push(step);
        self.footprint.push(footprint);
        self.live.push(live);
        self.blocks = blocks;
        self.lists = lists;
        self.settings = settings;
        Ok(())
    }
}

impl Exploration {
    /// The blocks at step `n`, with the changes applied from step 0 (what
    /// the page does in JavaScript).
    pub fn blocks_at(&self, n: usize) -> Vec<Block> {
        let mut blocks = BTreeMap::new();
        for step in &self.steps[..=n.min(self.steps.len() - 1)] {
            for offset in &step.gone {
                blocks.remove(&Some(*offset));
            }
            for block in &step.changed {
                blocks.insert(block.key(), block.clone());
            }
        }
        // Address order, mappings (key `None`) last.
        let mapped = blocks.remove(&None);
        blocks.into_values().chain(mapped).collect()
    }

    /// The exploration as text: each op, then what changed in the heap.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{} on stage {} ({}): {} ops{}\n",
            self.trace,
            self.stage,
            self.stage_name,
            self.ops.len(),
            if self.trace_ops > self.ops.len() {
                format!(" (the first of {})", self.trace_ops)
            } else {
                String::new()
            }
        );
        for (n, step) in self.steps.iter().enumerate() {
            let what = match n {
                0 => "before the first op".to_string(),
                n => format!("op {n}: {}", self.ops[n - 1]),
            };
            let _ = writeln!(
                out,
                "{what}  (footprint {} B, live {} B)",
                self.footprint[n], self.live[n]
            );
            for offset in &step.gone {
                let _ = writeln!(out, "    - block at +{offset:#07x}");
            }
            for block in &step.changed {
                let Block(kind, offset, bytes, count, requested, usable) = block;
                let mut line = format!("    + {kind:<7} +{offset:#07x} {bytes:>8} B");
                if *count > 1 {
                    let _ = write!(line, " ×{count}");
                }
                if let Some(requested) = requested {
                    let _ = write!(line, ", asked {requested}");
                }
                if let Some(usable) = usable {
                    let _ = write!(line, ", usable {usable}");
                }
                let _ = writeln!(out, "{line}");
            }
            if !step.lists.is_empty() {
                let lists: Vec<String> = step
                    .lists
                    .iter()
                    .map(|(l, n)| format!("{l}: {n}"))
                    .collect();
                let _ = writeln!(out, "    free lists now: {}", lists.join(", "));
            }
        }
        out
    }
}

/// The traces the explorer offers, relative to the repository's root: the
/// drills (`book/drills`), the samples (`traces`) and the recorded real
/// programs (`traces/real`), each folder sorted by name.
pub fn offered(root: &Path) -> Result<Vec<String>, String> {
    let mut all = Vec::new();
    for dir in ["book/drills", "traces", "traces/real"] {
        let path = root.join(dir);
        let mut names: Vec<String> = std::fs::read_dir(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".rep"))
            .collect();
        names.sort();
        all.extend(names.into_iter().map(|name| format!("{dir}/{name}")));
    }
    Ok(all)
}

/// The name of a trace's data files: `book/drills/split.rep` is `drills-split`,
/// `traces/real/sort.rep` is `traces-real-sort`.
pub fn data_name(trace: &str) -> String {
    trace
        .trim_start_matches("book/")
        .trim_end_matches(".rep")
        .replace(['/', '.'], "-")
}

/// What the page lists: the offered traces and the stages.
#[derive(Serialize)]
struct Index {
    traces: Vec<IndexTrace>,
    stages: Vec<IndexStage>,
    max_ops: usize,
}

#[derive(Serialize)]
struct IndexTrace {
    path: String,
    data: String,
    ops: usize,
    trace_ops: usize,
}

#[derive(Serialize)]
struct IndexStage {
    number: u32,
    name: &'static str,
    idea: &'static str,
}

/// Writes the explorer's data into `out` (the built book's folder) under
/// [`DATA_DIR`]: `index.js` and one `NAME-stageN.js` per offered trace and
/// stage, each a call of a function the page defines
/// (`explorerIndex({...})`, `explorerData({...})`), so that the page can
/// load them with `<script>` also from `file://`, where `fetch` is not
/// allowed. `root` is the repository's root. Returns the files written.
pub fn write_book_data(root: &Path, out: &Path) -> Result<Vec<PathBuf>, String> {
    let dir = out.join(DATA_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let traces = offered(root)?;
    let mut jobs = Vec::new();
    let mut index = Index {
        traces: Vec::new(),
        stages: workbook_manifest::STAGES
            .iter()
            .map(|s| IndexStage {
                number: s.number,
                name: s.name,
                idea: s.idea,
            })
            .collect(),
        max_ops: MAX_OPS,
    };
    for path in &traces {
        let text = std::fs::read_to_string(root.join(path))
            .map_err(|e| format!("cannot read {path}: {e}"))?;
        let trace = malloc_trace::parse(&text).map_err(|e| format!("{path}: {e}"))?;
        index.traces.push(IndexTrace {
            path: path.clone(),
            data: data_name(path),
            ops: trace.ops.len().min(MAX_OPS),
            trace_ops: trace.ops.len(),
        });
        for stage in workbook_manifest::STAGES {
            jobs.push((path.clone(), trace.clone(), stage.number));
        }
    }
    // Two hundred runs of up to MAX_OPS steps: shared among the CPUs.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Result<PathBuf, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((path, trace, stage)) = jobs.get(i) else {
                            return done;
                        };
                        done.push(write_one(&dir, path, trace, *stage));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err("a worker panicked".into())])
            })
            .collect()
    });
    let mut written = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    let json = serde_json::to_string(&index).map_err(|e| e.to_string())?;
    let path = dir.join("index.js");
    std::fs::write(&path, format!("explorerIndex({json});\n"))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    written.push(path);
    Ok(written)
}

/// Explores `trace` on stage `stage` and writes it into `dir`.
fn write_one(
    dir: &Path,
    path: &str,
    trace: &malloc_trace::Trace,
    stage: u32,
) -> Result<PathBuf, String> {
    let exploration = explore(path, trace, stage)?;
    let json = serde_json::to_string(&exploration).map_err(|e| e.to_string())?;
    let file = dir.join(format!("{}-stage{stage}.js", data_name(path)));
    std::fs::write(&file, format!("explorerData({json});\n"))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(file)
}

/// The exploration as JSON, as `cargo workbook explore --json` prints it.
pub fn json(exploration: &Exploration) -> Result<String, String> {
    serde_json::to_string(exploration).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split() -> malloc_trace::Trace {
        malloc_trace::parse("0\n4\n5\n1\na 0 1000\na 1 10\nf 0\na 2 60\na 3 60\n").unwrap()
    }

    /// Applying the changes gives back every map the stage wrote.
    #[test]
    fn changes_rebuild_every_step() {
        for stage in [1, 3, 4, 7, 9] {
            let trace = split();
            let exploration = explore("split", &trace, stage).unwrap();
            assert_eq!(exploration.steps.len(), trace.ops.len() + 1);
            for n in 0..=trace.ops.len() {
                let cut = malloc_trace::Trace::new(trace.ops[..n].to_vec());
                let heap = generate::stage(stage).unwrap();
                let map = drill::heap_map_after(&*heap, &cut).unwrap();
                let mut fresh: Vec<Block> = picture::parse(&map)
                    .unwrap()
                    .iter()
                    .map(Block::from_piece)
                    .collect();
                // The map lists mappings last; the rest in address order.
                fresh.sort_by_key(|b| (b.0 == "mapped", b.1));
                assert_eq!(exploration.blocks_at(n), fresh, "stage {stage}, step {n}");
            }
        }
    }

    /// Stage 4 splits the freed 1024 into 64s; stage 3 keeps it whole.
    #[test]
    fn the_split_drill_differs_between_stages_3_and_4() {
        let trace = split();
        let kinds = |stage| {
            let exploration = explore("split", &trace, stage).unwrap();
            let last = exploration.blocks_at(trace.ops.len());
            let free_64: usize = last
                .iter()
                .filter(|b| b.0 == "free" && b.5 == Some(64))
                .map(|b| b.3)
                .sum();
            let free_1024 = last.iter().any(|b| b.0 == "free" && b.5 == Some(1024));
            (free_64, free_1024)
        };
        assert_eq!(kinds(3), (0, true));
        assert!(kinds(4).0 > 0 && !kinds(4).1);
    }

    /// Every block whose map line gives its usable size spans the header
    /// and that size: the explorer's [`HEADER`] is the stages' own.
    #[test]
    fn header_is_what_the_maps_say() {
        for stage in workbook_manifest::STAGES {
            let exploration = explore("split", &split(), stage.number).unwrap();
            for n in 0..exploration.steps.len() {
                for Block(kind, _, bytes, count, _, usable) in exploration.blocks_at(n) {
                    if let Some(usable) = usable.filter(|_| kind != "mapped") {
                        assert_eq!(
                            bytes / count,
                            HEADER + usable,
                            "stage {}: a {kind} block",
                            stage.number
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn names_and_cuts() {
        assert_eq!(data_name("book/drills/split.rep"), "drills-split");
        assert_eq!(data_name("traces/real/gcc-cc1.rep"), "traces-real-gcc-cc1");
        let long = malloc_trace::Trace::new(
            (0..MAX_OPS + 10)
                .map(|i| {
                    if i % 2 == 0 {
                        malloc_trace::Op::Malloc {
                            id: Some(0),
                            size: 32,
                        }
                    } else {
                        malloc_trace::Op::Free { id: Some(0) }
                    }
                })
                .collect(),
        );
        let exploration = explore("long", &long, 3).unwrap();
        assert_eq!(exploration.ops.len(), MAX_OPS);
        assert_eq!(exploration.trace_ops, MAX_OPS + 10);
    }
}
