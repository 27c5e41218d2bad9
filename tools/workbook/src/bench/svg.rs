//! A small SVG writer that knows where its words go.
//!
//! The charts must be readable at the book's width (750 px): every text at
//! least [`MIN_FONT`] px, no text over another or over a bar. plotters
//! leaves text to the browser and cannot say where a label ends, so the
//! charts are written here: every text gets a box, estimated from its font
//! size and from DejaVu Sans's character widths (the widest of the common
//! sans-serif fonts, and the one Chromium uses on Debian), and
//! [`Svg::problems`] lists every text that is too small, leaves the
//! picture, touches another text, touches a mark (a bar, a cell, a point)
//! other than the one it is written in, or is crossed by a data line. The charts' unit tests call
//! it; the book's browser test measures the same with the real fonts.
//!
//! In the SVG, marks carry `class="mark"` and an id, texts
//! `class="label"` and, when written inside a mark, `data-in` with its id.

use std::fmt::Write as _;

/// The smallest font size a chart may use, in px at its own width.
pub const MIN_FONT: f64 = 11.0;

/// A rectangle: left, top, right, bottom.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    /// Left edge.
    pub x0: f64,
    /// Top edge.
    pub y0: f64,
    /// Right edge.
    pub x1: f64,
    /// Bottom edge.
    pub y1: f64,
}

impl Area {
    /// The area at `x`, `y` of `width` × `height`.
    pub fn new(x: f64, y: f64, width: f64, height: f64) -> Area {
        Area {
            x0: x,
            y0: y,
            x1: x + width,
            y1: y + height,
        }
    }

    /// Whether the two areas share more than an edge.
    pub fn overlaps(&self, other: &Area) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }

    /// Whether `inner` lies inside this area.
    pub fn contains(&self, inner: &Area) -> bool {
        inner.x0 >= self.x0 && inner.x1 <= self.x1 && inner.y0 >= self.y0 && inner.y1 <= self.y1
    }
}

/// Where a text's `x` is: its start, middle or end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// `x` is the left end.
    Start,
    /// `x` is the middle.
    Middle,
    /// `x` is the right end.
    End,
}

/// How a text looks.
#[derive(Clone, Copy, Debug)]
pub struct Font {
    /// Size in px.
    pub size: f64,
    /// Bold or not.
    pub bold: bool,
    /// Fill colour.
    pub colour: &'static str,
}

impl Font {
    /// Regular text of `size` px, dark grey.
    pub const fn regular(size: f64) -> Font {
        Font {
            size,
            bold: false,
            colour: "#1f1f1f",
        }
    }

    /// Bold text of `size` px, dark grey.
    pub const fn bold(size: f64) -> Font {
        Font {
            size,
            bold: true,
            colour: "#1f1f1f",
        }
    }

    /// The same font in `colour`.
    pub const fn in_colour(self, colour: &'static str) -> Font {
        Font { colour, ..self }
    }
}

/// A text as placed: its words, size and box.
#[derive(Clone, Debug)]
pub struct Label {
    /// The words.
    pub text: String,
    /// Font size in px.
    pub size: f64,
    /// The box the words take (estimated).
    pub area: Area,
    /// The mark it is written in, if any.
    pub inside: Option<usize>,
}

/// An SVG picture being written.
pub struct Svg {
    width: f64,
    height: f64,
    body: String,
    labels: Vec<Label>,
    marks: Vec<Area>,
    /// The segments of data lines (series and references), which texts
    /// must not cross; grid lines are not here.
    lines: Vec<((f64, f64), (f64, f64))>,
}

impl Svg {
    /// An empty picture of `width` × `height` px with a white background.
    pub fn new(width: f64, height: f64) -> Svg {
        let mut svg = Svg {
            width,
            height,
            body: String::new(),
            labels: Vec::new(),
            marks: Vec::new(),
            lines: Vec::new(),
        };
        let _ = writeln!(
            svg.body,
            "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>"
        );
        svg
    }

    /// The picture's width.
    pub fn width(&self) -> f64 {
        self.width
    }

    /// A filled rectangle that texts must keep off (or stay inside, if
    /// written in it): returns its number for [`Svg::text_in`].
    pub fn mark(&mut self, area: Area, fill: &str, stroke: Option<&str>) -> usize {
        let id = self.marks.len();
        let stroke = stroke.map_or(String::new(), |s| {
            format!(" stroke=\"{s}\" stroke-width=\"1\"")
        });
        let _ = writeln!(
            self.body,
            "<rect class=\"mark\" id=\"m{id}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"{stroke}/>",
            area.x0,
            area.y0,
            area.x1 - area.x0,
            area.y1 - area.y0
        );
        self.marks.push(area);
        id
    }

    /// A round point of radius `r`, a mark too.
    pub fn point(&mut self, x: f64, y: f64, r: f64, fill: &str) -> usize {
        let id = self.marks.len();
        let _ = writeln!(
            self.body,
            "<circle class=\"mark\" id=\"m{id}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r}\" fill=\"{fill}\"/>"
        );
        self.marks.push(Area::new(x - r, y - r, 2.0 * r, 2.0 * r));
        id
    }

