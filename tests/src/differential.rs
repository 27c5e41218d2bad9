//! The differential property test: the allocator under test and the system
//! malloc run the same random sequence of operations, and after every
//! operation everything a program could observe must agree.
//!
//! Checked after every operation:
//! - null or not: both sides agree;
//! - alignment: 16, or what `memalign` asked for;
//! - `usable_size(p) >= n`;
//! - calloc memory is zero;
//! - `realloc` kept the old contents;
//! - every live block still holds its own fill pattern (written over its
//!   whole usable size, so a block that is really smaller than its
//!   `usable_size` says spoils a neighbour);
//! - no two live blocks overlap;
//! - `check()` is Ok.
//!
//! A failure shrinks to a minimal sequence, printed as a `.rep` trace that
//! the workbook CLI replays, with the heap map at the failure.

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

use malloc_core::{ALIGN, Malloc, SystemMalloc};
use proptest::test_runner::{TestCaseError, TestError, TestRunner};

use crate::fill;
use crate::ops::{self, Op};

/// How many random sequences to run, and how long they may be.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Random sequences (proptest's cases).
    pub cases: u32,
    /// The longest sequence, in operations.
    pub max_ops: usize,
}

impl Config {
    /// 256 sequences of up to 200 operations (under Miri, 3 of up to 24);
    /// `PROPTEST_CASES` sets the number of sequences.
    pub fn from_env() -> Config {
        // Under Miri, which interprets every instruction (about a thousand
        // times slower), a few short sequences: its checks are what count.
        if cfg!(miri) {
            return Config {
                cases: 3,
                max_ops: 24,
            };
        }
        Config {
            cases: proptest::test_runner::Config::default().cases,
            max_ops: 200,
        }
    }
}

/// Runs `config.cases` random sequences, each on a fresh allocator from
/// `make`, against the system malloc. The error holds the minimal failing
/// sequence as a trace, and the heap map at the failure.
pub fn differential<M: Malloc>(make: impl Fn() -> M, config: Config) -> Result<(), String> {
    let mut runner = TestRunner::new(proptest::test_runner::Config {
        cases: config.cases,
        // The trace in the message is the regression file.
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    });
    let result = runner.run(&ops::sequence(config.max_ops), |ops| {
        run_sequence(&make(), &ops).map_err(TestCaseError::fail)
    });
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Fail(reason, ops)) => Err(format!(
            "the differential test against the system malloc failed \
             (minimal sequence: {} generated ops)\n{reason}",
            ops.len()
        )),
        Err(TestError::Abort(reason)) => Err(format!("the differential test gave up: {reason}")),
    }
}

/// Runs one sequence on `heap` and on the system malloc, checking after
/// every operation.
pub fn run_sequence<M: Malloc>(heap: &M, ops: &[Op]) -> Result<(), String> {
    run_sequence_with(heap, ops, Failing::Never).map(|_| ())
}

/// Whether the allocator under test may fail where the system malloc did
/// not (its memory source fails on purpose in fault tests).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Failing {
    /// Null only where the system malloc says null too.
    Never,
    /// Null is allowed anywhere; the heap must stay whole regardless.
    Allowed,
}

/// [`run_sequence`], with failures allowed or not. Returns how many calls
/// failed cleanly where the system malloc succeeded.
pub fn run_sequence_with<M: Malloc>(
    heap: &M,
    ops: &[Op],
    failing: Failing,
) -> Result<usize, String> {
    let mut run = Run {
        heap,
        failing,
        clean_failures: 0,
        system: SystemMalloc,
        live: Vec::new(),
        trace: Vec::new(),
        next_id: 0,
    };
    let mut result = Ok(());
    for op in ops {
        // A panic in the allocator (a `todo!()` in an exercise, an
        // assertion) is a failure like any other: report it with the trace.
        result = match catch_unwind(AssertUnwindSafe(|| run.step(op))) {
            Ok(step) => step,
            Err(panic) => Err(format!(
                "the allocator panicked: {}",
                panic_message(&*panic)
            )),
        };
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = run.free_everything();
    }
    run.free_system_blocks();
    result
        .map(|()| run.clean_failures)
        .map_err(|problem| run.report(&problem))
}

