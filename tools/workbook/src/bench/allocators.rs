//! The allocators a benchmark compares: the references and the stages,
//! each made fresh on the real program break and real `mmap`.

use malloc_core::{Malloc, SystemMalloc};
use workbook_bench::Mimalloc;

use crate::stages::STAGES;

/// One allocator of the comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocator {
    /// The key used on the command line and in JSON: `system`, `mimalloc`,
    /// `stage1` … `stage6`.
    pub key: String,
    /// The name in tables and charts: `glibc`, `mimalloc`, `stage 3 (free-list reuse)`.
    pub label: String,
    /// The stage number, for stages.
    pub stage: Option<u32>,
}

/// The system malloc, the baseline every time is divided by.
pub const SYSTEM: &str = "system";

/// The references (always measured) and the chosen stages, in table order.
pub fn chosen(stages: &[u32]) -> Vec<Allocator> {
    let mut list = vec![
        Allocator {
            key: SYSTEM.to_string(),
            label: "glibc".to_string(),
            stage: None,
        },
        Allocator {
            key: "mimalloc".to_string(),
            label: "mimalloc".to_string(),
            stage: None,
        },
    ];
    for stage in STAGES.iter().filter(|s| stages.contains(&s.number)) {
        list.push(Allocator {
            key: stage_key(stage.number),
            label: stage.label(),
            stage: Some(stage.number),
        });
    }
    list
}

/// The key of stage `number`: `stage3`.
fn stage_key(number: u32) -> String {
    format!("stage{number}")
}

/// A fresh allocator for `key`, on the real break and `mmap`; `None` for an
/// unknown key. Stages start with an empty heap; the references are the
/// process's own (fresh too: each measurement runs in a new process).
pub fn make(key: &str) -> Option<Box<dyn Malloc>> {
    match key {
        SYSTEM => Some(Box::new(SystemMalloc)),
        "mimalloc" => Some(Box::new(Mimalloc)),
        _ => {
            let number = key.strip_prefix("stage")?.parse().ok()?;
            // Only the spelling `stage_key` gives (not `stage03`).
            if key != stage_key(number) {
                return None;
            }
            all_stages::real(number)
        }
    }
}
