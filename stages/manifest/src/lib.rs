//! The stages of the course, named once.
//!
//! [`STAGES`] is the one list of the course's stages: for each its number,
//! directory, names, allocator type, the memory sources it takes, its idea,
//! what it teaches and its lesson. Everything else that lists stages reads
//! it, or a test checks it against it.
//!
//! Read from here:
//! - `stages/all`: a fresh allocator of stage N (its test checks that it
//!   makes exactly the stages listed here);
//! - the `cargo workbook` CLI: the course map, the stage numbers it accepts
//!   and its one error wording ([`no_such_stage`]), `bench`'s stages;
//! - `tools/holes`: one exercise per stage (`EXERCISES`), also in its build
//!   script;
//! - `tools/book`: heap pictures, trace tables, lesson figures, the table
//!   of stages in the introduction and the README's course map;
//! - the preload tests (libraries to build) and the criterion benches.
//!
//! Checked against it by tests that say what is missing where:
//! - the root `Cargo.toml` (members, default members, dependencies) and
//!   the stage directories: `stages/manifest/tests/workspace.rs`;
//! - the preload crates: `tools/preload/tests/every_stage.rs`;
//! - the per-stage test files, lessons, fault and stress tests:
//!   `tests/tests/every_stage.rs`;
//! - the README's course map, the book's chapters and prose that counts
//!   the stages: `tools/book/tests/book.rs`;
//! - the committed benchmark results: `tools/workbook/tests/bench_results.rs`.
//!
//! Adding a stage: one entry here, then its crates (`stages/N-name`,
//! `tools/preload/stageN`, the exercise that `tools/holes` generates) and
//! one arm in `stages/all`; `cargo test` names every place still missing.
//!
//! Plain data and string functions with no dependencies, so that a build
//! script can use it too (as a build-dependency, or with `#[path]`).

/// Which memory sources a stage's constructor takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sources {
    /// A break only: `Type::with_source(brk)`.
    Break,
    /// A break, and pages for large blocks: `Type::with_sources(brk, pages)`.
    BreakAndPages,
}

/// One stage of the course.
#[derive(Debug)]
pub struct Stage {
    /// Its number, from 1, in course order.
    pub number: u32,
    /// Its directory under `stages/` (and its exercise's under
    /// `exercises/`): `1-bump`, always `{number}-{short_name}`.
    pub dir: &'static str,
    /// Its short name, as in its crate's name: `bump` for `stage1-bump`.
    pub short_name: &'static str,
    /// Its name in the course's words: `free-list reuse`.
    pub name: &'static str,
    /// The allocator type its crate exports: `Bump`.
    pub type_name: &'static str,
    /// The memory sources its constructor takes.
    pub sources: Sources,
    /// What it adds to the stage before, in one line.
    pub idea: &'static str,
    /// What a learner takes away from it, in one line.
    pub teaches: &'static str,
    /// What its lesson test proves, in one line.
    pub lesson: &'static str,
}

