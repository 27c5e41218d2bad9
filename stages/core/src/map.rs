//! Drawing heap maps as text.
//!
//! A heap holds thousands of blocks, most of them like their neighbours. A
//! [`MapWriter`] prints one line per block but folds a run of identical
//! lines into one, with a count, so a map stays readable:
//!
//! ```text
//!   +0x02860  free           in    256   × 35 (to +0x04c20)
//! ```

use core::fmt::{self, Write};

/// The longest block description kept for comparison (longer ones are cut).
const LINE: usize = 160;

/// A short line of text, built with `write!` without allocating (longer
/// text is cut).
#[derive(Clone, Copy)]
pub struct Line {
    bytes: [u8; LINE],
    len: usize,
}

impl Line {
    /// An empty line.
    pub const fn new() -> Self {
        Line {
            bytes: [0; LINE],
            len: 0,
        }
    }

    /// The text written so far.
    pub fn as_str(&self) -> &str {
        // Cut on a character boundary, in case a long line was truncated.
        let mut len = self.len;
        while core::str::from_utf8(&self.bytes[..len]).is_err() {
            len -= 1;
        }
        core::str::from_utf8(&self.bytes[..len]).unwrap_or_default()
    }
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(LINE - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Writes heap-map lines, folding runs of identical blocks into one line.
pub struct MapWriter<'a> {
    out: &'a mut dyn Write,
    base: usize,
    /// The run being collected: its first address, description, length, and
    /// the address of its last block.
    run: Option<(usize, Line, usize, usize)>,
}

impl<'a> MapWriter<'a> {
    /// A writer to `out` that prints addresses as offsets from `base`.
    pub fn new(out: &'a mut dyn Write, base: usize) -> Self {
        MapWriter {
            out,
            base,
            run: None,
        }
    }

    /// One block at address `at`, described without its address.
    pub fn block(&mut self, at: usize, description: fmt::Arguments<'_>) -> fmt::Result {
        let mut text = Line::new();
        text.write_fmt(description)?;
        if let Some((_, run_text, count, last)) = &mut self.run
            && run_text.as_str() == text.as_str()
        {
            *count += 1;
            *last = at;
            return Ok(());
        }
        self.flush()?;
        self.run = Some((at, text, 1, at));
        Ok(())
    }

    /// A line that is not a block (a region, a note): ends the current run.
    pub fn line(&mut self, line: fmt::Arguments<'_>) -> fmt::Result {
        self.flush()?;
        self.out.write_fmt(line)?;
        self.out.write_char('\n')
    }

    /// The offset of `addr` from the base, for lines the caller writes.
    pub fn offset(&self, addr: usize) -> usize {
        addr.wrapping_sub(self.base)
    }

    /// Writes the run collected so far.
    pub fn flush(&mut self) -> fmt::Result {
        if let Some((first, text, count, last)) = self.run.take() {
            let at = self.offset(first);
            write!(self.out, "  +{at:#07x}  {}", text.as_str())?;
            if count > 1 {
                write!(self.out, "   × {count} (to +{:#x})", self.offset(last))?;
            }
            self.out.write_char('\n')?;
        }
        Ok(())
    }
}
