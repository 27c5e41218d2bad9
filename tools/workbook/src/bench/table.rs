//! The results as text: a table per workload for the terminal, the same as
//! Markdown for the book, and the targets checked against them.

use std::fmt::Write;

use super::results::{Results, Row, WorkloadResult};
use crate::table::table;
use crate::units::{bytes, percent};

/// The column headings of a workload's table.
const HEADINGS: [&str; 6] = [
    "allocator",
    "time vs glibc (min–max)",
    "peak footprint",
    "peak utilization",
    "syscalls",
    "page faults",
];

/// The cells of one row.
fn cells(results: &Results, row: &Row) -> Vec<String> {
    let label = results
        .allocators
        .iter()
        .find(|a| a.key == row.allocator)
        .map_or(row.allocator.clone(), |a| a.label.clone());
    if let Some(error) = &row.error {
        return vec![label, error.clone()];
    }
    if let Some(op) = row.out_of_memory_at {
        return vec![
            label,
            format!("out of memory at {} ops", thousands(op)),
            row.footprint
                .map_or("-".into(), |f| format!("> {}", bytes(f))),
        ];
    }
    let time = match (row.ratio, row.ratio_min, row.ratio_max) {
        (Some(r), Some(lo), Some(hi)) => format!("{r:.2} ({lo:.2}–{hi:.2})"),
        _ => "-".to_string(),
    };
    let syscalls = match row.syscalls {
        Some(n) if row.syscalls_exact => thousands(n),
        Some(n) => format!(">= {}", thousands(n)),
        None => "n/a".to_string(),
    };
    // A footprint known only from below makes the utilization an upper bound.
    let (at_least, at_most) = if row.footprint_at_least {
        (">= ", "<= ")
    } else {
        ("", "")
    };
    vec![
        label,
        time,
        row.footprint
            .map_or("n/a".into(), |f| format!("{at_least}{}", bytes(f))),
        row.utilization
            .map_or("-".into(), |u| format!("{at_most}{}", percent(Some(u)))),
        syscalls,
        thousands(row.page_faults),
    ]
}

/// A workload's heading line.
fn heading(w: &WorkloadResult) -> String {
    format!(
        "{} ops, peak live {}",
        thousands(w.ops as u64),
        bytes(w.live_peak)
    )
}

/// The whole report for a terminal.
pub fn text(results: &Results) -> String {
    let mut out = String::new();
    for w in &results.workloads {
        let _ = writeln!(out, "{}: {}", w.name, w.about);
        let _ = writeln!(out, "  {}", heading(w));
        let mut rows = vec![HEADINGS.map(String::from).to_vec()];
        rows.extend(w.rows.iter().map(|row| cells(results, row)));
        out.push_str(&table(&rows, 2));
        out.push('\n');
    }
    let latency = latency_rows(results);
    let skipped = latency_skipped(results);
    if latency.len() > 1 {
        out.push_str("Latency of single calls (ns; p50 / p99 / p99.9 / max):\n");
        out.push_str(&table(&latency, 2));
    }
    if let Some(skipped) = &skipped {
        let _ = writeln!(out, "  {skipped}");
    }
    if latency.len() > 1 || skipped.is_some() {
        out.push('\n');
    }
    out.push_str("Targets:\n");
    for (line, met) in targets(results) {
        let _ = writeln!(out, "  [{}] {line}", if met { "x" } else { " " });
    }
    out.push('\n');
    for note in &results.notes {
        let _ = writeln!(out, "- {note}");
    }
    out
}

