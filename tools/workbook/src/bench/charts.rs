//! The results as SVG charts a learner reads at the book's width (750 px).
//!
//! - `time.svg` and `utilization.svg`: one row per workload, one column
//!   per allocator, each cell coloured by its value and written with it
//!   (a heatmap). A stage that ran out of memory says so in its cell.
//! - `ladder.svg`: the stages in order on one workload ([`LADDER`]), time
//!   and peak utilization as two lines, glibc's value as a dashed line.
//!
//! Written with [`svg`](super::svg), which places every text in a box it
//! knows: [`write`] refuses a chart with a text smaller than 11 px, or one
//! that touches another text or a cell it does not belong to, and the
//! tests below draw the book's charts and a made-up run that way.

use std::path::{Path, PathBuf};

use super::results::{Results, Row, WorkloadResult};
use super::svg::{Anchor, Area, Font, Svg};

/// The charts' width: the book's content width.
pub const WIDTH: f64 = 750.0;

/// The workload the ladder chart follows: a real program, on which every
/// stage finishes.
pub const LADDER: &str = "real/gcc-cc1";

/// The charts for `results`: file name and title (the image's alt text).
pub fn list(results: &Results) -> Vec<(&'static str, String)> {
    vec![
        ("time.svg", TIME_TITLE.to_string()),
        ("utilization.svg", UTILIZATION_TITLE.to_string()),
        (
            "ladder.svg",
            format!(
                "Time and peak utilization stage by stage on {}",
                ladder_workload(results).map_or("one workload", |w| w.name.as_str())
            ),
        ),
    ]
}

const TIME_TITLE: &str = "Time per workload as a ratio to glibc's (lower is faster)";
const UTILIZATION_TITLE: &str =
    "Peak utilization per workload: peak live bytes / peak footprint (higher is better)";

/// Writes every chart into `dir`; returns the files written.
pub fn write(results: &Results, dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for (file, title) in list(results) {
        let svg = match file {
            "time.svg" => heatmap(results, Measure::Time),
            "utilization.svg" => heatmap(results, Measure::Utilization),
            _ => ladder(results),
        };
        let path = dir.join(file);
        // An unreadable chart is a bug to fix here, not a picture to ship
        // (the results themselves are already written).
        let problems = svg.problems();
        if !problems.is_empty() {
            return Err(format!(
                "{file} would not be readable at {WIDTH} px:\n{}\nfix its layout in \
                 tools/workbook/src/bench/charts.rs, then `cargo workbook bench --redraw`",
                problems.join("\n")
            ));
        }
        std::fs::write(&path, svg.finish(&title))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// What a heatmap shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Measure {
    Time,
    Utilization,
}

/// What one cell says.
enum Cell {
    /// A value, its words, and where it lies on the colour scale (-1 to 1
    /// for time, 0 to 1 for utilization).
    Value(String, f64),
    /// The stage ran out of memory.
    OutOfMemory,
    /// The run failed or is missing.
    Nothing(&'static str),
}

fn cell(row: Option<&Row>, measure: Measure) -> Cell {
    let Some(row) = row else {
        return Cell::Nothing("–");
    };
    if row.out_of_memory_at.is_some() {
        return Cell::OutOfMemory;
    }
    if row.error.is_some() {
        return Cell::Nothing("failed");
    }
    match measure {
        Measure::Time => match row.ratio {
            Some(r) => Cell::Value(ratio_words(r), (r.log2() / 3.0).clamp(-1.0, 1.0)),
            None => Cell::Nothing("–"),
        },
        Measure::Utilization => match row.utilization {
            Some(u) => {
                let bound = if row.footprint_at_least { "≤" } else { "" };
                Cell::Value(
                    format!("{bound}{}", percent(u)),
                    (u / 100.0).clamp(0.0, 1.0),
                )
            }
            None => Cell::Nothing("–"),
        },
    }
}

/// A ratio in three digits at most: 0.87, 16.2, 372.
fn ratio_words(r: f64) -> String {
    if r < 10.0 {
        format!("{r:.2}")
    } else if r < 100.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.0}")
    }
}

