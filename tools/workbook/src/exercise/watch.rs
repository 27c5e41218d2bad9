//! `cargo workbook watch`: checks the current exercise again each time a
//! file of the exercises changes, as rustlings does.
//!
//! It polls modification times twice a second: no extra dependency, and
//! good enough for a human saving a file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::progress::Progress;
use super::{check, find, next, paint};
use crate::Failure;

/// Watches forever (until Ctrl-C): checks exercise `number`, or the next
/// one to do, and again after every change; moves on when it passes.
pub fn run(root: &Path, number: Option<u32>) -> Result<(), Failure> {
    if let Some(number) = number {
        find(number)?;
    }
    let dir = root.join("exercises");
    loop {
        let progress = Progress::load(root);
        let Some(exercise) = number.map_or_else(|| next(&progress), holes::find) else {
            println!("Every exercise passes. Nothing left to watch.");
            return Ok(());
        };
        let result = check::run(root, exercise.number);
        if result.is_ok() && number.is_none() && next(&Progress::load(root)).is_some() {
            continue; // On to the next exercise at once.
        }
        println!(
            "\n{}",
            paint(
                &format!(
                    "Watching exercises/ for changes (exercise {}). Ctrl-C to stop.",
                    exercise.number
                ),
                "2"
            )
        );
        let changed = wait_for_change(&dir, None);
        if let Some(path) = changed {
            let shown = path.strip_prefix(root).unwrap_or(&path);
            println!("\n{} changed.\n", shown.display());
        }
    }
}

/// Waits until a file under `dir` (src/ and tests/ of any exercise)
/// changes, and returns it; `None` once `timeout` passes.
pub fn wait_for_change(dir: &Path, timeout: Option<Duration>) -> Option<PathBuf> {
    let start = Instant::now();
    let before = snapshot(dir);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = snapshot(dir);
        if let Some((path, _)) = now.iter().find(|entry| !before.contains(entry)) {
            return Some(path.clone());
        }
        if let Some((path, _)) = before
            .iter()
            .find(|(p, _)| !now.iter().any(|(q, _)| q == p))
        {
            return Some(path.clone()); // A file was deleted.
        }
        if timeout.is_some_and(|limit| start.elapsed() >= limit) {
            return None;
        }
    }
}

/// Every file under `dir`, with its modification time (skipping target
/// directories and hidden files such as the progress file).
fn snapshot(dir: &Path) -> Vec<(PathBuf, SystemTime)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                files.push((path, modified));
            }
        }
    }
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_a_change_within_seconds() {
        let dir = std::env::temp_dir().join(format!("workbook-watch-{}", std::process::id()));
        let src = dir.join("1-bump/src");
        std::fs::create_dir_all(&src).unwrap();
        let file = src.join("lib.rs");
        std::fs::write(&file, "// before\n").unwrap();
        let writer = {
            let file = file.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(700));
                // A later time than the first write, even on coarse clocks.
                std::fs::write(&file, "// after, longer\n").unwrap();
                let later = SystemTime::now() + Duration::from_secs(2);
                let handle = std::fs::File::options().write(true).open(&file).unwrap();
                handle.set_modified(later).unwrap();
            })
        };
        let start = Instant::now();
        let changed = wait_for_change(&dir, Some(Duration::from_secs(10)));
        writer.join().unwrap();
        assert_eq!(changed.as_deref(), Some(file.as_path()));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        // Nothing changes now: the wait ends at its timeout.
        assert_eq!(wait_for_change(&dir, Some(Duration::from_secs(1))), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
