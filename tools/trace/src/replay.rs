//! Running a trace on an allocator, and what it measured.
//!
//! The replay keeps a table from ids to the blocks the allocator returned
//! (a plain `Vec` from the program's own allocator, made before the clock
//! starts), so the allocator under test sees only the trace's own requests.
//! It writes the first and last byte of every block it gets, as a program
//! would: the page faults of fresh memory are then paid as in real programs.
//! Blocks still live when the trace ends are freed afterwards, outside the
//! clock, so that an allocator can be replayed again and again.
//!
//! What the replay follows in C's terms:
//! - `realloc` of a null or never-allocated id is a `malloc`; `realloc` to 0
//!   bytes frees (the id then holds a null pointer, which may be freed);
//! - freeing an id that is not live is an error (it would be a double free);
//! - allocating into an id that is still live is an error (it would leak);
//! - a request for more than 0 bytes that returns null is counted in
//!   [`Replay::failed`], not an error: traces may ask for too much on purpose.

use std::time::{Duration, Instant};

use malloc_core::{Malloc, Stats};

use crate::{Op, Trace};

/// Which measurement a replay makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Only time the ops: nothing runs between them.
    Timed,
    /// Also read the allocator's footprint after every op (slower, so the
    /// time of this pass means little). Needed for allocators whose stats
    /// have no peak, like the system malloc's `mallinfo2`.
    Memory,
}

/// What a [`Pass::Memory`] saw between ops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemorySample {
    /// The largest footprint read after any op (bytes, as `stats()` counts).
    pub footprint_peak: usize,
    /// How many times the footprint changed from one op to the next: a lower
    /// bound on the system calls that took or gave back memory.
    pub footprint_changes: u64,
}

/// The measures of one replay.
#[derive(Clone, Debug)]
pub struct Replay {
    /// Ops of the trace that ran.
    pub ops: usize,
    /// The peak of requested bytes that were live at once, counted by the
    /// replay from the trace's sizes (what the program needed).
    pub live_peak: usize,
    /// Blocks still live when the trace ended, freed by the replay afterwards.
    pub left_live: usize,
    /// Requests for more than 0 bytes that returned null.
    pub failed: usize,
    /// The allocator's stats before the first op.
    pub before: Stats,
    /// The allocator's stats after the last op and the final frees.
    pub after: Stats,
    /// What a memory pass saw between ops (`None` for a timed pass).
    pub memory: Option<MemorySample>,
    /// Minor page faults of this thread during the ops: first touches of
    /// fresh memory.
    pub page_faults: u64,
    /// Time spent in the ops (including touching the blocks).
    pub elapsed: Duration,
}

impl Replay {
    /// The peak footprint during the replay (the larger of the allocator's
    /// own `footprint_peak` and what a memory pass saw), less the bytes that
    /// were already live before it: those belong to someone else.
    ///
    /// Exact for a fresh allocator that keeps a peak (every stage). For the
    /// system malloc, whose stats have no peak and count the whole process,
    /// use a memory pass; the result is an estimate that charges the trace
    /// with any free memory glibc held before the replay (at least its first
    /// 132 KiB step of the break, which a small trace never outgrows).
    pub fn footprint_peak(&self) -> usize {
        let seen = self.memory.map_or(0, |m| m.footprint_peak);
        seen.max(self.after.footprint_peak)
            .saturating_sub(self.before.live_bytes)
    }

    /// Peak utilization in percent: peak live bytes / peak footprint (the
    /// malloc lab's U). `None` if the replay took no memory from the OS.
    pub fn utilization(&self) -> Option<f64> {
        let footprint = self.footprint_peak();
        (footprint > 0).then(|| 100.0 * self.live_peak as f64 / footprint as f64)
    }

    /// System calls the allocator counted during the replay (0 for the
    /// system malloc, which counts none).
    pub fn syscalls(&self) -> u64 {
        self.after.syscalls().saturating_sub(self.before.syscalls())
    }

    /// Average time per op, in nanoseconds.
    pub fn ns_per_op(&self) -> f64 {
        self.elapsed.as_nanos() as f64 / self.ops.max(1) as f64
    }
}

/// A trace that cannot be replayed: which op, and why. The same error as
/// the validator's, since replaying finds the same faults in the same words.
pub type ReplayError = crate::validate::TraceError;

/// Replays `trace` on `m`, timed ([`Pass::Timed`]).
pub fn replay<M: Malloc + ?Sized>(m: &M, trace: &Trace) -> Result<Replay, ReplayError> {
    replay_pass(m, trace, Pass::Timed)
}

