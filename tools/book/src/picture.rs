//! Heap pictures: a heap map (the text every stage's `heap_map` writes) read
//! back into blocks, and drawn as an SVG strip of coloured boxes.
//!
//! The map is the source of truth: the picture shows exactly what the text
//! says, one box per map line (a run of equal blocks is one box with its
//! count). Box widths grow with the logarithm of the bytes, so a 16-byte
//! block and a 200,000-byte one both stay visible; the bytes are written in
//! the box.

use std::fmt::Write as _;

/// What a box in the picture is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Handed out and not freed.
    Live,
    /// Freed but never used again (stages 1 and 2).
    Lost,
    /// Free, on a free list, ready for reuse (stage 3 on).
    Free,
    /// Free, in a thread's cache (stage 6).
    Cached,
    /// Filler before a block `memalign` placed.
    Padding,
    /// The part of a bucket not handed out yet.
    BucketTail,
    /// Memory from the break that no block uses yet (above the bump).
    Top,
    /// A block in a mapping of its own (stage 5 on).
    Mapped,
}

impl Kind {
    /// Fill colour and the legend's words.
    fn style(self) -> (&'static str, &'static str) {
        match self {
            Kind::Live => ("#8ae234", "live"),
            Kind::Lost => ("#ef2929", "freed, lost"),
            Kind::Free => ("#fce94f", "free (on a list)"),
            Kind::Cached => ("#fcaf3e", "free (thread cache)"),
            Kind::Padding => ("#babdb6", "padding"),
            Kind::BucketTail => ("#9fc5e8", "bucket, not handed out"),
            Kind::Top => ("#ffffff", "unused top"),
            Kind::Mapped => ("#c5a5cf", "mapped"),
        }
    }

    const ALL: [Kind; 8] = [
        Kind::Live,
        Kind::Lost,
        Kind::Free,
        Kind::Cached,
        Kind::Padding,
        Kind::BucketTail,
        Kind::Top,
        Kind::Mapped,
    ];
}

/// One box: a map line (a block, or a run of equal blocks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// What it is.
    pub kind: Kind,
    /// Offset from the heap's start (0 for mappings).
    pub offset: usize,
    /// Bytes it covers (all blocks of a run together).
    pub bytes: usize,
    /// Short words written in the box, e.g. "live 12 in 16".
    pub label: String,
    /// Blocks in the run (1 for a single block; for a bucket's tail, the
    /// blocks it has not handed out).
    pub count: usize,
    /// Bytes the program asked for, per block (live and lost blocks).
    pub requested: Option<usize>,
    /// Bytes a block can hold, per block, where the map says so (its class,
    /// or "in N"): the rest of its span is its header.
    pub usable: Option<usize>,
}

