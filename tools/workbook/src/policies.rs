//! `cargo workbook policies TRACE... --stage N`: the policy lab. Every
//! policy the stage can run (fit, list order, merging: see
//! `malloc_core::policy`) replays every trace, and one table compares them.
//!
//! The measures are `replay`'s: each run is a fresh heap on a simulated
//! break, so peak utilization, peak footprint and the longest free-list
//! search are exact and the same from run to run; time is the median of
//! `--runs` timed runs, as a ratio to the stage's own policy on the same
//! trace (the policies take turns going first).

use std::io::IsTerminal;
use std::path::PathBuf;

use malloc_core::Policy;
use malloc_trace::{Replay, ReplayError, Trace, replay};
use serde::Serialize;

use crate::Failure::{self, Input, Usage};
use crate::replay::load;
use crate::stages;
use crate::table::table;
use crate::units::{bytes, median, percent};

/// The command line of `policies`.
#[derive(clap::Args)]
pub struct Args {
    /// The traces (.rep) to replay, e.g. `traces/*.rep traces/real/*.rep`.
    #[arg(required = true)]
    traces: Vec<PathBuf>,
    /// The stage whose policies to compare (one with policies to switch:
    /// see the error for others).
    #[arg(long, short, value_parser = stages::parse_number)]
    stage: u32,
    /// Timed runs per policy and trace; the time shown is their median.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    runs: u16,
    /// Measures no time: only the columns that are the same on every run
    /// (what the book shows).
    #[arg(long)]
    no_time: bool,
    /// Prints JSON instead of the table: one object per policy and trace.
    #[arg(long)]
    json: bool,
}

/// One policy on one trace.
#[derive(Serialize)]
struct Row {
    trace: String,
    policy: String,
    /// Whether this is the stage's own policy.
    own: bool,
    /// Peak live bytes / peak footprint, in percent.
    peak_utilization: Option<f64>,
    /// Bytes taken from the OS, at the peak.
    peak_footprint: usize,
    /// The most free blocks one search looked at.
    longest_search: usize,
    /// Median time per op, in ns (absent with `--no-time`).
    ns_per_op: Option<f64>,
    /// Time per op as a ratio to the stage's own policy on this trace.
    time_vs_own: Option<f64>,
}

/// Runs the `policies` command.
pub fn run(args: Args) -> Result<(), Failure> {
    let stage = stages::get(args.stage);
    let choices = all_stages::choices(stage.number)
        .ok_or_else(|| Usage(all_stages::no_choices(stage.number)))?;
    let policies: Vec<Policy> = choices.policies().collect();
    let traces = args
        .traces
        .iter()
        .map(|path| Ok((path.display().to_string(), load(path)?)))
        .collect::<Result<Vec<(String, Trace)>, Failure>>()?;
    let progress = std::io::stderr().is_terminal();
    let mut rows = Vec::new();
    for (i, (name, trace)) in traces.iter().enumerate() {
        if progress {
            eprint!(
                "\r\x1b[K{} policies on {name} ({}/{})",
                policies.len(),
                i + 1,
                traces.len()
            );
        }
        let bad_op = |e: ReplayError| Input(format!("{name}: {e}"));
        let on = |policy: Policy| {
            let heap = stages::simulated_with(stage, Some(policy));
            replay(&*heap, trace).map_err(bad_op)
        };
        let first: Vec<Replay> = policies.iter().map(|&p| on(p)).collect::<Result<_, _>>()?;
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); policies.len()];
        if !args.no_time {
            for round in 0..usize::from(args.runs) {
                // Take turns going first.
                for k in 0..policies.len() {
                    let at = (k + round) % policies.len();
                    times[at].push(on(policies[at])?.ns_per_op());
                }
            }
        }
        let medians: Vec<Option<f64>> = times
            .iter_mut()
            .map(|t| (!t.is_empty()).then(|| median(t)))
            .collect();
        for (k, (&policy, run)) in policies.iter().zip(&first).enumerate() {
            rows.push(Row {
                trace: name.clone(),
                policy: choices.name(policy).to_string(),
                own: k == 0,
                peak_utilization: run.utilization(),
                peak_footprint: run.footprint_peak(),
                longest_search: run.after.longest_search,
                ns_per_op: medians[k],
                time_vs_own: medians[k]
                    .zip(medians[0])
                    .filter(|&(_, own)| own > 0.0)
                    .map(|(t, own)| t / own),
            });
        }
    }
    if progress {
        eprint!("\r\x1b[K");
    }
    if args.json {
        let json = serde_json::to_string_pretty(&rows).map_err(|e| Input(e.to_string()))?;
        println!("{json}");
    } else {
        print_table(stage, &rows, policies.len(), traces.len(), &args);
    }
    Ok(())
}

