//! Misuse: a program that frees a block twice, frees a pointer malloc never
//! returned, or writes where it should not. From stage 8 on, each of these
//! stops the program with one line on stderr and SIGABRT.
//!
//! A misuse cannot be tried in the test process itself (it would abort it),
//! so each runs in a child: the test binary started again with the misuse's
//! name in `MISUSE`, where [`misuse_child!`](crate::misuse_child) does it.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use malloc_core::Malloc;

/// One misuse: its name, whether it needs the debug mode, and the words
/// the allocator's message must contain.
pub struct Misuse {
    /// The name `act` knows it by.
    pub name: &'static str,
    /// Only the debug mode (`check_every=1:perturb=1`) can see it.
    pub debug: bool,
    /// Words the one line on stderr must contain.
    pub message: &'static str,
}

/// Every misuse, with what stage 8's message says about it.
pub const MISUSES: &[Misuse] = &[
    Misuse {
        name: "double-free-small",
        debug: false,
        message: "free(0x",
    },
    Misuse {
        name: "double-free-large",
        debug: false,
        message: "the block was already freed",
    },
    Misuse {
        name: "double-free-after-a-merge",
        debug: false,
        message: "the block was already freed",
    },
    Misuse {
        name: "misaligned",
        debug: false,
        message: "not a pointer malloc returned (misaligned)",
    },
    Misuse {
        name: "interior",
        debug: false,
        message: "not the start of a block",
    },
    Misuse {
        name: "realloc-freed",
        debug: false,
        message: "realloc(0x",
    },
    Misuse {
        name: "header-overwritten",
        debug: false,
        message: "its header was overwritten",
    },
    Misuse {
        name: "write-after-free-into-a-link",
        debug: false,
        message: "a free-list link was overwritten",
    },
    Misuse {
        name: "debug-write-after-free",
        debug: true,
        message: "written after it was freed",
    },
    Misuse {
        name: "debug-overflow-into-a-free-header",
        debug: true,
        message: "heap check failed",
    },
    Misuse {
        name: "debug-overflow-into-guard-bytes",
        debug: true,
        message: "bytes after the block were overwritten",
    },
];

/// Does the misuse `which` on `heap` (in a child process). Returns only if
/// the allocator let it pass.
pub fn act(heap: &dyn Malloc, which: &str) {
    let small = heap.malloc(40);
    let large = heap.malloc(5000);
    // SAFETY: none: each arm breaks the contract on purpose, and the
    // allocator must stop the process before anything else happens.
    unsafe {
        large.write_bytes(0xaa, 5000);
        match which {
            "double-free-small" => {
                heap.free(small);
                heap.free(small);
            }
            "double-free-large" => {
                let _keep_off_the_top = heap.malloc(100);
                heap.free(large);
                heap.free(large);
            }
            "double-free-after-a-merge" => {
                // The second block merges into the first when freed: its
                // own header must still say it is free.
                let second = heap.malloc(5000);
                let _keep_off_the_top = heap.malloc(100);
                heap.free(large);
                heap.free(second);
                heap.free(second);
            }
            "misaligned" => heap.free(small.add(8)),
            "interior" => heap.free(large.add(1024)),
            "realloc-freed" => {
                heap.free(small);
                heap.realloc(small, 100);
            }
            "header-overwritten" => {
                small.sub(8).write_bytes(0xff, 8);
                heap.free(small);
            }
            "write-after-free-into-a-link" => {
                // Large blocks skip a thread cache: this one goes in a bin,
                // its link in its first payload word.
                let _keep_off_the_top = heap.malloc(100);
                heap.free(large);
                large.write_bytes(0x41, 8);
                heap.malloc(5000);
            }
            "debug-write-after-free" => {
                heap.free(small);
                small.add(20).write(1);
                heap.malloc(40);
            }
            "debug-overflow-into-a-free-header" => {
                let next = heap.malloc(40);
                heap.free(next);
                // Forty bytes fit; writing 64 runs over the next block's
                // header, which the heap check (at every call) notices.
                small.write_bytes(0x11, 64);
                heap.malloc(5);
            }
            "debug-overflow-into-guard-bytes" => {
                // Forty bytes asked for: the forty-first is a guard byte.
                small.add(40).write(0);
                heap.free(small);
            }
            other => panic!("unknown misuse {other}"),
        }
    }
}

/// How a child that tried a misuse ended.
#[derive(Debug)]
pub struct Outcome {
    /// The signal that ended it, if one did (SIGABRT: the allocator
    /// stopped it).
    pub signal: Option<i32>,
    /// The allocator's line on stderr, if it wrote one.
    pub message: Option<String>,
    /// The whole of stderr, for failure messages.
    pub stderr: String,
}

impl Outcome {
    /// Whether the allocator stopped the program with a message containing
    /// `words`.
    pub fn stopped_with(&self, words: &str) -> bool {
        self.signal == Some(libc::SIGABRT)
            && self.message.as_ref().is_some_and(|m| m.contains(words))
    }

    /// In words: "SIGABRT: workbook malloc: …", "exit 0", "SIGSEGV".
    pub fn describe(&self) -> String {
        match (self.signal, &self.message) {
            (Some(libc::SIGABRT), Some(message)) => format!("stopped: {message}"),
            (Some(libc::SIGKILL), _) => "still running after 10 s (killed)".to_string(),
            (Some(signal), _) => format!("killed by signal {signal}, no message"),
            (None, _) => "went on as if nothing happened".to_string(),
        }
    }
}

/// Runs the misuse `which` on stage `stage` in a child: this test binary
/// again, running only its `misuse_child` test.
pub fn try_in_child(stage: u32, which: &str) -> Outcome {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", "misuse_child", "--nocapture", "--test-threads=1"])
        .env("MISUSE", which)
        .env("MISUSE_STAGE", stage.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the test binary again");
    // A corrupted heap may loop forever: give it 10 seconds.
    let started = Instant::now();
    while child.try_wait().expect("waiting for the child").is_none() {
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("the child's output");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let message = stderr
        .lines()
        .find(|line| line.starts_with("workbook malloc:"))
        .map(str::to_string);
    Outcome {
        signal: out.status.signal(),
        message,
        stderr,
    }
}

/// The child side of [`try_in_child`]: a `#[test] fn misuse_child` that
/// does nothing unless `MISUSE` is set; then it makes stage
/// `MISUSE_STAGE`'s allocator with `$make(stage, debug)` (a
/// `Box<dyn Malloc>`), tries the misuse, and exits 0 if it was let pass.
#[macro_export]
macro_rules! misuse_child {
    ($make:expr) => {
        #[test]
        fn misuse_child() {
            let Ok(which) = std::env::var("MISUSE") else {
                return;
            };
            let stage: u32 = std::env::var("MISUSE_STAGE")
                .ok()
                .and_then(|s| s.parse().ok())
                .expect("MISUSE_STAGE");
            let debug = which.starts_with("debug-");
            let make: fn(u32, bool) -> Box<dyn $crate::malloc_core::Malloc> = $make;
            $crate::misuse::act(&*make(stage, debug), &which);
            // Reaching here means the misuse went unnoticed: exit 0 says so.
            std::process::exit(0);
        }
    };
}
