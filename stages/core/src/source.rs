//! Memory sources: where a heap gets its memory.
//!
//! A stage does not call `sbrk` itself; it asks a [`Break`] to grow. The
//! default is the process's [`RealBreak`]. Tests and pictures use a
//! [`SimBreak`]: the same behaviour over a private reserved region, so its
//! offsets are the same on every run, many heaps can live side by side, and
//! it can be told to run out of memory on purpose.

use core::ptr::{self, NonNull};

use crate::{ALIGN, align_up, os};

/// What a source has done: bytes it holds now, their peak, and the system
/// calls (real or simulated) it made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Bytes held now.
    pub bytes: usize,
    /// The largest `bytes` ever.
    pub peak: usize,
    /// Calls that took memory (sbrk up, mmap).
    pub grow_calls: u64,
    /// Calls that gave memory back (sbrk down, munmap).
    pub shrink_calls: u64,
}

impl SourceStats {
    /// All zero (usable in a `const`).
    pub const fn new() -> Self {
        SourceStats {
            bytes: 0,
            peak: 0,
            grow_calls: 0,
            shrink_calls: 0,
        }
    }

    pub(crate) fn grew(&mut self, bytes: usize) {
        self.bytes += bytes;
        self.peak = self.peak.max(self.bytes);
        self.grow_calls += 1;
    }

    pub(crate) fn shrank(&mut self, bytes: usize) {
        self.bytes -= bytes;
        self.shrink_calls += 1;
    }

    /// A resize from `old` to `new` bytes, counted as one growing call.
    pub(crate) fn resized(&mut self, old: usize, new: usize) {
        self.bytes = self.bytes - old + new;
        self.peak = self.peak.max(self.bytes);
        self.grow_calls += 1;
    }
}

/// Failure on demand: a pseudo-random source of "no" for simulated
/// sources, the same for the same seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Failures {
    /// xorshift state (0: never fail).
    state: u64,
    /// About one call in this many fails.
    one_in: u64,
}

impl Failures {
    pub(crate) const NEVER: Failures = Failures {
        state: 0,
        one_in: 1,
    };

    pub(crate) const fn new(seed: u64, one_in: u64) -> Self {
        Failures {
            // xorshift must not start at 0; any other seed will do.
            state: seed | 1,
            one_in: if one_in == 0 { 1 } else { one_in },
        }
    }

    /// Whether this call fails.
    pub(crate) fn strike(&mut self) -> bool {
        if self.state == 0 {
            return false;
        }
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state.is_multiple_of(self.one_in)
    }
}

// ANCHOR: break
/// A heap's memory source, shaped like the program break: it grows at the
/// top and can shrink at the top.
pub trait Break: Send {
    /// Takes `bytes` more memory (a multiple of [`ALIGN`]) and returns where
    /// the new bytes start, [`ALIGN`]-aligned. The new bytes follow the
    /// previous ones only if nobody else moved the break in between: the
    /// caller compares the start with its old end. `None`: out of memory.
    fn grow(&mut self, bytes: usize) -> Option<NonNull<u8>>;

    /// Gives the top `bytes` back. Returns false (and keeps them) when the
    /// break is no longer where this source left it.
    ///
    /// # Safety
    ///
    /// The top `bytes` were obtained from this source and nothing uses them.
    unsafe fn shrink(&mut self, bytes: usize) -> bool;

    /// What the source has done so far.
    fn stats(&self) -> SourceStats;
}
// ANCHOR_END: break

/// The process's program break, moved with `sbrk`.
///
/// Someone else (glibc's malloc, another library) may move the break too.
/// Then our next growth does not follow our previous memory: [`Break::grow`]
/// returns the new start and the heap must cope with a gap, as glibc does.
/// We only shrink while the break is still where we left it.
pub struct RealBreak {
    /// Where we left the break (0 before our first growth).
    top: usize,
    stats: SourceStats,
}

impl RealBreak {
    /// The program break, not yet moved by us.
    pub const fn new() -> Self {
        RealBreak {
            top: 0,
            stats: SourceStats::new(),
        }
    }
}

impl Default for RealBreak {
    fn default() -> Self {
        Self::new()
    }
}

impl Break for RealBreak {
    fn grow(&mut self, bytes: usize) -> Option<NonNull<u8>> {
        // Someone else may have left the break unaligned: ask for the few
        // bytes more that align our start. Only those: asking for more every
        // time would leave the break unaligned after us, and our next growth
        // would not follow our memory.
        for _ in 0..3 {
            let now = os::current_break() as usize;
            let pad = align_up(now, ALIGN) - now;
            let total = bytes.checked_add(pad)?;
            let delta = isize::try_from(total).ok()?;
            // SAFETY: growing the break releases nothing. `expected`: if the
            // break moved since we looked, our padding is wrong: look again.
            if let Some(old) = unsafe { os::move_break(delta, Some(now)) } {
                self.top = old as usize + total;
                self.stats.grew(total);
                return NonNull::new(old.wrapping_add(pad));
            }
            if os::current_break() as usize == now {
                return None; // The kernel refused: out of memory.
            }
        }
        None
    }

