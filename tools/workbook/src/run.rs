//! `cargo workbook run STAGE [--stats] [--trace FILE] -- PROGRAM ARGS...`:
//! a real program on a stage, through `LD_PRELOAD`.
//!
//! It builds the stage's preload library (`tools/preload/stageN`) in the
//! `preload` profile (`panic = "abort"`), in a target directory of its own
//! (`target/preload`) so that it never waits for the lock of the `cargo run`
//! that started it, then runs the program with `LD_PRELOAD` set to the
//! library. The program's exit status is passed through (a signal becomes
//! 128 + its number, as in the shell).

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Failure::{self, Input, Usage};
use crate::stages::{self, Stage};

/// Runs the `run` command; on success it exits with the program's status.
pub fn run(
    stage_number: u32,
    stats: bool,
    trace: Option<PathBuf>,
    program: &[OsString],
) -> Result<(), Failure> {
    let Some((name, args)) = program.split_first() else {
        return Err(Usage(format!(
            "give the program to run after `--`, e.g. `cargo workbook run {stage_number} -- \
             python3 -c 'print(1)'`"
        )));
    };
    let trace = trace.map(|path| std::path::absolute(&path).unwrap_or(path));
    if let Some(path) = &trace {
        // Find out now, not after the program ran, that it cannot be written.
        std::fs::File::create(path)
            .map_err(|e| Input(format!("cannot write the trace to {}: {e}", path.display())))?;
    }
    let library = build_library(stages::get(stage_number))?;
    let mut command = Command::new(name);
    command.args(args).env("LD_PRELOAD", preload_list(&library));
    if stats {
        command.env("WORKBOOK_STATS", "1");
    }
    if let Some(path) = &trace {
        // Only the program itself records, not the processes it starts.
        command
            .env("WORKBOOK_TRACE", path)
            .env("WORKBOOK_TRACE_PARENT", std::process::id().to_string());
    }
    let status = command
        .status()
        .map_err(|e| Input(format!("cannot run {}: {e}", Path::new(name).display())))?;
    if let Some(path) = &trace {
        report_trace(path);
    }
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    };
    std::process::exit(code)
}

/// The workspace root (this crate is `tools/workbook`).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the preload libraries are built: `preload/` in the target
/// directory (`CARGO_TARGET_DIR`, or the workspace's `target/`).
fn preload_target_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    std::path::absolute(&target)
        .unwrap_or(target)
        .join("preload")
}

/// Builds the stage's library (`libworkbook_stageN.so`) and returns its
/// absolute path.
fn build_library(stage: &Stage) -> Result<PathBuf, Failure> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = preload_target_dir();
    let package = stage.preload_package();
    eprintln!("workbook: building {package} (profile preload)...");
    let output = Command::new(&cargo)
        .args([
            "build",
            "--quiet",
            "--profile",
            "preload",
            "--package",
            &package,
        ])
        .arg("--manifest-path")
        .arg(workspace().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .output()
        .map_err(|e| Input(format!("cannot run cargo: {e}")))?;
    if !output.status.success() {
        return Err(Input(format!(
            "building {package} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let library = target_dir.join("preload").join(stage.preload_file());
    eprintln!("workbook: running with LD_PRELOAD={}", library.display());
    Ok(library)
}

/// `LD_PRELOAD` with our library first, then whatever was preloaded already.
fn preload_list(library: &Path) -> OsString {
    let mut list = library.as_os_str().to_owned();
    if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|old| !old.is_empty()) {
        list.push(":");
        list.push(old);
    }
    list
}

/// Says how many ops the trace holds, or why it cannot be read.
fn report_trace(path: &Path) {
    let name = path.display();
    match std::fs::read_to_string(path) {
        Ok(text) => match malloc_trace::parse(&text) {
            Ok(trace) => eprintln!(
                "workbook: trace {name}: {} ops, {} ids",
                trace.ops.len(),
                trace.header.ids
            ),
            Err(e) => eprintln!("workbook: trace {name} does not parse: {e}"),
        },
        Err(e) => eprintln!("workbook: no trace written to {name}: {e}"),
    }
}
