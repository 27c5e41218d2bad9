//! Every stage by number: the one place that turns a stage number into code.
//!
//! The tools (the CLI, the book, the benchmarks, the real-trace test) ask
//! for "stage N" here instead of naming each stage's type themselves. The
//! stages themselves are listed in `workbook-manifest`; the test below
//! checks that this crate knows exactly those.
//!
//! A new stage is one arm in [`with_sources`] (and one in [`with_policy`]
//! if it has policy switches).

use malloc_core::{
    Break, Choices, Malloc, Pages, Policy, RealBreak, RealPages, SimBreak, SimPages,
};

pub use workbook_manifest::{STAGES, Stage};

/// A fresh allocator of stage `number` on the sources given (a stage that
/// takes only a break drops `pages`), or `None` if there is no such stage.
pub fn with_sources<B, P>(number: u32, brk: B, pages: P) -> Option<Box<dyn Malloc>>
where
    B: Break + 'static,
    P: Pages + 'static,
{
    Some(match number {
        1 => Box::new(stage1_bump::Bump::with_source(brk)),
        2 => Box::new(stage2_buckets::Buckets::with_source(brk)),
        3 => Box::new(stage3_freelist::FreeLists::with_source(brk)),
        4 => Box::new(stage4_split::Split::with_source(brk)),
        5 => Box::new(stage5_mmap::Mmap::with_sources(brk, pages)),
        6 => Box::new(stage6_tuned::Tuned::with_sources(brk, pages)),
        7 => Box::new(stage7_merge::Merge::with_sources(brk, pages)),
        8 => Box::new(stage8_hardened::Hardened::with_sources(brk, pages)),
        9 => Box::new(stage9_threads::Threaded::with_sources(brk, pages)),
        _ => return None,
    })
}

/// A fresh allocator of stage `number` on a simulated break and simulated
/// pages: a heap of its own (many side by side, next to the system malloc)
/// with deterministic offsets, as the CLI's `replay` and the book use.
pub fn simulated(number: u32) -> Option<Box<dyn Malloc>> {
    with_sources(number, SimBreak::new(), SimPages::new())
}

/// A fresh allocator of stage `number` on the real program break and real
/// `mmap`, as a program would run it (what `Type::new()` makes).
pub fn real(number: u32) -> Option<Box<dyn Malloc>> {
    with_sources(number, RealBreak::new(), RealPages::new())
}

/// The policies stage `number` can run (see [`Policy`]), or `None` for a
/// stage with none to switch (or no such stage).
pub fn choices(number: u32) -> Option<Choices> {
    simulated(number)?.choices()
}

/// The numbers of the stages with policies to switch.
pub fn stages_with_choices() -> Vec<u32> {
    STAGES
        .iter()
        .map(|stage| stage.number)
        .filter(|&n| choices(n).is_some())
        .collect()
}

/// Every policy stage `number` can run, by name, its own first, e.g.
/// `best-fit,lifo (its own), first-fit,lifo, ...`.
pub fn policy_names(number: u32) -> String {
    let Some(choices) = choices(number) else {
        return String::new();
    };
    let names: Vec<String> = choices
        .policies()
        .map(|p| choices.name(p).to_string())
        .collect();
    format!("{} (its own), {}", names[0], names[1..].join(", "))
}

/// Why stage `number` runs no other policy: one line, naming the stages
/// that do.
pub fn no_choices(number: u32) -> String {
    let with: Vec<String> = stages_with_choices().iter().map(u32::to_string).collect();
    format!(
        "stage {number} has no policy to switch (the stages that have: {})",
        with.join(", ")
    )
}

/// The policy that `text` names for stage `number`: names separated by
/// commas (`first-fit,fifo`), what is not named staying the stage's own
/// choice. The error is one line that says what is wrong and lists the
/// policies the stage can run.
pub fn policy(number: u32, text: &str) -> Result<Policy, String> {
    let Some(choices) = choices(number) else {
        return Err(no_choices(number));
    };
    let policy = choices
        .default
        .with_names(text)
        .map_err(|bad| format!("{bad}"))?;
    if !choices.supports(policy) {
        return Err(format!(
            "stage {number} cannot run `{text}`; its policies: {}",
            policy_names(number)
        ));
    }
    Ok(policy)
}

/// A fresh allocator of stage `number` on the sources given, running
/// `policy`, which must be one of its [`choices`] (else the error says so,
/// in one line).
pub fn with_policy<B, P>(
    number: u32,
    brk: B,
    pages: P,
    policy: Policy,
) -> Result<Box<dyn Malloc>, String>
where
    B: Break + 'static,
    P: Pages + 'static,
{
    match choices(number) {
        Some(choices) if choices.supports(policy) => {}
        _ => {
            return Err(format!(
                "stage {number} cannot run {policy:?}; its policies: {}",
                policy_names(number)
            ));
        }
    }
    Ok(match number {
        3 => Box::new(stage3_freelist::FreeLists::with_source(brk).with_policy(policy)),
        4 => Box::new(stage4_split::Split::with_source(brk).with_policy(policy)),
        5 => Box::new(stage5_mmap::Mmap::with_sources(brk, pages).with_policy(policy)),
        6 => Box::new(stage6_tuned::Tuned::with_sources(brk, pages).with_policy(policy)),
        7 => Box::new(stage7_merge::Merge::with_sources(brk, pages).with_policy(policy)),
        8 => Box::new(stage8_hardened::Hardened::with_sources(brk, pages).with_policy(policy)),
        9 => Box::new(stage9_threads::Threaded::with_sources(brk, pages).with_policy(policy)),
        _ => unreachable!("stage {number} has choices but no arm in `with_policy`"),
    })
}