    unsafe fn shrink(&mut self, bytes: usize) -> bool {
        let Ok(delta) = isize::try_from(bytes) else {
            return false;
        };
        // SAFETY: the caller promises the top bytes are ours and unused;
        // `expected` makes sure the top is still ours.
        if unsafe { os::move_break(-delta, Some(self.top)) }.is_none() {
            return false;
        }
        self.top -= bytes;
        self.stats.shrank(bytes);
        true
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }
}

/// A simulated break over one private reserved region.
///
/// The region is reserved with `mmap` on first use (`MAP_NORESERVE`: pages
/// cost nothing until touched) and aligned to [`SimBreak::BASE_ALIGN`], so
/// offsets in heap maps are the same on every run. It can be limited (grow
/// fails past `limit` bytes, for out-of-memory tests) and can simulate a
/// foreign `sbrk` (every n-th growth leaves a gap, as if someone else had
/// taken memory in between).
pub struct SimBreak {
    /// The mapping that holds the region (null until reserved).
    mapping: *mut u8,
    /// The start of the region: `mapping` rounded up to `BASE_ALIGN`.
    base: *mut u8,
    /// The simulated break: bytes below `base + top` are handed out.
    top: usize,
    /// Grow fails when `top` would pass this.
    limit: usize,
    /// Every `gap_every`-th growth skips [`SimBreak::GAP`] bytes (0: never).
    gap_every: u64,
    /// Growths that fail at random (for fault tests).
    failures: Failures,
    stats: SourceStats,
}

// SAFETY: the region belongs to this value alone; moving it to another
// thread moves that ownership.
unsafe impl Send for SimBreak {}

// SAFETY: a shared `&SimBreak` only reads its fields (no interior
// mutability); the region's bytes are reached through `&mut self` alone.
unsafe impl Sync for SimBreak {}

impl SimBreak {
    /// Address space reserved for one simulated break (never all touched).
    /// Under Miri, which holds it all in memory, 32 MiB.
    pub const CAPACITY: usize = if cfg!(miri) { 32 << 20 } else { 16 << 30 };
    /// Alignment of the region's start: large alignments give the same
    /// offsets on every run.
    pub const BASE_ALIGN: usize = 1 << 22;
    /// Bytes a simulated foreign `sbrk` takes.
    pub const GAP: usize = 4096;

    /// A simulated break that can grow to [`CAPACITY`](Self::CAPACITY).
    pub const fn new() -> Self {
        Self::with_limit(Self::CAPACITY)
    }

    /// A simulated break that fails to grow past `limit` bytes.
    pub const fn with_limit(limit: usize) -> Self {
        SimBreak {
            mapping: ptr::null_mut(),
            base: ptr::null_mut(),
            top: 0,
            limit: if limit < Self::CAPACITY {
                limit
            } else {
                Self::CAPACITY
            },
            gap_every: 0,
            failures: Failures::NEVER,
            stats: SourceStats::new(),
        }
    }

    /// The same break, but every `n`-th growth (n > 0) leaves a gap of
    /// [`GAP`](Self::GAP) bytes before the new memory, as a foreign `sbrk`
    /// would. The gap counts as held memory, as it would with the real break.
    pub const fn with_foreign_gaps(mut self, n: u64) -> Self {
        self.gap_every = n;
        self
    }

    /// The same break, but about one growth in `one_in` fails, at points
    /// chosen by `seed` (the same seed fails the same calls).
    pub const fn with_random_failures(mut self, seed: u64, one_in: u64) -> Self {
        self.failures = Failures::new(seed, one_in);
        self
    }

    /// Changes the limit from now on (bytes already held are kept).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(Self::CAPACITY);
    }

    /// The start of the region, if reserved yet.
    pub fn base(&self) -> Option<NonNull<u8>> {
        NonNull::new(self.base)
    }

    fn map_region(&mut self) -> Option<()> {
        if self.base.is_null() {
            let mapping = os::map(Self::CAPACITY + Self::BASE_ALIGN, true)?.as_ptr();
            self.mapping = mapping;
            self.base = mapping.map_addr(|a| align_up(a, Self::BASE_ALIGN));
        }
        Some(())
    }
}

impl Default for SimBreak {
    fn default() -> Self {
        Self::new()
    }
}

impl Break for SimBreak {
    // ANCHOR: sim_grow
    fn grow(&mut self, bytes: usize) -> Option<NonNull<u8>> {
        let gap =
            if self.gap_every != 0 && (self.stats.grow_calls + 1).is_multiple_of(self.gap_every) {
                Self::GAP
            } else {
                0
            };
        let total = bytes.checked_add(gap)?;
        if total > self.limit.saturating_sub(self.top) || self.failures.strike() {
            return None;
        }
        self.map_region()?;
        let start = self.base.wrapping_add(self.top + gap);
        self.top += total;
        self.stats.grew(total);
        NonNull::new(start)
    }
    // ANCHOR_END: sim_grow

