//! The multi-threaded workloads: two threads on one allocator.
//!
//! - **churn**: each thread churns a live set of its own, as `churn-64`
//!   does but with 1,000 blocks: fill it, wait for the other thread to fill
//!   its own, then free a random block and allocate a new one, step after
//!   step; free the rest at the end.
//! - **handoff**: a producer allocates blocks and hands them to a consumer
//!   through a ring of pointers; the consumer reads a byte of each and frees
//!   it. Every free is of a block the *other* thread allocated: the case
//!   that per-thread caches must handle without a convoy.
//!
//! Each thread's work is decided before the clock starts (sizes and which
//! block to free, from a fixed seed per thread), and everything that is not
//! a measured block (those plans, each thread's table of live blocks, the
//! ring) is made then, with std's allocator. The threads then start
//! together; the time is the wall time from the first thread's start to the
//! last thread's end, over the ops of both.
//!
//! A refused request (null) stops the run: the thread that saw it raises a
//! flag that the other checks at every step, and both threads' ops up to
//! then say where it happened.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use malloc_core::{Malloc, Stats};
use malloc_trace::replay::{minor_faults, touch};

use super::child::{limit_data, restore_data_limit};
use super::workloads::Rng;

/// Blocks each thread of the churn keeps live.
pub const CHURN_LIVE: usize = 1_000;
/// Slots of the handoff's ring: at most this many blocks wait between the
/// threads. A power of two, so a slot is a counter masked.
pub const RING: usize = 256;
/// Block sizes, as in the single-thread churn: `SIZES.0..=SIZES.1` bytes.
const SIZES: (usize, usize) = (16, 1024);
/// In a memory pass, one thread reads the footprint every this many of its
/// ops (often enough to see the footprint grow; rarely enough that
/// `mallinfo2`, which locks every arena, does not set the pace).
pub const SAMPLE_EVERY: u64 = 256;

/// Which multi-threaded workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Two threads, each churning its own live set.
    Churn,
    /// One thread allocates, the other frees.
    Handoff,
}

/// A multi-threaded workload: its kind and how many ops both threads make
/// together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threaded {
    /// What the threads do.
    pub kind: Kind,
    /// Ops of both threads together (mallocs and frees).
    pub ops: usize,
}

/// Written as `churn:200000` on the child's command line.
impl fmt::Display for Threaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Churn => "churn",
            Kind::Handoff => "handoff",
        };
        write!(f, "{kind}:{}", self.ops)
    }
}

impl FromStr for Threaded {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not KIND:OPS (churn:200000, handoff:200000)");
        let (kind, ops) = text.split_once(':').ok_or_else(bad)?;
        let kind = match kind {
            "churn" => Kind::Churn,
            "handoff" => Kind::Handoff,
            _ => return Err(bad()),
        };
        let ops = ops.parse().map_err(|_| bad())?;
        Ok(Threaded { kind, ops })
    }
}

/// What one run measured.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Ops both threads made (all of them, unless a request was refused).
    pub ops: u64,
    /// From the first thread's start to the last thread's end.
    pub elapsed: Duration,
    /// Peak live requested bytes, as the workload counts them (the same way
    /// for every allocator; a stage's own count can be off when blocks sit
    /// in thread caches). Churn: the two threads' own peaks added; both
    /// live sets are full before either thread churns, so this is within a
    /// few percent above their peak together. Handoff: the most bytes the
    /// consumer found waiting in the ring when it looked: a lower bound
    /// (the ring may hold other blocks between two looks, and two more are
    /// in the threads' hands).
    pub live_peak: usize,
    /// Minor page faults of both threads during their ops.
    pub page_faults: u64,
    /// Ops of both threads when a request was first refused (that one
    /// included), if one was.
    pub out_of_memory_at: Option<u64>,
    /// The allocator's stats before the threads started.
    pub before: Stats,
    /// Its stats after they ended.
    pub after: Stats,
    /// In a memory pass: the largest footprint the sampling thread read,
    /// and how often it changed between two reads.
    pub sampled: Option<(usize, u64)>,
}

impl Outcome {
    /// Mean wall time per op, in ns.
    pub fn ns_per_op(&self) -> f64 {
        self.elapsed.as_nanos() as f64 / self.ops.max(1) as f64
    }

