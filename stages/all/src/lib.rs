//! Every stage by number: the one place that turns a stage number into code.
//!
//! The tools (the CLI, the book, the benchmarks, the real-trace test) ask
//! for "stage N" here instead of naming each stage's type themselves. The
//! stages themselves are listed in `workbook-manifest`; the test below
//! checks that this crate knows exactly those.
//!
//! A new stage is one arm in [`with_sources`].

use malloc_core::{Break, Malloc, Pages, RealBreak, RealPages, SimBreak, SimPages};

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
}
