//! exercises/.progress: what the learner has done, in a few lines of text.
//!
//! ```text
//! passed 1
//! hints 2 1
//! ```
//!
//! `passed N`: exercise N passed its last check. `hints N L`: L hints of
//! exercise N were shown. The file lives in the workspace (git ignores it),
//! so deleting it starts the course over.

use std::path::{Path, PathBuf};

/// The learner's progress.
#[derive(Default)]
pub struct Progress {
    passed: Vec<u32>,
    hints: Vec<(u32, usize)>,
}

fn path(root: &Path) -> PathBuf {
    root.join("exercises/.progress")
}

impl Progress {
    /// The progress saved under `root`, or none yet.
    pub fn load(root: &Path) -> Progress {
        let text = std::fs::read_to_string(path(root)).unwrap_or_default();
        let mut progress = Progress::default();
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["passed", n] => progress.passed.extend(n.parse::<u32>().ok()),
                ["hints", n, level] => {
                    if let (Ok(n), Ok(level)) = (n.parse(), level.parse()) {
                        progress.set_hints_shown(n, level);
                    }
                }
                _ => {} // An old or hand-edited line: ignore it.
            }
        }
        progress
    }

    /// Writes the progress under `root`.
    pub fn save(&self, root: &Path) -> Result<(), String> {
        let mut text = String::new();
        for n in &self.passed {
            text.push_str(&format!("passed {n}\n"));
        }
        for (n, level) in &self.hints {
            text.push_str(&format!("hints {n} {level}\n"));
        }
        std::fs::write(path(root), text).map_err(|e| format!("writing exercises/.progress: {e}"))
    }

    /// Whether exercise `n` passed its last check.
    pub fn passed(&self, n: u32) -> bool {
        self.passed.contains(&n)
    }

    /// Records whether exercise `n` passed.
    pub fn set_passed(&mut self, n: u32, passed: bool) {
        self.passed.retain(|&p| p != n);
        if passed {
            self.passed.push(n);
            self.passed.sort();
        }
    }

    /// How many hints of exercise `n` were shown.
    pub fn hints_shown(&self, n: u32) -> usize {
        self.hints
            .iter()
            .find(|&&(e, _)| e == n)
            .map_or(0, |&(_, level)| level)
    }

    /// Records how many hints of exercise `n` were shown.
    pub fn set_hints_shown(&mut self, n: u32, level: usize) {
        self.hints.retain(|&(e, _)| e != n);
        if level > 0 {
            self.hints.push((n, level));
            self.hints.sort();
        }
    }
}
