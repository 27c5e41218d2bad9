//! What changed from one stage to the next: the stage's `src/` against its
//! predecessor's, file by file, as a unified diff and as a summary.
//!
//! The course's idea is "stage N = stage N-1 + one idea", and this shows it.
//! The code of the exercises' holes is masked by default (one line naming
//! the hole instead), so that the diff a chapter opens with does not print
//! the answers; `cargo workbook diff N --with-holes` shows everything.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use similar::TextDiff;
use workbook_manifest::Stage;

/// One file's change between two stages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChange {
    /// The file's name in `src/` (`lib.rs`).
    pub name: String,
    /// Its text in the stage before, if it was there.
    pub before: Option<String>,
    /// Its text in this stage, if it is there.
    pub after: Option<String>,
    /// Lines added and removed.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
}

impl FileChange {
    /// "new", "gone" or "changed".
    pub fn kind(&self) -> &'static str {
        match (&self.before, &self.after) {
            (None, _) => "new",
            (_, None) => "gone",
            _ => "changed",
        }
    }
}

/// Whether hole code is shown or masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holes {
    /// Each hole's lines become one line naming the hole.
    Masked,
    /// The stages as they are.
    Shown,
}

/// The `.rs` files of `dir`, by name (none if `dir` is missing).
fn sources(dir: &Path) -> Result<BTreeMap<String, String>, String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(BTreeMap::new());
    };
    let mut files = BTreeMap::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".rs") {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            files.insert(name, text);
        }
    }
    Ok(files)
}

/// `text` with the content of each of its holes replaced by one line that
/// names the hole.
pub fn mask_holes(text: &str) -> Result<String, String> {
    holes::hole::replace(text, |hole, _| {
        Ok(Some(vec![format!(
            "{}// … the exercise's hole `{}` …",
            hole.indent, hole.name
        )]))
    })
}