/// Replays `trace` on `m`, making the measurement `pass` asks for.
///
/// On an error the blocks allocated so far are freed before returning.
pub fn replay_pass<M: Malloc + ?Sized>(
    m: &M,
    trace: &Trace,
    pass: Pass,
) -> Result<Replay, ReplayError> {
    let mut run = Run::new(m, trace);
    let before = m.stats();
    let mut memory = (pass == Pass::Memory).then(|| MemorySample {
        footprint_peak: before.footprint(),
        footprint_changes: 0,
    });
    let mut footprint = before.footprint();

    let faults = minor_faults();
    let start = Instant::now();
    for (i, op) in trace.ops.iter().enumerate() {
        if let Err(message) = run.op(op) {
            run.free_all();
            return Err(ReplayError { op: i + 1, message });
        }
        if let Some(sample) = &mut memory {
            let now = m.stats().footprint();
            sample.footprint_peak = sample.footprint_peak.max(now);
            sample.footprint_changes += u64::from(now != footprint);
            footprint = now;
        }
    }
    let elapsed = start.elapsed();
    let page_faults = minor_faults().saturating_sub(faults);

    let left_live = run.free_all();
    Ok(Replay {
        ops: trace.ops.len(),
        live_peak: run.live_peak,
        left_live,
        failed: run.failed,
        before,
        after: m.stats(),
        memory,
        page_faults,
        elapsed,
    })
}

/// A block the trace holds: where it is and how many bytes were asked.
#[derive(Clone, Copy)]
struct Block {
    ptr: *mut u8,
    size: usize,
}

/// The state of one replay: the id table and the live-bytes count.
struct Run<'a, M: Malloc + ?Sized> {
    m: &'a M,
    /// Block by id; `None`: never allocated or freed. A `Some` may hold a
    /// null pointer (after `realloc(p, 0)` or a refused request).
    table: Vec<Option<Block>>,
    /// Blocks allocated into id -1: nobody can free them until the end.
    unnamed: Vec<Block>,
    live: usize,
    live_peak: usize,
    failed: usize,
}

impl<'a, M: Malloc + ?Sized> Run<'a, M> {
    /// Sizes both tables up front, so they never grow while the clock runs.
    fn new(m: &'a M, trace: &Trace) -> Self {
        let ids = trace
            .ops
            .iter()
            .filter_map(Op::id)
            .max()
            .map_or(0, |id| id + 1);
        let unnamed = trace
            .ops
            .iter()
            .filter(|op| op.id().is_none() && !matches!(op, Op::Free { .. }))
            .count();
        Run {
            m,
            table: vec![None; ids],
            unnamed: Vec::with_capacity(unnamed),
            live: 0,
            live_peak: 0,
            failed: 0,
        }
    }

    fn op(&mut self, op: &Op) -> Result<(), String> {
        match *op {
            Op::Malloc { id, size } => {
                self.check_not_live(id)?;
                let ptr = self.m.malloc(size);
                self.place(id, ptr, size);
            }
            Op::Calloc { id, count, size } => {
                self.check_not_live(id)?;
                let ptr = self.m.calloc(count, size);
                let bytes = match count.checked_mul(size) {
                    Some(bytes) => bytes,
                    // C says an overflowing product gives null.
                    None if ptr.is_null() => usize::MAX,
                    None => {
                        // SAFETY: a block `m` just returned, kept nowhere.
                        unsafe { self.m.free(ptr) };
                        return Err(format!(
                            "calloc({count}, {size}) overflows but did not return null"
                        ));
                    }
                };
                self.place(id, ptr, bytes);
            }
            Op::Memalign { id, align, size } => {
                self.check_not_live(id)?;
                let ptr = self.m.memalign(align, size);
                self.place(id, ptr, size);
            }
            Op::Realloc { id, size } => self.realloc(id, size),
            Op::Free { id } => {
                let old = match id {
                    None => Block {
                        ptr: std::ptr::null_mut(),
                        size: 0,
                    },
                    Some(id) => self.table[id]
                        .take()
                        .ok_or_else(|| format!("frees id {id} which is not live"))?,
                };
                // SAFETY: `old.ptr` is null or a live block `m` returned: the
                // table holds each block once and forgets it here.
                unsafe { self.m.free(old.ptr) };
                self.live -= old.size;
            }
        }
        Ok(())
    }

