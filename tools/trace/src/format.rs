//! The `.rep` text format: a header of four integers, then one op per line.
//!
//! | line            | meaning                                   |
//! |-----------------|-------------------------------------------|
//! | `a ID SIZE`     | block ID = `malloc(SIZE)`                  |
//! | `r ID SIZE`     | block ID = `realloc(block ID, SIZE)`        |
//! | `f ID`          | `free(block ID)`                           |
//! | `c ID COUNT SIZE` | block ID = `calloc(COUNT, SIZE)` (extension) |
//! | `m ID ALIGN SIZE` | block ID = `memalign(ALIGN, SIZE)` (extension) |
//!
//! An id of `-1` stands for a null pointer. The header's four integers are,
//! in the classic malloc lab traces, the suggested heap size, the number of
//! ids, the number of ops and a weight; some variants put a weight first and
//! a flag last. Both agree on the middle two, so [`Header`] keeps the outer
//! two as they are (`first`, `last`) and names the middle ones.
//!
//! The reader is lenient where it can be: CRLF line ends, blank lines and
//! extra spaces are fine, and a header whose counts disagree with the ops is
//! accepted ([`Trace::header_warnings`] says how). A line it cannot read is
//! an error with its line number.

use std::fmt;

/// One allocation request. `id: None` is the null pointer (`-1` in the text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `a ID SIZE`: block `id` = `malloc(size)`.
    Malloc {
        /// The block that receives the result.
        id: Option<usize>,
        /// Bytes requested.
        size: usize,
    },
    /// `r ID SIZE`: block `id` = `realloc(block id, size)`.
    Realloc {
        /// The block resized; it keeps the result.
        id: Option<usize>,
        /// The new size in bytes.
        size: usize,
    },
    /// `f ID`: `free(block id)`.
    Free {
        /// The block freed (`None`: `free(NULL)`).
        id: Option<usize>,
    },
    /// `c ID COUNT SIZE`: block `id` = `calloc(count, size)`.
    Calloc {
        /// The block that receives the result.
        id: Option<usize>,
        /// Number of elements.
        count: usize,
        /// Bytes per element.
        size: usize,
    },
    /// `m ID ALIGN SIZE`: block `id` = `memalign(align, size)`.
    Memalign {
        /// The block that receives the result.
        id: Option<usize>,
        /// Requested alignment (a power of two, or the allocator refuses).
        align: usize,
        /// Bytes requested.
        size: usize,
    },
}

impl Op {
    /// The block this op is about.
    pub fn id(&self) -> Option<usize> {
        match *self {
            Op::Malloc { id, .. }
            | Op::Realloc { id, .. }
            | Op::Free { id }
            | Op::Calloc { id, .. }
            | Op::Memalign { id, .. } => id,
        }
    }
}

/// The four header integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Suggested heap size (classic) or weight (variant). Not used here.
    pub first: u64,
    /// Number of distinct ids: ids run from 0 to `ids - 1`.
    pub ids: usize,
    /// Number of ops the trace says it has.
    pub ops: usize,
    /// Weight (classic) or a flag (variant). Not used here.
    pub last: u64,
}

/// A whole trace: its header and its ops, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The header as read (or as [`Trace::new`] computed it).
    pub header: Header,
    /// The requests, in order.
    pub ops: Vec<Op>,
}

impl Trace {
    /// A trace of `ops` with a classic header: the suggested heap size is the
    /// peak of live requested bytes, ids is the largest id + 1, ops is the
    /// number of ops, and the weight is 1.
    pub fn new(ops: Vec<Op>) -> Trace {
        let header = Header {
            first: peak_live_bytes(&ops) as u64,
            ids: ids_needed(&ops),
            ops: ops.len(),
            last: 1,
        };
        Trace { header, ops }
    }

    /// Where the header disagrees with the ops, in words (empty if nowhere).
    ///
    /// A mismatch is not an error: hand-edited traces often forget to update
    /// the counts, and replaying them still makes sense.
    pub fn header_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.header.ops != self.ops.len() {
            warnings.push(format!(
                "the header says {} ops, the trace has {}",
                self.header.ops,
                self.ops.len()
            ));
        }
        let ids = ids_needed(&self.ops);
        if self.header.ids < ids {
            warnings.push(format!(
                "the header says {} ids, the trace uses ids up to {}",
                self.header.ids,
                ids - 1
            ));
        }
        warnings
    }

    /// The peak of bytes requested and not yet freed, following the ops
    /// (calloc counts `count * size`; a realloc to 0 frees).
    pub fn peak_live_bytes(&self) -> usize {
        peak_live_bytes(&self.ops)
    }
}

