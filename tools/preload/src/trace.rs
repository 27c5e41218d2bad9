//! The trace recorder: a program's allocations as a `.rep` file.
//!
//! `WORKBOOK_TRACE=FILE` makes the library write every `malloc`, `calloc`,
//! `realloc`, aligned allocation and `free` of the program to `FILE`, in the
//! malloc lab's `.rep` format that `malloc_trace::parse` reads and
//! `cargo workbook replay` replays:
//!
//! - ids come from [`Ids`]: a live pointer has an id, a freed id is reused;
//! - a request that failed is recorded with id `-1` (nobody can free it);
//! - `realloc(null, n)` is recorded as `a`, `realloc(p, 0)` as `f`, and
//!   `free(null)` not at all (it changes nothing);
//! - the ops go into a static buffer written with `write(2)` when full, so
//!   recording costs a few string conversions per call;
//! - the header needs counts known only at the end: it is written first as
//!   four blank-padded zeros and rewritten in place at exit (`pwrite`).
//!   Readers skip the padding (`fscanf("%d")` does too).
//!
//! What is not recorded: blocks allocated before the library's initialiser
//! ran (by the loader and the C library's own start-up; their frees are
//! skipped as unknown pointers), anything after the `atexit` handler ran,
//! and child processes: after `fork` the child stops recording (an `exec`ed
//! program's parent is not `WORKBOOK_TRACE_PARENT`, so it does not start).
//! A process that ends without `exit` (a signal, `_exit`) leaves the ops of
//! its last buffer unwritten and a zero header; the file still parses.

use core::ffi::CStr;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

use malloc_core::{Lock, LockGuard};

use crate::ids::Ids;
use crate::text::{Text, write_all};

/// Bytes of ops buffered before a `write(2)`.
const BUFFER: usize = 1 << 16;

/// Room one op line may need: a letter and three 20-digit numbers.
const LONGEST_OP: usize = 2 + 3 * 21;

/// Each header number is padded to this width, so the real header has the
/// same length as the placeholder.
const HEADER_WIDTH: usize = 20;

/// Whether the recorder is on (checked before taking its lock).
static ON: AtomicBool = AtomicBool::new(false);

/// The recorder: all zero until started, so it lives in `.bss`.
static RECORDER: Lock<Recorder> = Lock::new(Recorder::new());

/// The state of a recording.
pub struct Recorder {
    /// The trace file's descriptor plus one (0: not recording).
    fd_plus_one: i32,
    buffer: [u8; BUFFER],
    len: usize,
    /// Ops recorded so far.
    ops: usize,
    /// Requested bytes live now, and their peak (the header's first number).
    live: usize,
    peak: usize,
    ids: Ids,
}

/// Starts recording into `path` (truncated). Returns false if it cannot be
/// opened.
pub fn start(path: &CStr) -> bool {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC;
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr(), flags, 0o644) };
    if fd < 0 {
        let message = b"workbook: cannot open the trace file (WORKBOOK_TRACE)\n";
        write_all(libc::STDERR_FILENO, message);
        return false;
    }
    let mut rec = RECORDER.lock();
    rec.fd_plus_one = fd + 1;
    let header = header_text(0, 0, 0);
    write_all(fd, header.as_bytes());
    ON.store(true, Ordering::Release);
    true
}

/// The recorder, locked, if recording is on.
pub fn recorder() -> Option<LockGuard<'static, Recorder>> {
    if ON.load(Ordering::Relaxed) {
        Some(RECORDER.lock())
    } else {
        None
    }
}

/// Writes the last ops and the real header, and stops recording.
pub fn finish() {
    if !ON.swap(false, Ordering::AcqRel) {
        return;
    }
    let mut rec = RECORDER.lock();
    if rec.fd_plus_one == 0 {
        return;
    }
    rec.flush();
    let fd = rec.fd_plus_one - 1;
    let header = header_text(rec.peak, rec.ids.count(), rec.ops);
    let bytes = header.as_bytes();
    // SAFETY: `bytes` is valid for reading; the placeholder at offset 0 has
    // the same length.
    unsafe { libc::pwrite(fd, bytes.as_ptr().cast(), bytes.len(), 0) };
    // SAFETY: the descriptor is ours and nothing uses it afterwards.
    unsafe { libc::close(fd) };
    rec.fd_plus_one = 0;
}

/// Before `fork`: hold the recorder so no thread is half-way through a
/// record.
pub fn lock_for_fork() {
    RECORDER.acquire();
}

/// After `fork`, in the parent: release the recorder.
///
/// # Safety
///
/// [`lock_for_fork`] took the lock in this process.
pub unsafe fn unlock_after_fork() {
    // SAFETY: the caller's promise.
    unsafe { RECORDER.release() };
}

