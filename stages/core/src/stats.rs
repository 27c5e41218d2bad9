//! Counters every stage keeps: the measures of the course.

use crate::SourceStats;

/// A snapshot of an allocator's counters.
///
/// Footprint is memory taken from the OS; live bytes are what the program
/// asked for and still holds. Their peaks give the malloc lab's peak
/// utilization: `live_peak / footprint_peak`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes obtained by moving the break, now.
    pub heap_bytes: usize,
    /// Bytes obtained with `mmap`, now.
    pub mapped_bytes: usize,
    /// The largest `heap_bytes + mapped_bytes` ever.
    pub footprint_peak: usize,
    /// Bytes requested and not yet freed.
    pub live_bytes: usize,
    /// The largest `live_bytes` ever.
    pub live_peak: usize,
    /// Blocks handed out and not yet freed.
    pub live_blocks: usize,
    /// Calls to `malloc` (including those `calloc` and a moving `realloc` make).
    pub mallocs: u64,
    /// Calls to `free` (including those a moving `realloc` makes).
    pub frees: u64,
    /// Calls to `realloc` handled by the stage itself.
    pub reallocs: u64,
    /// Calls to `memalign` with an alignment above [`ALIGN`](crate::ALIGN).
    pub memaligns: u64,
    /// System calls that moved the break.
    pub brk_calls: u64,
    /// Calls to `mmap` and `mremap`.
    pub mmap_calls: u64,
    /// Calls to `munmap` and `madvise`.
    pub munmap_calls: u64,
    /// Times the allocator's lock was taken (0 when nobody counts them, as
    /// for the system malloc).
    pub locks: u64,
    /// The most free blocks one search of a free list looked at (a fit
    /// search, or finding a block's place on an address-ordered list): what
    /// a policy costs in time. 0 for a heap that does not count them.
    pub longest_search: usize,
}

impl Stats {
    /// Bytes taken from the OS now.
    pub fn footprint(&self) -> usize {
        self.heap_bytes + self.mapped_bytes
    }

    /// All system calls counted.
    pub fn syscalls(&self) -> u64 {
        self.brk_calls + self.mmap_calls + self.munmap_calls
    }

    /// Peak utilization in percent (100 when nothing was ever used).
    pub fn utilization(&self) -> f64 {
        if self.footprint_peak == 0 {
            100.0
        } else {
            100.0 * self.live_peak as f64 / self.footprint_peak as f64
        }
    }
}

/// The counters a stage updates as it works; turned into [`Stats`] with the
/// sources' own counts.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    live_bytes: usize,
    live_peak: usize,
    live_blocks: usize,
    footprint_peak: usize,
    mallocs: u64,
    frees: u64,
    reallocs: u64,
    memaligns: u64,
}

impl Tally {
    /// All zero (usable in a `const`).
    pub const fn new() -> Self {
        Tally {
            live_bytes: 0,
            live_peak: 0,
            live_blocks: 0,
            footprint_peak: 0,
            mallocs: 0,
            frees: 0,
            reallocs: 0,
            memaligns: 0,
        }
    }

    /// A block of `size` requested bytes was handed out.
    pub fn malloc(&mut self, size: usize) {
        self.mallocs += 1;
        self.live_blocks += 1;
        self.live_bytes = self.live_bytes.wrapping_add(size);
        self.note_peak();
    }

    /// A block of `size` requested bytes came back.
    pub fn free(&mut self, size: usize) {
        self.frees += 1;
        self.live_blocks -= 1;
        self.live_bytes = self.live_bytes.wrapping_sub(size);
    }

    /// A block changed size in place from `old` to `new` requested bytes.
    pub fn resize(&mut self, old: usize, new: usize) {
        self.live_bytes = self.live_bytes.wrapping_sub(old).wrapping_add(new);
        self.note_peak();
    }

