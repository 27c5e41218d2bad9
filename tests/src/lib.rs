//! The conformance suite of the malloc workbook: one set of checks, run over
//! every stage and every exercise.
//!
//! Every check is a plain generic function over [`Malloc`](malloc_core::Malloc)
//! that returns what went wrong in words, so that the same function serves a
//! `#[test]`, a mutant test (which expects it to fail), and the workbook CLI.
//! The [`suite!`] macro turns them into one `#[test]` per check for an
//! allocator:
//!
//! ```ignore
//! conformance::suite!(stage1_sim, || stage1_bump::Bump::with_source(malloc_core::SimBreak::new()));
//! ```
//!
//! - [`edge`]: the corner cases of the C API (`malloc(0)`, `realloc(p, 0)`,
//!   calloc overflow, alignments, huge requests...).
//! - [`differential`]: random sequences against the system malloc, shrunk to
//!   a minimal `.rep` trace on failure.
//! - [`threads`]: many threads through the `GlobalAlloc` adapter.
//! - [`global`]: a stage as a test program's `#[global_allocator]`.
//! - [`mutants`]: broken allocators the suite must reject.
//! - [`lessons`]: each stage's idea, as a check its predecessor fails.
//! - [`misuse`]: double frees and stray writes, tried in child processes.
//! - [`exercise`]: the checks a learner's exercise crate runs.
//! - [`rules`]: each stage's own rules, seen from outside (part of the
//!   exercise checks).
//! - [`faults`]: running out of memory; the fixed sequence of the heap
//!   map snapshots.
//! - [`fill`]: the fill patterns the checks rely on; [`ops`]: the random
//!   operations.

pub mod differential;
pub mod edge;
pub mod exercise;
pub mod faults;
pub mod fill;
pub mod global;
pub mod lessons;
pub mod misuse;
pub mod mutants;
pub mod ops;
pub mod rules;
pub mod threads;

// The macro names the core crate through this, so that a crate using
// `suite!` needs no extra dependency.
#[doc(hidden)]
pub use malloc_core;

/// Turns a check's result into a test verdict: panics with the message.
pub fn pass(result: Result<(), String>) {
    if let Err(problem) = result {
        panic!("{problem}");
    }
}

/// The suite's single-threaded checks (every edge case, then the
/// differential test with `config`) on allocators from `make`: what the
/// policy lab's variants of a stage run, each under its own policy (see
/// tests/tests/policies.rs). The error names the first check that failed.
pub fn variant<M: malloc_core::Malloc>(
    make: impl Fn() -> M,
    config: differential::Config,
) -> Result<(), String> {
    type Check<M> = fn(&M) -> Result<(), String>;
    let checks: [(&str, Check<M>); 12] = [
        ("malloc_zero", edge::malloc_zero),
        ("free_null", edge::free_null),
        ("realloc_null", edge::realloc_null),
        ("realloc_to_zero", edge::realloc_to_zero),
        ("realloc_keeps_data", edge::realloc_keeps_data),
        ("calloc_zeroes", edge::calloc_zeroes),
        ("calloc_zeroes_reused", edge::calloc_zeroes_reused),
        ("calloc_overflow", edge::calloc_overflow),
        ("memalign_every_power", edge::memalign_every_power),
        (
            "memalign_rejects_bad_alignment",
            edge::memalign_rejects_bad_alignment,
        ),
        ("huge_requests_fail", edge::huge_requests_fail),
        (
            "usable_size_covers_request",
            edge::usable_size_covers_request,
        ),
    ];
    for (name, check) in checks {
        check(&make()).map_err(|e| format!("{name}: {e}"))?;
    }
    differential::differential(make, config).map_err(|e| format!("differential: {e}"))
}

/// Instantiates the whole suite for one allocator: `suite!(name, make)`
/// expands to `mod name { ... }` with one `#[test]` per check. `make` is a
/// closure that returns a fresh allocator; each test calls it. Attributes
/// before the name go on every test (Miri cannot run the real sources):
///
/// ```ignore
/// conformance::suite!(stage1_sim, || stage1_bump::Bump::with_source(malloc_core::SimBreak::new()));
/// conformance::suite!(
///     #[cfg_attr(miri, ignore = "the real break: Miri cannot run sbrk")]
///     stage1_real,
///     || stage1_bump::Bump::new()
/// );
/// ```
#[macro_export]
macro_rules! suite {
    ($(#[$attr:meta])* $name:ident, $make:expr) => {
        mod $name {
            // `make` may name what the calling file imported.
            #[allow(unused_imports)]
            use super::*;

            fn make() -> impl $crate::malloc_core::Malloc {
                ($make)()
            }

            #[test]
            $(#[$attr])*
            fn malloc_zero() {
                $crate::pass($crate::edge::malloc_zero(&make()));
            }
            #[test]
            $(#[$attr])*
            fn free_null() {
                $crate::pass($crate::edge::free_null(&make()));
            }
            #[test]
            $(#[$attr])*
            fn realloc_null() {
                $crate::pass($crate::edge::realloc_null(&make()));
            }
            #[test]
            $(#[$attr])*
            fn realloc_to_zero() {
                $crate::pass($crate::edge::realloc_to_zero(&make()));
            }
            #[test]
            $(#[$attr])*
            fn realloc_keeps_data() {
                $crate::pass($crate::edge::realloc_keeps_data(&make()));
            }
            #[test]
            $(#[$attr])*
            fn calloc_zeroes() {
                $crate::pass($crate::edge::calloc_zeroes(&make()));
            }
            #[test]
            $(#[$attr])*
            fn calloc_zeroes_reused() {
                $crate::pass($crate::edge::calloc_zeroes_reused(&make()));
            }
            #[test]
            $(#[$attr])*
            fn calloc_overflow() {
                $crate::pass($crate::edge::calloc_overflow(&make()));
            }
            #[test]
            $(#[$attr])*
            fn memalign_every_power() {
                $crate::pass($crate::edge::memalign_every_power(&make()));
            }
            #[test]
            $(#[$attr])*
            fn memalign_rejects_bad_alignment() {
                $crate::pass($crate::edge::memalign_rejects_bad_alignment(&make()));
            }
            #[test]
            $(#[$attr])*
            fn huge_requests_fail() {
                $crate::pass($crate::edge::huge_requests_fail(&make()));
            }
            #[test]
            $(#[$attr])*
            fn usable_size_covers_request() {
                $crate::pass($crate::edge::usable_size_covers_request(&make()));
            }
            #[test]
            $(#[$attr])*
            fn differential() {
                $crate::pass($crate::differential::differential(
                    make,
                    $crate::differential::Config::from_env(),
                ));
            }
            #[test]
            $(#[$attr])*
            fn threads() {
                $crate::pass($crate::threads::threads(
                    &$crate::malloc_core::GlobalMalloc(make()),
                    4,
                    if cfg!(miri) { 100 } else { 50_000 },
                ));
            }
        }
    };
}