    /// A grid line: texts may cross it.
    pub fn grid_line(&mut self, from: (f64, f64), to: (f64, f64), stroke: &str) {
        self.draw_line(from, to, stroke, "");
    }

    /// A dashed line that means something (a reference value): texts must
    /// keep off it.
    pub fn dashed_line(&mut self, from: (f64, f64), to: (f64, f64), stroke: &str) {
        self.draw_line(from, to, stroke, " stroke-dasharray=\"5 4\"");
        self.lines.push((from, to));
    }

    fn draw_line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), stroke: &str, dash: &str) {
        let _ = writeln!(
            self.body,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{stroke}\" stroke-width=\"1\"{dash}/>"
        );
    }

    /// A data line through `points`: texts must keep off it.
    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: &str, width: f64) {
        if points.len() < 2 {
            return;
        }
        self.lines
            .extend(points.windows(2).map(|pair| (pair[0], pair[1])));
        let points: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            self.body,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width}\"/>",
            points.join(" ")
        );
    }

    /// A gradient from left to right through `stops` (offset 0 to 1,
    /// colour), drawn in `area` as a mark.
    pub fn gradient(&mut self, area: Area, stops: &[(f64, String)]) -> usize {
        let id = self.marks.len();
        let _ = writeln!(
            self.body,
            "<defs><linearGradient id=\"g{id}\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">"
        );
        for (offset, colour) in stops {
            let _ = writeln!(
                self.body,
                "<stop offset=\"{offset:.3}\" stop-color=\"{colour}\"/>"
            );
        }
        let _ = writeln!(self.body, "</linearGradient></defs>");
        self.mark(area, &format!("url(#g{id})"), Some("#555753"))
    }

    /// A text with its baseline at `y`.
    pub fn text(&mut self, x: f64, y: f64, anchor: Anchor, font: Font, text: &str) {
        self.place(x, y, anchor, font, text, None);
    }

    /// A text written inside mark `inside` (it must fit there).
    pub fn text_in(
        &mut self,
        inside: usize,
        x: f64,
        y: f64,
        anchor: Anchor,
        font: Font,
        text: &str,
    ) {
        self.place(x, y, anchor, font, text, Some(inside));
    }

    /// The box a text would take.
    pub fn text_area(x: f64, y: f64, anchor: Anchor, font: Font, text: &str) -> Area {
        let width = text_width(text, font.size, font.bold);
        let x0 = match anchor {
            Anchor::Start => x,
            Anchor::Middle => x - width / 2.0,
            Anchor::End => x - width,
        };
        Area {
            x0,
            y0: y - ASCENT * font.size,
            x1: x0 + width,
            y1: y + DESCENT * font.size,
        }
    }

    /// Whether `area` lies in the picture clear of every text, mark and
    /// data line so far: where a label can go.
    pub fn is_clear(&self, area: &Area) -> bool {
        Area::new(0.0, 0.0, self.width, self.height).contains(area)
            && !self.labels.iter().any(|l| l.area.overlaps(area))
            && !self.marks.iter().any(|m| m.overlaps(area))
            && !self.lines.iter().any(|&(a, b)| crosses(area, a, b))
    }

    fn place(
        &mut self,
        x: f64,
        y: f64,
        anchor: Anchor,
        font: Font,
        text: &str,
        inside: Option<usize>,
    ) {
        let area = Svg::text_area(x, y, anchor, font, text);
        let anchor = match anchor {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        };
        let weight = if font.bold {
            " font-weight=\"bold\""
        } else {
            ""
        };
        let inside_attr = inside.map_or(String::new(), |id| format!(" data-in=\"m{id}\""));
        let _ = writeln!(
            self.body,
            "<text class=\"label\" x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{}\" text-anchor=\"{anchor}\" fill=\"{}\"{weight}{inside_attr}>{}</text>",
            font.size,
            font.colour,
            escape(text)
        );
        self.labels.push(Label {
            text: text.to_string(),
            size: font.size,
            area,
            inside,
        });
    }

    /// What is wrong with the picture at its own width: texts smaller than
    /// [`MIN_FONT`], outside the picture, over each other, over a mark, or
    /// not inside the mark they are written in. Empty when it is readable.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let picture = Area::new(0.0, 0.0, self.width, self.height);
        for (i, label) in self.labels.iter().enumerate() {
            let name = &label.text;
            if label.size < MIN_FONT {
                problems.push(format!("\"{name}\" is {} px, below {MIN_FONT}", label.size));
            }
            if !picture.contains(&label.area) {
                problems.push(format!("\"{name}\" leaves the picture: {:?}", label.area));
            }
            for other in &self.labels[i + 1..] {
                if label.area.overlaps(&other.area) {
                    problems.push(format!("\"{name}\" overlaps \"{}\"", other.text));
                }
            }
            for (id, mark) in self.marks.iter().enumerate() {
                if label.inside == Some(id) {
                    if !mark.contains(&label.area) {
                        problems.push(format!("\"{name}\" does not fit in its cell {mark:?}"));
                    }
                } else if label.area.overlaps(mark) {
                    problems.push(format!("\"{name}\" overlaps a mark at {mark:?}"));
                }
            }
            if self.lines.iter().any(|&(a, b)| crosses(&label.area, a, b)) {
                problems.push(format!("\"{name}\" is crossed by a line"));
            }
        }
        problems
    }

    /// The texts placed so far.
    #[cfg(test)]
    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    /// The SVG document, with `title` for screen readers.
    pub fn finish(self, title: &str) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"DejaVu Sans, Verdana, sans-serif\" role=\"img\" aria-label=\"{t}\">\n<title>{t}</title>\n{}</svg>\n",
            self.body,
            w = self.width,
            h = self.height,
            t = escape(title)
        )
    }
}

