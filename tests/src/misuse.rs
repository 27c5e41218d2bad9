//! Misuse: a program that frees a block twice, frees a pointer malloc never
//! returned, or writes where it should not. From stage 8 on, each of these
//! stops the program with one line on stderr and SIGABRT.
//!
//! A misuse cannot be tried in the test process itself (it would abort it),
//! so each runs in a child process: see [`try_in_child`].

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
        name: "write-after-free-pointer-into-a-link",
        debug: false,
        message: "a free-list link was overwritten",
    },
    Misuse {
        name: "debug-write-after-free",
        debug: true,
        message: "written after it was freed",
    },
    Misuse {
        name: "debug-overflow-into-the-next-header",
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
pub fn act<M: Malloc + ?Sized>(heap: &M, which: &str) {
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
            "write-after-free-pointer-into-a-link" => {
                // An attack: a use after free writes the address of a fake
                // free block (built inside a live block the attacker
                // controls) over a freed block's link, so that a later
                // malloc hands out memory the attacker chose. Plain links
                // would take it. Safe-linking decodes the address to a
                // misaligned one, unless bits 12 to 15 of the link's own
                // address are all zero: the freed block is one whose are
                // not.
                let mut victim = large;
                while (victim as usize >> 12) & 15 == 0 {
                    victim = heap.malloc(5000);
                }
                let _keep_off_the_top = heap.malloc(100);
                let host = heap.malloc(6000);
                heap.free(victim);
                let header = victim.sub(16);
                let fake = host;
                // A copy of the freed block's header (free, the same size),
                // linked as plain pointers: no next, back to the victim.
                core::ptr::copy_nonoverlapping(header, fake, 16);
                fake.cast::<usize>().write(header as usize);
                fake.add(16).cast::<usize>().write(0);
                victim.cast::<usize>().write(fake as usize);
                heap.malloc(5000);
                heap.malloc(5000);
            }
            "debug-write-after-free" => {
                heap.free(small);
                small.add(20).write(1);
                heap.malloc(40);
            }
            "debug-overflow-into-the-next-header" => {
                // Forty bytes fit (with the guard bytes, 48); writing 64
                // runs over the header of the next block (`large`), which
                // the heap check at the next call notices.
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

    /// In words: "stopped: workbook malloc: …", or what happened instead.
    pub fn describe(&self) -> String {
        match (self.signal, &self.message) {
            (Some(libc::SIGABRT), Some(message)) => format!("stopped: {message}"),
            (Some(libc::SIGKILL), _) => "still running after 10 s (killed)".to_string(),
            (Some(signal), _) => format!("killed by signal {signal}, no message"),
            (None, _) => "went on as if nothing happened".to_string(),
        }
    }
}

/// Runs the misuse `which` in a child process (a `fork` of this one) on the
/// allocator `make` returns there, and tells how the child ended. The
/// child's stderr comes back through a pipe; a child still running after
/// 10 seconds (a corrupted heap may loop forever) is killed.
pub fn try_in_child<M: Malloc + ?Sized>(make: impl FnOnce() -> Box<M>, which: &str) -> Outcome {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two descriptors to fill.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    let [read_end, write_end] = fds;
    // SAFETY: the child runs only the misuse and then `_exit`s: it takes no
    // lock another thread of this process could hold (the allocator is its
    // own, made in the child; messages are written with `write`).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: in the child: stderr becomes the pipe, then the misuse;
        // a panic (an open hole) is reported and ends the child too.
        unsafe {
            libc::dup2(write_end, 2);
            libc::close(read_end);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                act(&*make(), which);
            }));
            libc::_exit(if outcome.is_ok() { 0 } else { 101 });
        }
    }
    // SAFETY: the parent keeps only the read end.
    unsafe { libc::close(write_end) };
    let started = Instant::now();
    let mut stderr = Vec::new();
    let mut status = 0;
    loop {
        let mut poll = libc::pollfd {
            fd: read_end,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; waits at most 50 ms.
        if unsafe { libc::poll(&mut poll, 1, 50) } > 0 {
            let mut buffer = [0u8; 4096];
            // SAFETY: reading into a buffer of its own length.
            let n = unsafe { libc::read(read_end, buffer.as_mut_ptr().cast(), buffer.len()) };
            if n > 0 {
                stderr.extend_from_slice(&buffer[..n as usize]);
                continue;
            }
        }
        // SAFETY: `pid` is our child; WNOHANG does not block.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            break;
        }
        if started.elapsed() > Duration::from_secs(10) {
            // SAFETY: our child, killed and then reaped.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            break;
        }
    }
    // SAFETY: our descriptor, closed once.
    unsafe { libc::close(read_end) };
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    let message = stderr
        .lines()
        .find(|line| line.starts_with("workbook malloc:"))
        .map(str::to_string);
    Outcome {
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        message,
        stderr,
    }
}
