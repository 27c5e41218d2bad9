//! The reference the top stage is held to on the single-thread workloads:
//! stage 6's time ratios to glibc, frozen.
//!
//! They come from book/src/bench/results.json as committed in e04f1d2
//! ("Bench results re-measured on the final stage 6"), made by
//! `cargo workbook bench --book` (full size, 5 runs) on an
//! Intel(R) Xeon(R) Processor with 2 CPUs, glibc 2.36,
//! mimalloc 3.3.2. They are copied here, not read from the book,
//! so that remaking the book's results does not move the goalposts.
//! Ratios are rounded to three decimals.

/// Stage 6 on one workload, as measured for the book.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reference {
    /// The workload's name.
    pub workload: &'static str,
    /// Median time / glibc's median time.
    pub ratio: f64,
    /// The fastest of its runs / glibc's median.
    pub min: f64,
    /// The slowest of its runs / glibc's median.
    pub max: f64,
}

/// Stage 6's ratios, one per single-thread workload of the book's run.
pub const STAGE6: &[Reference] = &[
    Reference {
        workload: "churn-64",
        ratio: 0.925,
        min: 0.823,
        max: 1.481,
    },
    Reference {
        workload: "churn-10k",
        ratio: 1.103,
        min: 0.773,
        max: 1.311,
    },
    Reference {
        workload: "churn-100k",
        ratio: 1.029,
        min: 0.968,
        max: 1.646,
    },
    Reference {
        workload: "phase-change",
        ratio: 1.295,
        min: 1.225,
        max: 1.954,
    },
    Reference {
        workload: "realloc-growth",
        ratio: 0.734,
        min: 0.647,
        max: 0.934,
    },
    Reference {
        workload: "large-blocks",
        ratio: 1.007,
        min: 0.991,
        max: 1.310,
    },
    Reference {
        workload: "loop-256k",
        ratio: 1.390,
        min: 1.156,
        max: 1.753,
    },
    Reference {
        workload: "random-actions",
        ratio: 0.965,
        min: 0.890,
        max: 1.514,
    },
    Reference {
        workload: "real/bash-pipeline",
        ratio: 1.030,
        min: 0.965,
        max: 1.575,
    },
    Reference {
        workload: "real/gcc-cc1",
        ratio: 0.886,
        min: 0.816,
        max: 0.987,
    },
    Reference {
        workload: "real/git-add",
        ratio: 0.926,
        min: 0.884,
        max: 1.186,
    },
    Reference {
        workload: "real/python3-json",
        ratio: 1.006,
        min: 0.863,
        max: 1.188,
    },
    Reference {
        workload: "real/sort",
        ratio: 1.423,
        min: 1.352,
        max: 1.499,
    },
];

/// The reference for `workload`, if it has one.
pub fn find(workload: &str) -> Option<&'static Reference> {
    STAGE6.iter().find(|r| r.workload == workload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::workloads::{Size, made, real_traces};

    #[test]
    fn every_reference_is_a_single_thread_workload_of_the_bench() {
        let mut workloads = made(Size::Full);
        workloads.extend(real_traces(&crate::bench::root().join("traces/real")));
        for reference in STAGE6 {
            let workload = workloads
                .iter()
                .find(|w| w.name == reference.workload)
                .unwrap_or_else(|| panic!("{} is no workload", reference.workload));
            assert_eq!(workload.threads(), 1, "{}", reference.workload);
            assert!(reference.min <= reference.ratio && reference.ratio <= reference.max);
        }
        assert_eq!(find("churn-64").map(|r| r.ratio), Some(0.925));
        assert!(find("threads-churn").is_none());
    }
}
