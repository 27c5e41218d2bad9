//! Mapped pages: the second memory source, for large blocks (stage 5 on).
//!
//! A large block gets a mapping of its own, so that `free` can give it back
//! to the OS at once with `munmap`. [`RealPages`] calls the kernel;
//! [`SimPages`] hands out pages from one private reserved region, so that
//! tests see the same addresses every run and can make mapping fail.

use core::ptr::NonNull;

use crate::source::Failures;
use crate::{SourceStats, align_up, os};

/// Where mapped memory comes from. Lengths are whole pages
/// ([`PAGE`](Pages::PAGE)); the caller rounds up.
pub trait Pages: Send {
    /// The page size these sources work in.
    const PAGE: usize = 4096;

    /// Maps `bytes` of zeroed memory. `None`: out of memory.
    fn map(&mut self, bytes: usize) -> Option<NonNull<u8>>;

    /// Unmaps `bytes` at `ptr` (all or part of a mapping).
    ///
    /// # Safety
    ///
    /// The range was mapped by this source and nothing uses it any more.
    unsafe fn unmap(&mut self, ptr: NonNull<u8>, bytes: usize);

    /// Resizes the mapping at `ptr` from `old` to `new` bytes, moving it if
    /// needed; the contents are kept up to the smaller size. `None`: out of
    /// memory, and the old mapping is untouched.
    ///
    /// # Safety
    ///
    /// `ptr` and `old` describe a whole mapping made by this source; after
    /// success only the returned range may be used.
    unsafe fn remap(&mut self, ptr: NonNull<u8>, old: usize, new: usize) -> Option<NonNull<u8>>;

    /// What the source has done so far.
    fn stats(&self) -> SourceStats;
}

/// Pages from the kernel: `mmap`, `munmap` and `mremap`.
pub struct RealPages {
    stats: SourceStats,
}

impl RealPages {
    /// A source that has mapped nothing yet (usable in a `static`).
    pub const fn new() -> Self {
        RealPages {
            stats: SourceStats::new(),
        }
    }
}

impl Default for RealPages {
    fn default() -> Self {
        Self::new()
    }
}

impl Pages for RealPages {
    fn map(&mut self, bytes: usize) -> Option<NonNull<u8>> {
        let ptr = os::map(bytes, false)?;
        self.stats.grew(bytes);
        Some(ptr)
    }

    unsafe fn unmap(&mut self, ptr: NonNull<u8>, bytes: usize) {
        // SAFETY: the caller promises the range is ours and unused.
        unsafe { os::unmap(ptr, bytes) };
        self.stats.shrank(bytes);
    }

    unsafe fn remap(&mut self, ptr: NonNull<u8>, old: usize, new: usize) -> Option<NonNull<u8>> {
        // SAFETY: the caller promises this is a whole mapping of ours.
        let moved = unsafe { os::remap(ptr, old, new) }?;
        self.stats.resized(old, new);
        Some(moved)
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }
}

/// Simulated mappings: pages handed out in order from one reserved region.
///
/// Addresses are never reused (like a fresh `mmap` that the kernel places
/// after the last one), so maps and snapshots are the same on every run;
/// unmapped pages are released with `MADV_DONTNEED`. A limit makes mapping
/// fail past a number of mapped bytes, for out-of-memory tests.
pub struct SimPages {
    /// The mapping that holds the region (null until reserved).
    mapping: *mut u8,
    /// Bytes of the region handed out so far (never reused).
    used: usize,
    /// Mapping fails when `stats.bytes` would pass this.
    limit: usize,
    /// Mappings that fail at random (for fault tests).
    failures: Failures,
    stats: SourceStats,
}

// SAFETY: the region belongs to this value alone; moving it to another
// thread moves that ownership.
unsafe impl Send for SimPages {}

// SAFETY: a shared `&SimPages` only reads its fields (no interior
// mutability); the region's bytes are reached through `&mut self` alone.
unsafe impl Sync for SimPages {}

impl SimPages {
    /// Address space reserved for the simulated mappings. Under Miri,
    /// which holds it all in memory, 32 MiB.
    pub const CAPACITY: usize = if cfg!(miri) { 32 << 20 } else { 64 << 30 };

    /// A source that can map up to [`CAPACITY`](Self::CAPACITY) in all.
    pub const fn new() -> Self {
        Self::with_limit(Self::CAPACITY)
    }

    /// A source that fails to map past `limit` bytes mapped at once.
    pub const fn with_limit(limit: usize) -> Self {
        SimPages {
            mapping: core::ptr::null_mut(),
            used: 0,
            limit,
            failures: Failures::NEVER,
            stats: SourceStats::new(),
        }
    }

    /// The same source, but about one mapping in `one_in` fails, at points
    /// chosen by `seed`.
    pub const fn with_random_failures(mut self, seed: u64, one_in: u64) -> Self {
        self.failures = Failures::new(seed, one_in);
        self
    }

    /// Changes the limit from now on.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }
}

impl Default for SimPages {
    fn default() -> Self {
        Self::new()
    }
}