/// Reads a heap map back into pieces, in address order, mappings last.
///
/// Lines that are not blocks (headers, notes) are skipped; a block's bytes
/// run to the next block's offset, or to the end of its region.
pub fn parse(map: &str) -> Result<Vec<Piece>, String> {
    let mut pieces: Vec<Piece> = Vec::new();
    let mut region_end = None;
    let close = |pieces: &mut Vec<Piece>, end: usize| {
        if let Some(last) = pieces.last_mut().filter(|p| p.bytes == 0) {
            last.bytes = end.saturating_sub(last.offset);
        }
    };
    let mut mapped = Vec::new();
    for line in map.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("region at +") {
            // "region at +0x0, blocks end at +0x323c0"
            let end = rest
                .split("blocks end at +")
                .nth(1)
                .ok_or_else(|| format!("cannot read a region line: {line}"))?;
            if let Some(previous) = region_end {
                close(&mut pieces, previous);
            }
            region_end = Some(hex(end)?);
        } else if let Some(rest) = trimmed.strip_prefix('+') {
            let (at, description) = rest
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("cannot read a block line: {line}"))?;
            let offset = hex(at)?;
            close(&mut pieces, offset);
            let (description, count) = match description.split_once('×') {
                Some((text, run)) => {
                    let count = run.split_whitespace().next().unwrap_or("1");
                    (text.trim(), count.parse().map_err(|_| bad(line))?)
                }
                None => (description.trim(), 1),
            };
            let (kind, label) = describe(description).ok_or_else(|| bad(line))?;
            let (requested, usable) = sizes(description);
            let label = if count > 1 {
                format!("{label} ×{count}")
            } else {
                label
            };
            // A bucket's tail covers the blocks it has not handed out yet.
            let count = match (kind, &label.split_whitespace().next()) {
                (Kind::BucketTail, Some(blocks)) => blocks.parse().unwrap_or(count),
                _ => count,
            };
            pieces.push(Piece {
                kind,
                offset,
                bytes: 0,
                label,
                count,
                requested,
                usable,
            });
        } else if let Some(rest) = trimmed.strip_prefix("bump at +") {
            // "bump at +0x323c0; 121920 bytes free before the end at +0x50000"
            let (bump, rest) = rest.split_once(';').ok_or_else(|| bad(line))?;
            let bump = hex(bump)?;
            close(&mut pieces, region_end.unwrap_or(bump).min(bump));
            let end = hex(rest.rsplit('+').next().ok_or_else(|| bad(line))?)?;
            if end > bump {
                pieces.push(Piece {
                    kind: Kind::Top,
                    offset: bump,
                    bytes: end - bump,
                    label: format!("top {}", end - bump),
                    count: 1,
                    requested: None,
                    usable: None,
                });
            }
        } else if let Some(rest) = trimmed.strip_prefix("mapped: ") {
            // "mapped: 1 blocks (200000 bytes) in 200704 bytes of mappings"
            let words: Vec<&str> = rest.split_whitespace().collect();
            let blocks: usize = words
                .first()
                .and_then(|w| w.parse().ok())
                .ok_or_else(|| bad(line))?;
            let bytes: usize = words
                .get(5)
                .and_then(|w| w.parse().ok())
                .ok_or_else(|| bad(line))?;
            if blocks > 0 {
                let asked = words.get(2).map_or("", |w| w.trim_start_matches('('));
                mapped.push(Piece {
                    kind: Kind::Mapped,
                    offset: 0,
                    bytes,
                    label: format!("mapped {asked} in {bytes}"),
                    count: blocks,
                    requested: asked.parse().ok(),
                    usable: None,
                });
            }
        }
    }
    if let Some(end) = region_end {
        close(&mut pieces, end);
    }
    pieces.extend(mapped);
    Ok(pieces)
}

fn bad(line: &str) -> String {
    format!("cannot read a heap map line: {line:?}")
}

/// `0x1f` (with or without `0x`, up to the first non-hex character).
fn hex(text: &str) -> Result<usize, String> {
    let text = text.trim().trim_start_matches("0x");
    let digits: String = text.chars().take_while(char::is_ascii_hexdigit).collect();
    usize::from_str_radix(&digits, 16).map_err(|_| format!("not a hex offset: {text:?}"))
}

/// The kind and the box's words for a block description.
fn describe(text: &str) -> Option<(Kind, String)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let first = *words.first()?;
    // The number after "in" (the class), if any.
    let class = words
        .iter()
        .position(|w| *w == "in")
        .and_then(|i| words.get(i + 1))
        .copied();
    Some(match first {
        "live" => {
            let size = words.get(1)?;
            match class {
                Some(class) => (Kind::Live, format!("live {size} in {class}")),
                None => (Kind::Live, format!("live {size}")),
            }
        }
        "freed" => (Kind::Lost, format!("freed {}", words.get(1)?)),
        "free" => (Kind::Free, format!("free in {}", class?)),
        "cached" => (Kind::Cached, format!("cached in {}", class?)),
        "padding" => (Kind::Padding, format!("pad {}", words.get(1)?)),
        "bucket" => {
            // "bucket of   16: 509 blocks not handed out yet"
            let class = words.get(2)?.trim_end_matches(':');
            let blocks = words.get(3)?;
            (Kind::BucketTail, format!("{blocks} × {class} unused"))
        }
        "mapped" => (Kind::Mapped, "mapped header".to_string()),
        _ => return None,
    })
}