/// One more than the largest id used (0 if none).
fn ids_needed(ops: &[Op]) -> usize {
    ops.iter().filter_map(Op::id).max().map_or(0, |id| id + 1)
}

/// Replays the sizes only, as if every request succeeded.
fn peak_live_bytes(ops: &[Op]) -> usize {
    let mut sizes = vec![0usize; ids_needed(ops)];
    let (mut live, mut peak) = (0usize, 0usize);
    for op in ops {
        let (id, new) = match *op {
            Op::Malloc { id, size } | Op::Realloc { id, size } | Op::Memalign { id, size, .. } => {
                (id, size)
            }
            Op::Calloc { id, count, size } => (id, count.saturating_mul(size)),
            Op::Free { id } => (id, 0),
        };
        if let Some(id) = id {
            // Saturating: a trace may ask for impossible sizes (usize::MAX).
            live = live.saturating_sub(sizes[id]).saturating_add(new);
            sizes[id] = new;
        } else if !matches!(op, Op::Free { .. }) {
            // A block nobody can name stays live to the end.
            live = live.saturating_add(new);
        }
        peak = peak.max(live);
    }
    peak
}

/// A line that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The line number, counting from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Reads a trace from its text.
pub fn parse(text: &str) -> Result<Trace, ParseError> {
    // Every non-blank line with its number, trimmed (which also drops the
    // `\r` of a CRLF line end).
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty());

    let header = parse_header(&mut lines, text.lines().count())?;
    let mut ops = Vec::with_capacity(header.ops.min(1 << 24));
    for (number, line) in lines {
        let op = parse_op(line).map_err(|message| ParseError {
            line: number,
            message,
        })?;
        ops.push(op);
    }
    Ok(Trace { header, ops })
}

/// Reads the four header integers. The classic format has one per line; we
/// also accept several on one line, as C's `fscanf` would.
fn parse_header<'a>(
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
    line_count: usize,
) -> Result<Header, ParseError> {
    const NAMES: [&str; 4] = [
        "the suggested heap size (or weight)",
        "the number of ids",
        "the number of ops",
        "the weight (or flag)",
    ];
    let mut values = [0u64; 4];
    let mut filled = 0;
    while filled < 4 {
        let Some((number, line)) = lines.next() else {
            return Err(ParseError {
                line: line_count.max(1),
                message: format!(
                    "the trace ends inside its header: expected {} on a line of its own",
                    NAMES[filled]
                ),
            });
        };
        for word in line.split_whitespace() {
            let error = |message: String| ParseError {
                line: number,
                message,
            };
            if filled == 4 {
                return Err(error(format!(
                    "the header has four numbers, `{word}` is a fifth"
                )));
            }
            values[filled] = word.parse().map_err(|_| {
                error(format!(
                    "expected {} (a number of the four-line header), found `{word}`",
                    NAMES[filled]
                ))
            })?;
            filled += 1;
        }
    }
    let count = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
    Ok(Header {
        first: values[0],
        ids: count(values[1]),
        ops: count(values[2]),
        last: values[3],
    })
}

/// Reads one op line (already trimmed and non-blank).
fn parse_op(line: &str) -> Result<Op, String> {
    let mut words = line.split_whitespace();
    let letter = words.next().unwrap_or_default();
    let (shape, fields) = match letter {
        "a" => ("a ID SIZE", 2),
        "r" => ("r ID SIZE", 2),
        "f" => ("f ID", 1),
        "c" => ("c ID COUNT SIZE", 3),
        "m" => ("m ID ALIGN SIZE", 3),
        _ => {
            return Err(format!(
                "unknown op `{letter}`: expected a (malloc), r (realloc), f (free), \
                 c (calloc) or m (memalign)"
            ));
        }
    };
    let names: Vec<&str> = shape.split(' ').skip(1).collect();
    let words: Vec<&str> = words.collect();
    if words.len() < fields {
        return Err(format!(
            "missing {}: expected `{shape}`",
            names[words.len()]
        ));
    }
    if words.len() > fields {
        return Err(format!(
            "extra field `{}`: expected `{shape}`",
            words[fields]
        ));
    }
    let id = parse_id(words[0])?;
    let number = |i: usize| parse_size(words[i], names[i]);
    Ok(match letter {
        "a" => Op::Malloc {
            id,
            size: number(1)?,
        },
        "r" => Op::Realloc {
            id,
            size: number(1)?,
        },
        "f" => Op::Free { id },
        "c" => Op::Calloc {
            id,
            count: number(1)?,
            size: number(2)?,
        },
        _ => Op::Memalign {
            id,
            align: number(1)?,
            size: number(2)?,
        },
    })
}

