//! The exercises are sound: each hole is tested, each stage passes its
//! exercise's checks, every wrong answer of tools/holes/answers is
//! rejected with a message naming the property it breaks, every right
//! answer in another style passes, and forwarding to the system malloc
//! does not pass.
//!
//! The variants come from build.rs: for every hole of every stage, the stage
//! with only that hole open (a `todo!()`), the stage with every hole open
//! (the exercise as a learner first gets it), the stage with one hole
//! filled by each wrong answer, and the stage filled by each right answer.
//! The filled exercise is the stage itself (tests/drift.rs proves that
//! filling the holes gives back the stage byte for byte), so "passes
//! filled" runs the checks on the stage. Open holes run with fewer random
//! cases than a learner's (`Effort::Quick`) to keep this fast; answers run
//! the learner's full checks.
//!
//! A wrong answer may crash instead of failing (a broken free list can
//! send the allocator anywhere), which would end this whole test binary:
//! so each one runs in a child process, this binary again with one test.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use conformance::exercise::{Boxed as Dyn, Effort, NAMES, Sources, run};
use holes::{EXERCISES, answers, hole};
use malloc_core::{HeapError, Malloc, SourceStats, Stats, SystemMalloc, Tally};

include!(concat!(env!("OUT_DIR"), "/variants.rs"));

/// Progress on the terminal even when the test harness captures output.
fn progress(line: &str) {
    let _ = writeln!(std::io::stderr(), "    {line}");
}

/// Asserts that some check fails on the allocators `make` builds.
fn fails(exercise: u32, open: &str, make: fn(Sources) -> Dyn) {
    let start = Instant::now();
    for name in NAMES {
        if let Err(problem) = run(exercise, name, make, Effort::Quick) {
            let first = problem.lines().next().unwrap_or("");
            progress(&format!(
                "exercise {exercise} with {open} open: `{name}` fails ({:.1?}): {first}",
                start.elapsed()
            ));
            return;
        }
    }
    panic!("exercise {exercise} with {open} open passes every check: no check reaches that hole");
}

/// Asserts that every check passes on the allocators `make` builds.
fn passes(exercise: u32, make: fn(Sources) -> Dyn) {
    let start = Instant::now();
    for name in NAMES {
        if let Err(problem) = run(exercise, name, make, Effort::Quick) {
            panic!("exercise {exercise} filled with the stage's code fails `{name}`:\n{problem}");
        }
    }
    progress(&format!(
        "exercise {exercise} filled: every check passes ({:.1?})",
        start.elapsed()
    ));
}

/// Asserts that a right answer in another style passes every check, with
/// a learner's full effort.
fn accepted(exercise: u32, answer: &str, make: fn(Sources) -> Dyn) {
    let start = Instant::now();
    for name in NAMES {
        let check_start = Instant::now();
        // A right answer may be slower than the stage (the FIFO list walks
        // to its tail on every push); `threads` at full effort then takes
        // a minute for nothing more: its races show at quick effort too.
        let effort = if name == "threads" {
            Effort::Quick
        } else {
            Effort::Full
        };
        let result = run(exercise, name, make, effort);
        if check_start.elapsed() > Duration::from_secs(2) {
            progress(&format!(
                "exercise {exercise}, right answer {answer}: `{name}` took {:.1?}",
                check_start.elapsed()
            ));
        }
        if let Err(problem) = result {
            panic!(
                "exercise {exercise}'s right answer `{answer}` (tools/holes/answers) fails \
                 `{name}`: either the answer is wrong, or the check judges more than behaviour\n\
                 {problem}"
            );
        }
    }
    progress(&format!(
        "exercise {exercise}, right answer {answer}: every check passes ({:.1?})",
        start.elapsed()
    ));
}

/// Set in the child process that runs one wrong answer.
const CHILD: &str = "HOLES_PROOF_CHILD";

/// How long a wrong answer may run before it counts as hanging.
const PATIENCE: Duration = Duration::from_secs(60);

