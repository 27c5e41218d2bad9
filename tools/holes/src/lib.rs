//! The exercises of the malloc workbook, made from the stages.
//!
//! Every stage marks the code that carries its idea as *holes* (see
//! [`hole`]); its exercise, exercises/N-name, is the stage with those holes
//! opened: a comment saying what goes there and a `todo!()`. Nothing in an
//! exercise is written by hand: [`generate`] makes it from the stage and
//! from exercises/hints.md ([`hints`]), so the two cannot drift apart.
//!
//! The tests of this crate prove the exercises sound:
//!
//! - tests/drift.rs: every committed exercise is exactly what the generator
//!   makes (`UPDATE_EXERCISES=1` rewrites them), and filling its holes with
//!   the stage's code gives back the stage, byte for byte;
//! - tests/proof.rs: for every hole, the stage with only that hole open
//!   fails at least one check; every stage (the exercise filled) passes all
//!   of them; and an allocator that forwards to the system malloc fails.

pub mod answers;
pub mod generate;
pub mod hints;
pub mod hole;
pub mod table;

use std::path::Path;

pub use table::{EXERCISES, Exercise, find};

/// Reads exercises/hints.md under `root`.
pub fn read_hints(root: &Path) -> Result<Vec<hints::Text>, String> {
    let path = root.join("exercises/hints.md");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    hints::parse(&text)
}