/// A block both sides hold: the allocator under test's copy and the
/// system's.
struct Block {
    /// The block's name in the trace; its fill pattern derives from it.
    id: usize,
    /// Bytes requested.
    size: usize,
    ours: *mut u8,
    our_usable: usize,
    theirs: *mut u8,
    their_usable: usize,
}

/// A sequence being run.
struct Run<'a, M> {
    heap: &'a M,
    failing: Failing,
    /// Calls that returned null where the system malloc succeeded.
    clean_failures: usize,
    system: SystemMalloc,
    /// Live blocks, oldest first: deleting an operation while shrinking
    /// then changes which block later operations pick as little as possible.
    live: Vec<Block>,
    /// What has run so far, in trace form.
    trace: Vec<malloc_trace::Op>,
    next_id: usize,
}

/// What a fresh block must hold.
#[derive(Clone, Copy, PartialEq)]
enum Fresh {
    Anything,
    Zeros,
}

impl<M: Malloc> Run<'_, M> {
    /// Runs one operation on both sides, then checks everything.
    fn step(&mut self, op: &Op) -> Result<(), String> {
        match *op {
            Op::Malloc { size } => {
                let id = self.new_id();
                self.trace
                    .push(malloc_trace::Op::Malloc { id: Some(id), size });
                let ours = self.heap.malloc(size);
                let theirs = self.system.malloc(size);
                self.add(id, size, ALIGN, Fresh::Anything, ours, theirs)?;
            }
            Op::Calloc { count, size } => {
                let id = self.new_id();
                self.trace.push(malloc_trace::Op::Calloc {
                    id: Some(id),
                    count,
                    size,
                });
                let ours = self.heap.calloc(count, size);
                let theirs = self.system.calloc(count, size);
                let bytes = count.saturating_mul(size);
                self.add(id, bytes, ALIGN, Fresh::Zeros, ours, theirs)?;
            }
            Op::Memalign { align, size } => {
                let id = self.new_id();
                self.trace.push(malloc_trace::Op::Memalign {
                    id: Some(id),
                    align,
                    size,
                });
                let ours = self.heap.memalign(align, size);
                let theirs = self.system.memalign(align, size);
                self.add(id, size, align, Fresh::Anything, ours, theirs)?;
            }
            Op::Realloc { block, size } => {
                if self.live.is_empty() {
                    return Ok(());
                }
                self.realloc(block.index(self.live.len()), size)?;
            }
            Op::Free { block } => {
                if self.live.is_empty() {
                    return Ok(());
                }
                let index = block.index(self.live.len());
                self.trace.push(malloc_trace::Op::Free {
                    id: Some(self.live[index].id),
                });
                self.check_whole(&self.live[index])?;
                let block = self.live.remove(index);
                // SAFETY: both pointers are live blocks of their allocators.
                unsafe {
                    self.heap.free(block.ours);
                    self.system.free(block.theirs);
                }
            }
        }
        self.check_all()
    }

    fn new_id(&mut self) -> usize {
        self.next_id += 1;
        self.next_id - 1
    }

    /// Checks a block both sides just handed out, fills it, and keeps it.
    fn add(
        &mut self,
        id: usize,
        size: usize,
        align: usize,
        fresh: Fresh,
        ours: *mut u8,
        theirs: *mut u8,
    ) -> Result<(), String> {
        match (ours.is_null(), theirs.is_null()) {
            (true, true) => return Ok(()),
            (true, false) => {
                // SAFETY: a fresh block of the system malloc.
                unsafe { self.system.free(theirs) };
                if self.failing == Failing::Allowed {
                    self.clean_failures += 1; // The source said no.
                    return Ok(());
                }
                return Err("returned null where the system malloc succeeded".into());
            }
            (false, true) => {
                return Err(format!(
                    "returned {ours:p} where the system malloc returned null"
                ));
            }
            (false, false) => {}
        }
        check_alignment(ours, align)?;
        // SAFETY: both are live blocks of their allocators.
        let (our_usable, their_usable) =
            unsafe { (self.heap.usable_size(ours), their_usable(theirs, size)) };
        check_usable(ours, size, our_usable, self.heap.stats().footprint())?;
        if fresh == Fresh::Zeros {
            // SAFETY: the block has at least `size` bytes (checked above).
            unsafe { fill::check_zero(ours, size) }
                .map_err(|wrong| format!("calloc memory is not zeroed: {wrong}"))?;
        }
        let block = Block {
            id,
            size,
            ours,
            our_usable,
            theirs,
            their_usable,
        };
        // SAFETY: both blocks are fresh, with the usable sizes their
        // allocators report.
        unsafe {
            fill::fill(ours, id, our_usable);
            fill::fill(theirs, id, their_usable);
        }
        self.live.push(block);
        Ok(())
    }

    /// Reallocates live block number `index` on both sides.
    fn realloc(&mut self, index: usize, size: usize) -> Result<(), String> {
        let id = self.live[index].id;
        self.trace
            .push(malloc_trace::Op::Realloc { id: Some(id), size });
        self.check_whole(&self.live[index])?;
        let block = &self.live[index];
        // SAFETY: both pointers are live blocks of their allocators.
        let (ours, theirs) = unsafe {
            (
                self.heap.realloc(block.ours, size),
                self.system.realloc(block.theirs, size),
            )
        };
        if size == 0 {
            // C (glibc): the block is freed and the answer is null.
            self.live.remove(index);
            if !ours.is_null() {
                return Err(format!("realloc(p, 0) returned {ours:p}, not null"));
            }
            return Ok(());
        }
        if !theirs.is_null() {
            // The system's old block is gone: keep the new one, so that it
            // is freed even if the allocator under test fails below.
            let block = &mut self.live[index];
            block.theirs = theirs;
            // SAFETY: a live block of the system malloc.
            block.their_usable = unsafe { their_usable(theirs, size) };
        }
        let block = &self.live[index];
        match (ours.is_null(), theirs.is_null()) {
            // A failed realloc leaves the block as it was: the checks of
            // every live block after this step look at it.
            (true, true) => return Ok(()),
            // The source said no: our old block must be intact (checked
            // with every live block below); the system's new one gets its
            // pattern, as after a success.
            (true, false) if self.failing == Failing::Allowed => {
                // SAFETY: the system's live block, with this usable size.
                unsafe { fill::fill(theirs, id, block.their_usable) };
                self.clean_failures += 1;
                return Ok(());
            }
            (true, false) => {
                return Err("realloc returned null where the system malloc succeeded".into());
            }
            (false, true) => {
                return Err(format!(
                    "realloc returned {ours:p} where the system malloc returned null"
                ));
            }
            (false, false) => {}
        }
        check_alignment(ours, ALIGN)?;
        let their_usable = block.their_usable;
        // SAFETY: a live block of the allocator under test.
        let our_usable = unsafe { self.heap.usable_size(ours) };
        check_usable(ours, size, our_usable, self.heap.stats().footprint())?;
        let kept = block.size.min(size);
        // SAFETY: the new block has at least `size` >= `kept` bytes.
        unsafe { fill::check(ours, id, &fill::sampled_prefix(block.our_usable, kept)) }
            .map_err(|wrong| format!("realloc did not keep the data: {wrong}"))?;
        let block = &mut self.live[index];
        *block = Block {
            id,
            size,
            ours,
            our_usable,
            theirs,
            their_usable,
        };
        // SAFETY: both blocks are live with these usable sizes; the pattern
        // of the same id rewrites the kept bytes with what they hold.
        unsafe {
            fill::fill(ours, id, our_usable);
            fill::fill(theirs, id, their_usable);
        }
        Ok(())
    }

    /// After every step: each live block's edges hold its pattern, no two
    /// blocks overlap, and the heap checks itself.
    fn check_all(&self) -> Result<(), String> {
        // Overlap first: it is the cause when a pattern is spoilt.
        self.check_overlaps()?;
        for block in &self.live {
            // SAFETY: live blocks with these usable sizes.
            unsafe {
                fill::check(block.ours, block.id, &fill::edges(block.our_usable))?;
                fill::check(block.theirs, block.id, &fill::edges(block.their_usable))
                    .map_err(|wrong| format!("(system malloc's copy!) {wrong}"))?;
            }
        }
        self.heap.check().map_err(|e| e.to_string())
    }

    /// The sampled pattern check of a whole block, on both sides.
    fn check_whole(&self, block: &Block) -> Result<(), String> {
        // SAFETY: a live block with these usable sizes.
        unsafe {
            fill::check(block.ours, block.id, &fill::sampled(block.our_usable))?;
            fill::check(block.theirs, block.id, &fill::sampled(block.their_usable))
                .map_err(|wrong| format!("(system malloc's copy!) {wrong}"))
        }
    }

    /// No two live blocks of the allocator under test share a byte (a
    /// zero-sized block counts as one byte: `malloc(0)` must be unique).
    fn check_overlaps(&self) -> Result<(), String> {
        let mut spans: Vec<(usize, usize, usize)> = self
            .live
            .iter()
            .map(|b| (b.ours as usize, b.our_usable.max(1), b.id))
            .collect();
        spans.sort_unstable();
        for pair in spans.windows(2) {
            let ((a, a_len, a_id), (b, _, b_id)) = (pair[0], pair[1]);
            if a + a_len > b {
                return Err(format!(
                    "blocks overlap: block {a_id} at {a:#x} has {a_len} usable bytes, \
                     block {b_id} starts at {b:#x}"
                ));
            }
        }
        Ok(())
    }

    /// At the end of a passing sequence: check and free every block.
    fn free_everything(&mut self) -> Result<(), String> {
        while let Some(block) = self.live.pop() {
            self.trace
                .push(malloc_trace::Op::Free { id: Some(block.id) });
            self.check_whole(&block)?;
            // SAFETY: both pointers are live blocks of their allocators.
            unsafe {
                self.heap.free(block.ours);
                self.system.free(block.theirs);
            }
            self.heap.check().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Gives the system malloc its blocks back (after a failure too; the
    /// allocator under test may be broken, so its blocks are left alone).
    fn free_system_blocks(&mut self) {
        for block in self.live.drain(..) {
            // SAFETY: a live block of the system malloc.
            unsafe { self.system.free(block.theirs) };
        }
    }

    /// The failure in words: the problem, the trace that leads to it (its
    /// last op is the one that failed) and the heap map.
    fn report(&self, problem: &str) -> String {
        let trace = malloc_trace::Trace::new(self.trace.clone());
        let mut map = String::new();
        if self.heap.heap_map(&mut map).is_err() {
            map.push_str("(the heap map could not be written)");
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = write!(
            text,
            "{problem}\n\
             after the last op of this trace (.rep format; save it and replay it):\n\
             {trace}\n\
             heap map at the failure:\n{map}"
        );
        text
    }
}

/// The error if `ptr` is not a multiple of `align` (for a power of two;
/// other alignments were refused before a pointer existed).
fn check_alignment(ptr: *mut u8, align: usize) -> Result<(), String> {
    if align.is_power_of_two() && !(ptr as usize).is_multiple_of(align) {
        return Err(format!("{ptr:p} is not aligned to {align}"));
    }
    if !align.is_power_of_two() {
        return Err(format!(
            "alignment {align} is not a power of two, yet got {ptr:p}"
        ));
    }
    Ok(())
}

/// The error if a block of `size` requested bytes reports fewer usable, or
/// more than the allocator's whole footprint (and 64 MiB): no block is
/// bigger than the memory it lies in, but a header the program wrote over
/// may read so, and filling that many bytes would run wild.
fn check_usable(ptr: *mut u8, size: usize, usable: usize, footprint: usize) -> Result<(), String> {
    if usable < size {
        return Err(format!(
            "usable_size({ptr:p}) is {usable}, less than the {size} bytes asked"
        ));
    }
    if usable > footprint.max(64 << 20) {
        return Err(format!(
            "usable_size({ptr:p}) is {usable}, more than the allocator's whole footprint \
             ({footprint} bytes): is the block's header where usable_size reads it, and not \
             overwritten?"
        ));
    }
    Ok(())
}

/// The text of a panic's payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(a panic without a message)".into()
    }
}

/// The bytes of the system's block `theirs` (`size` asked for) that the
/// checks fill: its usable size. Miri's own malloc cannot tell it (no
/// `malloc_usable_size`), so under Miri the bytes asked for.
///
/// # Safety
///
/// `theirs` is a live block of the system malloc.
unsafe fn their_usable(theirs: *mut u8, size: usize) -> usize {
    if cfg!(miri) {
        return size;
    }
    // SAFETY: as the caller promises.
    unsafe { SystemMalloc.usable_size(theirs) }
}
