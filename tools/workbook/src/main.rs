//! The malloc workbook's command line.
//!
//! Run it as `cargo workbook` (an alias in `.cargo/config.toml`). With no
//! arguments it prints the course map; `replay` runs a trace on a stage and
//! on the system malloc and compares them; `run` runs a program on a stage.

mod course;
mod replay;
mod run;
mod stages;
mod table;
mod units;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The malloc workbook: build a real malloc in six stages.
///
/// Without a command, prints the course map.
#[derive(Parser)]
#[command(name = "cargo workbook", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Replays an allocation trace (.rep) on a stage and on the system
    /// malloc, and compares footprint, utilization, system calls and time.
    Replay {
        /// The trace file, in the malloc lab's .rep format (see traces/).
        trace: PathBuf,
        /// The stage to replay on (1 to 6; see `cargo workbook`).
        #[arg(long, short)]
        stage: u32,
        /// Runs per allocator; the time shown is their median.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..))]
        runs: u16,
    },
    /// Runs a program on a stage through LD_PRELOAD, passing its exit
    /// status through: `cargo workbook run 3 -- python3 script.py`.
    Run {
        /// The stage to run on (see `cargo workbook`).
        stage: u32,
        /// Prints the allocator's counters on stderr at exit (WORKBOOK_STATS=1).
        #[arg(long)]
        stats: bool,
        /// Records the program's allocations in FILE (.rep format).
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// The program and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "PROGRAM")]
        program: Vec<OsString>,
    },
}

/// Why a command failed, and so which exit code it gives.
pub enum Failure {
    /// The command line asks for something that does not exist (exit 2, as
    /// clap's own usage errors).
    Usage(String),
    /// The input could not be used: a missing file, a bad trace (exit 1).
    Input(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => {
            course::print_map();
            Ok(())
        }
        Some(Command::Replay { trace, stage, runs }) => {
            replay::run(&trace, stage, usize::from(runs))
        }
        Some(Command::Run {
            stage,
            stats,
            trace,
            program,
        }) => run::run(stage, stats, trace, &program),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Input(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}
