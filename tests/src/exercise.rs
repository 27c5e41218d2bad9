//! The checks of an exercise: the whole suite, the stage's lesson, and two
//! checks that the memory really comes from the allocator's own source.
//!
//! A learner's crate (exercises/N-name) runs these on its type, one
//! `#[test]` per name in [`NAMES`]; the project's proofs (tools/holes) run
//! them on every exercise with holes left open, and on every stage.
//!
//! Why the source checks: an allocator that forwards every call to the
//! system malloc passes the differential test, because it *is* the system
//! malloc. It fails here: its blocks lie outside the break the exercise
//! gave it, and its heap map is not the picture the book shows.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, MutexGuard};

use malloc_core::{Break, GlobalMalloc, Malloc, Pages, SimBreak, SimPages, SourceStats};

use crate::{differential, edge, faults, lessons, threads};

/// Every check of an exercise, in the order they run: the quick corner
/// cases first, then the random tests, then the stage's idea.
pub const NAMES: [&str; 19] = [
    "malloc_zero",
    "free_null",
    "realloc_null",
    "realloc_to_zero",
    "realloc_keeps_data",
    "calloc_zeroes",
    "calloc_zeroes_reused",
    "calloc_overflow",
    "memalign_every_power",
    "memalign_rejects_bad_alignment",
    "huge_requests_fail",
    "usable_size_covers_request",
    "differential",
    "threads",
    "out_of_memory",
    "lesson",
    "rules",
    "memory_from_the_source",
    "heap_map_as_in_the_book",
];

/// What each check asks of the allocator, in a learner's words.
pub fn describe(name: &str) -> &'static str {
    match name {
        "malloc_zero" => "malloc(0) gives a unique block that can be freed",
        "free_null" => "free(NULL) does nothing",
        "realloc_null" => "realloc(NULL, n) is malloc(n)",
        "realloc_to_zero" => "realloc(p, 0) frees p and returns NULL",
        "realloc_keeps_data" => "realloc keeps the data when it grows or shrinks a block",
        "calloc_zeroes" => "calloc returns zeroed memory",
        "calloc_zeroes_reused" => "calloc zeroes memory that was used before",
        "calloc_overflow" => "calloc refuses a count × size that overflows",
        "memalign_every_power" => "memalign honours every power-of-two alignment",
        "memalign_rejects_bad_alignment" => {
            "memalign refuses an alignment that is not a power of two"
        }
        "huge_requests_fail" => "impossible requests return NULL without wrapping around",
        "usable_size_covers_request" => "usable_size is at least what was asked",
        "differential" => "random sequences agree with the system malloc",
        "threads" => "several threads allocate at once through GlobalAlloc",
        "out_of_memory" => "out of memory, it returns NULL and keeps every block intact",
        "lesson" => "the stage's lesson: its one idea, in numbers",
        "rules" => "the stage's own rules, as the book states them, seen from outside",
        "memory_from_the_source" => {
            "every block lies in memory from the allocator's own source, and the stats agree"
        }
        "heap_map_as_in_the_book" => {
            "after a fixed sequence, your heap map beside the book's picture (information only: \
             a correct heap may differ)"
        }
        _ => "(unknown check)",
    }
}

/// How hard to try: `Full` for a learner's check, `Quick` for the proofs
/// that run every exercise with every hole open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effort {
    /// The suite's usual numbers (`PROPTEST_CASES` sets the random cases).
    Full,
    /// Fewer random cases and thread operations.
    Quick,
}

/// Runs check `name` of exercise `stage` on allocators from `make`, and
/// panics with the problem in words if it fails: the body of each
/// `#[test]` in an exercise's tests/check.rs.
pub fn check<M: Malloc>(stage: u32, name: &str, make: fn(Sources) -> M) {
    if let Err(problem) = run(stage, name, make, Effort::Full) {
        panic!("{problem}");
    }
}

