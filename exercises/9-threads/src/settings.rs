//! The knobs, and reading them from the environment.
//!
//! Every number stage 5 fixed is a setting here, with glibc's default. They
//! can be changed at start-up with one environment variable, in the spirit
//! of `GLIBC_TUNABLES`:
//!
//! ```text
//! WORKBOOK_MALLOC=mmap_threshold=262144:trim_threshold=1048576:top_pad=0
//! WORKBOOK_MALLOC=check_every=1000:perturb=1     (the debug mode)
//! ```
//!
//! The variable is read on the first `malloc`, without allocating (the
//! allocator cannot call itself). A setting it does not understand is
//! ignored, with one line on stderr saying which and why.

use malloc_core::os;

/// The allocator's knobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Requests of at least this many bytes get a mapping of their own.
    pub mmap_threshold: usize,
    /// When more than this many free bytes sit at the top of the heap, the
    /// break is moved back down to give them to the OS.
    pub trim_threshold: usize,
    /// Extra bytes taken each time the break grows, so that the next few
    /// requests need no system call (glibc's `M_TOP_PAD`).
    pub top_pad: usize,
    /// Whether freeing a mapped block raises the thresholds (glibc's dynamic
    /// threshold). Setting any of the numbers by hand turns it off, as in
    /// glibc.
    pub dynamic: bool,
    /// Debugging: run the heap check every this many mallocs and frees
    /// (0: never), and stop the program at the first inconsistency.
    pub check_every: usize,
    /// Debugging: fill freed blocks with a pattern and verify it when a
    /// block is reused, so that a write after free is reported.
    pub perturb: bool,
}

/// The largest value the dynamic mmap threshold moves to: 32 MiB, glibc's
/// `DEFAULT_MMAP_THRESHOLD_MAX` on 64-bit machines.
pub const MMAP_THRESHOLD_MAX: usize = 32 << 20;

/// The environment variable holding settings.
pub const VARIABLE: &core::ffi::CStr = c"WORKBOOK_MALLOC";

impl Settings {
    // ANCHOR: defaults
    /// glibc's defaults: 128 KiB for both thresholds and for the top pad.
    pub const DEFAULT: Settings = Settings {
        mmap_threshold: 128 * 1024,
        trim_threshold: 128 * 1024,
        top_pad: 128 * 1024,
        dynamic: true,
        check_every: 0,
        perturb: false,
    };
    // ANCHOR_END: defaults

    /// Whether a debugging switch is on: then blocks skip the thread
    /// caches and go through the heap, where the checks are.
    pub const fn debugging(&self) -> bool {
        self.check_every > 0 || self.perturb
    }

    /// Reads settings from `text` (`name=value` items separated by `:`),
    /// starting from the defaults. Each item that is not understood is
    /// skipped and reported to `complain` with the reason.
    pub fn parse(text: &[u8], mut complain: impl FnMut(&[u8], &str)) -> Settings {
        let mut settings = Settings::DEFAULT;
        for item in text.split(|&b| b == b':').filter(|item| !item.is_empty()) {
            let Some(eq) = item.iter().position(|&b| b == b'=') else {
                complain(item, "expected name=value");
                continue;
            };
            let (name, value) = (&item[..eq], &item[eq + 1..]);
            let Some(value) = parse_number(value) else {
                complain(item, "the value is not a number");
                continue;
            };
            match name {
                b"mmap_threshold" if value <= MMAP_THRESHOLD_MAX => settings.mmap_threshold = value,
                b"mmap_threshold" => {
                    complain(item, "the mmap threshold is at most 33554432 (32 MiB)");
                    continue;
                }
                b"trim_threshold" => settings.trim_threshold = value,
                b"top_pad" => settings.top_pad = value,
                // The debugging switches leave the thresholds dynamic.
                b"check_every" => {
                    settings.check_every = value;
                    continue;
                }
                b"perturb" => {
                    settings.perturb = value != 0;
                    continue;
                }
                _ => {
                    complain(
                        item,
                        "unknown setting (known: mmap_threshold, trim_threshold, top_pad, \
                         check_every, perturb)",
                    );
                    continue;
                }
            }
            settings.dynamic = false;
        }
        settings
    }

    /// The settings from the environment variable [`VARIABLE`], or the
    /// defaults. Problems are reported on stderr, one line each.
    pub fn from_env() -> Settings {
        match os::getenv(VARIABLE) {
            Some(text) => Settings::parse(text, complain_on_stderr),
            None => Settings::DEFAULT,
        }
    }
}

/// A decimal or `0x` hexadecimal number, or `None`.
fn parse_number(text: &[u8]) -> Option<usize> {
    let (digits, radix) = match text {
        [b'0', b'x' | b'X', rest @ ..] => (rest, 16),
        _ => (text, 10),
    };
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &b| {
        let digit = (b as char).to_digit(radix)? as usize;
        n.checked_mul(radix as usize)?.checked_add(digit)
    })
}

/// Writes `WORKBOOK_MALLOC: ignoring "item": why` on stderr, without
/// allocating: the line is assembled in a buffer on the stack.
fn complain_on_stderr(item: &[u8], why: &str) {
    let mut line = [0u8; 256];
    let mut len = 0;
    for part in [
        b"WORKBOOK_MALLOC: ignoring \"".as_slice(),
        item,
        b"\": ",
        why.as_bytes(),
    ] {
        // A long item is cut, keeping room for the newline.
        let n = part.len().min(line.len() - 1 - len);
        line[len..len + n].copy_from_slice(&part[..n]);
        len += n;
    }
    line[len] = b'\n';
    os::write_stderr(&line[..=len]);
}
