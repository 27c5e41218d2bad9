//! Walking the heap: the checker and the heap map.

use core::fmt;

use malloc_core::{Break, HeapError, MapWriter};

use crate::block::{HEADER, Header, Tag};
use crate::free_list::FreeList;
use crate::{CLASSES, Heap, payload_size};

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
    /// The part of a bucket not handed out yet (no blocks there).
    BucketTail {
        start: usize,
        end: usize,
        class: usize,
    },
}

impl<S: Break> Heap<S> {
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
            while at < end {
                // The part of a bucket not handed out yet holds no blocks (a
                // bucket all handed out has no such part).
                let tail = self
                    .buckets
                    .iter()
                    .position(|b| b.next == at && at != b.end);
                if let Some(class) = tail {
                    let (start, tail_end) = (at as usize, self.buckets[class].end as usize);
                    wrote(visit(Step::BucketTail {
                        start,
                        end: tail_end,
                        class,
                    }))?;
                    at = self.buckets[class].end;
                    continue;
                }
                let header = at.cast::<Header>();
                // SAFETY: `at` is inside the used part of a region, where the
                // blocks lie end to end, so a header starts here.
                let (tag, size, span) =
                    unsafe { ((*header).tag(), (*header).size, (*header).span()) };
                let bad = |problem| HeapError::new(header as usize, problem);
                let tag = tag.ok_or(bad("block header has no valid tag"))?;
                if span < HEADER || span > end as usize - at as usize {
                    return Err(bad("block runs past the region"));
                }
                if tag == Tag::Live && payload_size(size) > span - HEADER {
                    return Err(bad("block is smaller than its size"));
                }
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
            // SAFETY: `region` is one of our region headers.
            region = unsafe { (*region).next };
        }
        Ok(())
    }

    /// The heap check: every block well formed, the counts agree.
    pub(crate) fn check(&self) -> Result<(), HeapError> {
        let (mut live, mut bytes, mut freed, mut last_seen) = (0, 0, 0, false);
        self.walk(|step| {
            if let Step::Block {
                header, tag, size, ..
            } = step
            {
                if tag == Tag::Live {
                    live += 1;
                    bytes += size;
                }
                freed += usize::from(tag == Tag::Freed);
                last_seen |= header == self.last;
            }
            Ok(())
        })?;
        self.check_free_lists(freed)?;
        if live != self.tally.live_blocks() || bytes != self.tally.live_bytes() {
            return Err(HeapError::new(
                0,
                "live blocks in the heap disagree with the counters",
            ));
        }
        if !self.last.is_null() && !last_seen {
            return Err(HeapError::new(
                self.last as usize,
                "the most recent block is not in the heap",
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

    /// Every block on a free list is a free block of the list's size, and
    /// the lists hold exactly the `freed` blocks the walk met: none lost,
    /// none twice, none live.
    fn check_free_lists(&self, freed: usize) -> Result<(), HeapError> {
        let mut listed = 0;
        for (list, class) in self.free.iter().zip(CLASSES) {
            listed += self.check_list(list, Some(class), freed)?;
        }
        listed += self.check_list(&self.large_free, None, freed)?;
        if listed != freed {
            return Err(HeapError::new(0, "free lists and freed blocks disagree"));
        }
        Ok(())
    }

    /// Checks one list (of a class, or the large list) and counts it.
    fn check_list(
        &self,
        list: &FreeList,
        class: Option<usize>,
        freed: usize,
    ) -> Result<usize, HeapError> {
        let mut count = 0;
        for header in list.iter(freed + 1) {
            let bad = |problem| Err(HeapError::new(header as usize, problem));
            if (header as usize) < self.first as usize || header as usize >= self.end as usize {
                return bad("a free list points outside the heap");
            }
            // SAFETY: the address is inside our heap; the walk checked that
            // every block there has a valid header.
            let block = unsafe { &*header };
            if block.tag() != Some(Tag::Freed) {
                return bad("a block on a free list is not free");
            }
            if class.is_some_and(|c| block.usable() != c) {
                return bad("a block is on the free list of another class");
            }
            count += 1;
        }
        if count != list.len() {
            return Err(HeapError::new(
                0,
                "a free list's count is not the number of blocks on it",
            ));
        }
        Ok(count)
    }

    /// The heap map: regions and blocks, offsets from the first region.
    pub(crate) fn heap_map(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        let stats = self.source.stats();
        let mut map = MapWriter::new(out, self.first as usize);
        map.line(format_args!(
            "free-list allocator: {} bytes from the break in {} calls, {} live blocks ({} bytes)",
            stats.bytes,
            stats.grow_calls,
            self.tally.live_blocks(),
            self.tally.live_bytes()
        ))?;
        map.line(format_args!(
            "free lists: 16: {}, 64: {}, 256: {}, 1024: {}, large: {}",
            self.free[0].len(),
            self.free[1].len(),
            self.free[2].len(),
            self.free[3].len(),
            self.large_free.len()
        ))?;
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
                // The block's room: its class in a bucket, its rounded size
                // when large.
                let class = span - HEADER;
                match tag {
                    Tag::Live => {
                        map.block(at, format_args!("live    {size:>6} B in {class:>6}"))?
                    }
                    Tag::Freed => map.block(at, format_args!("free           in {class:>6}"))?,
                    Tag::Padding => map.block(at, format_args!("padding {span:>6} B"))?,
                }
                if header == self.last {
                    map.line(format_args!(
                        "             ^ most recent: freeing it moves the bump back"
                    ))?;
                }
                Ok(())
            }
            Step::BucketTail { start, end, class } => {
                let blocks = (end - start) / (HEADER + CLASSES[class]);
                map.line(format_args!(
                    "  {:7}  bucket of {:>4}: {blocks} blocks not handed out yet",
                    map.offset(start),
                    CLASSES[class]
                ))
            }
        });
        if let Err(e) = result {
            map.line(format_args!("  !! {e}"))?;
        }
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