    /// Peak footprint, less the bytes live before the run (they belong to
    /// someone else), as the trace replay counts it: exact for an allocator
    /// that keeps a peak (the stages), a lower bound from samples for one
    /// that does not (glibc).
    pub fn footprint_peak(&self) -> usize {
        let seen = self.sampled.map_or(0, |(peak, _)| peak);
        seen.max(self.after.footprint_peak)
            .saturating_sub(self.before.live_bytes)
    }

    /// System calls the allocator counted during the run.
    pub fn syscalls(&self) -> u64 {
        self.after.syscalls().saturating_sub(self.before.syscalls())
    }
}

/// Runs `work` on `m` in two threads. With `sample`, one thread reads the
/// footprint every [`SAMPLE_EVERY`] of its ops (for allocators whose
/// counters keep no peak). With `budget`, the process's data size is
/// limited to that many more bytes while the threads run (set after the
/// threads exist: their stacks are not the allocator's memory).
pub fn run(m: &dyn Malloc, work: Threaded, sample: bool, budget: Option<u64>) -> Outcome {
    let signals = Signals::default();
    let churn = (work.kind == Kind::Churn).then(|| churn_plans(work.ops));
    let handoff = (work.kind == Kind::Handoff).then(|| handoff_plan(work.ops));
    // Only the handoff sends blocks through it; it is small.
    let ring = Ring::new();
    let signals = &signals;
    let ring = &ring;

    thread::scope(|s| {
        let mut workers = Vec::new();
        if let Some(plans) = &churn {
            for (i, plan) in plans.iter().enumerate() {
                let sampler = (sample && i == 0).then(Sampler::default);
                workers.push(s.spawn(move || churn_thread(m, plan, signals, sampler)));
            }
        }
        if let Some(plan) = &handoff {
            let sampler = sample.then(Sampler::default);
            workers.push(s.spawn(move || produce(m, &plan.sizes, ring, signals, sampler)));
            workers.push(s.spawn(move || consume(m, &plan.sent_bytes, ring, signals)));
        }
        // Wait until every thread is made and has called the allocator once
        // (its lazy per-thread set-up), or has died trying.
        while signals.ready.load(Ordering::Acquire) < workers.len()
            && !workers.iter().any(|w| w.is_finished())
        {
            thread::yield_now();
        }
        let before = m.stats();
        let limit = budget.map(limit_data);
        signals.go.store(true, Ordering::Release);
        let done: Vec<Worker> = workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect();
        if let Some(old) = limit {
            restore_data_limit(old);
        }
        let after = m.stats();

        let first = done.iter().map(|w| w.start).min();
        let last = done.iter().map(|w| w.end).max();
        let refused = done.iter().any(|w| w.refused);
        let ops = done.iter().map(|w| w.ops).sum();
        Outcome {
            ops,
            elapsed: first.zip(last).map_or(Duration::ZERO, |(a, b)| b - a),
            live_peak: done.iter().map(|w| w.live_peak).sum(),
            page_faults: done.iter().map(|w| w.page_faults).sum(),
            out_of_memory_at: refused.then_some(ops),
            before,
            after,
            sampled: done
                .iter()
                .find_map(|w| w.sampler.as_ref())
                .map(|s| (s.peak, s.changes)),
        }
    })
}

/// What the threads share besides the allocator and the ring.
#[derive(Default)]
struct Signals {
    /// Threads ready to start.
    ready: AtomicUsize,
    /// Set once: start now.
    go: AtomicBool,
    /// Churning threads whose live set is full.
    filled: Padded<AtomicUsize>,
    /// Raised by a thread whose request was refused (or that panicked):
    /// the others stop at their next step. Read at every step, written at
    /// most once, so it sits on a cache line of its own.
    stop: Padded<AtomicBool>,
}

impl Signals {
    /// Says this thread is ready, then waits for the start.
    fn start_together(&self) {
        self.ready.fetch_add(1, Ordering::AcqRel);
        // Yield, not spin: the main thread needs a CPU to say "go" (2 CPUs
        // are common here), and the clock starts only after this wait.
        while !self.go.load(Ordering::Acquire) {
            thread::yield_now();
        }
    }

    fn stopped(&self) -> bool {
        self.stop.0.load(Ordering::Relaxed)
    }