/// Prints the table of every row, then each policy's summary.
fn print_table(stage: &stages::Stage, rows: &[Row], policies: usize, traces: usize, args: &Args) {
    println!(
        "{}: {policies} policies on {traces} trace{}",
        stage.label(),
        if traces == 1 { "" } else { "s" }
    );
    println!();
    let mut heading = vec![
        "trace".to_string(),
        "policy".to_string(),
        "peak util".to_string(),
        "peak footprint".to_string(),
        "longest search".to_string(),
    ];
    if !args.no_time {
        heading.push("time vs own".to_string());
    }
    let mut lines = vec![heading];
    for (i, row) in rows.iter().enumerate() {
        let first_of_trace = i == 0 || rows[i - 1].trace != row.trace;
        let mut line = vec![
            if first_of_trace {
                row.trace.clone()
            } else {
                String::new()
            },
            if row.own {
                format!("{} (own)", row.policy)
            } else {
                row.policy.clone()
            },
            percent(row.peak_utilization),
            bytes(row.peak_footprint),
            row.longest_search.to_string(),
        ];
        if !args.no_time {
            line.push(match row.time_vs_own {
                Some(ratio) => format!("{ratio:.2}x"),
                None => "-".to_string(),
            });
        }
        lines.push(line);
    }
    print!("{}", table(&lines, 2));
    println!();

    // Per policy, over the traces: the mean utilization, and on how many
    // traces it uses memory best (ties count for each).
    println!("Over the {traces} traces:");
    println!();
    let mut summary = vec![vec![
        "policy".to_string(),
        "mean peak util".to_string(),
        "best util on".to_string(),
        "longest search".to_string(),
    ]];
    for row in rows.iter().take(policies) {
        let own: Vec<&Row> = rows.iter().filter(|r| r.policy == row.policy).collect();
        let utils: Vec<f64> = own.iter().filter_map(|r| r.peak_utilization).collect();
        let mean = (!utils.is_empty()).then(|| utils.iter().sum::<f64>() / utils.len() as f64);
        let wins = own
            .iter()
            .filter(|r| {
                let best = rows
                    .iter()
                    .filter(|o| o.trace == r.trace)
                    .filter_map(|o| o.peak_utilization)
                    .fold(f64::MIN, f64::max);
                r.peak_utilization.is_some_and(|u| (u - best).abs() < 0.05)
            })
            .count();
        let longest = own.iter().map(|r| r.longest_search).max().unwrap_or(0);
        summary.push(vec![
            if row.own {
                format!("{} (own)", row.policy)
            } else {
                row.policy.clone()
            },
            percent(mean),
            format!("{wins} of {traces}"),
            longest.to_string(),
        ]);
    }
    print!("{}", table(&summary, 2));
    println!();
    let mut notes = vec![
        "Peak util: peak live bytes / peak footprint (bytes taken from the OS), as in `replay`; \
         best util on: traces where the policy is within 0.05 points of the best."
            .to_string(),
        "Longest search: the most free blocks one search of a free list looked at (a fit, or \
         an address-ordered insertion)."
            .to_string(),
    ];
    if !args.no_time {
        notes.push(format!(
            "Time vs own: median of {} run{} per policy, as a ratio to the stage's own policy \
             on the same trace (noisy: compare large differences only).",
            args.runs,
            if args.runs == 1 { "" } else { "s" }
        ));
    }
    for note in notes {
        println!("{}", crate::replay::wrap(&note, 78));
    }
}