/// A percentage in two digits at most: 1.9%, 91% (and <0.1%, not 0.0%).
fn percent(u: f64) -> String {
    if u < 0.05 {
        "<0.1%".to_string()
    } else if u < 10.0 {
        format!("{u:.1}%")
    } else {
        format!("{u:.0}%")
    }
}

/// The colour of `t` on the scale: time from green (faster, -1) through
/// white (as fast as glibc, 0) to red (slower, 1); utilization from white
/// (0) to blue (1). Also whether text on it should be white.
fn colour(measure: Measure, t: f64) -> (String, bool) {
    let (target, amount) = match measure {
        Measure::Time if t < 0.0 => ((26, 152, 80), -t),
        Measure::Time => ((215, 48, 39), t),
        Measure::Utilization => ((33, 102, 172), t),
    };
    let mix = |c: u8| (255.0 + (f64::from(c) - 255.0) * amount).round() as u8;
    let (r, g, b) = (mix(target.0), mix(target.1), mix(target.2));
    (format!("#{r:02x}{g:02x}{b:02x}"), amount > 0.6)
}

const OUT_OF_MEMORY: &str = "#d3d7cf";
const DARK: &str = "#1f1f1f";

/// The two header lines of an allocator's column: `glibc`, or
/// `stage 3` over `freelist`.
fn column_words(key: &str, label: &str) -> (String, String) {
    match key {
        "system" => ("glibc".into(), String::new()),
        "mimalloc" => ("mimalloc".into(), String::new()),
        _ => match key
            .strip_prefix("stage")
            .and_then(|n| n.parse().ok())
            .and_then(workbook_manifest::find)
        {
            Some(stage) => (format!("stage {}", stage.number), stage.short_name.into()),
            None => (label.to_string(), String::new()),
        },
    }
}