    /// Says this thread's live set is full, then waits until `threads`
    /// threads have said so (or the run stopped).
    fn filled_together(&self, threads: usize) {
        self.filled.0.fetch_add(1, Ordering::AcqRel);
        let mut waits = 0;
        while self.filled.0.load(Ordering::Acquire) < threads && !self.stopped() {
            pause(&mut waits);
        }
    }
}

/// Raises the stop flag if the thread unwinds, so that the other thread
/// does not wait for it forever.
struct StopOnPanic<'a>(&'a Signals);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.stop.0.store(true, Ordering::Relaxed);
        }
    }
}

/// A value alone on its cache lines (two: neighbouring lines are fetched
/// in pairs on x86), so that writes to its neighbours do not slow its
/// readers down.
#[derive(Default)]
#[repr(align(128))]
struct Padded<T>(T);

/// What one thread measured.
struct Worker {
    start: Instant,
    end: Instant,
    /// Allocator calls made, the refused one included.
    ops: u64,
    /// Whether a request was refused (the thread then stopped).
    refused: bool,
    /// This thread's share of the peak of live bytes (see
    /// [`Outcome::live_peak`]).
    live_peak: usize,
    page_faults: u64,
    sampler: Option<Sampler>,
}

/// A thread's clock and fault counter, started when the thread starts.
struct Clock {
    start: Instant,
    faults: u64,
}

impl Clock {
    fn start() -> Self {
        Clock {
            faults: minor_faults(),
            start: Instant::now(),
        }
    }

    fn stop(self, ops: u64, refused: bool) -> Worker {
        let end = Instant::now();
        Worker {
            start: self.start,
            end,
            ops,
            refused,
            live_peak: 0,
            page_faults: minor_faults().saturating_sub(self.faults),
            sampler: None,
        }
    }
}

/// The footprint, read now and then by one thread.
#[derive(Default)]
struct Sampler {
    peak: usize,
    last: usize,
    changes: u64,
}

impl Sampler {
    /// Reads the footprint if `ops` is a multiple of [`SAMPLE_EVERY`].
    fn maybe_read(&mut self, m: &dyn Malloc, ops: u64) {
        if ops.is_multiple_of(SAMPLE_EVERY) {
            let now = m.stats().footprint();
            self.changes += u64::from(self.last != 0 && now != self.last);
            self.peak = self.peak.max(now);
            self.last = now;
        }
    }
}

/// What one churning thread does.
struct ChurnPlan {
    /// Sizes of its first live set, allocated in this order.
    first: Vec<u32>,
    /// Then, per step: which live block to free (its index in the live
    /// set) and the size of the block allocated in its place.
    steps: Vec<(u32, u32)>,
    /// The thread's own peak of live requested bytes.
    live_peak: usize,
}

/// The churn's plans, one per thread, for `ops` ops in all: each thread
/// allocates its live set, replaces a block per step, and frees the rest.
fn churn_plans(ops: usize) -> [ChurnPlan; 2] {
    let per_thread = ops / 2;
    let steps = per_thread.saturating_sub(2 * CHURN_LIVE) / 2;
    [0, 1].map(|thread| {
        let mut rng = Rng::new(11 + thread);
        let mut size = || rng.range(SIZES.0, SIZES.1 + 1) as u32;
        let first: Vec<u32> = (0..CHURN_LIVE).map(|_| size()).collect();
        let mut live: Vec<u32> = first.clone();
        let mut bytes: usize = live.iter().map(|&s| s as usize).sum();
        let mut live_peak = bytes;
        let mut pick = Rng::new(31 + thread);
        let steps = (0..steps)
            .map(|_| {
                let index = pick.range(0, CHURN_LIVE);
                let new = size();
                bytes = bytes - live[index] as usize + new as usize;
                live_peak = live_peak.max(bytes);
                live[index] = new;
                (index as u32, new)
            })
            .collect();
        ChurnPlan {
            first,
            steps,
            live_peak,
        }
    })
}

