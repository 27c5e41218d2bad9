//! The results as SVG charts (plotters, SVG only: text is left to the
//! browser, so no font library is needed).
//!
//! Two grouped bar charts, one group per workload and one bar per
//! allocator: time as a ratio to glibc (log scale), and peak utilization.

use std::path::{Path, PathBuf};

use plotters::coord::combinators::IntoLogRange;
use plotters::prelude::*;

use super::results::{Results, Row};

/// The charts this module makes: file name and title.
pub const CHARTS: [(&str, &str); 2] = [
    (
        "time.svg",
        "Time per workload, as a ratio to glibc (log scale; lower is faster)",
    ),
    (
        "utilization.svg",
        "Peak utilization per workload: peak live bytes / peak footprint (higher is better)",
    ),
];

/// One colour per allocator, in table order: the references in greys, the
/// stages from warm to cool so the ladder reads left to right.
const COLOURS: [RGBColor; 8] = [
    RGBColor(90, 90, 90),
    RGBColor(170, 170, 170),
    RGBColor(228, 26, 28),
    RGBColor(255, 127, 0),
    RGBColor(230, 190, 0),
    RGBColor(77, 175, 74),
    RGBColor(55, 126, 184),
    RGBColor(152, 78, 163),
];

/// Writes every chart into `dir`; returns the files written.
pub fn write(results: &Results, dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let time = |row: &Row| row.ratio.filter(|_| row.complete());
    let utilization = |row: &Row| row.utilization.filter(|_| row.complete());
    let mut written = Vec::new();
    for ((file, title), value) in CHARTS
        .iter()
        .zip([&time as &dyn Fn(&Row) -> Option<f64>, &utilization])
    {
        let path = dir.join(file);
        let log = *file == "time.svg";
        bars(results, &path, title, value, log).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// A grouped bar chart of `value` for every workload and allocator.
fn bars(
    results: &Results,
    path: &Path,
    title: &str,
    value: &dyn Fn(&Row) -> Option<f64>,
    log: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let workloads = &results.workloads;
    let groups = workloads.len().max(1);
    let width = 160 + 110 * groups as u32;
    let root = SVGBackend::new(path, (width, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let names: Vec<String> = workloads.iter().map(|w| w.name.clone()).collect();
    // Group `i` is centred on x = i, where the axis puts its labels.
    let label = |x: &f64| {
        let near = x.round();
        if (x - near).abs() > 0.01 || near < 0.0 {
            return String::new();
        }
        names.get(near as usize).cloned().unwrap_or_default()
    };
    let x_range = -0.5..groups as f64 - 0.5;

    let mut chart = ChartBuilder::on(&root);
    chart
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(90)
        .y_label_area_size(60)
        .margin_right(24);
    let allocators = &results.allocators;
    let slot = 0.8 / allocators.len().max(1) as f64;
    let bar = |w: usize, a: usize, bottom: f64, top: f64| {
        let left = w as f64 - 0.4 + a as f64 * slot;
        Rectangle::new(
            [(left, top), (left + slot * 0.9, bottom)],
            COLOURS[a % COLOURS.len()].filled(),
        )
    };
    // The drawing is the same for both scales; only the y axis differs.
    macro_rules! draw {
        ($chart:expr, $bottom:expr, $y_desc:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(groups + 1)
                .x_label_formatter(&label)
                .x_label_style(
                    ("sans-serif", 12)
                        .into_font()
                        .transform(FontTransform::Rotate90),
                )
                .y_desc($y_desc)
                .draw()?;
            for (a, allocator) in allocators.iter().enumerate() {
                let bars = workloads.iter().enumerate().filter_map(|(w, workload)| {
                    let row = workload
                        .rows
                        .iter()
                        .find(|r| r.allocator == allocator.key)?;
                    Some(bar(w, a, $bottom, value(row)?))
                });
                chart
                    .draw_series(bars)?
                    .label(allocator.label.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new(
                            [(x, y - 5), (x + 10, y + 5)],
                            COLOURS[a % COLOURS.len()].filled(),
                        )
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperRight)
                .draw()?;
        }};
    }
    if log {
        let highest = workloads
            .iter()
            .flat_map(|w| w.rows.iter().filter_map(value))
            .fold(2.0f64, f64::max);
        let chart = chart.build_cartesian_2d(x_range, (0.1f64..highest * 1.5).log_scale())?;
        draw!(chart, 0.1, "time / glibc's time");
    } else {
        let chart = chart.build_cartesian_2d(x_range, 0f64..100f64)?;
        draw!(chart, 0.0, "peak utilization (%)");
    }
    root.present()?;
    Ok(())
}
