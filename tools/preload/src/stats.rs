//! The counters at exit, on stderr (`WORKBOOK_STATS=1`).

use core::fmt::Write;
use core::sync::atomic::{AtomicI32, Ordering};

use malloc_core::Stats;

use crate::text::{Bytes, Text, write_all};

/// Where to print: a copy of stderr made at start-up, because some programs
/// close stderr before exit (coreutils' `close_stdout` does), and our
/// `atexit` handler, registered first, runs last.
static STDERR: AtomicI32 = AtomicI32::new(libc::STDERR_FILENO);

/// Keeps a copy of stderr for [`print`] (above the low descriptors that
/// programs expect to be free; closed on `exec`).
pub fn keep_stderr() {
    // SAFETY: duplicating a descriptor has no memory-safety preconditions.
    let fd = unsafe { libc::fcntl(libc::STDERR_FILENO, libc::F_DUPFD_CLOEXEC, 64) };
    if fd >= 0 {
        STDERR.store(fd, Ordering::Relaxed);
    }
}

/// Prints one line of counters for this process on stderr.
pub fn print(stage: u32, stats: &Stats) {
    let mut line = Text::<512>::new();
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    // Text never fails; a line too long for it is cut.
    let _ = writeln!(
        line,
        "workbook stage {stage} (pid {pid}): footprint {} now, {} peak; \
         live {} in {} blocks, {} peak; {} mallocs, {} frees, {} reallocs, \
         {} memaligns; {} brk, {} mmap, {} munmap calls",
        Bytes(stats.footprint()),
        Bytes(stats.footprint_peak),
        Bytes(stats.live_bytes),
        stats.live_blocks,
        Bytes(stats.live_peak),
        stats.mallocs,
        stats.frees,
        stats.reallocs,
        stats.memaligns,
        stats.brk_calls,
        stats.mmap_calls,
        stats.munmap_calls,
    );
    write_all(STDERR.load(Ordering::Relaxed), line.as_bytes());
}