/// Every stage of the course, in order.
pub const STAGES: &[Stage] = &[
    Stage {
        number: 1,
        dir: "1-bump",
        short_name: "bump",
        name: "bump",
        type_name: "Bump",
        sources: Sources::Break,
        idea: "move the break with sbrk, align, grow in steps",
        teaches: "where heap memory comes from: the break, alignment, a header per block",
        lesson: "a Rust program and real C programs run on it",
    },
    Stage {
        number: 2,
        dir: "2-buckets",
        short_name: "buckets",
        name: "buckets",
        type_name: "Buckets",
        sources: Sources::Break,
        idea: "size classes 16/64/256/1024: blocks know their size",
        teaches: "rounding up to classes, so every block's size is known",
        lesson: "realloc inside a class moves nothing",
    },
    Stage {
        number: 3,
        dir: "3-freelist",
        short_name: "freelist",
        name: "free-list reuse",
        type_name: "FreeLists",
        sources: Sources::Break,
        idea: "free lists: memory handed back is used again",
        teaches: "reusing memory: the footprint stays flat under churn",
        lesson: "1,000,000 malloc/free pairs keep the footprint flat",
    },
    Stage {
        number: 4,
        dir: "4-split",
        short_name: "split",
        name: "bucket splitting",
        type_name: "Split",
        sources: Sources::Break,
        idea: "an empty class splits a bigger free block",
        teaches: "memory freed in one size can serve another",
        lesson: "freed 1024s serve 64s without new memory",
    },
    Stage {
        number: 5,
        dir: "5-mmap",
        short_name: "mmap",
        name: "mmap for large",
        type_name: "Mmap",
        sources: Sources::BreakAndPages,
        idea: "large blocks get their own mapping and go back to the OS",
        teaches: "giving big blocks back to the OS",
        lesson: "a freed 10 MiB block leaves the footprint",
    },
    Stage {
        number: 6,
        dir: "6-tuned",
        short_name: "tuned",
        name: "threshold tuning",
        type_name: "Tuned",
        sources: Sources::BreakAndPages,
        idea: "dynamic mmap threshold, trim, top pad, knobs from WORKBOOK_MALLOC",
        teaches: "choosing an allocator's knobs by measuring them",
        lesson: "10,000 × 256 KiB malloc+free make no syscall storm",
    },
    Stage {
        number: 7,
        dir: "7-merge",
        short_name: "merge",
        name: "merging",
        type_name: "Merge",
        sources: Sources::BreakAndPages,
        idea: "blocks cut to size from one heap; boundary tags; free neighbours merge",
        teaches: "free memory in one piece serves requests of any size",
        lesson: "free two neighbours, ask for their sum: no new memory",
    },
    Stage {
        number: 8,
        dir: "8-hardened",
        short_name: "hardened",
        name: "hardening",
        type_name: "Hardened",
        sources: Sources::BreakAndPages,
        idea: "misuse stops the program; safe-linked free lists; a debug mode",
        teaches: "catching a program's memory bugs where they happen",
        lesson: "each misuse stage 7 accepts is stopped",
    },
    Stage {
        number: 9,
        dir: "9-threads",
        short_name: "threads",
        name: "threads",
        type_name: "Threaded",
        sources: Sources::BreakAndPages,
        idea: "per-thread caches, a lock that sleeps, frees handed back without the lock",
        teaches: "many threads without a convoy on one lock",
        lesson: "the lock is taken far less than once per call, alone or across threads",
    },
];

impl Stage {
    /// Its package name: `stage1-bump`.
    pub fn package(&self) -> String {
        format!("stage{}-{}", self.number, self.short_name)
    }

    /// Its crate's name in code: `stage1_bump`.
    pub fn crate_name(&self) -> String {
        self.package().replace('-', "_")
    }

    /// Its crate's directory, from the workspace root: `stages/1-bump`.
    pub fn stage_dir(&self) -> String {
        format!("stages/{}", self.dir)
    }

    /// The package of its `LD_PRELOAD` library: `preload-stage1`.
    pub fn preload_package(&self) -> String {
        format!("preload-stage{}", self.number)
    }

    /// The directory of that package: `tools/preload/stage1`.
    pub fn preload_dir(&self) -> String {
        format!("tools/preload/stage{}", self.number)
    }

    /// The library's name (`[lib] name`): `workbook_stage1`.
    pub fn preload_library(&self) -> String {
        format!("workbook_stage{}", self.number)
    }

    /// The library's file: `libworkbook_stage1.so`.
    pub fn preload_file(&self) -> String {
        format!("lib{}.so", self.preload_library())
    }

    /// Its exercise's package name: `exercise1-bump`.
    pub fn exercise_package(&self) -> String {
        format!("exercise{}-{}", self.number, self.short_name)
    }

    /// Its exercise's crate name in code: `exercise1_bump`.
    pub fn exercise_crate(&self) -> String {
        self.exercise_package().replace('-', "_")
    }

    /// Its exercise's directory, from the workspace root: `exercises/1-bump`.
    pub fn exercise_dir(&self) -> String {
        format!("exercises/{}", self.dir)
    }

    /// Its book chapter, from the workspace root: `book/src/stage1.md`.
    pub fn chapter(&self) -> String {
        format!("book/src/stage{}.md", self.number)
    }