impl Pages for SimPages {
    fn map(&mut self, bytes: usize) -> Option<NonNull<u8>> {
        let bytes = align_up(bytes.checked_add(Self::PAGE)?, Self::PAGE) - Self::PAGE;
        if bytes > self.limit.saturating_sub(self.stats.bytes)
            || bytes > Self::CAPACITY - self.used
            || self.failures.strike()
        {
            return None;
        }
        if self.mapping.is_null() {
            self.mapping = os::map(Self::CAPACITY, true)?.as_ptr();
        }
        let start = self.mapping.wrapping_add(self.used);
        self.used += bytes;
        self.stats.grew(bytes);
        NonNull::new(start)
    }

    unsafe fn unmap(&mut self, ptr: NonNull<u8>, bytes: usize) {
        // SAFETY: the caller promises the range is ours and unused; pages
        // read as zero afterwards, like a new mapping.
        unsafe { os::discard(ptr, bytes) };
        self.stats.shrank(bytes);
    }

    unsafe fn remap(&mut self, ptr: NonNull<u8>, old: usize, new: usize) -> Option<NonNull<u8>> {
        if new <= old {
            // SAFETY: the tail of a mapping of ours, no longer used.
            unsafe { self.unmap(ptr.add(new), old - new) };
            return Some(ptr);
        }
        // The last mapping can grow in place; others move, as with mremap.
        if ptr.as_ptr().wrapping_add(old) == self.mapping.wrapping_add(self.used) {
            let extra = self.map(new - old)?;
            debug_assert_eq!(extra.as_ptr(), ptr.as_ptr().wrapping_add(old));
            return Some(ptr);
        }
        let moved = self.map(new)?;
        // SAFETY: two distinct mappings of ours, each at least `old` long.
        unsafe {
            core::ptr::copy_nonoverlapping(ptr.as_ptr(), moved.as_ptr(), old);
            self.unmap(ptr, old);
        }
        // One mremap call, not an mmap and a munmap.
        self.stats.shrink_calls -= 1;
        Some(moved)
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }
}

impl Drop for SimPages {
    fn drop(&mut self) {
        if let Some(mapping) = NonNull::new(self.mapping) {
            // SAFETY: the region is ours and the heap using it is gone.
            unsafe { os::unmap(mapping, Self::CAPACITY) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Pages, RealPages, SimPages};

    const PAGE: usize = <SimPages as Pages>::PAGE;

    #[test]
    fn simulated_pages_come_in_order_up_to_the_limit() {
        let mut pages = SimPages::with_limit(4 * PAGE);
        let first = pages.map(100).unwrap();
        let second = pages.map(2 * PAGE).unwrap();
        assert_eq!(
            second.as_ptr(),
            first.as_ptr().wrapping_add(PAGE),
            "rounded to a page"
        );
        assert!(pages.map(PAGE + 1).is_none(), "past the limit");
        assert!(pages.map(PAGE).is_some(), "exactly up to the limit");
        pages.set_limit(5 * PAGE);
        assert!(pages.map(PAGE).is_some(), "a raised limit");
        let stats = pages.stats();
        assert_eq!((stats.bytes, stats.grow_calls), (5 * PAGE, 4));
    }

    #[test]
    fn simulated_pages_end_at_their_capacity() {
        let mut pages = SimPages::with_limit(usize::MAX);
        // Reserved, never touched: the whole capacity maps.
        assert!(pages.map(SimPages::CAPACITY).is_some());
        assert!(pages.map(PAGE).is_none());
    }

    #[test]
    fn a_simulated_remap_grows_in_place_or_moves() {
        let mut pages = SimPages::new();
        let a = pages.map(PAGE).unwrap();
        // SAFETY: `a` is a whole mapping of `pages`, a page long.
        unsafe { a.as_ptr().write(7) };
        // SAFETY: as above; the last mapping grows in place.
        let grown = unsafe { pages.remap(a, PAGE, 2 * PAGE) }.unwrap();
        assert_eq!(grown, a);
        let _b = pages.map(PAGE).unwrap();
        // SAFETY: `a` is now a whole mapping of two pages; it must move.
        let moved = unsafe { pages.remap(a, 2 * PAGE, 3 * PAGE) }.unwrap();
        assert_ne!(moved, a);
        // SAFETY: the moved mapping is ours, three pages long.
        assert_eq!(unsafe { moved.as_ptr().read() }, 7, "contents kept");
        let stats = pages.stats();
        // Maps: a, its growth, b, the move; one unmap of the old pages was
        // the move itself.
        assert_eq!(
            (stats.bytes, stats.grow_calls, stats.shrink_calls),
            (4 * PAGE, 4, 0)
        );
    }

    #[test]
    #[cfg_attr(miri, ignore = "mremap is a system call Miri cannot run")]
    fn real_pages_count_what_the_kernel_did() {
        let mut pages = RealPages::new();
        let p = pages.map(PAGE).unwrap();
        // SAFETY: a whole mapping of ours.
        let p = unsafe { pages.remap(p, PAGE, 3 * PAGE) }.unwrap();
        let stats = pages.stats();
        assert_eq!(
            (stats.bytes, stats.peak, stats.grow_calls),
            (3 * PAGE, 3 * PAGE, 2)
        );
        // SAFETY: the whole mapping, unused.
        unsafe { pages.unmap(p, 3 * PAGE) };
        assert_eq!((pages.stats().bytes, pages.stats().shrink_calls), (0, 1));
    }
}