/// Runs check `name` of exercise `stage`: `Err` holds what went wrong. A
/// panic (a `todo!()` not filled yet) is a failure like any other.
pub fn run<M: Malloc>(
    stage: u32,
    name: &str,
    make: fn(Sources) -> M,
    effort: Effort,
) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(|| {
        run_unguarded(stage, name, make, effort)
    })) {
        Ok(result) => result,
        Err(panic) => Err(format!(
            "the allocator panicked: {}",
            differential::panic_message(&*panic)
        )),
    }
}

fn run_unguarded<M: Malloc>(
    stage: u32,
    name: &str,
    make: fn(Sources) -> M,
    effort: Effort,
) -> Result<(), String> {
    let fresh = || make(Sources::new());
    let quick = effort == Effort::Quick;
    match name {
        "malloc_zero" => edge::malloc_zero(&fresh()),
        "free_null" => edge::free_null(&fresh()),
        "realloc_null" => edge::realloc_null(&fresh()),
        "realloc_to_zero" => edge::realloc_to_zero(&fresh()),
        "realloc_keeps_data" => edge::realloc_keeps_data(&fresh()),
        "calloc_zeroes" => edge::calloc_zeroes(&fresh()),
        "calloc_zeroes_reused" => edge::calloc_zeroes_reused(&fresh()),
        "calloc_overflow" => edge::calloc_overflow(&fresh()),
        "memalign_every_power" => edge::memalign_every_power(&fresh()),
        "memalign_rejects_bad_alignment" => edge::memalign_rejects_bad_alignment(&fresh()),
        "huge_requests_fail" => edge::huge_requests_fail(&fresh()),
        "usable_size_covers_request" => edge::usable_size_covers_request(&fresh()),
        "differential" => {
            let mut config = differential::Config::from_env();
            if quick {
                config.cases = config.cases.min(16);
            }
            differential::differential(fresh, config)
        }
        "threads" => threads::threads(
            &GlobalMalloc(fresh()),
            4,
            if quick { 5_000 } else { 50_000 },
        ),
        "out_of_memory" => {
            const LIMIT: usize = 1 << 20;
            faults::out_of_memory(&make(Sources::limited(LIMIT)), 2 * LIMIT)
        }
        "lesson" => lesson(stage, fresh),
        "rules" => crate::rules::rules(stage, make),
        "memory_from_the_source" => memory_from_the_source(make),
        "heap_map_as_in_the_book" => {
            // Information, never a failure: a FIFO list or another split
            // order builds a different heap that is just as right.
            if let Some(comparison) = compare_heap_map(stage, &fresh())? {
                println!("{comparison}");
            }
            Ok(())
        }
        _ => Err(format!("there is no check named {name:?}")),
    }
}

/// Stage `stage`'s lesson on a fresh allocator (two for stages 6 and 7).
fn lesson<M: Malloc>(stage: u32, fresh: impl Fn() -> M) -> Result<(), String> {
    let (what, result) = match stage {
        1 => (
            "small requests share one growth of the break",
            small_requests_share_a_growth(&fresh()),
        ),
        2 => (
            "realloc inside a size class moves nothing",
            lessons::realloc_inside_a_class(&fresh()),
        ),
        3 => (
            "malloc/free churn keeps the footprint flat",
            lessons::churn_keeps_footprint_flat(&fresh(), 200_000),
        ),
        4 => (
            "memory freed as 1024s serves 64s: no new memory",
            lessons::phase_change_takes_no_new_memory(&fresh()),
        ),
        5 => (
            "a freed 10 MiB block goes back to the OS",
            lessons::big_block_goes_back(&fresh()),
        ),
        6 => match lessons::no_syscall_storm(&fresh(), 10_000) {
            Err(figures) => (
                "256 KiB malloc+free in a loop makes no syscall storm",
                Err(figures),
            ),
            Ok(_) => (
                "a buffer grown at the top and freed goes back to the OS (trim)",
                lessons::grown_buffer_is_trimmed(&fresh()),
            ),
        },
        7 => match lessons::neighbours_merge(&fresh()) {
            Err(figures) => (
                "freed neighbours serve a request of their sum: no new memory",
                Err(figures),
            ),
            Ok(_) => (
                "a burst freed in reverse merges with the top and goes back to the OS",
                lessons::burst_is_trimmed(&fresh()),
            ),
        },
        8 => (
            "each misuse stops the program with a message",
            lessons::misuse_is_stopped(&fresh),
        ),
        9 => (
            "the lock is taken far less than once per call",
            lessons::lock_rarely_taken(&fresh()),
        ),
        _ => {
            return Err(format!(
                "stage {stage} has no lesson among the exercise checks: add it to `lesson` \
                 in tests/src/exercise.rs"
            ));
        }
    };
    result
        .map(|_| ())
        .map_err(|figures| format!("stage {stage}'s lesson, {what}, is not learned yet: {figures}"))
}

