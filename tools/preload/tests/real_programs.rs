//! Real programs on every stage: each runs under the system malloc and under
//! every stage's preload library, and its output and exit status must be
//! the same. A program that is not installed is skipped, with a note.
//!
//! Inputs are sized so that stage 1, which never reuses memory, still runs
//! them comfortably.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Allocator, compile_c, run, scratch, which};

/// Longest one run may take before it counts as hung.
const LIMIT: Duration = Duration::from_secs(60);

/// One program to run: how to make its inputs once, and how to run it in a
/// fresh directory (given the inputs' directory).
struct Case {
    name: &'static str,
    /// Programs that must be installed.
    needs: &'static [&'static str],
    setup: fn(&Path),
    command: fn(inputs: &Path, work: &Path) -> Command,
    /// Files the program writes in `work` that must be equal too.
    outputs: &'static [&'static str],
}

/// Runs `case` under every allocator and compares each with the system
/// malloc. Prints one line per allocator with its time.
fn check(case: &Case) {
    for program in case.needs {
        if which(program).is_none() {
            println!("skipping {}: `{program}` is not installed", case.name);
            return;
        }
    }
    let root = scratch(case.name);
    let inputs = root.join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    (case.setup)(&inputs);

    let mut expected: Option<(String, Vec<u8>, Vec<Vec<u8>>)> = None;
    let mut failures = String::new();
    let mut report = format!("{}:", case.name);
    for allocator in Allocator::all() {
        let name = allocator.name();
        let work = root.join(name.replace(' ', ""));
        std::fs::create_dir_all(&work).unwrap();
        let mut command = (case.command)(&inputs, &work);
        command.current_dir(&work).env("LC_ALL", "C");
        allocator.apply(&mut command);
        let outcome = run(&mut command, LIMIT);
        let _ = write!(report, " {name} {:.2}s", outcome.elapsed.as_secs_f64());
        let files: Vec<Vec<u8>> = case
            .outputs
            .iter()
            .map(|file| std::fs::read(work.join(file)).unwrap_or_default())
            .collect();
        let got = (outcome.status_text(), outcome.stdout.clone(), files);
        match &expected {
            None => {
                assert_eq!(
                    got.0,
                    "exit 0",
                    "{} fails under the system malloc:\n{}",
                    case.name,
                    outcome.stderr_tail()
                );
                expected = Some(got);
            }
            Some(want) => {
                let mut wrong = Vec::new();
                if got.0 != want.0 {
                    wrong.push(format!("status {} (system: {})", got.0, want.0));
                }
                if got.1 != want.1 {
                    wrong.push(format!(
                        "stdout differs ({} bytes, system: {})",
                        got.1.len(),
                        want.1.len()
                    ));
                }
                for (i, file) in case.outputs.iter().enumerate() {
                    if got.2[i] != want.2[i] {
                        wrong.push(format!("{file} differs"));
                    }
                }
                if !wrong.is_empty() {
                    let _ = writeln!(
                        failures,
                        "{} on {name}: {}\n  stderr: {}",
                        case.name,
                        wrong.join(", "),
                        outcome.stderr_tail().replace('\n', "\n  ")
                    );
                }
            }
        }
    }
    println!("{report}");
    assert!(failures.is_empty(), "{failures}");
}

/// A command for `program` with `args`.
fn command(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
    let mut command = Command::new(program);
    command.args(args);
    command
}

/// The real python binary (pyenv and others put a shell script first on
/// the PATH).
fn python() -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 runs");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

const PYTHON_SCRIPT: &str = r#"
import threading

def numbers(seed, n):
    x = seed
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        yield x >> 33

big = list(numbers(1, 200_000))
big.sort()
print("sorted", len(big), big[0], big[-1], sum(big) % 1_000_003)

table = {f"key-{n}": [n] * (n % 7) for n in numbers(2, 50_000)}
print("dict", len(table), sum(len(v) for v in table.values()))

text = " ".join(str(n) for n in numbers(3, 30_000))
words = sorted(set(text.split()), key=lambda w: (len(w), w))
print("words", len(words), words[:3])

results = [0] * 4
def work(i):
    rows = [[j * i for j in range(200)] for _ in range(300)]
    results[i] = sum(map(sum, rows)) + len(bytes(10_000 * i))

threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("threads", results)
"#;

#[test]
fn python_sorts_lists_and_dicts_and_uses_threads() {
    check(&Case {
        name: "python3",
        needs: &["python3"],
        setup: |dir| std::fs::write(dir.join("script.py"), PYTHON_SCRIPT).unwrap(),
        command: |inputs, _| {
            let mut c = Command::new(python());
            c.arg(inputs.join("script.py"));
            c
        },
        outputs: &[],
    });
}

#[test]
fn sort_sorts_200_000_lines() {
    check(&Case {
        name: "sort",
        needs: &["sort"],
        setup: |dir| {
            let mut text = String::new();
            let mut x: u64 = 7;
            for i in 0..200_000 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let _ = writeln!(text, "{:x} line {i}", x >> 20);
            }
            std::fs::write(dir.join("lines.txt"), text).unwrap();
        },
        command: |inputs, _| {
            let mut c = Command::new("sort");
            c.arg(inputs.join("lines.txt"));
            c
        },
        outputs: &[],
    });
}

#[test]
fn ls_lists_a_tree() {
    check(&Case {
        name: "ls",
        needs: &["ls"],
        setup: |dir| {
            for a in 0..20 {
                for b in 0..10 {
                    let sub = dir.join(format!("tree/dir-{a}/sub-{b}"));
                    std::fs::create_dir_all(&sub).unwrap();
                    for f in 0..10 {
                        std::fs::write(sub.join(format!("file-{f}.txt")), "x".repeat(a * b * f))
                            .unwrap();
                    }
                }
            }
        },
        command: |inputs, _| {
            let mut c = command("ls", &["-lR", "--time-style=+"]);
            c.arg(inputs.join("tree"));
            c
        },
        outputs: &[],
    });
}