/// The whole report as Markdown, for the book.
pub fn markdown(results: &Results, charts: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let m = &results.machine;
    let _ = writeln!(out, "# Benchmark results\n");
    let _ = writeln!(
        out,
        "Made by `{}` in {:.0} s on {} ({} CPUs), Linux {}, glibc {}, mimalloc {}. \
         Every time is a ratio to glibc's malloc measured in the same run: \
         below 1.00 is faster.\n",
        results.command, results.seconds, m.cpu, m.cpus, m.kernel, m.glibc, m.mimalloc
    );
    for (file, title) in charts {
        let _ = writeln!(out, "![{title}]({file})\n");
    }
    for w in &results.workloads {
        let _ = writeln!(out, "## {}\n\n{} {}.\n", w.name, w.about, heading(w));
        let mut rows = vec![HEADINGS.map(String::from).to_vec()];
        rows.extend(w.rows.iter().map(|row| {
            let mut cells = cells(results, row);
            cells.resize(HEADINGS.len(), String::new());
            cells
        }));
        out.push_str(&markdown_table(&rows));
        out.push('\n');
    }
    let latency = latency_rows(results);
    let skipped = latency_skipped(results);
    if latency.len() > 1 || skipped.is_some() {
        out.push_str("## Latency\n\nSingle calls, in ns: p50 / p99 / p99.9 / max.\n\n");
    }
    if latency.len() > 1 {
        out.push_str(&markdown_table(&latency));
        out.push('\n');
    }
    if let Some(skipped) = skipped {
        let _ = writeln!(out, "{skipped}\n");
    }
    out.push_str("## Targets\n\n");
    for (line, met) in targets(results) {
        let _ = writeln!(out, "- [{}] {line}", if met { "x" } else { " " });
    }
    out.push_str("\n## How it was measured\n\n");
    for note in &results.notes {
        let _ = writeln!(out, "- {note}");
    }
    out
}

fn markdown_table(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let _ = writeln!(out, "| {} |", row.join(" | "));
        if i == 0 {
            let _ = writeln!(out, "|{}", "---|".repeat(row.len()));
        }
    }
    out
}

/// Which workloads have no latency row and why, if any.
fn latency_skipped(results: &Results) -> Option<String> {
    let names: Vec<&str> = results
        .workloads
        .iter()
        .filter(|w| w.threads > 1)
        .map(|w| w.name.as_str())
        .collect();
    (!names.is_empty()).then(|| {
        format!(
            "Latency is not measured on the multi-threaded workloads ({}): a call's time there \
             says as much about what the other thread was doing as about the call.",
            names.join(", ")
        )
    })
}

/// Latency rows: workload, then one column per allocator measured (the
/// multi-threaded workloads have none).
fn latency_rows(results: &Results) -> Vec<Vec<String>> {
    let measured: Vec<&str> = results
        .allocators
        .iter()
        .filter(|a| {
            results.workloads.iter().any(|w| {
                w.rows
                    .iter()
                    .any(|r| r.allocator == a.key && r.latency.is_some())
            })
        })
        .map(|a| a.key.as_str())
        .collect();
    let mut heading = vec!["workload".to_string()];
    heading.extend(measured.iter().map(|key| {
        results
            .allocators
            .iter()
            .find(|a| a.key == *key)
            .map_or(key.to_string(), |a| a.label.clone())
    }));
    let mut rows = vec![heading];
    for w in results.workloads.iter().filter(|w| w.threads == 1) {
        let mut row = vec![w.name.clone()];
        for key in &measured {
            let p = w
                .rows
                .iter()
                .find(|r| r.allocator == *key)
                .and_then(|r| r.latency);
            row.push(p.map_or("-".into(), |p| {
                format!("{:.0} / {:.0} / {:.0} / {:.0}", p.p50, p.p99, p.p999, p.max)
            }));
        }
        rows.push(row);
    }
    rows
}