/// Stage 1's lesson: a thousand small mallocs cost one system call, not a
/// thousand (the break grows in steps).
fn small_requests_share_a_growth<M: Malloc>(heap: &M) -> Result<String, String> {
    let blocks: Vec<_> = (0..1000).map(|_| heap.malloc(48)).collect();
    let stats = heap.stats();
    for &p in &blocks {
        // SAFETY: blocks of `heap` (or null), freed once.
        unsafe { heap.free(p) };
    }
    if blocks.iter().any(|p| p.is_null()) {
        return Err("malloc(48) failed".into());
    }
    let figures = format!(
        "1000 × malloc(48) made {} brk calls for {} bytes of heap",
        stats.brk_calls, stats.heap_bytes
    );
    if (1..=2).contains(&stats.brk_calls) && stats.heap_bytes <= 256 * 1024 {
        Ok(figures)
    } else {
        Err(figures)
    }
}

/// Allocates blocks of many sizes (and aligned, zeroed and resized ones),
/// and checks that each lies inside memory the allocator's own sources
/// handed it, and that its stats count exactly the live blocks and bytes.
pub fn memory_from_the_source<M: Malloc>(make: fn(Sources) -> M) -> Result<(), String> {
    let sources = Sources::new();
    let record = sources.record.clone();
    let heap = make(sources);
    let mut live: Vec<(*mut u8, usize)> = Vec::new();
    // On a failure the blocks stay: the allocator is broken, freeing into
    // it could only hide the problem under a panic, and the simulated
    // sources are dropped with it.
    fill_and_compare(&heap, &record, &mut live)?;
    while let Some((p, size)) = live.pop() {
        let before = heap.stats();
        // SAFETY: a live block of `heap`, freed once.
        unsafe { heap.free(p) };
        let after = heap.stats();
        if before.live_blocks != after.live_blocks + 1
            || before.live_bytes != after.live_bytes + size
        {
            return Err(format!(
                "free() of a {size}-byte block took stats() from {} live blocks of {} bytes to \
                 {} of {}: a free must take the block out of the tally (self.tally)",
                before.live_blocks, before.live_bytes, after.live_blocks, after.live_bytes
            ));
        }
    }
    heap.check()
        .map_err(|e| format!("after freeing every block, check() says: {e}"))
}

