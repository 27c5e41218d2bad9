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
        let bytes = &self.bytes[..self.len];
        match core::str::from_utf8(bytes) {
            Ok(text) => text,
            // A long line was cut inside a character: keep what is whole.
            Err(cut) => core::str::from_utf8(&bytes[..cut.valid_up_to()]).unwrap_or_default(),
        }
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

    /// The offset of `addr` from the base, for lines the caller writes:
    /// `+0x1f0`, or `-0x2000` for memory below the base (a region mapped
    /// when the break could not grow may lie anywhere).
    pub fn offset(&self, addr: usize) -> Offset {
        Offset(addr.wrapping_sub(self.base) as isize)
    }

    /// Writes the run collected so far.
    pub fn flush(&mut self) -> fmt::Result {
        if let Some((first, text, count, last)) = self.run.take() {
            let at = self.offset(first);
            write!(self.out, "  {at:7}  {}", text.as_str())?;
            if count > 1 {
                write!(self.out, "   × {count} (to {})", self.offset(last))?;
            }
            self.out.write_char('\n')?;
        }
        Ok(())
    }
}

/// An offset from a heap map's base, printed with its sign and in hex; a
/// width pads the hex digits (`{:7}` prints `+0x001f0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offset(pub isize);

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let magnitude = self.0.unsigned_abs();
        match f.width() {
            Some(width) => write!(f, "{sign}{magnitude:#0width$x}"),
            None => write!(f, "{sign}{magnitude:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;
    use std::string::String;

    use core::fmt::Write;

    use super::{LINE, Line, MapWriter, Offset};

    #[test]
    fn offsets_carry_their_sign() {
        assert_eq!(format!("{}", Offset(0x1f0)), "+0x1f0");
        assert_eq!(format!("{:7}", Offset(0x1f0)), "+0x001f0");
        assert_eq!(format!("{}", Offset(-0x2000)), "-0x2000");
        let mut out = String::new();
        let map = MapWriter::new(&mut out, 0x10000);
        assert_eq!(map.offset(0x8000), Offset(-0x8000));
        assert_eq!(map.offset(0x10010), Offset(0x10));
    }

    #[test]
    fn a_run_of_identical_blocks_is_one_line() {
        let mut out = String::new();
        let mut map = MapWriter::new(&mut out, 0x1000);
        for at in [0x1010, 0x1030, 0x1050] {
            map.block(at, format_args!("free in 32")).unwrap();
        }
        map.block(0x1070, format_args!("live 8 B")).unwrap();
        map.line(format_args!("region ends")).unwrap();
        map.block(0x2000, format_args!("live 8 B")).unwrap();
        map.flush().unwrap();
        assert_eq!(
            out,
            "  +0x00010  free in 32   × 3 (to +0x50)\n\
             \x20 +0x00070  live 8 B\n\
             region ends\n\
             \x20 +0x01000  live 8 B\n"
        );
    }

    #[test]
    fn a_line_keeps_what_fits_and_cuts_on_a_character() {
        let mut line = Line::new();
        write!(line, "ab").unwrap();
        write!(line, "cd").unwrap();
        assert_eq!(line.as_str(), "abcd");
        let mut long = Line::new();
        // Two-byte characters from an odd offset: the last one is cut in
        // half at the end, and left out whole.
        write!(long, "a").unwrap();
        for _ in 0..LINE {
            write!(long, "é").unwrap();
        }
        assert_eq!(long.as_str().len(), LINE - 1);
        assert!(long.as_str().ends_with('é'));
    }
}