/// One row per workload, one column per allocator.
fn heatmap(results: &Results, measure: Measure) -> Svg {
    const MARGIN: f64 = 8.0;
    const ROW: f64 = 32.0;
    const CELL: f64 = 30.0;
    // Between the references (glibc, mimalloc) and the stages.
    const GROUP_GAP: f64 = 6.0;
    let label_font = Font::regular(12.0);
    let label_width = results
        .workloads
        .iter()
        .map(|w| super::svg::text_width(&w.name, label_font.size, false))
        .fold(60.0, f64::max)
        + 10.0;
    let columns = results.allocators.len().max(1);
    let references = results
        .allocators
        .iter()
        .filter(|a| !a.key.starts_with("stage"))
        .count();
    let gap = if references > 0 && references < columns {
        GROUP_GAP
    } else {
        0.0
    };
    let cell_width = (WIDTH - 2.0 * MARGIN - label_width - gap) / columns as f64;
    let column_x = |i: usize| {
        MARGIN + label_width + i as f64 * cell_width + if i >= references { gap } else { 0.0 }
    };
    let table_top = 74.0;
    let rows = results.workloads.len();
    let height = table_top + rows as f64 * ROW + 76.0;
    let mut svg = Svg::new(WIDTH, height);
    let (title, scale_words) = match measure {
        Measure::Time => (TIME_TITLE, "time / glibc's time"),
        Measure::Utilization => (UTILIZATION_TITLE, "peak utilization"),
    };
    svg.text(MARGIN, 20.0, Anchor::Start, Font::bold(13.0), title);

    // Column headers.
    for (i, allocator) in results.allocators.iter().enumerate() {
        let (first, second) = column_words(&allocator.key, &allocator.label);
        let middle = column_x(i) + cell_width / 2.0;
        svg.text(middle, 50.0, Anchor::Middle, Font::bold(11.0), &first);
        if !second.is_empty() {
            svg.text(middle, 65.0, Anchor::Middle, Font::regular(11.0), &second);
        }
    }

    // Rows.
    for (r, workload) in results.workloads.iter().enumerate() {
        let top = table_top + r as f64 * ROW;
        svg.text(
            MARGIN,
            top + 20.0,
            Anchor::Start,
            label_font,
            &workload.name,
        );
        for (i, allocator) in results.allocators.iter().enumerate() {
            let row = workload
                .rows
                .iter()
                .find(|row| row.allocator == allocator.key);
            let area = Area::new(column_x(i) + 1.0, top, cell_width - 2.0, CELL);
            let middle = column_x(i) + cell_width / 2.0;
            match cell(row, measure) {
                Cell::Value(words, t) => {
                    let (fill, white) = colour(measure, t);
                    let id = svg.mark(area, &fill, None);
                    let font = Font::regular(12.0).in_colour(if white { "#ffffff" } else { DARK });
                    svg.text_in(id, middle, top + 20.0, Anchor::Middle, font, &words);
                }
                Cell::OutOfMemory => {
                    let id = svg.mark(area, OUT_OF_MEMORY, None);
                    let font = Font::regular(11.0).in_colour("#a40000");
                    svg.text_in(id, middle, top + 13.0, Anchor::Middle, font, "out of");
                    svg.text_in(id, middle, top + 26.0, Anchor::Middle, font, "memory");
                }
                Cell::Nothing(words) => {
                    let id = svg.mark(area, "#f3f3f3", None);
                    svg.text_in(
                        id,
                        middle,
                        top + 20.0,
                        Anchor::Middle,
                        Font::regular(12.0),
                        words,
                    );
                }
            }
        }
    }

    // The colour scale, and what a grey cell means.
    let top = table_top + rows as f64 * ROW + 14.0;
    let left = MARGIN + 64.0;
    svg.text(
        MARGIN,
        top + 11.0,
        Anchor::Start,
        Font::regular(11.0),
        "colour:",
    );
    let bar = 300.0;
    let stops: Vec<(f64, String)> = (0..=12)
        .map(|i| {
            let at = f64::from(i) / 12.0;
            let t = match measure {
                Measure::Time => at * 2.0 - 1.0,
                Measure::Utilization => at,
            };
            (at, colour(measure, t).0)
        })
        .collect();
    svg.gradient(Area::new(left, top, bar, 12.0), &stops);
    let ticks: Vec<(f64, &str)> = match measure {
        Measure::Time => ["1/8", "1/4", "1/2", "1", "2", "4", "8"]
            .into_iter()
            .enumerate()
            .map(|(i, words)| (i as f64 / 6.0, words))
            .collect(),
        Measure::Utilization => ["0%", "25%", "50%", "75%", "100%"]
            .into_iter()
            .enumerate()
            .map(|(i, words)| (i as f64 / 4.0, words))
            .collect(),
    };
    for (at, words) in ticks {
        svg.text(
            left + at * bar,
            top + 26.0,
            Anchor::Middle,
            Font::regular(11.0),
            words,
        );
    }
    let (low, high) = match measure {
        Measure::Time => ("faster than glibc", "slower"),
        Measure::Utilization => ("memory wasted", "memory used"),
    };
    svg.text(
        left,
        top + 42.0,
        Anchor::Start,
        Font::regular(11.0),
        &format!("← {low}"),
    );
    svg.text(
        left + bar,
        top + 42.0,
        Anchor::End,
        Font::regular(11.0),
        &format!("{high} →"),
    );
    svg.text(
        left + bar / 2.0,
        top + 56.0,
        Anchor::Middle,
        Font::regular(11.0),
        scale_words,
    );
    svg.mark(
        Area::new(left + bar + 40.0, top - 1.0, 22.0, 14.0),
        OUT_OF_MEMORY,
        None,
    );

    svg.text(
        left + bar + 68.0,
        top + 11.0,
        Anchor::Start,
        Font::regular(11.0),
        "out of memory: the stage hit its budget",
    );
    svg.text(
        left + bar + 68.0,
        top + 26.0,
        Anchor::Start,
        Font::regular(11.0),
        "before the end (the table says where)",
    );
    svg
}

/// The workload the ladder follows: [`LADDER`], else the first one.
fn ladder_workload(results: &Results) -> Option<&WorkloadResult> {
    results
        .workloads
        .iter()
        .find(|w| w.name == LADDER)
        .or_else(|| results.workloads.first())
}