fn fill_and_compare<M: Malloc>(
    heap: &M,
    record: &Record,
    live: &mut Vec<(*mut u8, usize)>,
) -> Result<(), String> {
    let sizes = [
        0,
        1,
        15,
        16,
        17,
        24,
        64,
        100,
        256,
        1000,
        1024,
        1025,
        5000,
        70_000,
        200_000,
        1 << 20,
    ];
    let inside = |p: *mut u8, size: usize, call: &str| {
        if p.is_null() {
            return Err(format!("{call} returned NULL"));
        }
        if record.holds(p as usize, size.max(1)) {
            Ok(())
        } else {
            Err(format!(
                "{call} returned {p:p}, which is not in memory the allocator got from its \
                 own source: every block must be carved from the break (or a mapping) \
                 it was given, not from the system malloc\n{}",
                record.describe()
            ))
        }
    };
    // The stats must count exactly the blocks handed out, after every call.
    let counted = |live: &[(*mut u8, usize)], call: &str| {
        let stats = heap.stats();
        let bytes: usize = live.iter().map(|&(_, size)| size).sum();
        if stats.live_blocks != live.len() || stats.live_bytes != bytes {
            return Err(format!(
                "after {call}, stats() counts {} live blocks of {} bytes, but {} blocks of \
                 {bytes} bytes were handed out: every malloc, realloc and free must keep the \
                 tally (self.tally) up to date",
                stats.live_blocks,
                stats.live_bytes,
                live.len(),
            ));
        }
        Ok(())
    };
    for size in sizes {
        let p = heap.malloc(size);
        let call = format!("malloc({size})");
        inside(p, size, &call)?;
        live.push((p, size));
        counted(live, &call)?;
    }
    let p = heap.memalign(4096, 3000);
    inside(p, 3000, "memalign(4096, 3000)")?;
    live.push((p, 3000));
    counted(live, "memalign(4096, 3000)")?;
    let p = heap.calloc(10, 10);
    inside(p, 100, "calloc(10, 10)")?;
    live.push((p, 100));
    counted(live, "calloc(10, 10)")?;
    // Free a few small blocks and ask for the same sizes again: blocks
    // that come back from where freed blocks wait are counted too.
    for index in [1, 4, 6, 9] {
        let (p, size) = live.remove(index);
        // SAFETY: a live block of `heap`, freed once.
        unsafe { heap.free(p) };
        counted(live, &format!("free() of a {size}-byte block"))?;
        let p = heap.malloc(size);
        let call = format!("malloc({size}) after a free of the same size");
        inside(p, size, &call)?;
        live.insert(index, (p, size));
        counted(live, &call)?;
    }
    // Grow two blocks: a small one and a large one.
    for (index, size) in [(2, 3000), (13, 300_000)] {
        let old = live[index].0;
        // SAFETY: a live block of `heap`.
        let p = unsafe { heap.realloc(old, size) };
        let call = format!("realloc(p, {size})");
        inside(p, size, &call)?;
        live[index] = (p, size);
        counted(live, &call)?;
    }
    let stats = heap.stats();
    let bytes: usize = live.iter().map(|&(_, size)| size).sum();
    if stats.footprint() < bytes {
        return Err(format!(
            "{bytes} bytes are live, but the footprint is only {} bytes: the memory \
             comes from somewhere else than the allocator's sources",
            stats.footprint()
        ));
    }
    heap.check()
        .map_err(|e| format!("with {} blocks live, check() says: {e}", live.len()))
}

/// Marks the start of a heap map comparison in a check's output (the
/// workbook prints what follows it).
pub const HEAP_MAP_MARK: &str = "HEAP MAP BESIDE THE BOOK'S";

