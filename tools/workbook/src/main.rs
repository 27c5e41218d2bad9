//! The malloc workbook's command line.
//!
//! Run it as `cargo workbook` (an alias in `.cargo/config.toml`). With no
//! arguments it prints the course map; `replay` runs a trace on a stage and
//! on the system malloc and compares them.

mod course;
mod replay;
mod stages;
mod table;
mod units;

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
