//! Walking the heap: the checker and the heap map.

use core::fmt::{self, Write};

use malloc_core::{Break, HeapError, Line, MapWriter, Pages};

use crate::bins::{BINS, bin_floor, bin_of, next_link, read_link};
use crate::block::{HEADER, Header, Tag};
use crate::cache::{CLASSES, KEY, SLOTS, ThreadCache, Totals, class_of, key_word};
use crate::debug::guard_intact;
use crate::merge::check_merged;
use crate::{Heap, payload_size};

/// What [`Heap::walk`] meets, in address order.
enum Step {
    /// A region of contiguous memory, and where its blocks end.
    Region { start: usize, end: usize },
    /// A block.
    Block {
        header: *mut Header,
        tag: Tag,
        size: usize,
        span: usize,
    },
}

impl<S: Break, P: Pages> Heap<S, P> {
    /// Calls `visit` on every region and block, in address order; stops at
    /// the first structure that is not what it should be.
    fn walk(&self, mut visit: impl FnMut(Step) -> fmt::Result) -> Result<(), HeapError> {
        let wrote = |r: fmt::Result| r.map_err(|_| HeapError::new(0, "write failed"));
        let mut region = self.first;
        while !region.is_null() {
            let end = self.region_end(region);
            let start = region as usize;
            wrote(visit(Step::Region {
                start,
                end: end as usize,
            }))?;
            let mut at = region.cast::<u8>().wrapping_add(HEADER);
            // The tag of the block before (none before the first).
            let mut before = None;
            while at < end {
                let header = at.cast::<Header>();
                // SAFETY: `at` is inside the used part of a region, where the
                // blocks lie end to end, so a header starts here.
                let (tag, size, span) =
                    unsafe { ((*header).tag(), (*header).size(), (*header).span()) };
                let bad = |problem| HeapError::new(header as usize, problem);
                let tag = tag.ok_or(bad("block header has no valid tag"))?;
                if span < HEADER || span > end as usize - at as usize {
                    return Err(bad("block runs past the region"));
                }
                if tag == Tag::Mapped {
                    return Err(bad("a mapped block's header inside the heap"));
                }
                if tag == Tag::Live && payload_size(size) > span - HEADER {
                    return Err(bad("block is smaller than its size"));
                }
                check_merged(header, tag, span, before, self.policy.merge).map_err(bad)?;
                before = Some(tag);
                wrote(visit(Step::Block {
                    header,
                    tag,
                    size,
                    span,
                }))?;
                at = at.wrapping_add(span);
            }
            if at != end {
                return Err(HeapError::new(
                    at as usize,
                    "blocks do not end at the region's end",
                ));
            }
            if end == self.bump && before == Some(Tag::Freed) {
                return Err(HeapError::new(
                    at as usize,
                    "a free block ends at the top (it should have joined it)",
                ));
            }
            // SAFETY: `region` is one of our region headers.
            region = unsafe { (*region).next };
        }
        Ok(())
    }

    /// The heap check: every block well formed, the counts agree.
    ///
    /// `cached_bytes` is what the thread caches count: the bytes requested of
    /// blocks they handed out, less those of blocks they took in. Blocks in
    /// a cache are live for the heap, with a size of 0. `cache` is the
    /// calling thread's, if it has one: the only cache whose lists it may
    /// read (the others change without the lock).
    pub(crate) fn check(
        &self,
        cached_bytes: usize,
        cache: Option<&ThreadCache>,
    ) -> Result<(), HeapError> {
        let (mut live, mut bytes, mut freed) = (0, 0usize, 0);
        let mut guards = Ok(());
        self.walk(|step| {
            if let Step::Block {
                header, tag, size, ..
            } = step
            {
                if tag == Tag::Live {
                    live += 1;
                    bytes = bytes.wrapping_add(size);
                    let payload = header.cast::<u8>().wrapping_add(HEADER);
                    // SAFETY: a live block of ours, guarded in the debug mode.
                    if self.settings.perturb && !unsafe { guard_intact::<P>(payload) } {
                        guards = Err(HeapError::new(
                            payload as usize,
                            "bytes after a live block were overwritten (an overflow)",
                        ));
                    }
                }
                freed += usize::from(tag == Tag::Freed);
            }
            Ok(())
        })?;
        guards?;
        if let Some(cache) = cache {
            self.check_cache(cache)?;
        }
        self.check_free_lists(freed)?;
        let (live, bytes) = (live + self.mapped_blocks, bytes + self.mapped_bytes);
        let tally = (
            self.tally.live_blocks(),
            self.tally.live_bytes().wrapping_add(cached_bytes),
        );
        if (live, bytes) != tally {
            return Err(HeapError::new(
                0,
                "live blocks in the heap disagree with the counters",
            ));
        }
        if self.bump > self.end {
            return Err(HeapError::new(
                self.bump as usize,
                "the bump is past the end",
            ));
        }
        Ok(())
    }

    /// Every block on a free list is a free block of the list's bin, and
    /// the lists hold exactly the `freed` blocks the walk met: none lost,
    /// none twice, none live.
    fn check_free_lists(&self, freed: usize) -> Result<(), HeapError> {
        let mut listed = 0;
        for bin in 0..BINS {
            listed += self.check_list(bin, freed)?;
        }
        if listed != freed {
            return Err(HeapError::new(0, "free lists and freed blocks disagree"));
        }
        Ok(())
    }

