//! exercises/.progress: what the learner has done, in a few lines of text.
//!
//! ```text
//! passed 1
//! hints 2 class_of 1
//! stuck 3 pop
//! ```
//!
//! `passed N`: exercise N passed its last check. `hints N HOLE L`: L hints
//! for hole HOLE of exercise N were shown. `stuck N HOLE`: the last check of
//! exercise N pointed at hole HOLE. The file lives in the workspace (git
//! ignores it), so deleting it starts the course over.

use std::path::{Path, PathBuf};

/// The learner's progress.
#[derive(Default)]
pub struct Progress {
    passed: Vec<u32>,
    hints: Vec<(u32, String, usize)>,
    stuck: Vec<(u32, String)>,
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
                ["hints", n, hole, level] => {
                    if let (Ok(n), Ok(level)) = (n.parse(), level.parse()) {
                        progress.set_hints_shown(n, hole, level);
                    }
                }
                ["stuck", n, hole] => {
                    if let Ok(n) = n.parse() {
                        progress.set_stuck(n, Some(hole));
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
        for (n, hole, level) in &self.hints {
            text.push_str(&format!("hints {n} {hole} {level}\n"));
        }
        for (n, hole) in &self.stuck {
            text.push_str(&format!("stuck {n} {hole}\n"));
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

    /// How many hints for hole `hole` of exercise `n` were shown.
    pub fn hints_shown(&self, n: u32, hole: &str) -> usize {
        self.hints
            .iter()
            .find(|(e, h, _)| *e == n && h == hole)
            .map_or(0, |(_, _, level)| *level)
    }

    /// Records how many hints for hole `hole` of exercise `n` were shown.
    pub fn set_hints_shown(&mut self, n: u32, hole: &str, level: usize) {
        self.hints.retain(|(e, h, _)| !(*e == n && h == hole));
        if level > 0 {
            self.hints.push((n, hole.to_string(), level));
            self.hints.sort();
        }
    }

    /// Forgets every hint shown for exercise `n`.
    pub fn forget_hints(&mut self, n: u32) {
        self.hints.retain(|(e, _, _)| *e != n);
    }

    /// The hole the last check of exercise `n` pointed at.
    pub fn stuck(&self, n: u32) -> Option<&str> {
        self.stuck
            .iter()
            .find(|(e, _)| *e == n)
            .map(|(_, hole)| hole.as_str())
    }

    /// Records the hole the last check of exercise `n` pointed at (or none).
    pub fn set_stuck(&mut self, n: u32, hole: Option<&str>) {
        self.stuck.retain(|(e, _)| *e != n);
        if let Some(hole) = hole {
            self.stuck.push((n, hole.to_string()));
            self.stuck.sort();
        }
    }
}