#[test]
fn gcc_compiles_a_c_file() {
    check(&Case {
        name: "gcc",
        needs: &["gcc"],
        setup: |dir| {
            let mut source = String::from("#include <stdio.h>\n#include <string.h>\n\n");
            for f in 0..60 {
                let _ = write!(
                    source,
                    "struct s{f} {{ int a[{n}]; double d; char name[32]; }};\n\
                     static int helper{f}(struct s{f} *s, int k) {{\n\
                     \tint total = 0;\n\
                     \tfor (int i = 0; i < {n}; i++) {{ s->a[i] = i * k + {f}; total += s->a[i] % 7; }}\n\
                     \tsnprintf(s->name, sizeof s->name, \"s%d-%d\", {f}, total);\n\
                     \treturn total + (int)strlen(s->name) + (int)s->d;\n\
                     }}\n\
                     int entry{f}(int k) {{ struct s{f} s = {{0}}; s.d = k * 0.5; return helper{f}(&s, k) + (k > 3 ? entry{g}(k - 1) : 0); }}\n\n",
                    n = f + 4,
                    g = (f + 1) % 60,
                );
            }
            std::fs::write(dir.join("program.c"), source).unwrap();
        },
        command: |inputs, _| {
            let mut c = command("gcc", &["-O2", "-c", "-o", "program.o"]);
            c.arg(inputs.join("program.c"));
            c
        },
        outputs: &["program.o"],
    });
}

#[test]
fn git_commits_and_logs() {
    check(&Case {
        name: "git",
        needs: &["git", "sh"],
        setup: |dir| {
            for i in 0..30 {
                let text: String = (0..200)
                    .map(|j| format!("line {j} of file {i}\n"))
                    .collect();
                std::fs::write(dir.join(format!("file{i}.txt")), text).unwrap();
            }
        },
        command: |inputs, work| {
            let script = "set -e
                cp -r \"$INPUTS\" repo && cd repo
                git init -q -b main .
                git add .
                git commit -q -m 'first commit'
                sed -i 's/line 7 /line seven /' file3.txt file9.txt
                rm file12.txt
                git commit -q -a -m 'second commit'
                git log --stat
                git diff HEAD~1 --stat
                git gc -q
                git count-objects -v | grep -v size
                git status --short";
            let mut c = command("sh", &["-c", script]);
            c.env("INPUTS", inputs)
                .env("HOME", work)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_NAME", "Ada Learner")
                .env("GIT_AUTHOR_EMAIL", "ada@example.org")
                .env("GIT_COMMITTER_NAME", "Ada Learner")
                .env("GIT_COMMITTER_EMAIL", "ada@example.org")
                .env("GIT_AUTHOR_DATE", "2024-01-01T12:00:00Z")
                .env("GIT_COMMITTER_DATE", "2024-01-01T12:00:00Z")
                .env("GIT_PAGER", "cat")
                .env("TZ", "UTC");
            c
        },
        outputs: &[],
    });
}

const FORK_THREADS: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Each thread mallocs, fills, checks and frees blocks of varied sizes
   while the main thread forks children that allocate too. */
static void *churn(void *arg) {
    long id = (long)arg;
    unsigned x = (unsigned)id * 2654435761u + 1;
    void *slots[64] = {0};
    long bad = 0;
    for (int i = 0; i < 40000; i++) {
        x = x * 1103515245u + 12345u;
        int s = (x >> 8) % 64;
        size_t size = (x >> 16) % 3000 + 1;
        if (slots[s]) {
            unsigned char *p = slots[s];
            if (p[0] != (unsigned char)s) bad++;
            free(p);
        }
        unsigned char *p = (x & 1) ? malloc(size) : calloc(1, size);
        if (!p) { bad++; continue; }
        memset(p, s, size);
        if (x & 2) {
            p = realloc(p, size * 2);
            if (!p) { bad++; slots[s] = NULL; continue; }
        }
        slots[s] = p;
    }
    for (int s = 0; s < 64; s++) free(slots[s]);
    return (void *)bad;
}

int main(void) {
    pthread_t threads[4];
    for (long i = 0; i < 4; i++) pthread_create(&threads[i], NULL, churn, (void *)i);
    int children_ok = 0;
    for (int c = 0; c < 20; c++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* The child: the allocator must work (its lock was not left held). */
            char *p = malloc(1000);
            char *q = strdup("child");
            pthread_t t;
            int ok = p && q && pthread_create(&t, NULL, churn, (void *)9L) == 0;
            void *bad = (void *)1;
            if (ok) pthread_join(t, &bad);
            free(p);
            free(q);
            _exit(ok && bad == 0 ? 0 : 1);
        }
        int status = 0;
        if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
            WEXITSTATUS(status) == 0)
            children_ok++;
    }
    long bad_total = 0;
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(threads[i], &bad);
        bad_total += (long)bad;
    }
    printf("children ok: %d of 20\nbad blocks: %ld\n", children_ok, bad_total);
    return children_ok == 20 && bad_total == 0 ? 0 : 1;
}
"#;

#[test]
fn a_c_program_forks_while_threads_allocate() {
    check(&Case {
        name: "fork-threads",
        needs: &["cc"],
        setup: |dir| {
            compile_c(dir, "fork_threads", FORK_THREADS);
        },
        command: |inputs, _| Command::new(inputs.join("fork_threads")),
        outputs: &[],
    });
}