    unsafe fn shrink(&mut self, bytes: usize) -> bool {
        if bytes > self.top {
            return false;
        }
        self.top -= bytes;
        self.stats.shrank(bytes);
        // Like the kernel, forget the contents: the next growth reads zeros.
        if !self.base.is_null() {
            let top = self.base.wrapping_add(self.top);
            let from = top.map_addr(|a| align_up(a, os::page_size()));
            let to = top.wrapping_add(bytes);
            if to > from {
                // SAFETY: whole pages inside our region, above the break.
                unsafe { os::discard(NonNull::new_unchecked(from), to as usize - from as usize) };
            }
        }
        true
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }
}

impl Drop for SimBreak {
    fn drop(&mut self) {
        if let Some(mapping) = NonNull::new(self.mapping) {
            // SAFETY: the mapping is ours and the heap using it is gone.
            unsafe { os::unmap(mapping, Self::CAPACITY + Self::BASE_ALIGN) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Break, Failures, RealBreak, SimBreak, SourceStats};

    #[test]
    fn source_stats_count_bytes_peaks_and_calls() {
        let mut s = SourceStats::new();
        s.grew(100);
        s.resized(100, 300);
        assert_eq!((s.bytes, s.peak, s.grow_calls), (300, 300, 2));
        s.resized(300, 50);
        assert_eq!((s.bytes, s.peak, s.grow_calls), (50, 300, 3));
        s.shrank(50);
        assert_eq!((s.bytes, s.peak, s.shrink_calls), (0, 300, 1));
    }

    /// Marsaglia's xorshift64 with shifts 13, 7 and 17 (the reference).
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn failures_follow_xorshift() {
        // The published first value from 1, which pins the reference.
        assert_eq!(xorshift(&mut 1), 1_082_269_761);
        let mut state = 0x5eed | 1;
        let mut failures = Failures::new(0x5eed, 3);
        for _ in 0..64 {
            let expected = xorshift(&mut state).is_multiple_of(3);
            assert_eq!(failures.strike(), expected);
        }
        let mut never = Failures::NEVER;
        assert!((0..64).all(|_| !never.strike()));
    }

    #[test]
    fn a_simulated_break_grows_in_one_aligned_region() {
        let mut brk = SimBreak::new();
        assert_eq!(brk.base(), None, "nothing reserved before the first growth");
        let first = brk.grow(4096).unwrap();
        let base = brk.base().expect("reserved now");
        assert_eq!(first, base);
        assert!((base.as_ptr() as usize).is_multiple_of(SimBreak::BASE_ALIGN));
        let second = brk.grow(64).unwrap();
        assert_eq!(second.as_ptr(), base.as_ptr().wrapping_add(4096));
        let third = brk.grow(32).unwrap();
        assert_eq!(third.as_ptr(), base.as_ptr().wrapping_add(4096 + 64));
        assert_eq!((brk.stats().bytes, brk.stats().grow_calls), (4192, 3));
    }

    #[test]
    fn a_simulated_break_leaves_gaps_when_told() {
        let mut brk = SimBreak::new().with_foreign_gaps(2);
        let first = brk.grow(64).unwrap();
        let second = brk.grow(64).unwrap();
        let third = brk.grow(64).unwrap();
        // Every second growth starts a gap further on.
        let gap = SimBreak::GAP;
        assert_eq!(second.as_ptr(), first.as_ptr().wrapping_add(64 + gap));
        assert_eq!(third.as_ptr(), second.as_ptr().wrapping_add(64));
        assert_eq!(brk.stats().bytes, 3 * 64 + gap, "the gap counts as held");
    }

    #[test]
    fn a_simulated_break_stops_at_its_limit() {
        let mut brk = SimBreak::with_limit(8192);
        assert!(brk.grow(8192 + 16).is_none());
        assert!(brk.grow(8192).is_some(), "exactly up to the limit");
        assert!(brk.grow(16).is_none());
        brk.set_limit(8192 + 16);
        assert!(brk.grow(16).is_some(), "a raised limit");
        brk.set_limit(usize::MAX);
        assert!(
            brk.grow(SimBreak::CAPACITY).is_none(),
            "capped at its capacity"
        );
        // SAFETY: the top 16 bytes are ours and unused.
        assert!(unsafe { brk.shrink(16) });
        // SAFETY: refused, as it asks for more than the break holds.
        let refused = !unsafe { brk.shrink(1 << 20) };
        assert!(refused, "more than it holds");
    }

    #[test]
    #[cfg_attr(miri, ignore = "moves the real break")]
    fn the_real_break_gives_back_what_it_took() {
        // Another thread's malloc may move the break between our two calls,
        // and then the shrink rightly refuses: a few tries.
        let shrunk = (0..10).any(|_| {
            let mut brk = RealBreak::new();
            let Some(start) = brk.grow(4096) else {
                return false;
            };
            assert!((start.as_ptr() as usize).is_multiple_of(crate::ALIGN));
            let stats = brk.stats();
            assert_eq!(stats.grow_calls, 1);
            assert!(stats.bytes >= 4096);
            // SAFETY: the bytes just taken, unused.
            unsafe { brk.shrink(stats.bytes) }
        });
        assert!(shrunk, "the break never went back to where it was");
    }
}