/// The targets for stage 6, each with whether it is met.
pub fn targets(results: &Results) -> Vec<(String, bool)> {
    let row = |w: &WorkloadResult, key: &str| w.rows.iter().find(|r| r.allocator == key).cloned();
    let mut out = Vec::new();
    if !results.allocators.iter().any(|a| a.key == "stage6") {
        return out;
    }
    let mut worst_churn: Option<(f64, String)> = None;
    let mut worst: Option<(f64, String)> = None;
    let mut below_glibc = Vec::new();
    let mut real = Vec::new();
    for w in &results.workloads {
        let Some(six) = row(w, "stage6") else {
            continue;
        };
        if let Some(r) = six.ratio.filter(|_| six.complete()) {
            if w.name.starts_with("churn") && worst_churn.as_ref().is_none_or(|(x, _)| r > *x) {
                worst_churn = Some((r, w.name.clone()));
            }
            if worst.as_ref().is_none_or(|(x, _)| r > *x) {
                worst = Some((r, w.name.clone()));
            }
        }
        let glibc = row(w, "system").and_then(|r| r.utilization);
        if let (Some(u6), Some(ug)) = (six.utilization, glibc)
            && u6 < ug
        {
            below_glibc.push(format!("{} ({u6:.1}% < {ug:.1}%)", w.name));
        }
        if w.name.starts_with("real/")
            && let Some(u) = six.utilization
        {
            real.push(u);
        }
    }
    if let Some((r, name)) = worst_churn {
        out.push((
            format!("stage 6 time ≤ 1.00 × glibc on small-object churn: worst {r:.2} ({name})"),
            r <= 1.0,
        ));
    }
    if let Some((r, name)) = worst {
        out.push((
            format!("stage 6 time ≤ 1.30 × glibc on every workload: worst {r:.2} ({name})"),
            r <= 1.3,
        ));
    }
    out.push((
        if below_glibc.is_empty() {
            "stage 6 peak utilization ≥ glibc's on every workload".to_string()
        } else {
            format!(
                "stage 6 peak utilization ≥ glibc's on every workload: below on {}",
                below_glibc.join(", ")
            )
        },
        below_glibc.is_empty(),
    ));
    if !real.is_empty() {
        let mean = real.iter().sum::<f64>() / real.len() as f64;
        out.push((
            format!(
                "stage 6 mean peak utilization over the {} real-program traces ≥ 90%: {mean:.1}%",
                real.len()
            ),
            mean >= 90.0,
        ));
    }
    out
}

/// A count with thousands separated by commas: 1,000,064.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::bench::results::{AllocatorInfo, Machine, Row};

    /// A row of `key` with a median `ratio` and runs from `min` to `max`.
    fn row(key: &str, ratio: f64, min: f64, max: f64) -> Row {
        Row {
            allocator: key.to_string(),
            ns_per_op: Some(10.0 * ratio),
            ratio: Some(ratio),
            ratio_min: Some(min),
            ratio_max: Some(max),
            footprint: Some(1 << 20),
            footprint_at_least: false,
            utilization: Some(50.0),
            syscalls: Some(3),
            syscalls_exact: true,
            page_faults: 10,
            out_of_memory_at: None,
            latency: None,
            error: None,
        }
    }

    /// A run of glibc, stage 3 and stage 6 where stage 6 (the top) has
    /// `ratios` (median, fastest run) on the named workloads.
    fn results(ratios: &[(&str, f64, f64)]) -> Results {
        let allocators = ["system", "stage6", "stage3"]
            .map(|key| AllocatorInfo {
                key: key.to_string(),
                label: key.to_string(),
            })
            .to_vec();
        let workloads = ratios
            .iter()
            .map(|&(name, ratio, min)| WorkloadResult {
                name: name.to_string(),
                about: "A workload.".to_string(),
                threads: if name.starts_with("threads") { 2 } else { 1 },
                ops: 100,
                live_peak: 1000,
                rows: vec![
                    row("system", 1.0, 0.9, 1.1),
                    row("stage3", 9.0, 9.0, 9.0),
                    row("stage6", ratio, min, ratio + 0.1),
                ],
            })
            .collect();
        Results {
            command: "cargo workbook bench".to_string(),
            machine: Machine {
                cpu: "a CPU".to_string(),
                cpus: 2,
                kernel: "6".to_string(),
                glibc: "2.36".to_string(),
                mimalloc: "3".to_string(),
            },
            size: "full".to_string(),
            runs: 5,
            allocators,
            workloads,
            notes: Vec::new(),
            seconds: 1.0,
        }
    }

    #[test]
    fn a_sampled_footprint_reads_as_a_bound() {
        let r = results(&[("threads-churn", 1.0, 0.9)]);
        let mut glibc = r.workloads[0].rows[0].clone();
        glibc.footprint_at_least = true;
        let cells = cells(&r, &glibc);
        assert_eq!(cells[2], ">= 1.0 MiB");
        assert_eq!(cells[3], "<= 50.0%");
        let text = text(&r);
        assert!(text.contains("not measured on the multi-threaded workloads (threads-churn)"));
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_000_064), "1,000,064");
    }
}