/// The stages in order on one workload: time (log scale) above, peak
/// utilization below, glibc's values as dashed lines.
fn ladder(results: &Results) -> Svg {
    const LEFT: f64 = 62.0;
    const RIGHT: f64 = 96.0;
    const TIME: (f64, f64) = (84.0, 214.0);
    const USE: (f64, f64) = (272.0, 372.0);
    let height = USE.1 + 52.0;
    let mut svg = Svg::new(WIDTH, height);
    let Some(workload) = ladder_workload(results) else {
        svg.text(8.0, 20.0, Anchor::Start, Font::bold(13.0), "No results.");
        return svg;
    };
    svg.text(
        8.0,
        20.0,
        Anchor::Start,
        Font::bold(13.0),
        &format!(
            "Stage by stage on {}: time and peak utilization",
            workload.name
        ),
    );
    svg.text(
        8.0,
        38.0,
        Anchor::Start,
        Font::regular(11.0),
        &workload.about,
    );
    let stages: Vec<(u32, Option<&Row>)> = results
        .allocators
        .iter()
        .filter_map(|a| {
            let n: u32 = a.key.strip_prefix("stage")?.parse().ok()?;
            Some((n, workload.rows.iter().find(|r| r.allocator == a.key)))
        })
        .collect();
    let glibc = workload.rows.iter().find(|r| r.allocator == "system");
    let step = (WIDTH - LEFT - RIGHT) / stages.len().max(1) as f64;
    let x = |i: usize| LEFT + (i as f64 + 0.5) * step;
    let grid = "#d3d7cf";
    // A faint line down from each stage, under everything else.
    for i in 0..stages.len() {
        svg.grid_line((x(i), TIME.0), (x(i), USE.1), "#eeeeec");
    }

    // Time, on a log scale from a power of two below the fastest to one
    // above the slowest (glibc's 1 always in view).
    let times: Vec<f64> = stages
        .iter()
        .filter_map(|(_, row)| row.filter(|r| r.complete()).and_then(|r| r.ratio))
        .collect();
    let low = times.iter().copied().fold(1.0f64, f64::min).log2().floor() - 0.5;
    let high = times.iter().copied().fold(1.0f64, f64::max).log2().ceil() + 0.5;
    let y_time = |r: f64| TIME.1 - (TIME.1 - TIME.0) * (r.log2() - low) / (high - low);
    svg.text(
        LEFT,
        TIME.0 - 16.0,
        Anchor::Start,
        Font::bold(11.0),
        "time / glibc's (log scale; lower is faster)",
    );
    let mut tick = low.ceil();
    while tick <= high {
        let r = tick.exp2();
        let y = y_time(r);
        svg.grid_line((LEFT, y), (WIDTH - RIGHT, y), grid);
        let words = if r < 1.0 {
            format!("1/{}×", (1.0 / r).round())
        } else {
            format!("{r}×")
        };
        svg.text(
            LEFT - 6.0,
            y + 4.0,
            Anchor::End,
            Font::regular(11.0),
            &words,
        );
        tick += 1.0;
    }
    if let Some(r) = glibc.and_then(|g| g.ratio) {
        reference(&mut svg, y_time(r), &format!("glibc {}", ratio_words(r)));
    }
    series(
        &mut svg,
        &stages,
        &x,
        TIME,
        |row| row.ratio.map(|r| (y_time(r), ratio_words(r))),
        "#c4a000",
    );

    // Peak utilization, 0 to 100%.
    let y_use = |u: f64| USE.1 - (USE.1 - USE.0) * u / 100.0;
    svg.text(
        LEFT,
        USE.0 - 16.0,
        Anchor::Start,
        Font::bold(11.0),
        "peak utilization (higher is better)",
    );
    for u in [0.0, 50.0, 100.0] {
        let y = y_use(u);
        svg.grid_line((LEFT, y), (WIDTH - RIGHT, y), grid);
        svg.text(
            LEFT - 6.0,
            y + 4.0,
            Anchor::End,
            Font::regular(11.0),
            &format!("{u}%"),
        );
    }
    if let Some(u) = glibc.and_then(|g| g.utilization) {
        reference(&mut svg, y_use(u), &format!("glibc {}", percent(u)));
    }
    series(
        &mut svg,
        &stages,
        &x,
        USE,
        |row| row.utilization.map(|u| (y_use(u), percent(u))),
        "#3465a4",
    );

    // The stages under both.
    for (i, (n, _)) in stages.iter().enumerate() {
        let name = workbook_manifest::find(*n).map_or("", |s| s.short_name);
        svg.text(
            x(i),
            USE.1 + 20.0,
            Anchor::Middle,
            Font::bold(11.0),
            &format!("stage {n}"),
        );
        svg.text(
            x(i),
            USE.1 + 35.0,
            Anchor::Middle,
            Font::regular(11.0),
            name,
        );
    }
    svg
}