/// A block description's requested bytes ("live 60 B", "freed 24 B") and
/// usable bytes (the number after "in", or a bucket's class), where it has
/// them.
fn sizes(text: &str) -> (Option<usize>, Option<usize>) {
    let words: Vec<&str> = text.split_whitespace().collect();
    let number = |i: usize| words.get(i).and_then(|w| w.parse().ok());
    let requested = match words.first() {
        Some(&"live") | Some(&"freed") if words.get(2) == Some(&"B") => number(1),
        _ => None,
    };
    let usable = match words.first() {
        // "bucket of   16: 509 blocks not handed out yet"
        Some(&"bucket") => words
            .get(2)
            .and_then(|w| w.trim_end_matches(':').parse().ok()),
        _ => words
            .iter()
            .position(|w| *w == "in")
            .and_then(|i| number(i + 1)),
    };
    (requested, usable)
}

/// The free lists (stages 3 to 6: `free lists: 16: 0, 64: 3, ...`) or bins
/// (stage 7 on: `free blocks by bin: 16+: 1, 48+: 2,`, empty bins left
/// out) a heap map names, with how many blocks each holds, in the map's
/// order. Empty for a map without them (stages 1 and 2).
///
/// A map line holds at most 160 bytes (`malloc_core::Line`), so a heap
/// with many bins in use has its line cut: the entry cut in two is left
/// out, and the list ends with `("…", 0)`.
pub fn free_lists(map: &str) -> Result<Vec<(String, usize)>, String> {
    let Some(line) = map.lines().find_map(|line| {
        line.strip_prefix("free lists:")
            .or_else(|| line.strip_prefix("free blocks by bin:"))
    }) else {
        return Ok(Vec::new());
    };
    let entries: Vec<&str> = line
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    let mut lists = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let read = entry
            .rsplit_once(':')
            .and_then(|(name, count)| Some((name.trim().to_string(), count.trim().parse().ok()?)));
        match read {
            Some(list) => lists.push(list),
            None if i + 1 == entries.len() && !line.ends_with(',') => {
                lists.push(("…".to_string(), 0));
            }
            None => return Err(bad(line)),
        }
    }
    Ok(lists)
}

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The width of a box: at least its words, more for more bytes (log scale).
fn width(piece: &Piece) -> f64 {
    let text = piece.label.chars().count() as f64 * 6.6 + 12.0;
    let bytes = (piece.bytes.max(16) as f64 / 16.0).log2();
    text.max(24.0 + 14.0 * bytes)
}