/// How far a text reaches above its baseline, in ems (DejaVu Sans's
/// ascent, rounded up), and below it.
const ASCENT: f64 = 0.93;
const DESCENT: f64 = 0.24;

/// The width of `text` at `size` px, from DejaVu Sans's advance widths (in
/// ems; characters not listed count as wide as an "m"). Bold is wider.
pub fn text_width(text: &str, size: f64, bold: bool) -> f64 {
    let ems: f64 = text
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '\'' | '|' => 0.28,
            ' ' | '.' | ',' | ':' | ';' | '!' => 0.32,
            'f' | 't' | '/' | '\\' | '-' | '(' | ')' | '[' | ']' => 0.40,
            'r' => 0.42,
            's' | 'z' | 'c' => 0.56,
            'a' | 'e' | 'o' | 'k' | 'v' | 'x' | 'y' | 'J' => 0.62,
            'b' | 'd' | 'g' | 'h' | 'n' | 'p' | 'q' | 'u' => 0.64,
            '0'..='9' | '+' | '=' | '<' | '>' | '≤' | '≥' | '–' | '_' => 0.64,
            'w' | '%' | '×' | 'M' | 'W' | 'm' => 1.0,
            'A'..='Z' => 0.78,
            _ => 1.0,
        })
        .sum();
    ems * size * if bold { 1.1 } else { 1.0 }
}

/// Whether the segment from `a` to `b` passes through `area` (checked
/// every half pixel: the charts' lines are short).
fn crosses(area: &Area, (ax, ay): (f64, f64), (bx, by): (f64, f64)) -> bool {
    let steps = ((bx - ax).hypot(by - ay) * 2.0).ceil().max(1.0) as usize;
    (0..=steps).any(|i| {
        let t = i as f64 / steps as f64;
        let (x, y) = (ax + (bx - ax) * t, ay + (by - ay) * t);
        x > area.x0 && x < area.x1 && y > area.y0 && y < area.y1
    })
}

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_small_overlapping_and_escaping_text() {
        let mut svg = Svg::new(200.0, 100.0);
        let cell = svg.mark(Area::new(10.0, 10.0, 60.0, 20.0), "#eeeeee", None);
        svg.text_in(
            cell,
            40.0,
            25.0,
            Anchor::Middle,
            Font::regular(12.0),
            "1.00",
        );
        assert!(svg.problems().is_empty(), "{:?}", svg.problems());

        svg.text(40.0, 25.0, Anchor::Middle, Font::regular(12.0), "over");
        svg.text(
            150.0,
            60.0,
            Anchor::Start,
            Font::regular(10.0),
            "small and long, out",
        );
        svg.text_in(
            cell,
            12.0,
            25.0,
            Anchor::Start,
            Font::regular(12.0),
            "too wide for it",
        );
        svg.polyline(&[(100.0, 80.0), (190.0, 90.0)], "#000000", 1.0);
        svg.text(140.0, 88.0, Anchor::Middle, Font::regular(12.0), "crossed");
        let font = Font::regular(12.0);
        assert!(!svg.is_clear(&Svg::text_area(140.0, 88.0, Anchor::Middle, font, "x")));
        assert!(svg.is_clear(&Svg::text_area(140.0, 50.0, Anchor::Middle, font, "x")));
        let problems = svg.problems().join("\n");
        assert!(
            problems.contains("\"crossed\" is crossed by a line"),
            "{problems}"
        );
        assert!(
            problems.contains("\"1.00\" overlaps \"over\""),
            "{problems}"
        );
        assert!(problems.contains("\"over\" overlaps a mark"), "{problems}");
        assert!(problems.contains("is 10 px, below 11"), "{problems}");
        assert!(problems.contains("leaves the picture"), "{problems}");
        assert!(problems.contains("does not fit in its cell"), "{problems}");
    }

    #[test]
    fn wider_text_is_wider() {
        assert!(text_width("mmmm", 12.0, false) > text_width("iiii", 12.0, false));
        assert!(text_width("ab", 12.0, true) > text_width("ab", 12.0, false));
        assert_eq!(text_width("", 12.0, false), 0.0);
        let svg = Svg::new(10.0, 10.0).finish("a < b");
        assert!(svg.contains("<title>a &lt; b</title>"));
    }
}