/// One thread of the churn.
fn churn_thread(
    m: &dyn Malloc,
    plan: &ChurnPlan,
    signals: &Signals,
    mut sampler: Option<Sampler>,
) -> Worker {
    let _stop = StopOnPanic(signals);
    let mut live: Vec<*mut u8> = Vec::with_capacity(CHURN_LIVE);
    warm_up(m);
    signals.start_together();
    let clock = Clock::start();
    let mut ops = 0u64;
    let mut refused = false;
    for &size in &plan.first {
        ops += 1;
        let p = m.malloc(size as usize);
        if p.is_null() {
            refused = true;
            signals.stop.0.store(true, Ordering::Relaxed);
            break;
        }
        // SAFETY: a block just returned for `size` bytes (not null).
        unsafe { touch(p, size as usize) };
        live.push(p);
    }
    // Both live sets are full before either thread churns, so that they
    // are live together whatever the scheduler does.
    signals.filled_together(2);
    if !refused {
        for &(index, size) in &plan.steps {
            if signals.stopped() {
                break;
            }
            let slot = &mut live[index as usize];
            // SAFETY: every pointer in `live` is a live block of `m`'s,
            // freed once here and replaced at once.
            unsafe { m.free(*slot) };
            ops += 2;
            *slot = m.malloc(size as usize);
            if slot.is_null() {
                refused = true;
                break;
            }
            // SAFETY: a block just returned for `size` bytes (not null).
            unsafe { touch(*slot, size as usize) };
            if let Some(sampler) = &mut sampler {
                sampler.maybe_read(m, ops);
            }
        }
    }
    if refused {
        signals.stop.0.store(true, Ordering::Relaxed);
    }
    for &p in &live {
        // SAFETY: a live block of `m`'s (or null, after a refusal), freed
        // once.
        unsafe { m.free(p) };
    }
    // The last frees are ops of the workload, as in the trace churn.
    if !refused && !signals.stopped() {
        ops += live.len() as u64;
    }
    Worker {
        live_peak: plan.live_peak,
        sampler,
        ..clock.stop(ops, refused)
    }
}

/// The handoff's plan.
struct HandoffPlan {
    /// The sizes of the blocks, in the order they are made.
    sizes: Vec<u32>,
    /// `sent_bytes[n]`: the bytes of the first `n` blocks, so that the
    /// consumer can tell the bytes waiting in the ring from two counts.
    sent_bytes: Vec<u64>,
}

/// The handoff's plan for `ops` ops: half mallocs, half frees.
fn handoff_plan(ops: usize) -> HandoffPlan {
    let mut rng = Rng::new(21);
    let sizes: Vec<u32> = (0..ops / 2)
        .map(|_| rng.range(SIZES.0, SIZES.1 + 1) as u32)
        .collect();
    let sent_bytes = std::iter::once(0)
        .chain(sizes.iter().scan(0u64, |sum, &size| {
            *sum += u64::from(size);
            Some(*sum)
        }))
        .collect();
    HandoffPlan { sizes, sent_bytes }
}

/// The handoff's producer: allocates, writes, sends.
fn produce(
    m: &dyn Malloc,
    sizes: &[u32],
    ring: &Ring,
    signals: &Signals,
    mut sampler: Option<Sampler>,
) -> Worker {
    let _stop = StopOnPanic(signals);
    // Closes the ring however this thread ends, so the consumer ends too.
    let _close = CloseOnDrop(ring);
    let mut sender = Sender {
        ring,
        head: 0,
        tail_seen: 0,
    };
    warm_up(m);
    signals.start_together();
    let clock = Clock::start();
    let mut ops = 0u64;
    let mut refused = false;
    for &size in sizes {
        ops += 1;
        let p = m.malloc(size as usize);
        if p.is_null() {
            refused = true;
            signals.stop.0.store(true, Ordering::Relaxed);
            break;
        }
        // SAFETY: a block just returned for `size` bytes (not null).
        unsafe { touch(p, size as usize) };
        if !sender.send(p, signals) {
            break;
        }
        if let Some(sampler) = &mut sampler {
            sampler.maybe_read(m, ops);
        }
    }
    ring.close();
    Worker {
        sampler,
        ..clock.stop(ops, refused)
    }
}

