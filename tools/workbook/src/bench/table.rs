//! The results as text: a table per workload for the terminal, the same as
//! Markdown for the book, and the targets checked against them.

use std::fmt::Write;

use super::reference;
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
    if let Some(targets) = targets(results) {
        let _ = writeln!(out, "Targets: {}", targets.intro);
        for (line, met) in &targets.lines {
            let _ = writeln!(out, "  [{}] {line}", if *met { "x" } else { " " });
        }
        out.push('\n');
    }
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
    if let Some(targets) = targets(results) {
        let _ = writeln!(out, "## Targets\n\n{}\n", targets.intro);
        for (line, met) in &targets.lines {
            let _ = writeln!(out, "- [{}] {line}", if *met { "x" } else { " " });
        }
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

/// The multi-threaded workloads the targets name.
const THREADED: [&str; 2] = ["threads-churn", "threads-handoff"];

/// The single-thread small-object churn the targets name.
const SMALL_CHURN: &str = "churn-64";

/// The targets for the top stage measured, and the sentence that says
/// what they are.
pub struct Targets {
    /// Which stage, what the targets are and where they come from.
    pub intro: String,
    /// Each target, with whether it is met.
    pub lines: Vec<(String, bool)>,
}

/// The top stage measured: the allocator with the highest stage number.
fn top_stage(results: &Results) -> Option<(u32, &str)> {
    results
        .allocators
        .iter()
        .filter_map(|a| Some((a.key.strip_prefix("stage")?.parse().ok()?, a.key.as_str())))
        .max()
}

/// The targets of the project's open issue on the top of the ladder (the
/// multi-threaded stage), checked on the top stage measured; `None` if no
/// stage was measured.
pub fn targets(results: &Results) -> Option<Targets> {
    let (n, key) = top_stage(results)?;
    let intro = format!(
        "From the project's open issue on the top of the ladder (a multi-threaded \
         allocator), checked on stage {n}, the top stage measured: at least glibc's speed on \
         both multi-threaded workloads and on small-object churn, and no single-thread \
         workload slower than stage 6 in the book's results (frozen in \
         tools/workbook/src/bench/reference.rs)."
    );
    let row = |name: &str| {
        let w = results.workloads.iter().find(|w| w.name == name)?;
        w.rows.iter().find(|r| r.allocator == key)
    };
    // A ratio, or why there is none.
    let ratio = |name: &str| -> Result<f64, &'static str> {
        let row = row(name).ok_or("not measured in this run")?;
        if row.error.is_some() {
            return Err("the run failed");
        }
        if row.out_of_memory_at.is_some() {
            return Err("out of memory");
        }
        row.ratio.ok_or("no time")
    };
    let at_most_glibc = |what: &str, name: &str| match ratio(name) {
        Ok(r) => (
            format!("stage {n} time ≤ 1.00 × glibc on {what}: {r:.2}"),
            r <= 1.0,
        ),
        Err(why) => (
            format!("stage {n} time ≤ 1.00 × glibc on {what}: {why}"),
            false,
        ),
    };
    let mut lines: Vec<(String, bool)> = THREADED
        .iter()
        .map(|name| at_most_glibc(name, name))
        .collect();
    lines.push(at_most_glibc(
        &format!("small-object churn ({SMALL_CHURN})"),
        SMALL_CHURN,
    ));

    // "Slower than the reference" = even the fastest run of the top stage
    // is slower than the slowest of stage 6's runs there: the two ranges
    // do not overlap. With 5 runs each and no real difference, that
    // happens by chance with probability 1/252 per workload (all 10 runs
    // ranked, the 5 new ones last), about 4% for one of the 11 workloads.
    // The stricter "median within the reference's range" failed stage 6
    // against its own reference in 2 of 3 full runs on the 2-CPU machine
    // the reference came from (realloc-growth 0.96 > 0.93, real/gcc-cc1
    // 1.32 > 0.99): its noise is larger than that.
    let mut compared = 0;
    let mut worse = Vec::new();
    for w in &results.workloads {
        let Some(reference) = reference::find(&w.name) else {
            continue;
        };
        compared += 1;
        let fastest =
            ratio(&w.name).and_then(|_| row(&w.name).and_then(|r| r.ratio_min).ok_or("no time"));
        match fastest {
            Ok(r) if r <= reference.max => {}
            Ok(r) => worse.push(format!(
                "{} (fastest {r:.2} > slowest {:.2})",
                w.name, reference.max
            )),
            Err(why) => worse.push(format!("{} ({why})", w.name)),
        }
    }
    let quick = if results.size == "quick" {
        "; the reference is a full run, so a quick run only hints"
    } else {
        ""
    };
    let what = format!(
        "stage {n} no slower than the book's stage 6 on any single-thread workload (slower: \
         even its fastest run slower than stage 6's slowest there{quick})"
    );
    lines.push(if compared == 0 {
        (format!("{what}: not measured in this run"), false)
    } else if worse.is_empty() {
        (format!("{what}: none of {compared} slower"), true)
    } else {
        (format!("{what}: slower on {}", worse.join(", ")), false)
    });
    Some(Targets { intro, lines })
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
    fn targets_are_about_the_top_stage() {
        let r = results(&[
            ("threads-churn", 0.9, 0.8),
            ("threads-handoff", 1.2, 1.1),
            ("churn-64", 1.0, 0.9),
            // The reference's slowest run is 1.499 on real/sort.
            ("real/sort", 2.0, 1.6),
            ("real/gcc-cc1", 1.2, 0.9),
        ]);
        let targets = targets(&r).unwrap();
        assert!(targets.intro.contains("stage 6, the top stage"));
        assert!(targets.intro.contains("open issue"));
        let met: Vec<bool> = targets.lines.iter().map(|(_, met)| *met).collect();
        assert_eq!(met, [true, false, true, false], "{:#?}", targets.lines);
        let last = &targets.lines[3].0;
        assert!(
            last.contains("real/sort (fastest 1.60 > slowest 1.50)"),
            "{last}"
        );
        assert!(!last.contains("gcc-cc1"), "{last}");
    }

    #[test]
    fn targets_say_what_was_not_measured() {
        let r = results(&[("churn-10k", 1.0, 0.9)]);
        let targets = targets(&r).unwrap();
        let lines: Vec<&str> = targets.lines.iter().map(|(l, _)| l.as_str()).collect();
        assert!(lines[0].ends_with("threads-churn: not measured in this run"));
        assert!(lines[2].ends_with("(churn-64): not measured in this run"));
        assert!(lines[3].ends_with("none of 1 slower"), "{}", lines[3]);
        let mut no_stage = r.clone();
        no_stage.allocators.retain(|a| !a.key.starts_with("stage"));
        assert!(super::targets(&no_stage).is_none());
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