/// A fresh allocator of stage `number` on simulated sources, running
/// `policy` (see [`with_policy`]).
pub fn simulated_with_policy(number: u32, policy: Policy) -> Result<Box<dyn Malloc>, String> {
    with_policy(number, SimBreak::new(), SimPages::new(), policy)
}

/// The stages with settings (`WORKBOOK_MALLOC`): from stage 6 on.
pub fn has_settings(number: u32) -> bool {
    (6..=9).contains(&number)
}

/// A fresh allocator of stage `number` on the sources given, with settings
/// read from `text` as if `WORKBOOK_MALLOC` held it, and the complaints
/// about `text`, one `"item: reason"` each; `None` for a stage without
/// settings (see [`has_settings`]).
pub fn with_settings<B, P>(
    number: u32,
    brk: B,
    pages: P,
    text: &str,
) -> Option<(Box<dyn Malloc>, Vec<String>)>
where
    B: Break + 'static,
    P: Pages + 'static,
{
    let mut complaints = Vec::new();
    let complain = |item: &[u8], why: &str| {
        complaints.push(format!("{}: {why}", String::from_utf8_lossy(item)));
    };
    let text = text.as_bytes();
    let heap: Box<dyn Malloc> = match number {
        6 => {
            let settings = stage6_tuned::Settings::parse(text, complain);
            Box::new(stage6_tuned::Tuned::with_settings(
                brk,
                pages,
                Some(settings),
            ))
        }
        7 => {
            let settings = stage7_merge::Settings::parse(text, complain);
            Box::new(stage7_merge::Merge::with_settings(
                brk,
                pages,
                Some(settings),
            ))
        }
        8 => {
            let settings = stage8_hardened::Settings::parse(text, complain);
            Box::new(stage8_hardened::Hardened::with_settings(
                brk,
                pages,
                Some(settings),
            ))
        }
        9 => {
            let settings = stage9_threads::Settings::parse(text, complain);
            Box::new(stage9_threads::Threaded::with_settings(
                brk,
                pages,
                Some(settings),
            ))
        }
        _ => return None,
    };
    Some((heap, complaints))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A number to try beyond the last stage: enough to catch a stage that
    /// has an arm here but no entry in the manifest.
    const TRIED: u32 = 100;

    #[test]
    fn every_stage_in_the_manifest_and_no_other_number_has_an_allocator() {
        let mut problems = Vec::new();
        for number in 0..=TRIED {
            let listed = workbook_manifest::find(number).is_some();
            let makes = [
                ("simulated", simulated(number).is_some()),
                ("real", real(number).is_some()),
            ];
            for (kind, made) in makes {
                if listed && !made {
                    problems.push(format!(
                        "stage {number} is in the manifest, but `all_stages::{kind}({number})` \
                         makes nothing: add its arm to `with_sources` in stages/all/src/lib.rs"
                    ));
                }
                if !listed && made {
                    problems.push(format!(
                        "`all_stages::{kind}({number})` makes an allocator, but the manifest \
                         has no stage {number}: add its entry to STAGES in \
                         stages/manifest/src/lib.rs (or remove the arm)"
                    ));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn the_stages_with_settings_are_the_ones_that_read_them() {
        for stage in STAGES {
            let made = with_settings(stage.number, SimBreak::new(), SimPages::new(), "");
            assert_eq!(
                made.is_some(),
                has_settings(stage.number),
                "{}: `with_settings` and `has_settings` disagree",
                stage.label()
            );
        }
    }

    #[test]
    fn a_simulated_stage_allocates_and_frees() {
        for stage in STAGES {
            // A stage with no allocator is the test above's to report.
            let Some(heap) = simulated(stage.number) else {
                continue;
            };
            let p = heap.malloc(100);
            assert!(!p.is_null(), "{}: malloc(100) failed", stage.label());
            // SAFETY: `p` is a live block of `heap`, freed once.
            unsafe { heap.free(p) };
            heap.check()
                .unwrap_or_else(|e| panic!("{}: {e}", stage.label()));
        }
    }

    #[test]
    fn every_policy_of_every_stage_can_be_made_and_runs_it() {
        for stage in STAGES {
            let Some(choices) = choices(stage.number) else {
                continue;
            };
            for wanted in choices.policies() {
                let name = choices.name(wanted).to_string();
                let heap = simulated_with_policy(stage.number, wanted)
                    .unwrap_or_else(|e| panic!("{}: {name}: {e}", stage.label()));
                assert_eq!(heap.policy(), Some(wanted), "{}: {name}", stage.label());
                assert_eq!(policy(stage.number, &name), Ok(wanted), "{name}");
            }
        }
    }

    #[test]
    fn a_policy_a_stage_cannot_run_is_refused_in_one_line() {
        let error = policy(3, "merge").unwrap_err();
        assert!(
            error
                .starts_with("stage 3 cannot run `merge`; its policies: best-fit,lifo (its own), "),
            "{error}"
        );
        assert!(!error.contains('\n'));
        assert!(policy(3, "fastest-fit").unwrap_err().contains("first-fit"));
        assert!(policy(2, "first-fit").unwrap_err().contains("no policy"));
    }
}