/// The handoff's consumer: receives, reads a byte, frees.
fn consume(m: &dyn Malloc, sent_bytes: &[u64], ring: &Ring, signals: &Signals) -> Worker {
    let _stop = StopOnPanic(signals);
    let mut receiver = Receiver {
        ring,
        tail: 0,
        head_seen: 0,
        sent_bytes,
        waiting_peak: 0,
    };
    warm_up(m);
    signals.start_together();
    let clock = Clock::start();
    let mut ops = 0u64;
    while let Some(p) = receiver.receive() {
        // SAFETY: the producer sent a live block of at least 16 bytes, and
        // gave it up when it sent it. Volatile, so the read stays.
        unsafe { p.read_volatile() };
        // SAFETY: a live block of `m`'s, received once, freed once.
        unsafe { m.free(p) };
        ops += 1;
    }
    Worker {
        live_peak: usize::try_from(receiver.waiting_peak).unwrap_or(usize::MAX),
        ..clock.stop(ops, false)
    }
}

/// A bounded ring of block pointers from one producer to one consumer.
///
/// `head` counts blocks sent, `tail` blocks received; each side reads the
/// other's counter only when its own copy says the ring is full (or empty),
/// so in a steady stream the counters' cache lines move rarely.
struct Ring {
    slots: Box<[AtomicPtr<u8>]>,
    head: Padded<AtomicUsize>,
    tail: Padded<AtomicUsize>,
    closed: Padded<AtomicBool>,
}

impl Ring {
    fn new() -> Self {
        Ring {
            slots: (0..RING)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            head: Padded::default(),
            tail: Padded::default(),
            closed: Padded::default(),
        }
    }

    /// No more blocks will be sent.
    fn close(&self) {
        self.closed.0.store(true, Ordering::Release);
    }
}

struct CloseOnDrop<'a>(&'a Ring);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The producer's end of the ring.
struct Sender<'a> {
    ring: &'a Ring,
    /// Blocks sent (the ring's `head`, which only this side writes).
    head: usize,
    /// The consumer's `tail`, as last read.
    tail_seen: usize,
}

impl Sender<'_> {
    /// Sends `p`, waiting while the ring is full; `false` if the run was
    /// stopped meanwhile.
    fn send(&mut self, p: *mut u8, signals: &Signals) -> bool {
        let mut waits = 0;
        while self.head - self.tail_seen == RING {
            self.tail_seen = self.ring.tail.0.load(Ordering::Acquire);
            if self.head - self.tail_seen == RING {
                if signals.stopped() {
                    return false;
                }
                pause(&mut waits);
            }
        }
        self.ring.slots[self.head % RING].store(p, Ordering::Relaxed);
        self.head += 1;
        // Release: the block's bytes and its slot are written before the
        // consumer can see the new head.
        self.ring.head.0.store(self.head, Ordering::Release);
        true
    }
}

/// The consumer's end of the ring.
struct Receiver<'a> {
    ring: &'a Ring,
    /// Blocks received (the ring's `tail`, which only this side writes).
    tail: usize,
    /// The producer's `head`, as last read.
    head_seen: usize,
    /// The plan's running total of bytes sent (see [`HandoffPlan`]).
    sent_bytes: &'a [u64],
    /// The most bytes seen waiting in the ring when `head` was read.
    waiting_peak: u64,
}

impl Receiver<'_> {
    /// The next block, waiting while the ring is empty; `None` once it is
    /// closed and empty.
    fn receive(&mut self) -> Option<*mut u8> {
        let mut waits = 0;
        while self.tail == self.head_seen {
            // Read `closed` before `head`: a head read after seeing the
            // ring closed is the final one.
            let closed = self.ring.closed.0.load(Ordering::Acquire);
            self.head_seen = self.ring.head.0.load(Ordering::Acquire);
            // Every block received so far is freed: what waits is live.
            let waiting = self.sent_bytes[self.head_seen] - self.sent_bytes[self.tail];
            self.waiting_peak = self.waiting_peak.max(waiting);
            if self.tail == self.head_seen {
                if closed {
                    return None;
                }
                pause(&mut waits);
            }
        }
        let p = self.ring.slots[self.tail % RING].load(Ordering::Relaxed);
        self.tail += 1;
        // Release: the slot is read before the producer may write it again.
        self.ring.tail.0.store(self.tail, Ordering::Release);
        Some(p)
    }
}