/// Draws `pieces` as an SVG picture titled `title`: boxes left to right in
/// address order, wrapped into rows, mappings on a row of their own, and a
/// legend of the kinds that appear.
pub fn svg(title: &str, pieces: &[Piece]) -> String {
    const ROW: f64 = 760.0;
    const HEIGHT: f64 = 44.0;
    const GAP: f64 = 14.0;
    let mut body = String::new();
    let (mut x, mut y) = (10.0, 34.0);
    let mut mapped_row = false;
    for piece in pieces {
        let w = width(piece).min(ROW);
        let new_row_for_mappings = piece.kind == Kind::Mapped && !mapped_row;
        if x > 10.0 && (x + w > ROW + 10.0 || new_row_for_mappings) {
            x = 10.0;
            y += HEIGHT + GAP;
        }
        if new_row_for_mappings {
            mapped_row = true;
        }
        let (fill, _) = piece.kind.style();
        let dash = if piece.kind == Kind::Top {
            " stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        let where_ = if piece.kind == Kind::Mapped {
            "own mapping".to_string()
        } else {
            format!("+{:#x}", piece.offset)
        };
        let _ = writeln!(
            body,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{HEIGHT}\" fill=\"{fill}\" stroke=\"#2e3436\"{dash}/>"
        );
        let _ = writeln!(
            body,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 5.0,
            y + 18.0,
            escape(&piece.label)
        );
        let _ = writeln!(
            body,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"at\">{}, {} B</text>",
            x + 5.0,
            y + 34.0,
            escape(&where_),
            piece.bytes
        );
        x += w;
    }
    // The legend: only the kinds in this picture.
    y += HEIGHT + GAP + 6.0;
    let mut lx = 10.0;
    for kind in Kind::ALL {
        if !pieces.iter().any(|p| p.kind == kind) {
            continue;
        }
        let (fill, words) = kind.style();
        let _ = writeln!(
            body,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"14\" height=\"14\" fill=\"{fill}\" stroke=\"#2e3436\"/><text x=\"{:.1}\" y=\"{:.1}\">{words}</text>",
            y - 11.0,
            lx + 19.0,
            y
        );
        lx += 19.0 + words.len() as f64 * 6.6 + 16.0;
    }
    let height = y + 12.0;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height:.0}\" viewBox=\"0 0 {w} {height:.0}\" font-family=\"monospace\" font-size=\"11\">\n\
         <style>.at {{ fill: #555753; font-size: 10px; }} .title {{ font-size: 13px; font-weight: bold; }}</style>\n\
         <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{height:.0}\" fill=\"#ffffff\"/>\n\
         <text x=\"10\" y=\"20\" class=\"title\">{}</text>\n{body}</svg>\n",
        escape(title),
        w = ROW + 20.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = "\
bump allocator: 327680 bytes from the break in 2 calls, 2 live blocks (40 bytes)
region at +0x0, blocks end at +0x60
  +0x00010  freed       10 B  (span 32, lost)
  +0x00030  live        16 B in     16   × 2 (to +0x50)
bump at +0x60; 160 bytes free before the end at +0x100
mapped: 1 blocks (200000 bytes) in 200704 bytes of mappings
";

    #[test]
    fn reads_blocks_runs_top_and_mappings() {
        let pieces = parse(MAP).unwrap();
        let kinds: Vec<_> = pieces.iter().map(|p| (p.kind, p.offset, p.bytes)).collect();
        assert_eq!(
            kinds,
            [
                (Kind::Lost, 0x10, 0x20),
                (Kind::Live, 0x30, 0x30),
                (Kind::Top, 0x60, 0xa0),
                (Kind::Mapped, 0, 200704),
            ]
        );
        assert_eq!(pieces[1].label, "live 16 in 16 ×2");
        assert_eq!((pieces[0].requested, pieces[0].usable), (Some(10), None));
        assert_eq!(
            (pieces[1].requested, pieces[1].usable),
            (Some(16), Some(16))
        );
        assert_eq!(pieces[3].requested, Some(200000));
        let svg = svg("t", &pieces);
        assert!(svg.starts_with("<svg") && svg.contains("freed, lost"));
    }

    #[test]
    fn reads_free_lists_and_bins() {
        let lists = "x\nfree lists: 16: 0, 64: 11, large: 2\nregion at +0x0, blocks end at +0x0\n";
        assert_eq!(
            free_lists(lists).unwrap(),
            [("16".into(), 0), ("64".into(), 11), ("large".into(), 2)]
        );
        let bins = "free blocks by bin: 16+: 1, 528+: 3,\n";
        assert_eq!(
            free_lists(bins).unwrap(),
            [("16+".into(), 1), ("528+".into(), 3)]
        );
        assert_eq!(free_lists("free blocks by bin:\n").unwrap(), []);
        let cut = "free blocks by bin: 16+: 1, 5734";
        assert_eq!(
            free_lists(cut).unwrap(),
            [("16+".into(), 1), ("…".into(), 0)]
        );
        assert!(free_lists("free lists: 16: x, 64: 1").is_err());
        assert_eq!(free_lists(MAP).unwrap(), []);
    }
}