/// The heap map after [`faults::fixed_sequence`], beside the picture the
/// book shows for this stage (the snapshot in tests/tests/snapshots) when
/// they differ, with why they may: `None` when they are the same.
pub fn compare_heap_map<M: Malloc>(stage: u32, heap: &M) -> Result<Option<String>, String> {
    let path = format!(
        "{}/tests/snapshots/stage{stage}__heap_map_after_fixed_sequence.snap",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    // The snapshot's body follows its second `---` line.
    let expected = text.splitn(3, "---\n").nth(2).unwrap_or("").trim_end();
    let map = faults::fixed_sequence(heap);
    let map = map.trim_end();
    if map == expected {
        return Ok(None);
    }
    Ok(Some(format!(
        "{HEAP_MAP_MARK}\n\
         After the fixed sequence (malloc 10, malloc 100, calloc 2×8, memalign 256, free, \
         realloc to 300, malloc 5000, malloc 12, free, malloc 48, malloc 200000), your heap \
         differs from the book's picture. That is not a failure: the checks judge behaviour, \
         and a correct allocator may place blocks elsewhere (a list that reuses the oldest \
         block first, pieces filed in another order). If the checks pass, the difference is \
         your design; compare it to understand it.\n{}",
        side_by_side(map, expected)
    )))
}

/// Two texts in columns, "yours" on the left, with `|` where lines
/// differ.
fn side_by_side(yours: &str, book: &str) -> String {
    let left: Vec<&str> = yours.lines().collect();
    let right: Vec<&str> = book.lines().collect();
    let width = left
        .iter()
        .map(|line| line.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = format!("{:width$}   {}\n", "yours", "the book's");
    for i in 0..left.len().max(right.len()) {
        let a = left.get(i).copied().unwrap_or("");
        let b = right.get(i).copied().unwrap_or("");
        let mark = if a == b { ' ' } else { '|' };
        out.push_str(format!("{a:width$} {mark} {b}").trim_end());
        out.push('\n');
    }
    out
}

/// Any allocator behind one type: checks that run many allocators (the
/// proofs' variants, the workbook's search for a broken hole) are then
/// compiled once, not once per allocator.
pub struct Boxed(pub Box<dyn Malloc>);

// SAFETY: every call goes to the allocator inside, which keeps the promises.
unsafe impl Malloc for Boxed {
    fn malloc(&self, size: usize) -> *mut u8 {
        self.0.malloc(size)
    }

    unsafe fn free(&self, ptr: *mut u8) {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.0.free(ptr) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.0.realloc(ptr, size) }
    }

    fn calloc(&self, count: usize, size: usize) -> *mut u8 {
        self.0.calloc(count, size)
    }

    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        self.0.memalign(align, size)
    }

    unsafe fn usable_size(&self, ptr: *mut u8) -> usize {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.0.usable_size(ptr) }
    }

    fn stats(&self) -> malloc_core::Stats {
        self.0.stats()
    }

    fn check(&self) -> Result<(), malloc_core::HeapError> {
        self.0.check()
    }

    fn heap_map(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        self.0.heap_map(out)
    }

    fn lock_for_fork(&self) {
        self.0.lock_for_fork()
    }

    unsafe fn unlock_after_fork(&self) {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.0.unlock_after_fork() }
    }

    unsafe fn unlock_in_child(&self) {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.0.unlock_in_child() }
    }

    fn choices(&self) -> Option<malloc_core::Choices> {
        self.0.choices()
    }

    fn policy(&self) -> Option<malloc_core::Policy> {
        self.0.policy()
    }
}

/// The memory sources an exercise's allocator gets: a simulated break and
/// simulated pages, watched, so that a check can tell whether a block
/// really came from them.
pub struct Sources {
    /// The break (every stage uses it).
    pub brk: Watched<SimBreak>,
    /// Pages for large blocks (stage 5 on).
    pub pages: Watched<SimPages>,
    record: Record,
}

impl Sources {
    /// Unlimited sources.
    pub fn new() -> Sources {
        Sources::from_parts(SimBreak::new(), SimPages::new())
    }

    /// Sources that run out after `limit` bytes each.
    pub fn limited(limit: usize) -> Sources {
        Sources::from_parts(SimBreak::with_limit(limit), SimPages::with_limit(limit))
    }

    /// Watched sources over this break and these pages.
    pub fn from_parts(brk: SimBreak, pages: SimPages) -> Sources {
        let record = Record::default();
        Sources {
            brk: Watched {
                inner: brk,
                record: record.clone(),
                top: 0,
            },
            pages: Watched {
                inner: pages,
                record: record.clone(),
                top: 0,
            },
            record,
        }
    }
}

impl Default for Sources {
    fn default() -> Self {
        Sources::new()
    }
}