    /// Remembers the peak of live bytes. The count may pass below zero (it
    /// wraps) when blocks change hands outside the heap: stage 9's thread
    /// caches count their traffic on their own, and only the sum is exact.
    fn note_peak(&mut self) {
        if self.live_bytes <= isize::MAX as usize {
            self.live_peak = self.live_peak.max(self.live_bytes);
        }
    }

    /// A `realloc` call was handled (whether or not it moved).
    pub fn realloc(&mut self) {
        self.reallocs += 1;
    }

    /// A `memalign` call with a large alignment was handled.
    pub fn memalign(&mut self) {
        self.memaligns += 1;
    }

    /// The footprint is now `bytes`: remember its peak.
    pub fn footprint(&mut self, bytes: usize) {
        self.footprint_peak = self.footprint_peak.max(bytes);
    }

    /// Bytes requested and not yet freed.
    pub fn live_bytes(&self) -> usize {
        self.live_bytes
    }

    /// Blocks handed out and not yet freed.
    pub fn live_blocks(&self) -> usize {
        self.live_blocks
    }

    /// The snapshot, given what the break and the mappings say.
    pub fn stats(&self, heap: SourceStats, mapped: SourceStats) -> Stats {
        Stats {
            heap_bytes: heap.bytes,
            mapped_bytes: mapped.bytes,
            footprint_peak: self.footprint_peak.max(heap.bytes + mapped.bytes),
            live_bytes: self.live_bytes,
            live_peak: self.live_peak,
            live_blocks: self.live_blocks,
            mallocs: self.mallocs,
            frees: self.frees,
            reallocs: self.reallocs,
            memaligns: self.memaligns,
            brk_calls: heap.grow_calls + heap.shrink_calls,
            mmap_calls: mapped.grow_calls,
            munmap_calls: mapped.shrink_calls,
            locks: 0,
            longest_search: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Stats, Tally};
    use crate::SourceStats;

    #[test]
    fn a_tally_counts_blocks_bytes_and_peaks() {
        let mut tally = Tally::new();
        tally.malloc(100);
        tally.malloc(50);
        tally.resize(50, 250);
        tally.free(100);
        tally.realloc();
        tally.memalign();
        tally.footprint(8192);
        tally.footprint(4096);
        let heap = SourceStats {
            bytes: 4096,
            peak: 8192,
            grow_calls: 3,
            shrink_calls: 1,
        };
        let mapped = SourceStats {
            bytes: 8192,
            peak: 8192,
            grow_calls: 2,
            shrink_calls: 1,
        };
        let stats = tally.stats(heap, mapped);
        assert_eq!(
            stats,
            Stats {
                heap_bytes: 4096,
                mapped_bytes: 8192,
                // The sources hold more now than the peak noted before.
                footprint_peak: 4096 + 8192,
                live_bytes: 250,
                live_peak: 350,
                live_blocks: 1,
                mallocs: 2,
                frees: 1,
                reallocs: 1,
                memaligns: 1,
                brk_calls: 4,
                mmap_calls: 2,
                munmap_calls: 1,
                locks: 0,
                longest_search: 0,
            }
        );
        assert_eq!((tally.live_bytes(), tally.live_blocks()), (250, 1));
    }

    #[test]
    fn a_count_below_zero_is_no_peak() {
        let mut tally = Tally::new();
        tally.malloc(10);
        // Blocks that changed hands outside the heap: the count wraps.
        tally.resize(10, 0);
        tally.resize(0, 0usize.wrapping_sub(5));
        assert_eq!(
            tally
                .stats(SourceStats::new(), SourceStats::new())
                .live_peak,
            10
        );
    }

    #[test]
    fn syscalls_and_utilization() {
        let stats = Stats {
            brk_calls: 1,
            mmap_calls: 10,
            munmap_calls: 100,
            live_peak: 300,
            footprint_peak: 400,
            ..Stats::default()
        };
        assert_eq!(stats.syscalls(), 111);
        assert_eq!(stats.utilization(), 75.0);
        assert_eq!(Stats::default().utilization(), 100.0, "nothing ever used");
    }
}