    /// How tables and reports name it: `stage 3 (free-list reuse)`.
    pub fn label(&self) -> String {
        format!("stage {} ({})", self.number, self.name)
    }
}

/// The stage numbered `number`, if there is one.
pub fn find(number: u32) -> Option<&'static Stage> {
    STAGES.iter().find(|stage| stage.number == number)
}

/// The stage numbers, as "1 to 6".
pub fn numbers() -> String {
    match (STAGES.first(), STAGES.last()) {
        (Some(first), Some(last)) => format!("{} to {}", first.number, last.number),
        _ => "none".to_string(),
    }
}

/// The error for a stage number that does not exist, in the one wording
/// every tool uses: "there is no stage 99; the stages are 1 to 6".
pub fn no_such_stage(number: u32) -> String {
    format!("there is no stage {number}; the stages are {}", numbers())
}

/// The same for an exercise (every stage has one, with its number):
/// "there is no exercise 99; the exercises are 1 to 6".
pub fn no_such_exercise(number: u32) -> String {
    format!(
        "there is no exercise {number}; the exercises are {}",
        numbers()
    )
}

/// How many stages there are, in words for prose: "six".
pub fn count_in_words() -> String {
    const WORDS: [&str; 13] = [
        "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve",
    ];
    WORDS
        .get(STAGES.len())
        .map_or_else(|| STAGES.len().to_string(), |word| word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_numbered_from_1_in_order() {
        for (i, stage) in STAGES.iter().enumerate() {
            assert_eq!(
                stage.number as usize,
                i + 1,
                "STAGES[{i}] is stage {}: the stages must be numbered 1, 2, 3… in order",
                stage.number
            );
        }
    }

    #[test]
    fn each_dir_is_number_dash_short_name() {
        for stage in STAGES {
            assert_eq!(
                stage.dir,
                format!("{}-{}", stage.number, stage.short_name),
                "stage {}: `dir` must be `{{number}}-{{short_name}}`, as its package `{}` is",
                stage.number,
                stage.package()
            );
        }
    }

    #[test]
    fn every_text_is_one_line_and_not_empty() {
        for stage in STAGES {
            let fields = [
                ("short_name", stage.short_name),
                ("name", stage.name),
                ("type_name", stage.type_name),
                ("idea", stage.idea),
                ("teaches", stage.teaches),
                ("lesson", stage.lesson),
            ];
            for (field, text) in fields {
                assert!(
                    !text.trim().is_empty() && !text.contains('\n') && !text.contains('|'),
                    "stage {}: `{field}` must be one line, not empty, with no `|` \
                     (it goes into Markdown tables): {text:?}",
                    stage.number
                );
            }
            assert!(
                stage
                    .short_name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                "stage {}: `short_name` {:?} goes into crate names: lowercase letters and digits only",
                stage.number,
                stage.short_name
            );
        }
    }

    #[test]
    fn derived_names() {
        let stage = find(3).expect("stage 3");
        assert_eq!(stage.package(), "stage3-freelist");
        assert_eq!(stage.crate_name(), "stage3_freelist");
        assert_eq!(stage.stage_dir(), "stages/3-freelist");
        assert_eq!(stage.preload_package(), "preload-stage3");
        assert_eq!(stage.preload_dir(), "tools/preload/stage3");
        assert_eq!(stage.preload_file(), "libworkbook_stage3.so");
        assert_eq!(stage.exercise_package(), "exercise3-freelist");
        assert_eq!(stage.exercise_crate(), "exercise3_freelist");
        assert_eq!(stage.exercise_dir(), "exercises/3-freelist");
        assert_eq!(stage.chapter(), "book/src/stage3.md");
        assert_eq!(stage.label(), "stage 3 (free-list reuse)");
    }

    #[test]
    fn no_such_stage_names_the_range() {
        let last = STAGES.last().expect("a stage").number;
        assert_eq!(
            no_such_stage(99),
            format!("there is no stage 99; the stages are 1 to {last}")
        );
        assert!(find(0).is_none() && find(last + 1).is_none());
    }
}