    /// Checks a thread's cache: every block in it is a block of ours, live
    /// for the heap, of its bin's class and marked as cached. A link
    /// overwritten to lead elsewhere (a use after free: the attack on
    /// glibc's tcache) would hand that memory out.
    fn check_cache(&self, cache: &ThreadCache) -> Result<(), HeapError> {
        for class in 0..CLASSES {
            let (mut at, len) = cache.contents(class);
            for _ in 0..len {
                let bad = |problem| Err(HeapError::new(at as usize, problem));
                if at.is_null() {
                    return bad(
                        "a thread cache's count says it holds more blocks than its links reach",
                    );
                }
                if !self.in_heap(at as usize) {
                    return bad("a thread cache points outside the heap (a link was overwritten)");
                }
                // SAFETY: inside our heap, where the walk checked every
                // header; a live block has at least 16 payload bytes.
                let (block, key) = unsafe { (&*at, key_word(at).read()) };
                let cached = block.tag() == Some(Tag::Live) && block.size() == 0 && key == KEY;
                if !cached || class_of(block.usable()) != Some(class) {
                    return bad("a block in a thread cache is not a cached block of its class");
                }
                // SAFETY: a cached block holds a link.
                at = unsafe { read_link(next_link(at)) };
            }
        }
        Ok(())
    }

    /// Checks one bin's list and counts it.
    fn check_list(&self, bin: usize, freed: usize) -> Result<usize, HeapError> {
        let mut count = 0;
        for header in self.bins.iter(bin, freed + 1) {
            let bad = |problem| Err(HeapError::new(header as usize, problem));
            if !self.in_heap(header as usize) || !(header as usize).is_multiple_of(HEADER) {
                return bad("a free list points outside the heap (a link was overwritten)");
            }
            // SAFETY: the address is inside our heap; the walk checked that
            // every block there has a valid header.
            let block = unsafe { &*header };
            if block.tag() != Some(Tag::Freed) {
                return bad("a block on a free list is not free");
            }
            if bin_of(block.usable()) != bin {
                return bad("a block is in the wrong bin");
            }
            count += 1;
        }
        Ok(count)
    }

    /// Whether `addr` lies in the used part of one of our regions (they
    /// may be anywhere: a region mapped when the break could not grow lies
    /// wherever the kernel put it).
    fn in_heap(&self, addr: usize) -> bool {
        let mut region = self.first;
        while !region.is_null() {
            if (region as usize..self.region_end(region) as usize).contains(&addr) {
                return true;
            }
            // SAFETY: `region` is one of our region headers.
            region = unsafe { (*region).next };
        }
        false
    }

    /// The heap map: regions and blocks, offsets from the first region.
    ///
    /// `caches` is what the thread caches did: the map counts the program's
    /// live blocks and bytes, not the cached ones.
    pub(crate) fn heap_map(&self, out: &mut dyn fmt::Write, caches: Totals) -> fmt::Result {
        let stats = self.source.stats();
        let mut map = MapWriter::new(out, self.first as usize);
        map.line(format_args!(
            "threaded allocator: {} bytes from the break in {} calls, {} live blocks ({} bytes)",
            stats.bytes,
            stats.grow_calls,
            self.tally.live_blocks().wrapping_sub(caches.held()),
            self.tally.live_bytes().wrapping_add(caches.bytes)
        ))?;
        map.line(format_args!(
            "settings: mmap threshold {}, trim threshold {}, top pad {}{}",
            self.settings.mmap_threshold,
            self.settings.trim_threshold,
            self.settings.top_pad,
            if self.settings.dynamic {
                " (dynamic)"
            } else {
                ""
            }
        ))?;
        map.line(format_args!(
            "thread caches: {} of {SLOTS} claimed, {} blocks in them",
            caches.claimed,
            caches.held()
        ))?;
        let mut lists = Line::new();
        for bin in 0..BINS {
            let blocks = self.bins.iter(bin, usize::MAX).count();
            if blocks > 0 {
                write!(lists, " {}+: {blocks},", bin_floor(bin))?;
            }
        }
        map.line(format_args!("free blocks by bin:{}", lists.as_str()))?;
        let result = self.walk(|step| match step {
            Step::Region { start, end } => map.line(format_args!(
                "region at {}, blocks end at {}",
                map.offset(start),
                map.offset(end)
            )),
            Step::Block {
                header,
                tag,
                size,
                span,
            } => {
                let at = header as usize;
                let usable = span - HEADER;
                // SAFETY: a live block has at least 16 payload bytes.
                let cached =
                    tag == Tag::Live && size == 0 && unsafe { key_word(header).read() } == KEY;
                match tag {
                    Tag::Live if cached => {
                        map.block(at, format_args!("cached         in {usable:>6}"))?
                    }
                    Tag::Live => {
                        map.block(at, format_args!("live    {size:>6} B in {usable:>6}"))?
                    }
                    Tag::Freed => map.block(at, format_args!("free           in {usable:>6}"))?,
                    Tag::Padding => map.block(at, format_args!("padding {span:>6} B"))?,
                    Tag::Mapped => map.block(at, format_args!("mapped header in the heap!"))?,
                }
                Ok(())
            }
        });
        if let Err(e) = result {
            map.line(format_args!("  !! {e}"))?;
        }
        map.line(format_args!(
            "mapped: {} blocks ({} bytes) in {} bytes of mappings",
            self.mapped_blocks,
            self.mapped_bytes,
            self.pages.stats().bytes
        ))?;
        if !self.current.is_null() {
            map.line(format_args!(
                "bump at {}; {} bytes free before the end at {}",
                map.offset(self.bump as usize),
                self.end as usize - self.bump as usize,
                map.offset(self.end as usize)
            ))?;
        }
        map.flush()
    }
}