/// Asserts that check `check` rejects the wrong answer `answer` to `hole`
/// with a message that contains `saying`. Runs the check in a child
/// process (this binary, running only `test`), so that a crash is a
/// verdict too, not the end of every proof.
fn rejected(
    test: &str,
    exercise: u32,
    hole: &str,
    answer: &str,
    check: &str,
    saying: &str,
    make: fn(Sources) -> Dyn,
) {
    assert!(
        NAMES.contains(&check),
        "tools/holes/answers: wrong answer `{answer}` of exercise {exercise} is rejected by \
         `{check}`, which is not a check (see conformance::exercise::NAMES)"
    );
    if std::env::var_os(CHILD).is_some() {
        let verdict = match run(exercise, check, make, Effort::Full) {
            Ok(()) => "passed".to_string(),
            Err(problem) => format!("failed\n{problem}"),
        };
        println!("VERDICT {verdict}\nVERDICT END");
        return;
    }
    let start = Instant::now();
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("RUST_BACKTRACE", "0")
        // The same random sequences every run: a proof does not flicker.
        .env("PROPTEST_RNG_SEED", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test binary runs");
    // Read both pipes while the child runs: a full pipe would stop it.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out_pipe.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err_pipe.read_to_string(&mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break Some(status);
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let what = format!("exercise {exercise}, hole `{hole}`, wrong answer `{answer}`");
    let Some(status) = status else {
        panic!("{what}: `{check}` still runs after {PATIENCE:?}: a hang is no message");
    };
    let verdict = stdout
        .split_once("VERDICT ")
        .and_then(|(_, rest)| rest.split_once("\nVERDICT END"))
        .map(|(verdict, _)| verdict.to_string());
    let Some(verdict) = verdict else {
        panic!(
            "{what}: `{check}` crashed ({status}) instead of failing with a message: make a \
             check catch it first\nstderr:\n{stderr}"
        );
    };
    let Some(problem) = verdict.strip_prefix("failed\n") else {
        panic!("{what}: `{check}` passes: strengthen the checks, or change the answer's check");
    };
    assert!(
        problem.contains(saying),
        "{what}: `{check}` fails, but its message does not say \"{saying}\":\n{problem}"
    );
    let first = problem.lines().next().unwrap_or("");
    progress(&format!(
        "{what}: `{check}` rejects it ({:.1?}): {first}",
        start.elapsed()
    ));
}

/// The answers of every exercise, as tools/holes/answers holds them.
fn all_answers() -> Vec<answers::Answer> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut all = Vec::new();
    for exercise in EXERCISES {
        let path = root
            .join("tools/holes/answers")
            .join(format!("{}.md", exercise.dir));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}: every exercise has its answers", path.display()));
        all.extend(answers::parse(&path.display().to_string(), &text).unwrap());
    }
    all
}

