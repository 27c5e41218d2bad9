//! Walking the heap: the checker and the heap map.

use core::fmt;

use malloc_core::{Break, HeapError};

use crate::block::{HEADER, Header, Region, Tag};
use crate::{Heap, payload_size};

/// One block met by [`Heap::walk`].
struct Block {
    header: *mut Header,
    tag: Tag,
    size: usize,
    /// Header plus payload (or plus filler).
    span: usize,
}

impl<S: Break> Heap<S> {
    /// Calls `visit` on every region (with its end) and block, in address
    /// order; stops at the first structure that is not what it should be.
    fn walk(
        &self,
        mut visit: impl FnMut(Option<(*mut Region, *mut u8)>, Option<&Block>) -> fmt::Result,
    ) -> Result<(), HeapError> {
        let mut region = self.first;
        while !region.is_null() {
            let end = self.region_end(region);
            visit(Some((region, end)), None).map_err(|_| HeapError::new(0, "write failed"))?;
            let mut at = region.cast::<u8>().wrapping_add(HEADER);
            while at < end {
                let header = at.cast::<Header>();
                // SAFETY: `at` is inside the used part of a region, where the
                // blocks lie end to end, so a header starts here.
                let (tag, size, span) =
                    unsafe { ((*header).tag(), (*header).size, (*header).span()) };
                let tag = tag.ok_or(HeapError::new(
                    header as usize,
                    "block header has no valid tag",
                ))?;
                if span < HEADER || span > end as usize - at as usize {
                    return Err(HeapError::new(
                        header as usize,
                        "block runs past the region",
                    ));
                }
                if tag == Tag::Live && payload_size(size) > span - HEADER {
                    return Err(HeapError::new(
                        header as usize,
                        "block is smaller than its size",
                    ));
                }
                let block = Block {
                    header,
                    tag,
                    size,
                    span,
                };
                visit(None, Some(&block)).map_err(|_| HeapError::new(0, "write failed"))?;
                at = at.wrapping_add(block.span);
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
        let (mut live, mut bytes, mut last_seen) = (0, 0, false);
        self.walk(|_, block| {
            if let Some(b) = block {
                if b.tag == Tag::Live {
                    live += 1;
                    bytes += b.size;
                }
                last_seen |= b.header == self.last;
            }
            Ok(())
        })?;
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

    /// The heap map: regions and blocks, offsets from the first region.
    pub(crate) fn map(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        let base = self.first as usize;
        let stats = self.source.stats();
        writeln!(
            out,
            "bump allocator: {} bytes from the break in {} calls, {} live blocks ({} bytes)",
            stats.bytes,
            stats.grow_calls,
            self.tally.live_blocks(),
            self.tally.live_bytes()
        )?;
        let result = self.walk(|region, block| {
            if let Some((region, end)) = region {
                writeln!(
                    out,
                    "region at +{:#x}, blocks end at +{:#x}",
                    region as usize - base,
                    end as usize - base
                )?;
            }
            if let Some(b) = block {
                let at = b.header as usize - base;
                match b.tag {
                    Tag::Live => writeln!(
                        out,
                        "  +{at:#07x}  live    {:>6} B  (span {})",
                        b.size, b.span
                    )?,
                    Tag::Freed => writeln!(
                        out,
                        "  +{at:#07x}  freed   {:>6} B  (span {}, lost)",
                        b.size, b.span
                    )?,
                    Tag::Padding => writeln!(out, "  +{at:#07x}  padding {:>6} B", b.span)?,
                }
                if b.header == self.last {
                    writeln!(
                        out,
                        "             ^ most recent: freeing it moves the bump back"
                    )?;
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            writeln!(out, "  !! {e}")?;
        }
        if !self.current.is_null() {
            writeln!(
                out,
                "bump at +{:#x}; {} bytes free before the end at +{:#x}",
                self.bump as usize - base,
                self.end as usize - self.bump as usize,
                self.end as usize - base
            )?;
        }
        Ok(())
    }
}