/// One measure's points and line across the stages, each point with its
/// value; a stage that did not finish says why in place of its point.
fn series(
    svg: &mut Svg,
    stages: &[(u32, Option<&Row>)],
    x: &dyn Fn(usize) -> f64,
    (top, bottom): (f64, f64),
    value: impl Fn(&Row) -> Option<(f64, String)>,
    colour: &str,
) {
    let mut line: Vec<(f64, f64)> = Vec::new();
    let mut points = Vec::new();
    for (i, (_, row)) in stages.iter().enumerate() {
        match row {
            Some(row) if row.out_of_memory_at.is_some() => {
                // At the top of the panel, or at its bottom if a line
                // passes there.
                let font = Font::regular(11.0).in_colour("#a40000");
                let at = [top + 12.0, bottom - 16.0]
                    .into_iter()
                    .find(|&y| {
                        svg.is_clear(&Svg::text_area(x(i), y, Anchor::Middle, font, "out of"))
                            && svg.is_clear(&Svg::text_area(
                                x(i),
                                y + 14.0,
                                Anchor::Middle,
                                font,
                                "memory",
                            ))
                    })
                    .unwrap_or(top + 12.0);
                svg.text(x(i), at, Anchor::Middle, font, "out of");
                svg.text(x(i), at + 14.0, Anchor::Middle, font, "memory");
                svg.polyline(&line, colour, 2.0);
                line.clear();
            }
            Some(row) if row.complete() => {
                if let Some((y, words)) = value(row) {
                    line.push((x(i), y));
                    points.push((x(i), y, words));
                }
            }
            _ => {
                svg.text(
                    x(i),
                    (top + bottom) / 2.0,
                    Anchor::Middle,
                    Font::regular(11.0),
                    "–",
                );
                svg.polyline(&line, colour, 2.0);
                line.clear();
            }
        }
    }
    svg.polyline(&line, colour, 2.0);
    for (px, py, _) in &points {
        svg.point(*px, *py, 4.0, colour);
    }
    // Each value above its point, or below, or beside it: wherever it
    // touches no line, point or other text.
    let font = Font::regular(11.0);
    for (px, py, words) in points {
        let tries = [
            (px, py - 9.0, Anchor::Middle),
            (px, py + 19.0, Anchor::Middle),
            (px + 8.0, py - 6.0, Anchor::Start),
            (px - 8.0, py - 6.0, Anchor::End),
            (px + 8.0, py + 14.0, Anchor::Start),
            (px - 8.0, py + 14.0, Anchor::End),
        ];
        let (x, y, anchor) = tries
            .into_iter()
            .find(|&(x, y, anchor)| svg.is_clear(&Svg::text_area(x, y, anchor, font, &words)))
            .unwrap_or(tries[0]);
        svg.text(x, y, anchor, font, &words);
    }
}