/// Every hole has at least two wrong answers (each proven rejected by its
/// own test above), and every exercise at least one right answer in
/// another style. Prints the count: holes × wrong answers.
#[test]
fn every_hole_has_wrong_answers_and_every_exercise_a_right_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let all = all_answers();
    let mut problems = Vec::new();
    let (mut holes, mut wrong) = (0, 0);
    for exercise in EXERCISES {
        let src = root.join("stages").join(exercise.dir).join("src");
        for (_, text) in holes::generate::read_dir(&src).unwrap() {
            for found in hole::find(&text).unwrap() {
                holes += 1;
                let count = all
                    .iter()
                    .filter(|a| a.exercise == exercise.number && a.is_wrong())
                    .filter(|a| a.hole() == found.name)
                    .count();
                wrong += count;
                if count < 2 {
                    problems.push(format!(
                        "exercise {}: hole `{}` has {count} wrong answers in \
                         tools/holes/answers/{}.md: write at least 2",
                        exercise.number, found.name, exercise.dir
                    ));
                }
            }
        }
        if !all
            .iter()
            .any(|a| a.exercise == exercise.number && !a.is_wrong())
        {
            problems.push(format!(
                "exercise {}: no right answer in another style in tools/holes/answers/{}.md",
                exercise.number, exercise.dir
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let right = all.iter().filter(|a| !a.is_wrong()).count();
    progress(&format!(
        "{holes} holes, {wrong} wrong answers (each rejected by its own test), \
         {right} right answers in another style"
    ));
}

/// Every wrong answer the book names as failing is one of the wrong
/// answers above, so its own test proves that it fails. The book marks each
/// one where it names it: `<!-- wrong answer: N HOLE NAME -->`.
#[test]
fn every_wrong_answer_the_book_names_is_proven_rejected() {
    fn markdown(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                markdown(&path, found);
            } else if path.extension().is_some_and(|e| e == "md") {
                found.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    markdown(&root.join("book/src"), &mut files);
    let all = all_answers();
    let mut named = 0;
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (at, line) in text.lines().enumerate() {
            let Some(rest) = line.trim().strip_prefix("<!-- wrong answer: ") else {
                continue;
            };
            let words: Vec<&str> = rest.trim_end_matches("-->").split_whitespace().collect();
            let found = match words.as_slice() {
                [n, hole, name] => all.iter().any(|a| {
                    a.is_wrong()
                        && a.exercise.to_string() == *n
                        && a.hole() == *hole
                        && a.name == *name
                }),
                _ => false,
            };
            named += 1;
            if !found {
                problems.push(format!(
                    "{}:{}: `{}` names no wrong answer of tools/holes/answers (expected \
                     `<!-- wrong answer: N HOLE NAME -->`)",
                    file.display(),
                    at + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        named > 0,
        "the book names no wrong answer: the marks are gone"
    );
}

/// What a careless fix might write: every call handed to the system malloc,
/// with honest-looking stats. It passes the differential test (it *is* the
/// reference), so the exercise checks must catch it some other way.
struct Forward {
    _sources: Sources,
    blocks: Mutex<(Tally, HashMap<usize, usize>)>,
}

fn forward(sources: Sources) -> Forward {
    Forward {
        _sources: sources,
        blocks: Mutex::new((Tally::new(), HashMap::new())),
    }
}

impl Forward {
    fn handed_out(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        if !ptr.is_null() {
            let mut blocks = self.blocks.lock().unwrap();
            blocks.0.malloc(size);
            blocks.1.insert(ptr as usize, size);
        }
        ptr
    }

    fn taken_back(&self, ptr: *mut u8) {
        let mut blocks = self.blocks.lock().unwrap();
        if let Some(size) = blocks.1.remove(&(ptr as usize)) {
            blocks.0.free(size);
        }
    }
}

// SAFETY: every block comes from the system malloc, which keeps the promises.
unsafe impl Malloc for Forward {
    fn malloc(&self, size: usize) -> *mut u8 {
        self.handed_out(SystemMalloc.malloc(size), size)
    }

    unsafe fn free(&self, ptr: *mut u8) {
        self.taken_back(ptr);
        // SAFETY: the caller passes a live block, which is the system's.
        unsafe { SystemMalloc.free(ptr) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        self.taken_back(ptr);
        // SAFETY: the caller passes a live block, which is the system's.
        let new = unsafe { SystemMalloc.realloc(ptr, size) };
        self.handed_out(new, size)
    }

    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        self.handed_out(SystemMalloc.memalign(align, size), size)
    }

    unsafe fn usable_size(&self, ptr: *mut u8) -> usize {
        // SAFETY: the caller passes a live block, which is the system's.
        unsafe { SystemMalloc.usable_size(ptr) }
    }

    fn stats(&self) -> Stats {
        let blocks = self.blocks.lock().unwrap();
        blocks.0.stats(SourceStats::new(), SourceStats::new())
    }

    fn check(&self) -> Result<(), HeapError> {
        Ok(())
    }

    fn heap_map(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        writeln!(out, "(everything is in the system malloc)")
    }
}

#[test]
fn forwarding_to_the_system_malloc_fails() {
    // The danger: the differential test alone cannot see it.
    run(1, "differential", forward, Effort::Quick).expect("forwarding passes the differential");
    for exercise in EXERCISES.iter().map(|exercise| exercise.number) {
        let result = run(exercise, "memory_from_the_source", forward, Effort::Quick);
        assert!(
            result.is_err(),
            "exercise {exercise}: forwarding to the system malloc passes `memory_from_the_source`"
        );
    }
}
