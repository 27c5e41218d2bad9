//! The stages as the CLI sees them: the entries of the stage manifest
//! (`workbook-manifest`), made into allocators by `all-stages`.
//!
//! Nothing here lists the stages: a new stage in the manifest shows up in
//! the course map, in `replay`, `map`, `run` and `bench`, and in their
//! error messages, with no change to the CLI.

use malloc_core::{Malloc, Policy};
pub use workbook_manifest::{STAGES, Stage};

use crate::Failure;

/// Reads a stage number from the command line (a clap value parser): a
/// stage the manifest lists, or the one error every tool gives, e.g.
/// "there is no stage 99; the stages are 1 to 6".
pub fn parse_number(text: &str) -> Result<u32, String> {
    let number: u32 = text.trim().parse().map_err(|_| {
        format!(
            "`{text}` is not a stage number; the stages are {}",
            workbook_manifest::numbers()
        )
    })?;
    match workbook_manifest::find(number) {
        Some(stage) => Ok(stage.number),
        None => Err(workbook_manifest::no_such_stage(number)),
    }
}

/// The stage numbered `number`, which [`parse_number`] has checked.
pub fn get(number: u32) -> &'static Stage {
    workbook_manifest::find(number)
        .unwrap_or_else(|| panic!("{}", workbook_manifest::no_such_stage(number)))
}

/// A fresh allocator of `stage` on a simulated break and simulated pages.
///
/// Each run gets a heap of its own (runs are independent, the footprint is
/// exact), and the system malloc in the same process keeps the real break
/// to itself.
pub fn simulated(stage: &Stage) -> Box<dyn Malloc> {
    all_stages::simulated(stage.number)
        .expect("all-stages makes every stage of the manifest (its test checks)")
}

/// The policy that `--policy TEXT` names for `stage` (`None` without the
/// option: the stage's own), or the usage error, in one line, with the
/// policies the stage can run.
pub fn policy(stage: &Stage, text: Option<&str>) -> Result<Option<Policy>, Failure> {
    text.map(|text| all_stages::policy(stage.number, text).map_err(Failure::Usage))
        .transpose()
}

/// A fresh allocator of `stage` on simulated memory, running `policy`
/// (`None`: the stage's own), which [`policy`] has checked.
pub fn simulated_with(stage: &Stage, policy: Option<Policy>) -> Box<dyn Malloc> {
    match policy {
        None => simulated(stage),
        Some(policy) => all_stages::simulated_with_policy(stage.number, policy)
            .unwrap_or_else(|e| panic!("{e}")),
    }
}

/// What a run on `stage` under `policy` is called in tables, e.g.
/// `stage 3 (free-list reuse) under first-fit,lifo`.
pub fn label(stage: &Stage, policy: Option<Policy>) -> String {
    match (policy, all_stages::choices(stage.number)) {
        (Some(policy), Some(choices)) => {
            format!("{} under {}", stage.label(), choices.name(policy))
        }
        _ => stage.label(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_numbers_are_checked_against_the_manifest() {
        let last = STAGES.last().expect("a stage").number;
        assert_eq!(parse_number("1"), Ok(1));
        assert_eq!(parse_number(&last.to_string()), Ok(last));
        assert_eq!(
            parse_number(&(last + 1).to_string()),
            Err(workbook_manifest::no_such_stage(last + 1))
        );
        assert_eq!(parse_number("0"), Err(workbook_manifest::no_such_stage(0)));
        assert!(parse_number("two").is_err());
    }
}