/// An id: a number from 0, or `-1` for the null pointer.
fn parse_id(word: &str) -> Result<Option<usize>, String> {
    if word == "-1" {
        return Ok(None);
    }
    if word.starts_with('-') {
        return Err(format!(
            "ID `{word}` is negative: only -1 (the null pointer) is allowed"
        ));
    }
    word.parse()
        .map(Some)
        .map_err(|_| format!("ID `{word}` is not a number"))
}

/// A size, count or alignment: a number from 0.
fn parse_size(word: &str, name: &str) -> Result<usize, String> {
    if word.starts_with('-') {
        return Err(format!("{name} `{word}` is negative"));
    }
    word.parse().map_err(|_| {
        if word.bytes().all(|b| b.is_ascii_digit()) {
            format!("{name} `{word}` is too large")
        } else {
            format!("{name} `{word}` is not a number")
        }
    })
}

/// Writes the trace as `.rep` text, which [`parse`] reads back unchanged.
impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.header;
        writeln!(f, "{}\n{}\n{}\n{}", h.first, h.ids, h.ops, h.last)?;
        for op in &self.ops {
            writeln!(f, "{op}")?;
        }
        Ok(())
    }
}

/// Writes one op line, without the line end.
impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = Id(self.id());
        match *self {
            Op::Malloc { size, .. } => write!(f, "a {id} {size}"),
            Op::Realloc { size, .. } => write!(f, "r {id} {size}"),
            Op::Free { .. } => write!(f, "f {id}"),
            Op::Calloc { count, size, .. } => write!(f, "c {id} {count} {size}"),
            Op::Memalign { align, size, .. } => write!(f, "m {id} {align} {size}"),
        }
    }
}