/// After `fork`, in the child: stop recording (the child's ops would mix
/// with the parent's in one file) and release the recorder.
///
/// # Safety
///
/// [`lock_for_fork`] took the lock in the parent.
pub unsafe fn child_after_fork() {
    ON.store(false, Ordering::Relaxed);
    // SAFETY: the child holds the copy of the parent's lock, and is the only
    // thread; nothing else uses the lock until it is released.
    unsafe { RECORDER.release() };
    let mut rec = RECORDER.lock();
    if rec.fd_plus_one != 0 {
        // SAFETY: the child's copy of our descriptor, used by no one else.
        unsafe { libc::close(rec.fd_plus_one - 1) };
        rec.fd_plus_one = 0;
        rec.len = 0;
    }
}

/// The four header lines, each number padded to [`HEADER_WIDTH`].
fn header_text(peak: usize, ids: usize, ops: usize) -> Text<128> {
    let mut text = Text::new();
    for n in [peak, ids, ops, 1] {
        // Text never fails.
        let _ = writeln!(text, "{n:>HEADER_WIDTH$}");
    }
    text
}

impl Recorder {
    /// Not recording; all zero.
    const fn new() -> Self {
        Recorder {
            fd_plus_one: 0,
            buffer: [0; BUFFER],
            len: 0,
            ops: 0,
            live: 0,
            peak: 0,
            ids: Ids::new(),
        }
    }

    /// A `malloc(size)` that returned `p`.
    pub fn malloc(&mut self, size: usize, p: *mut u8) {
        let id = self.new_block(p, size);
        self.op(b'a', id, [size, 0], 1);
    }

    /// A `calloc(count, size)` that returned `p`.
    pub fn calloc(&mut self, count: usize, size: usize, p: *mut u8) {
        let id = self.new_block(p, count.saturating_mul(size));
        self.op(b'c', id, [count, size], 2);
    }

    /// A `memalign(align, size)` (or another aligned allocation) that
    /// returned `p`.
    pub fn memalign(&mut self, align: usize, size: usize, p: *mut u8) {
        let id = self.new_block(p, size);
        self.op(b'm', id, [align, size], 2);
    }

    /// A `free(p)` of a non-null `p`.
    pub fn free(&mut self, p: *mut u8) {
        if let Some((id, size)) = self.ids.remove(p as usize) {
            self.ids.release(id);
            self.live -= size;
            self.op(b'f', Some(id), [0, 0], 0);
        }
    }

    /// A `realloc(old, size)` (old not null, size not 0) that returned `new`.
    pub fn realloc(&mut self, old: *mut u8, size: usize, new: *mut u8) {
        if new.is_null() {
            // Failed: `old` is still live and keeps its id.
            let id = self.ids.remove(old as usize).map(|(id, old_size)| {
                self.ids.insert_with_id(old as usize, id, old_size);
                id
            });
            self.op(b'r', id, [size, 0], 1);
            return;
        }
        match self.ids.remove(old as usize) {
            Some((id, old_size)) => {
                self.live = self.live - old_size + size;
                self.peak = self.peak.max(self.live);
                self.forget_stale(new);
                self.ids.insert_with_id(new as usize, id, size);
                self.op(b'r', Some(id), [size, 0], 1);
            }
            // A block we never saw allocated: from here on it is new.
            None => self.malloc(size, new),
        }
    }

    /// Gives a fresh block an id (`None` for null, or if ids run out).
    fn new_block(&mut self, p: *mut u8, size: usize) -> Option<usize> {
        if p.is_null() {
            return None;
        }
        self.forget_stale(p);
        let id = self.ids.insert(p as usize, size)?;
        self.live += size;
        self.peak = self.peak.max(self.live);
        Some(id)
    }

    /// If `p` is still known, its free was missed (it happened while we
    /// were not recording): record it now, so the trace stays consistent.
    fn forget_stale(&mut self, p: *mut u8) {
        self.free(p);
    }

    /// Appends one op line: the letter, the id (`-1` for none) and `fields`
    /// numbers.
    fn op(&mut self, letter: u8, id: Option<usize>, numbers: [usize; 2], fields: usize) {
        if self.fd_plus_one == 0 {
            return;
        }
        if self.len + LONGEST_OP > BUFFER {
            self.flush();
        }
        self.push(letter);
        self.push(b' ');
        match id {
            Some(id) => self.push_number(id),
            None => {
                self.push(b'-');
                self.push(b'1');
            }
        }
        for &n in &numbers[..fields] {
            self.push(b' ');
            self.push_number(n);
        }
        self.push(b'\n');
        self.ops += 1;
    }

    fn push(&mut self, byte: u8) {
        self.buffer[self.len] = byte;
        self.len += 1;
    }

    /// Appends `n` in decimal.
    fn push_number(&mut self, mut n: usize) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &d in &digits[i..] {
            self.push(d);
        }
    }

    /// Writes the buffered ops to the file.
    fn flush(&mut self) {
        if self.fd_plus_one != 0 && self.len > 0 {
            write_all(self.fd_plus_one - 1, &self.buffer[..self.len]);
        }
        self.len = 0;
    }
}