/// Waits a little: spins first (the other thread is likely running on the
/// other CPU), then yields the CPU (it may not be).
fn pause(waits: &mut u32) {
    if *waits < 100 {
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
    *waits += 1;
}

/// One call before the clock, as the trace children make: the allocator's
/// lazy set-up for this thread (mimalloc's thread heap, glibc's arena) is
/// paid once per thread, not inside the measured ops.
fn warm_up(m: &dyn Malloc) {
    // SAFETY: a block just returned (or null), freed once.
    unsafe { m.free(m.malloc(1)) };
}

#[cfg(test)]
mod tests {
    use malloc_core::{SimBreak, SimPages, SystemMalloc};

    use super::*;

    const SMALL: usize = 20_000;

    #[test]
    fn spec_round_trips_through_text() {
        for kind in [Kind::Churn, Kind::Handoff] {
            let work = Threaded { kind, ops: 1234 };
            assert_eq!(work.to_string().parse::<Threaded>(), Ok(work));
        }
        assert!("churn".parse::<Threaded>().is_err());
        assert!("spin:10".parse::<Threaded>().is_err());
    }

    #[test]
    fn both_run_to_the_end_on_glibc() {
        for kind in [Kind::Churn, Kind::Handoff] {
            let work = Threaded { kind, ops: SMALL };
            let out = run(&SystemMalloc, work, true, None);
            assert_eq!(out.ops, SMALL as u64, "{kind:?}");
            assert_eq!(out.out_of_memory_at, None, "{kind:?}");
            assert!(out.elapsed > Duration::ZERO);
            assert!(out.sampled.is_some_and(|(peak, _)| peak > 0), "{kind:?}");
            // No more than two live sets of 1,000 blocks of 1 KiB, or a
            // full ring of them.
            let most = match kind {
                Kind::Churn => 2 * CHURN_LIVE * SIZES.1,
                Kind::Handoff => RING * SIZES.1,
            };
            assert!((1..=most).contains(&out.live_peak), "{kind:?}");
        }
    }

    #[test]
    fn a_stage_ends_with_every_block_freed() {
        for kind in [Kind::Churn, Kind::Handoff] {
            // Stage 3 has no thread caches: its count of live bytes is exact.
            let stage =
                all_stages::with_sources(3, SimBreak::new(), SimPages::new()).expect("stage 3");
            let out = run(&*stage, Threaded { kind, ops: SMALL }, false, None);
            assert_eq!(out.ops, SMALL as u64, "{kind:?}");
            let stats = stage.stats();
            assert_eq!(stats.live_blocks, 0, "{kind:?}");
            assert_eq!(stats.mallocs, stats.frees, "{kind:?}");
            // The churn's count is from above, the handoff's from below.
            match kind {
                Kind::Churn => assert!(stats.live_peak <= out.live_peak),
                Kind::Handoff => assert!(out.live_peak <= stats.live_peak),
            }
            stage.check().unwrap();
        }
    }

    #[test]
    fn a_refused_request_stops_both_threads() {
        for kind in [Kind::Churn, Kind::Handoff] {
            // Stage 1 never reuses memory: 256 KiB runs out early.
            let stage =
                all_stages::with_sources(1, SimBreak::with_limit(256 << 10), SimPages::new())
                    .expect("stage 1");
            let out = run(&*stage, Threaded { kind, ops: SMALL }, false, None);
            let at = out.out_of_memory_at.expect("out of memory");
            assert!(at < SMALL as u64, "{kind:?}: {at}");
        }
    }

    #[test]
    fn the_plans_are_fixed_and_as_described() {
        let [one, two] = churn_plans(SMALL);
        assert_eq!(one.first.len(), CHURN_LIVE);
        // 1,000 mallocs, two ops per step, 1,000 frees: half the ops each.
        assert_eq!(2 * CHURN_LIVE + 2 * one.steps.len(), SMALL / 2);
        assert_ne!(one.first, two.first, "a seed per thread");
        assert_eq!(churn_plans(SMALL)[0].steps, one.steps);
        // Blocks of 520 B on average.
        assert!((400_000..600_000).contains(&one.live_peak));
        let handoff = handoff_plan(SMALL);
        assert_eq!(handoff.sizes.len(), SMALL / 2);
        assert_eq!(handoff.sent_bytes.len(), SMALL / 2 + 1);
        let total: u64 = handoff.sizes.iter().map(|&s| u64::from(s)).sum();
        assert_eq!(handoff.sent_bytes.last(), Some(&total));
        for size in handoff.sizes.iter().chain(&one.first) {
            assert!((SIZES.0..=SIZES.1).contains(&(*size as usize)));
        }
    }
}