/// An id as the text has it: `-1` for null.
struct Id(Option<usize>);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, "{id}"),
            None => write!(f, "-1"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> ParseError {
        parse(text).expect_err("should not parse")
    }

    #[test]
    fn reads_a_classic_trace() {
        let trace = parse("20000\n2\n4\n1\na 0 512\na 1 128\nr 0 640\nf 1\n").unwrap();
        assert_eq!(
            trace.header,
            Header {
                first: 20000,
                ids: 2,
                ops: 4,
                last: 1
            }
        );
        assert_eq!(
            trace.ops,
            vec![
                Op::Malloc {
                    id: Some(0),
                    size: 512
                },
                Op::Malloc {
                    id: Some(1),
                    size: 128
                },
                Op::Realloc {
                    id: Some(0),
                    size: 640
                },
                Op::Free { id: Some(1) },
            ]
        );
        assert!(trace.header_warnings().is_empty());
    }

    #[test]
    fn reads_the_weight_first_variant() {
        // Weight 1 first, flag 0 last: the middle two mean the same.
        let trace = parse("1\n1\n2\n0\na 0 8\nf 0\n").unwrap();
        assert_eq!(trace.header.first, 1);
        assert_eq!(trace.header.ids, 1);
        assert_eq!(trace.header.ops, 2);
        assert_eq!(trace.header.last, 0);
        assert_eq!(trace.ops.len(), 2);
    }

    #[test]
    fn accepts_crlf_blank_lines_and_spaces() {
        let text = "0\r\n1\r\n\r\n2\r\n1\r\n  a  0   16 \r\n\r\n\tf 0\r\n";
        let trace = parse(text).unwrap();
        assert_eq!(
            trace.ops,
            vec![
                Op::Malloc {
                    id: Some(0),
                    size: 16
                },
                Op::Free { id: Some(0) }
            ]
        );
    }

    #[test]
    fn accepts_a_header_on_one_line() {
        let trace = parse("0 1 1 1\na 0 16\n").unwrap();
        assert_eq!(trace.header.ops, 1);
        assert_eq!(trace.ops.len(), 1);
    }

    #[test]
    fn minus_one_is_null() {
        let trace = parse("0\n0\n2\n1\nf -1\nr -1 32\n").unwrap();
        assert_eq!(
            trace.ops,
            vec![Op::Free { id: None }, Op::Realloc { id: None, size: 32 }]
        );
    }

    #[test]
    fn reads_the_extensions() {
        let trace = parse("0\n2\n2\n1\nc 0 10 24\nm 1 4096 100\n").unwrap();
        assert_eq!(
            trace.ops,
            vec![
                Op::Calloc {
                    id: Some(0),
                    count: 10,
                    size: 24
                },
                Op::Memalign {
                    id: Some(1),
                    align: 4096,
                    size: 100
                },
            ]
        );
    }

    #[test]
    fn a_wrong_count_in_the_header_is_a_warning() {
        let trace = parse("0\n1\n5\n1\na 0 8\na 3 8\n").unwrap();
        assert_eq!(trace.ops.len(), 2);
        assert_eq!(
            trace.header_warnings(),
            vec![
                "the header says 5 ops, the trace has 2".to_string(),
                "the header says 1 ids, the trace uses ids up to 3".to_string(),
            ]
        );
    }

    #[test]
    fn malformed_lines_name_their_line() {
        let header = "0\n1\n3\n1\n";
        let cases = [
            ("x 0 8", "unknown op `x`"),
            ("a 0", "missing SIZE: expected `a ID SIZE`"),
            ("f 0 8", "extra field `8`: expected `f ID`"),
            ("a zero 8", "ID `zero` is not a number"),
            ("a 0 8k", "SIZE `8k` is not a number"),
            ("a 0 -8", "SIZE `-8` is negative"),
            ("a -2 8", "ID `-2` is negative"),
            ("c 0 2", "missing SIZE"),
            ("m 0 -16 8", "ALIGN `-16` is negative"),
            ("a 0 99999999999999999999999", "is too large"),
        ];
        for (line, expected) in cases {
            // The bad line is the 7th: a blank line and a good op come first.
            let text = format!("{header}\na 0 8\n{line}\nf 0\n");
            let e = error(&text);
            assert_eq!(e.line, 7, "{line:?}: {e}");
            assert!(e.message.contains(expected), "{line:?}: {e}");
            assert!(e.to_string().starts_with("line 7: "), "{e}");
        }
    }

    #[test]
    fn a_short_or_bad_header_is_an_error() {
        assert_eq!(error("").line, 1);
        let e = error("0\n1\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("the number of ops"), "{e}");
        let e = error("0\n1\na 0 8\n");
        assert_eq!(e.line, 3);
        assert!(e.message.contains("found `a`"), "{e}");
        let e = error("0 1 1 1 7\n");
        assert!(e.message.contains("a fifth"), "{e}");
    }

    #[test]
    fn new_fills_a_classic_header() {
        let trace = Trace::new(vec![
            Op::Malloc {
                id: Some(0),
                size: 100,
            },
            Op::Calloc {
                id: Some(2),
                count: 3,
                size: 10,
            },
            Op::Realloc {
                id: Some(0),
                size: 200,
            },
            Op::Free { id: Some(2) },
        ]);
        assert_eq!(
            trace.header,
            Header {
                first: 230,
                ids: 3,
                ops: 4,
                last: 1
            }
        );
    }

    #[test]
    fn display_then_parse_gives_the_same_trace() {
        let trace = Trace::new(vec![
            Op::Malloc {
                id: Some(0),
                size: 0,
            },
            Op::Realloc {
                id: Some(0),
                size: 4000,
            },
            Op::Calloc {
                id: Some(1),
                count: 7,
                size: 9,
            },
            Op::Memalign {
                id: Some(2),
                align: 64,
                size: 3,
            },
            Op::Free { id: None },
            Op::Realloc { id: None, size: 5 },
            Op::Free { id: Some(0) },
            Op::Free { id: Some(1) },
            Op::Free { id: Some(2) },
        ]);
        let text = trace.to_string();
        assert!(
            text.starts_with("4071\n3\n9\n1\na 0 0\nr 0 4000\n"),
            "{text}"
        );
        assert_eq!(parse(&text), Ok(trace.clone()));
        // A header that disagrees with the ops survives the round trip too.
        let odd = Trace {
            header: Header {
                first: 1,
                ids: 0,
                ops: 99,
                last: 0,
            },
            ops: trace.ops,
        };
        assert_eq!(parse(&odd.to_string()), Ok(odd));
    }
}
