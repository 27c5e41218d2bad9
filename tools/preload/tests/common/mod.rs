//! What the real-program tests share: building the preload libraries,
//! compiling C helpers, running a program with a time limit.

#![allow(dead_code)] // Each test file uses a part.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use workbook_manifest::STAGES;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A preload library: its stage number and the `.so`.
pub struct Library {
    pub stage: u32,
    pub path: PathBuf,
}

/// The allocators a program runs under: the system malloc (no preload), then
/// every stage.
pub enum Allocator {
    System,
    Stage(&'static Library),
}

impl Allocator {
    /// Every allocator, the system malloc first.
    pub fn all() -> Vec<Allocator> {
        let mut all = vec![Allocator::System];
        all.extend(libraries().iter().map(Allocator::Stage));
        all
    }

    /// "system" or "stage N".
    pub fn name(&self) -> String {
        match self {
            Allocator::System => "system".into(),
            Allocator::Stage(library) => format!("stage {}", library.stage),
        }
    }

    /// Sets up `command` to run under this allocator (and nothing else of
    /// ours: the WORKBOOK_* variables are removed).
    pub fn apply(&self, command: &mut Command) {
        for name in [
            "LD_PRELOAD",
            "WORKBOOK_STATS",
            "WORKBOOK_TRACE",
            "WORKBOOK_MALLOC",
        ] {
            command.env_remove(name);
        }
        if let Allocator::Stage(library) = self {
            command.env("LD_PRELOAD", &library.path);
        }
    }
}

/// Builds every stage's preload library once per test binary, with the
/// `preload` profile, in a target directory of its own (the `cargo test`
/// that runs us holds the lock of the usual one).
pub fn libraries() -> &'static [Library] {
    static LIBRARIES: OnceLock<Vec<Library>> = OnceLock::new();
    LIBRARIES.get_or_init(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("target"));
        let target = std::path::absolute(&target).unwrap().join("preload");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--quiet", "--profile", "preload"])
            .arg("--manifest-path")
            .arg(workspace().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target);
        // Every stage of the manifest (tests/every_stage.rs checks that each
        // has its crate).
        for stage in STAGES {
            build.arg("--package").arg(stage.preload_package());
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "building the preload libraries failed");
        STAGES
            .iter()
            .map(|stage| Library {
                stage: stage.number,
                path: target.join("preload").join(stage.preload_file()),
            })
            .collect()
    })
}

/// A fresh, empty directory for one test's files.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("preload-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Where `program` is on the PATH, if installed.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Compiles `source` (C) with `cc` into an executable in `dir`.
pub fn compile_c(dir: &Path, name: &str, source: &str) -> PathBuf {
    let c_file = dir.join(format!("{name}.c"));
    let exe = dir.join(name);
    std::fs::write(&c_file, source).unwrap();
    let out = Command::new("cc")
        .args(["-O1", "-fno-builtin", "-Wall", "-pthread", "-o"])
        .arg(&exe)
        .arg(&c_file)
        .output()
        .expect("cc runs");
    assert!(
        out.status.success(),
        "cc {name}.c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// What a program did.
#[derive(Debug)]
pub struct Outcome {
    /// None: killed after the time limit.
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

impl Outcome {
    /// The exit code, or "signal N", or "timed out".
    pub fn status_text(&self) -> String {
        use std::os::unix::process::ExitStatusExt;
        match self.status {
            None => "timed out".into(),
            Some(s) => match (s.code(), s.signal()) {
                (Some(code), _) => format!("exit {code}"),
                (_, Some(signal)) => format!("signal {signal}"),
                _ => "unknown".into(),
            },
        }
    }

    /// The last lines of stderr, for failure messages.
    pub fn stderr_tail(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

/// Runs `command` (stdin empty), killing it after `limit`.
pub fn run(command: &mut Command, limit: Duration) -> Outcome {
    use std::os::unix::process::CommandExt;
    let start = Instant::now();
    let mut child = command
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    // Read both pipes on threads, so a chatty program never blocks.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = out.read_to_end(&mut bytes);
        bytes
    });
    let err_reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = err.read_to_end(&mut bytes);
        bytes
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > limit {
            // The whole group: children of the program hold our pipes too.
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    Outcome {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
        elapsed,
    }
}