    fn realloc(&mut self, id: Option<usize>, size: usize) {
        let slot = id.and_then(|id| self.table[id]);
        let old = slot.unwrap_or(Block {
            ptr: std::ptr::null_mut(),
            size: 0,
        });
        // SAFETY: `old.ptr` is null or a live block that `m` returned.
        let new = unsafe { self.m.realloc(old.ptr, size) };
        if new.is_null() && size > 0 && !old.ptr.is_null() {
            // Failed: the old block stays live and unchanged, as in C.
            self.failed += 1;
            return;
        }
        // Success, or `realloc(p, 0)`, which frees `p`.
        self.live -= old.size;
        if let Some(id) = id {
            self.table[id] = None;
        }
        self.place(id, new, size);
    }

    /// Errors if `id` holds a live block: allocating over it would leak it.
    fn check_not_live(&self, id: Option<usize>) -> Result<(), String> {
        match id {
            Some(id) if self.table[id].is_some() => Err(format!(
                "allocates id {id} which is still live (a trace frees an id before reusing it)"
            )),
            _ => Ok(()),
        }
    }

    /// Records a block the allocator returned for a request of `size` bytes.
    fn place(&mut self, id: Option<usize>, ptr: *mut u8, size: usize) {
        let size = if ptr.is_null() {
            self.failed += usize::from(size > 0);
            0
        } else {
            // SAFETY: a block just returned for `size` bytes (not null).
            unsafe { touch(ptr, size) };
            size
        };
        self.live += size;
        self.live_peak = self.live_peak.max(self.live);
        let block = Block { ptr, size };
        match id {
            Some(id) => self.table[id] = Some(block),
            None if !ptr.is_null() => self.unnamed.push(block),
            None => {}
        }
    }

    /// Frees every live block; returns how many there were.
    fn free_all(&mut self) -> usize {
        let named = self.table.iter_mut().filter_map(Option::take);
        let blocks: Vec<Block> = named.chain(self.unnamed.drain(..)).collect();
        for block in &blocks {
            // SAFETY: each block is live and listed once (taken out above).
            unsafe { self.m.free(block.ptr) };
        }
        self.live = 0;
        blocks.iter().filter(|b| !b.ptr.is_null()).count()
    }
}

/// Writes the first and last byte of a fresh block, as a program would.
///
/// # Safety
///
/// `ptr` is a live block of at least `size` bytes.
pub unsafe fn touch(ptr: *mut u8, size: usize) {
    if size == 0 {
        return;
    }
    // SAFETY: `ptr` is a live block of at least `size` bytes (the caller's
    // promise). Volatile, so the compiler cannot drop the writes.
    unsafe {
        ptr.write_volatile(0xA5);
        ptr.add(size - 1).write_volatile(0xA5);
    }
}

