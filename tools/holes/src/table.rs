//! The exercises: one per stage, as the stage manifest lists them.
//!
//! An exercise is its stage with holes, so the manifest's entry for stage N
//! describes exercise N too: the same number, directory and type, and the
//! exercise's own names (`exercise_package`, `exercise_crate`) derived from
//! it. The build script of the proofs reads this file too (`#[path]`), with
//! the manifest as a build-dependency.

use workbook_manifest::Sources;

/// One exercise: the manifest's entry for its stage.
pub use workbook_manifest::Stage as Exercise;

/// Every exercise, in course order: one per stage of the manifest.
pub const EXERCISES: &[Exercise] = workbook_manifest::STAGES;

/// The exercise numbered `number`, if there is one.
pub fn find(number: u32) -> Option<&'static Exercise> {
    workbook_manifest::find(number)
}

/// The expression by which an exercise's checks make the allocator of type
/// path `ty` from `sources` (a `conformance::exercise::Sources`).
pub fn make_with(exercise: &Exercise, ty: &str) -> String {
    match exercise.sources {
        Sources::Break => format!("{ty}::with_source(sources.brk)"),
        Sources::BreakAndPages => format!("{ty}::with_sources(sources.brk, sources.pages)"),
    }
}
