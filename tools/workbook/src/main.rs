//! The malloc workbook's command line.
//!
//! Run it as `cargo workbook` (an alias in `.cargo/config.toml`). With no
//! arguments it prints the course map; `replay` runs a trace on a stage and
//! on the system malloc and compares them; `run` runs a program on a stage.

mod bench;
mod book;
mod classes;
mod course;
mod exercise;
mod policies;
mod replay;
mod run;
mod stages;
mod table;
mod units;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The malloc workbook: build a real malloc in Rust, one idea per stage.
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
    /// Runs exercise N's checks (the conformance suite, the stage's lesson
    /// and rules, its own tests) on your code and says in words what
    /// failed, and which hole to look at.
    Check {
        /// The exercise (see `cargo workbook`).
        number: u32,
    },
    /// Shows the next hint for a hole of exercise N, one level at a time
    /// (the idea, the approach, nearly the code): for HOLE, else for the
    /// hole the last check pointed at, else for the first hole still open.
    Hint {
        /// The exercise (see `cargo workbook`).
        number: u32,
        /// The hole, by name (see the exercise's `todo!()`s).
        hole: Option<String>,
    },
    /// Checks the current exercise again each time you save a file in
    /// exercises/ (Ctrl-C to stop); moves on when it passes.
    Watch {
        /// The exercise to watch (default: the next one to do).
        number: Option<u32>,
    },
    /// Puts exercise N's holes back: restores the skeleton in its src/.
    Reset {
        /// The exercise (see `cargo workbook`).
        number: u32,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Shows the stage's code for exercise N's holes, once it passes.
    Solution {
        /// The exercise (see `cargo workbook`).
        number: u32,
        /// Shows it even if the exercise does not pass yet.
        #[arg(long)]
        force: bool,
    },
    /// Benchmarks every stage against glibc and mimalloc on the same
    /// workloads: time, footprint, utilization, system calls.
    Bench(bench::Args),
    /// Builds the course book (HTML, with search) into target/book and
    /// prints the path of its index.html.
    Book {
        /// Also opens it in the browser (xdg-open).
        #[arg(long)]
        open: bool,
    },
    /// Shows what changed from stage N-1 to stage N: a unified diff of
    /// their src/ folders, file by file (the exercise's holes masked).
    Diff {
        /// The stage (see `cargo workbook`).
        #[arg(value_parser = stages::parse_number)]
        stage: u32,
        /// A summary only: each file's lines added and removed.
        #[arg(long)]
        stat: bool,
        /// Shows the code of the exercise's holes too (the answers, as
        /// `cargo workbook solution N --force` does).
        #[arg(long)]
        with_holes: bool,
    },
    /// Runs a short trace on a stage (its frees too) and prints the heap map
    /// it leaves, with nothing more freed: the "then check" of the book's
    /// drills, e.g. `cargo workbook map book/drills/five-ops.rep --stage 1`.
    Map {
        /// The trace file (.rep), e.g. one of book/drills/.
        trace: PathBuf,
        /// The stage to run it on (see `cargo workbook`).
        #[arg(long, short, value_parser = stages::parse_number)]
        stage: u32,
        /// Also draws the heap as an SVG picture into FILE.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Runs the stage under another policy, e.g. `first-fit` or
        /// `first-fit,fifo` (see `cargo workbook policies`).
        #[arg(long, value_name = "NAMES")]
        policy: Option<String>,
    },
    /// Runs a trace on a stage op by op and prints how the heap changes
    /// after each op (the heap explorer's data; `--json` for the page's
    /// format), e.g. `cargo workbook explore book/drills/split.rep --stage 4`.
    Explore {
        /// The trace file (.rep); long traces are cut to their first ops.
        trace: PathBuf,
        /// The stage to run it on (see `cargo workbook`).
        #[arg(long, short, value_parser = stages::parse_number)]
        stage: u32,
        /// Prints JSON: each op, and the heap blocks that changed after it.
        #[arg(long)]
        json: bool,
    },
    /// Replays an allocation trace (.rep) on a stage and on the system
    /// malloc, and compares footprint, utilization, system calls and time.
    Replay {
        /// The trace file, in the malloc lab's .rep format (see traces/).
        trace: PathBuf,
        /// The stage to replay on (see `cargo workbook`).
        #[arg(long, short, value_parser = stages::parse_number)]
        stage: u32,
        /// Runs per allocator; the time shown is their median.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..))]
        runs: u16,
        /// Runs the stage under another policy: a fit (first-fit, best-fit,
        /// next-fit, worst-fit), a list order (lifo, fifo, address-ordered),
        /// merge or no-merge, e.g. `first-fit,fifo`; what is not named
        /// stays the stage's own choice.
        #[arg(long, value_name = "NAMES")]
        policy: Option<String>,
    },
    /// The policy lab: replays traces under every policy the stage can
    /// run (fit, list order, merging) and compares utilization, footprint,
    /// the longest free-list search and time in one table.
    Policies(policies::Args),
    /// Measures how much memory candidate size-class tables waste on the
    /// requests of recorded real programs (stage 7's bins, stage 9's caches).
    Classes {
        /// The folder of .rep traces to read.
        #[arg(default_value = "traces/real")]
        traces: PathBuf,
    },
    /// Runs a program on a stage through LD_PRELOAD, passing its exit
    /// status through: `cargo workbook run 3 -- python3 script.py`.
    Run {
        /// The stage to run on (see `cargo workbook`).
        #[arg(value_parser = stages::parse_number)]
        stage: u32,
        /// Prints the allocator's counters on stderr at exit (WORKBOOK_STATS=1).
        #[arg(long)]
        stats: bool,
        /// Records the program's allocations in FILE (.rep format).
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// The program and its arguments, after `--`.
        #[arg(last = true, value_name = "PROGRAM")]
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
    /// The command ran and the answer is no: an exercise fails, a
    /// confirmation was declined (exit 1; the output said why).
    Fail,
}

/// A bad value (no such stage, a size that is not a number) gets one line,
/// as every other bad input does; help, version and a missing argument
/// keep clap's full text, which shows the usage.
fn arguments_refused(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let text = error.render().to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: bad argument"));
            ExitCode::from(2)
        }
        _ => error.exit(),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return arguments_refused(error),
    };
    let result = match cli.command {
        None => {
            course::print_map();
            exercise::print_map(&exercise::root());
            Ok(())
        }
        Some(Command::Check { number }) => exercise::check::run(&exercise::root(), number),
        Some(Command::Hint { number, hole }) => {
            exercise::hint(&exercise::root(), number, hole.as_deref())
        }
        Some(Command::Watch { number }) => exercise::watch::run(&exercise::root(), number),
        Some(Command::Reset { number, yes }) => exercise::reset(&exercise::root(), number, yes),
        Some(Command::Solution { number, force }) => {
            exercise::solution(&exercise::root(), number, force)
        }
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Book { open }) => book::build(open),
        Some(Command::Diff {
            stage,
            stat,
            with_holes,
        }) => book::diff(stage, stat, with_holes),
        Some(Command::Map {
            trace,
            stage,
            svg,
            policy,
        }) => book::map(&trace, stage, svg.as_deref(), policy.as_deref()),
        Some(Command::Explore { trace, stage, json }) => book::explore(&trace, stage, json),
        Some(Command::Classes { traces }) => classes::run(&traces),
        Some(Command::Replay {
            trace,
            stage,
            runs,
            policy,
        }) => replay::run(&trace, stage, policy.as_deref(), usize::from(runs)),
        Some(Command::Policies(args)) => policies::run(args),
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
        Err(Failure::Fail) => ExitCode::from(1),
    }
}
