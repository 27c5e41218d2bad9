//! The six exercises, one per stage, in one table.
//!
//! Plain data with no dependencies: the build script of the proofs reads it
//! too.

/// One exercise: a stage with holes.
pub struct Exercise {
    /// Its number, the same as its stage's.
    pub number: u32,
    /// Its short name, as in its stage's crate (`bump` for `stage1-bump`).
    pub name: &'static str,
    /// The directory of its stage under stages/, and its own under exercises/.
    pub dir: &'static str,
    /// The allocator type the stage exports.
    pub type_name: &'static str,
    /// How its checks make an allocator from `sources`
    /// (`conformance::exercise::Sources`), with `{ty}` for the type.
    pub make: &'static str,
}

/// Every exercise, in course order.
pub const EXERCISES: [Exercise; 6] = [
    Exercise {
        number: 1,
        name: "bump",
        dir: "1-bump",
        type_name: "Bump",
        make: "{ty}::with_source(sources.brk)",
    },
    Exercise {
        number: 2,
        name: "buckets",
        dir: "2-buckets",
        type_name: "Buckets",
        make: "{ty}::with_source(sources.brk)",
    },
    Exercise {
        number: 3,
        name: "freelist",
        dir: "3-freelist",
        type_name: "FreeLists",
        make: "{ty}::with_source(sources.brk)",
    },
    Exercise {
        number: 4,
        name: "split",
        dir: "4-split",
        type_name: "Split",
        make: "{ty}::with_source(sources.brk)",
    },
    Exercise {
        number: 5,
        name: "mmap",
        dir: "5-mmap",
        type_name: "Mmap",
        make: "{ty}::with_sources(sources.brk, sources.pages)",
    },
    Exercise {
        number: 6,
        name: "tuned",
        dir: "6-tuned",
        type_name: "Tuned",
        make: "{ty}::with_sources(sources.brk, sources.pages)",
    },
];

impl Exercise {
    /// The exercise's package name: `exercise1-bump`.
    pub fn package(&self) -> String {
        format!("exercise{}-{}", self.number, self.name)
    }

    /// The exercise's crate name in code: `exercise1_bump`.
    pub fn crate_name(&self) -> String {
        self.package().replace('-', "_")
    }

    /// The stage's crate name in code: `stage1_bump`.
    pub fn stage_crate(&self) -> String {
        format!("stage{}_{}", self.number, self.name)
    }

    /// The expression that makes the allocator, for a type path `ty`.
    pub fn make_with(&self, ty: &str) -> String {
        self.make.replace("{ty}", ty)
    }

    /// The book chapter to read before the exercise.
    pub fn chapter(&self) -> String {
        format!("book/src/stage{}.md", self.number)
    }
}

/// The exercise numbered `number`, if there is one.
pub fn find(number: u32) -> Option<&'static Exercise> {
    EXERCISES.iter().find(|exercise| exercise.number == number)
}