/// glibc's value: a dashed line across the panel, named at its right end.
fn reference(svg: &mut Svg, y: f64, words: &str) {
    let right = svg.width() - 96.0;
    svg.dashed_line((62.0, y), (right, y), "#555753");
    svg.text(
        right + 6.0,
        y + 4.0,
        Anchor::Start,
        Font::regular(11.0),
        words,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::results::{AllocatorInfo, Machine};

    fn committed() -> Results {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../book/src/bench/results.json"
        );
        let text = std::fs::read_to_string(path).expect("the book's results.json");
        serde_json::from_str(&text).expect("results.json reads")
    }

    fn row(allocator: &str, ratio: f64, utilization: f64) -> Row {
        Row {
            allocator: allocator.into(),
            ns_per_op: Some(ratio * 10.0),
            ratio: Some(ratio),
            ratio_min: Some(ratio),
            ratio_max: Some(ratio),
            footprint: Some(1 << 20),
            footprint_at_least: false,
            utilization: Some(utilization),
            syscalls: Some(1),
            syscalls_exact: true,
            page_faults: 1,
            out_of_memory_at: None,
            latency: None,
            error: None,
        }
    }

    /// A run with a stage out of memory, one failed, and a long name.
    fn made_up() -> Results {
        let keys = ["system", "mimalloc", "stage1", "stage2", "stage3"];
        let mut rows: Vec<Row> = keys
            .iter()
            .zip([1.0, 0.5, 371.52, 12.83, 0.06])
            .map(|(key, ratio)| row(key, ratio, 99.6))
            .collect();
        rows[2].out_of_memory_at = Some(90_924);
        rows[3].error = Some("crashed".into());
        Results {
            command: "cargo workbook bench".into(),
            machine: Machine {
                cpu: "cpu".into(),
                cpus: 2,
                kernel: "k".into(),
                glibc: "2.36".into(),
                mimalloc: "3".into(),
            },
            size: "quick".into(),
            runs: 1,
            allocators: keys
                .iter()
                .map(|key| AllocatorInfo {
                    key: key.to_string(),
                    label: key.to_string(),
                })
                .collect(),
            workloads: vec![WorkloadResult {
                name: "real/python3-json-longer".into(),
                about: "About it.".into(),
                threads: 1,
                ops: 10,
                live_peak: 10,
                rows,
            }],
            notes: Vec::new(),
            seconds: 1.0,
        }
    }

    fn readable(name: &str, svg: &Svg) {
        let problems = svg.problems();
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
    }

    /// The book's charts, as drawn from its results: every text at least
    /// 11 px at 750 px, none over another text or a cell not its own.
    #[test]
    fn the_books_charts_are_readable_at_750_px() {
        let results = committed();
        for measure in [Measure::Time, Measure::Utilization] {
            let svg = heatmap(&results, measure);
            assert_eq!(svg.width(), WIDTH);
            readable("heatmap", &svg);
        }
        let ladder = ladder(&results);
        readable("ladder", &ladder);
        let words: Vec<&str> = ladder.labels().iter().map(|l| l.text.as_str()).collect();
        assert!(
            words.contains(&"stage 9") && words.contains(&"glibc 1.00"),
            "{words:?}"
        );
    }

    #[test]
    fn out_of_memory_is_said_not_left_blank() {
        let results = made_up();
        for measure in [Measure::Time, Measure::Utilization] {
            let svg = heatmap(&results, measure);
            readable("heatmap", &svg);
            let words: Vec<&str> = svg.labels().iter().map(|l| l.text.as_str()).collect();
            assert!(
                words.contains(&"out of") && words.contains(&"memory"),
                "{words:?}"
            );
            assert!(words.contains(&"failed"), "{words:?}");
        }
        let svg = heatmap(&results, Measure::Time);
        let words: Vec<&str> = svg.labels().iter().map(|l| l.text.as_str()).collect();
        assert!(
            words.contains(&"0.06") && words.contains(&"1.00"),
            "{words:?}"
        );
        let ladder = ladder(&results);
        readable("ladder", &ladder);
        let words: Vec<&str> = ladder.labels().iter().map(|l| l.text.as_str()).collect();
        assert!(
            words.contains(&"out of") && words.contains(&"0.06"),
            "{words:?}"
        );
    }

    #[test]
    fn words_and_colours() {
        assert_eq!(ratio_words(0.874), "0.87");
        assert_eq!(ratio_words(16.18), "16.2");
        assert_eq!(ratio_words(371.5), "372");
        assert_eq!(percent(1.93), "1.9%");
        assert_eq!(percent(91.4), "91%");
        assert_eq!(percent(0.0167), "<0.1%");
        assert_eq!(colour(Measure::Time, 0.0), ("#ffffff".to_string(), false));
        assert!(colour(Measure::Time, 1.0).1);
        assert_eq!(
            column_words("stage3", "x"),
            ("stage 3".into(), "freelist".into())
        );
    }
}