/// What `sources` have handed out and not taken back, watched from now on
/// (also once the sources belong to an allocator).
pub(crate) fn record_of(sources: &Sources) -> Record {
    sources.record.clone()
}

/// The address ranges the sources have handed out and not taken back.
#[derive(Clone, Default)]
pub(crate) struct Record(Arc<Mutex<Vec<(usize, usize)>>>);

impl Record {
    fn ranges(&self) -> MutexGuard<'_, Vec<(usize, usize)>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remembers `start .. start + len`, joined to the ranges it touches
    /// (the break grows contiguously, and a block may span two growths).
    fn add(&self, start: usize, len: usize) {
        let mut ranges = self.ranges();
        let (mut a, mut b) = (start, start + len);
        ranges.retain(|&(x, y)| {
            let touches = y >= a && x <= b;
            if touches {
                a = a.min(x);
                b = b.max(y);
            }
            !touches
        });
        ranges.push((a, b));
    }

    /// Forgets `start .. start + len`, splitting ranges that overlap it.
    fn remove(&self, start: usize, len: usize) {
        let end = start + len;
        let mut ranges = self.ranges();
        let mut kept = Vec::with_capacity(ranges.len() + 1);
        for &(a, b) in ranges.iter() {
            if b <= start || a >= end {
                kept.push((a, b));
                continue;
            }
            if a < start {
                kept.push((a, start));
            }
            if b > end {
                kept.push((end, b));
            }
        }
        *ranges = kept;
    }

    /// Whether `start .. start + len` lies inside one range.
    pub(crate) fn holds(&self, start: usize, len: usize) -> bool {
        self.ranges()
            .iter()
            .any(|&(a, b)| a <= start && start + len <= b)
    }

    fn describe(&self) -> String {
        let ranges = self.ranges();
        let list: Vec<String> = ranges
            .iter()
            .map(|&(a, b)| format!("{a:#x}..{b:#x}"))
            .collect();
        format!("memory from the sources: {}", list.join(", "))
    }
}

/// A memory source that tells a [`Record`] what it hands out.
pub struct Watched<T> {
    inner: T,
    record: Record,
    /// For a break: where its top is.
    top: usize,
}

impl Break for Watched<SimBreak> {
    fn grow(&mut self, bytes: usize) -> Option<NonNull<u8>> {
        let start = self.inner.grow(bytes)?;
        self.record.add(start.as_ptr() as usize, bytes);
        self.top = start.as_ptr() as usize + bytes;
        Some(start)
    }

    unsafe fn shrink(&mut self, bytes: usize) -> bool {
        // SAFETY: the caller's promise is passed on unchanged.
        let done = unsafe { self.inner.shrink(bytes) };
        if done {
            self.top -= bytes;
            self.record.remove(self.top, bytes);
        }
        done
    }

    fn stats(&self) -> SourceStats {
        self.inner.stats()
    }
}

impl Pages for Watched<SimPages> {
    const PAGE: usize = SimPages::PAGE;

    fn map(&mut self, bytes: usize) -> Option<NonNull<u8>> {
        let start = self.inner.map(bytes)?;
        self.record.add(start.as_ptr() as usize, bytes);
        Some(start)
    }

    unsafe fn unmap(&mut self, ptr: NonNull<u8>, bytes: usize) {
        self.record.remove(ptr.as_ptr() as usize, bytes);
        // SAFETY: the caller's promise is passed on unchanged.
        unsafe { self.inner.unmap(ptr, bytes) }
    }

    unsafe fn remap(&mut self, ptr: NonNull<u8>, old: usize, new: usize) -> Option<NonNull<u8>> {
        // SAFETY: the caller's promise is passed on unchanged.
        let moved = unsafe { self.inner.remap(ptr, old, new) }?;
        self.record.remove(ptr.as_ptr() as usize, old);
        self.record.add(moved.as_ptr() as usize, new);
        Some(moved)
    }

    fn stats(&self) -> SourceStats {
        self.inner.stats()
    }
}