/// `text` without the lines that mark holes (`// EXERCISE ...`).
fn without_markers(text: &str) -> String {
    let mut out: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("// EXERCISE"))
        .collect::<Vec<_>>()
        .join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The change from the stage before `stage` to `stage` (from nothing, for
/// the first stage), under the workspace `root`, file by file in name order.
pub fn changes(root: &Path, stage: &Stage, holes: Holes) -> Result<Vec<FileChange>, String> {
    // The holes of this stage's exercise are masked; the stage before's
    // (its exercise came first) are shown. The markers are the exercises'
    // plumbing, not code: they are left out on both sides.
    let read = |stage: Option<&Stage>, mask: bool| -> Result<BTreeMap<String, String>, String> {
        let Some(stage) = stage else {
            return Ok(BTreeMap::new());
        };
        let mut files = sources(&root.join(stage.stage_dir()).join("src"))?;
        for text in files.values_mut() {
            if mask {
                *text = mask_holes(text)?;
            }
            *text = without_markers(text);
        }
        Ok(files)
    };
    let before = read(workbook_manifest::find(stage.number.wrapping_sub(1)), false)?;
    let after = read(Some(stage), holes == Holes::Masked)?;
    if after.is_empty() {
        return Err(format!(
            "{} has no .rs files in its src/",
            stage.stage_dir()
        ));
    }
    let names: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let mut changes = Vec::new();
    for name in names {
        let (old, new) = (before.get(name), after.get(name));
        if old == new {
            continue;
        }
        let diff = TextDiff::from_lines(
            old.map(String::as_str).unwrap_or(""),
            new.map(String::as_str).unwrap_or(""),
        );
        let (mut added, mut removed) = (0, 0);
        for change in diff.iter_all_changes() {
            match change.tag() {
                similar::ChangeTag::Insert => added += 1,
                similar::ChangeTag::Delete => removed += 1,
                similar::ChangeTag::Equal => {}
            }
        }
        changes.push(FileChange {
            name: name.clone(),
            before: old.cloned(),
            after: new.cloned(),
            added,
            removed,
        });
    }
    Ok(changes)
}

/// The unified diff of `changes` (three lines of context), with `a/` and
/// `b/` paths under the two stages' directories, as `diff -ru` prints.
pub fn unified(stage: &Stage, changes: &[FileChange]) -> String {
    let before_dir = workbook_manifest::find(stage.number.wrapping_sub(1))
        .map(|s| format!("{}/src", s.stage_dir()))
        .unwrap_or_else(|| "/dev/null".to_string());
    let after_dir = format!("{}/src", stage.stage_dir());
    let mut out = String::new();
    for change in changes {
        let old_name = match &change.before {
            Some(_) => format!("{before_dir}/{}", change.name),
            None => "/dev/null".to_string(),
        };
        let new_name = match &change.after {
            Some(_) => format!("{after_dir}/{}", change.name),
            None => "/dev/null".to_string(),
        };
        let old = change.before.as_deref().unwrap_or("");
        let new = change.after.as_deref().unwrap_or("");
        let diff = TextDiff::from_lines(old, new);
        let _ = write!(
            out,
            "{}",
            diff.unified_diff()
                .context_radius(3)
                .header(&old_name, &new_name)
        );
    }
    out
}

/// A summary of `changes`: one line per file with its lines added and
/// removed, then the total, as `git diff --stat` does.
pub fn stat(changes: &[FileChange]) -> String {
    let width = changes.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for change in changes {
        let _ = writeln!(
            out,
            " {:width$}  {:>7}  +{:<4} -{}",
            change.name,
            change.kind(),
            change.added,
            change.removed
        );
    }
    let added: usize = changes.iter().map(|c| c.added).sum();
    let removed: usize = changes.iter().map(|c| c.removed).sum();
    let _ = writeln!(
        out,
        " {} files changed, {added} lines added, {removed} removed",
        changes.len()
    );
    out
}

/// The "What changed" box that opens a stage's chapter: the summary, and
/// the diff folded (holes masked), as Markdown.
pub fn chapter_box(root: &Path, stage: &Stage) -> Result<String, String> {
    let changes = changes(root, stage, Holes::Masked)?;
    let mut out = String::new();
    let Some(before) = workbook_manifest::find(stage.number.wrapping_sub(1)) else {
        let _ = writeln!(
            out,
            "> **The files of stage {}** (`cargo workbook diff {}`): everything is new.\n>",
            stage.number, stage.number
        );
        for line in stat(&changes).lines() {
            let _ = writeln!(out, "> `{}`  ", line.trim_end());
        }
        return Ok(out);
    };
    let _ = writeln!(
        out,
        "> **What changed since stage {}** (`cargo workbook diff {}`; the \
         exercise's holes are masked):\n>\n> | file | | added | removed |\n> |---|---|---|---|",
        before.number, stage.number
    );
    for change in &changes {
        let _ = writeln!(
            out,
            "> | `{}` | {} | {} | {} |",
            change.name,
            change.kind(),
            change.added,
            change.removed
        );
    }
    let _ = writeln!(
        out,
        ">\n> <details>\n> <summary>Show the diff</summary>\n>\n> ```diff"
    );
    for line in unified(stage, &changes).lines() {
        let _ = writeln!(out, "> {line}");
    }
    let _ = writeln!(out, "> ```\n>\n> </details>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn a_stage_is_its_predecessor_plus_the_diff() {
        let stage = workbook_manifest::find(3).expect("stage 3");
        let changes = changes(&root(), stage, Holes::Shown).unwrap();
        assert!(!changes.is_empty());
        // free_list.rs is new in stage 3: all added, nothing removed.
        let list = changes.iter().find(|c| c.name == "free_list.rs").unwrap();
        assert_eq!(list.kind(), "new");
        assert_eq!(list.removed, 0);
        assert_eq!(list.added, list.after.as_ref().unwrap().lines().count());
        let text = unified(stage, &changes);
        assert!(text.contains("--- stages/2-buckets/src/lib.rs"), "{text}");
        assert!(text.contains("+++ stages/3-freelist/src/lib.rs"), "{text}");
    }

    #[test]
    fn masked_holes_leave_one_line_and_no_code() {
        let stage = workbook_manifest::find(3).expect("stage 3");
        let shown = unified(stage, &changes(&root(), stage, Holes::Shown).unwrap());
        let masked = unified(stage, &changes(&root(), stage, Holes::Masked).unwrap());
        assert!(
            masked.contains("the exercise's hole `push_free`"),
            "{masked}"
        );
        // push_free's body picks the list with `class_of(usable)`.
        assert!(shown.contains("class_of(usable)"));
        assert!(!masked.contains("class_of(usable)"), "{masked}");
    }

    #[test]
    fn the_stat_counts_the_lines() {
        let stage = workbook_manifest::find(2).expect("stage 2");
        let changes = changes(&root(), stage, Holes::Shown).unwrap();
        let stat = stat(&changes);
        let added: usize = changes.iter().map(|c| c.added).sum();
        assert!(stat.contains(&format!("{added} lines added")), "{stat}");
    }
}