/// Minor page faults of the calling thread so far.
pub fn minor_faults() -> u64 {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid place to write; RUSAGE_THREAD is Linux's
    // "this thread only", so parallel test threads do not mix.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) } != 0 {
        return 0;
    }
    usage.ru_minflt as u64
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use malloc_core::{HeapError, SystemMalloc};

    use super::*;
    use crate::parse;

    /// The system malloc, counting the calls it gets and claiming a fixed
    /// footprint of 1000 bytes, so that the replay's arithmetic can be
    /// checked exactly.
    #[derive(Default)]
    struct Counting {
        calls: AtomicUsize,
        live: AtomicUsize,
    }

    // SAFETY: every block comes from the system malloc.
    unsafe impl Malloc for Counting {
        fn malloc(&self, size: usize) -> *mut u8 {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.live.fetch_add(1, Ordering::Relaxed);
            SystemMalloc.malloc(size)
        }
        unsafe fn free(&self, ptr: *mut u8) {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if !ptr.is_null() {
                self.live.fetch_sub(1, Ordering::Relaxed);
            }
            // SAFETY: passed on from our caller.
            unsafe { SystemMalloc.free(ptr) }
        }
        fn memalign(&self, align: usize, size: usize) -> *mut u8 {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.live.fetch_add(1, Ordering::Relaxed);
            SystemMalloc.memalign(align, size)
        }
        unsafe fn usable_size(&self, ptr: *mut u8) -> usize {
            // SAFETY: passed on from our caller.
            unsafe { SystemMalloc.usable_size(ptr) }
        }
        fn stats(&self) -> Stats {
            Stats {
                heap_bytes: 1000,
                footprint_peak: 1000,
                ..Stats::default()
            }
        }
        fn check(&self) -> Result<(), HeapError> {
            Ok(())
        }
        fn heap_map(&self, out: &mut dyn std::fmt::Write) -> std::fmt::Result {
            writeln!(out, "(counting)")
        }
    }

    const SMALL: &str = "0\n4\n9\n1\n\
        a 0 100\na 1 300\nr 0 200\nf 1\nc 2 10 10\nm 3 64 50\nf -1\nf 0\nr -1 40\n";

    #[test]
    fn counts_live_bytes_and_frees_what_is_left() {
        let m = Counting::default();
        let r = replay(&m, &parse(SMALL).unwrap()).unwrap();
        assert_eq!(r.ops, 9);
        // 100 + 300, then 200 + 300: the realloc peak is 500.
        assert_eq!(r.live_peak, 500);
        // Ids 2 and 3 and the unnamed realloc were still live.
        assert_eq!(r.left_live, 3);
        assert_eq!(r.failed, 0);
        assert_eq!(m.live.load(Ordering::Relaxed), 0, "every block was freed");
        // The claimed footprint, and 500 of its 1000 bytes live at the peak.
        assert_eq!(r.footprint_peak(), 1000);
        assert_eq!(r.utilization(), Some(50.0));
        assert!(r.memory.is_none());
    }

    #[test]
    fn calls_the_allocator_only_for_the_ops() {
        let m = Counting::default();
        let trace = parse("0\n2\n4\n1\na 0 8\na 1 8\nf 0\nf 1\n").unwrap();
        replay(&m, &trace).unwrap();
        assert_eq!(m.calls.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn a_memory_pass_samples_the_footprint() {
        let m = Counting::default();
        let r = replay_pass(&m, &parse(SMALL).unwrap(), Pass::Memory).unwrap();
        let sample = r.memory.unwrap();
        assert_eq!(sample.footprint_peak, 1000);
        assert_eq!(sample.footprint_changes, 0);
    }

    #[test]
    fn runs_on_the_system_malloc() {
        let mut ops = Vec::new();
        for id in 0..200 {
            ops.push(Op::Malloc {
                id: Some(id),
                size: 1000 + id,
            });
        }
        for id in (0..200).step_by(2) {
            ops.push(Op::Free { id: Some(id) });
        }
        // A mapped block (above glibc's mmap threshold), grown and freed.
        ops.push(Op::Malloc {
            id: Some(200),
            size: 1 << 20,
        });
        ops.push(Op::Realloc {
            id: Some(200),
            size: 2 << 20,
        });
        ops.push(Op::Free { id: Some(200) });
        let trace = Trace::new(ops);
        let r = replay_pass(&SystemMalloc, &trace, Pass::Memory).unwrap();
        assert_eq!(r.ops, trace.ops.len());
        assert_eq!(r.live_peak, trace.peak_live_bytes());
        assert_eq!(r.left_live, 100);
        let sample = r.memory.unwrap();
        assert!(sample.footprint_peak >= 2 << 20, "{sample:?}");
        assert!(sample.footprint_changes >= 2, "{sample:?}");
        assert!(r.footprint_peak() >= 2 << 20);
        assert!(replay(&SystemMalloc, &trace).unwrap().elapsed > Duration::ZERO);
    }

    #[test]
    fn freeing_a_dead_id_is_an_error() {
        let m = Counting::default();
        let trace = parse("0\n1\n3\n1\na 0 8\nf 0\nf 0\n").unwrap();
        let e = replay(&m, &trace).unwrap_err();
        assert_eq!(e.to_string(), "op 3 frees id 0 which is not live");
        let trace = parse("0\n6\n2\n1\na 0 8\nf 5\n").unwrap();
        let e = replay(&m, &trace).unwrap_err();
        assert_eq!(e.to_string(), "op 2 frees id 5 which is not live");
        assert_eq!(m.live.load(Ordering::Relaxed), 0, "freed before the error");
    }

    #[test]
    fn allocating_over_a_live_id_is_an_error() {
        let m = Counting::default();
        let trace = parse("0\n1\n2\n1\na 0 8\nc 0 1 8\n").unwrap();
        let e = replay(&m, &trace).unwrap_err();
        assert_eq!(e.op, 2);
        assert!(e.message.contains("allocates id 0 which is still live"));
        assert_eq!(m.live.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn c_semantics_of_realloc_and_refusals() {
        // realloc of an unknown id mallocs; realloc to 0 frees and leaves a
        // null that may be freed; an overflowing calloc and a bad alignment
        // are refused (counted, not errors).
        let text = "0\n4\n7\n1\nr 0 64\nr 0 0\nf 0\n\
                    c 1 18446744073709551615 2\nf 1\nm 2 48 8\nr 3 16\n";
        let r = replay(&SystemMalloc, &parse(text).unwrap()).unwrap();
        assert_eq!(r.live_peak, 64);
        assert_eq!(r.failed, 2);
        assert_eq!(r.left_live, 1);
    }
}
