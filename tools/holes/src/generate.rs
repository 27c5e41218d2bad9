//! Turning a stage crate into its exercise crate.
//!
//! exercises/N-name is made from stages/N-name, and from nothing else but
//! the hints file and the list of checks:
//!
//! - `Cargo.toml`: the stage's, renamed, with the conformance suite as a
//!   dev-dependency;
//! - `src/`: the stage's files with every hole opened (see [`hole`]);
//! - `tests/check.rs`: one test per check of the conformance suite, on the
//!   exercise's type;
//! - `tests/*.rs`: the stage's own tests, on the exercise's crate (a test
//!   that pins a choice of the stage rather than a rule is ignored there:
//!   see [`hole::exercise_tests`]).

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::hints::Text;
use crate::hole;
use crate::table::{Exercise, make_with};

/// One generated file: its path inside the exercise's directory, and its
/// text.
pub type File = (String, String);

/// A check of the suite: its name and what it asks, in words.
pub type Check<'a> = (&'a str, &'a str);

/// Every file of `exercise`'s crate, from the stage under `root`.
pub fn exercise(
    root: &Path,
    exercise: &Exercise,
    texts: &[Text],
    checks: &[Check],
) -> Result<Vec<File>, String> {
    let stage = root.join("stages").join(exercise.dir);
    let text = texts
        .iter()
        .find(|text| text.number == exercise.number)
        .ok_or_else(|| format!("exercises/hints.md has no `# Exercise {}`", exercise.number))?;
    let mut files = vec![(
        "Cargo.toml".to_string(),
        manifest(&read(&stage.join("Cargo.toml"))?, exercise)?,
    )];
    for (name, source) in read_dir(&stage.join("src"))? {
        files.push((format!("src/{name}"), skeleton(&source, text)?));
    }
    files.push((
        "tests/check.rs".to_string(),
        rustfmt(&check_tests(exercise, checks))?,
    ));
    for (name, source) in read_dir(&stage.join("tests"))? {
        // Renaming the crate can change the order rustfmt wants for imports.
        let renamed = hole::exercise_tests(&source)
            .replace(&exercise.crate_name(), &exercise.exercise_crate());
        files.push((format!("tests/{name}"), rustfmt(&renamed)?));
    }
    Ok(files)
}

/// The source files of `exercise`'s skeleton (src/ only), as `reset` writes
/// them back.
pub fn skeleton_sources(
    root: &Path,
    exercise: &Exercise,
    texts: &[Text],
) -> Result<Vec<File>, String> {
    let all = self::exercise(root, exercise, texts, &[])?;
    Ok(all
        .into_iter()
        .filter(|(path, _)| path.starts_with("src/"))
        .collect())
}

/// `source` with every hole opened, its description from `text`.
pub fn skeleton(source: &str, text: &Text) -> Result<String, String> {
    hole::replace(source, |hole, _| {
        let description = text.hole(&hole.name).ok_or_else(|| {
            format!(
                "exercises/hints.md has no `## hole {}` under `# Exercise {}`",
                hole.name, text.number
            )
        })?;
        Ok(Some(hole::open(hole, description)))
    })
}

/// The stage's manifest, renamed, with the suite as a dev-dependency and
/// lints that do not complain about what an open hole leaves unused.
fn manifest(stage: &str, exercise: &Exercise) -> Result<String, String> {
    let mut out = format!(
        "# Generated from stages/{dir} by tools/holes: edit the stage, then run\n\
         # `UPDATE_EXERCISES=1 cargo test -p holes`.\n",
        dir = exercise.dir
    );
    for line in stage.lines() {
        if line.starts_with("name = ") {
            out.push_str(&format!("name = \"{}\"\n", exercise.exercise_package()));
        } else if line.starts_with("description = ") {
            out.push_str(&format!(
                "description = \"Exercise {} of the malloc workbook: stage {} ({}) with holes to fill.\"\n",
                exercise.number, exercise.number, exercise.short_name
            ));
        } else if line.trim() == "[lints]" {
            break;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(
        "[lib]\n\
         doctest = false\n\
         \n\
         [dev-dependencies]\n\
         conformance.workspace = true\n\
         \n\
         # The workspace's lints, but an open hole leaves names unused: no\n\
         # warnings about that.\n\
         [lints.rust]\n\
         unsafe_op_in_unsafe_fn = \"deny\"\n\
         missing_docs = \"warn\"\n\
         unused = \"allow\"\n\
         \n\
         [lints.clippy]\n\
         undocumented_unsafe_blocks = \"deny\"\n\
         missing_safety_doc = \"deny\"\n",
    );
    if !out.contains(&exercise.exercise_package()) {
        return Err(format!(
            "stages/{}/Cargo.toml has no `name = `",
            exercise.dir
        ));
    }
    Ok(out)
}

/// tests/check.rs: one `#[test]` per check, each documented with what it
/// asks (the workbook reads these lines to explain a failure).
fn check_tests(exercise: &Exercise, checks: &[Check]) -> String {
    let n = exercise.number;
    let mut out = format!(
        "//! Exercise {n}'s checks: the conformance suite, stage {n}'s lesson, and\n\
         //! proof that the memory comes from the allocator's own source, run on\n\
         //! your `{ty}`. Run them with `cargo workbook check {n}`.\n\
         //!\n\
         //! Generated by tools/holes: do not edit.\n\
         \n\
         use conformance::exercise::{{Sources, check}};\n\
         use {krate}::{ty};\n\
         \n\
         /// A fresh allocator on the sources the checks watch.\n\
         fn make(sources: Sources) -> impl malloc_core::Malloc {{\n\
         \x20   {make}\n\
         }}\n",
        ty = exercise.type_name,
        krate = exercise.exercise_crate(),
        make = make_with(exercise, exercise.type_name),
    );
    for (name, description) in checks {
        out.push_str(&format!(
            "\n/// {description}.\n#[test]\nfn {name}() {{\n    check({n}, \"{name}\", make);\n}}\n"
        ));
    }
    out
}

/// The mark before the table of holes in exercises/README.md.
pub const TABLE_START: &str = "<!-- holes: made from the stages; UPDATE_EXERCISES=1 cargo test -p holes --test drift rewrites it -->";
/// The mark after it.
pub const TABLE_END: &str = "<!-- end of the holes -->";

/// Lines of code in a hole: not blank, not a comment.
pub fn code_lines(content: &[String]) -> usize {
    content
        .iter()
        .filter(|line| {
            let line = line.trim();
            !line.is_empty() && !line.starts_with("//")
        })
        .count()
}

/// The table of exercises/README.md: each exercise's holes, in the hints
/// file's order, with their lines of code, and what the stage teaches.
pub fn holes_table(root: &Path, texts: &[Text]) -> Result<String, String> {
    let mut out = String::from(
        "| exercise | holes (lines of code in the stage's answer) | the stage's idea |\n|---|---|---|\n",
    );
    for exercise in crate::EXERCISES {
        let mut sizes: Vec<(String, usize)> = Vec::new();
        for (_, source) in read_dir(&root.join("stages").join(exercise.dir).join("src"))? {
            for (name, content) in hole::contents(&source)? {
                sizes.push((name, code_lines(&content)));
            }
        }
        let order: Vec<&str> = texts
            .iter()
            .find(|text| text.number == exercise.number)
            .map(|text| text.holes.iter().map(|h| h.name.as_str()).collect())
            .unwrap_or_default();
        sizes.sort_by_key(|(name, _)| order.iter().position(|o| o == name));
        let holes: Vec<String> = sizes
            .iter()
            .map(|(name, lines)| format!("`{name}` ({lines})"))
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            exercise.dir,
            holes.join(", "),
            exercise.idea
        ));
    }
    Ok(out)
}

/// `readme` with the table between its marks made fresh.
pub fn readme_with_table(readme: &str, table: &str) -> Result<String, String> {
    let start = readme
        .find(TABLE_START)
        .ok_or("exercises/README.md has no table start mark")?;
    let end = readme
        .find(TABLE_END)
        .ok_or("exercises/README.md has no table end mark")?;
    Ok(format!(
        "{}{TABLE_START}\n{table}{}",
        &readme[..start],
        &readme[end..]
    ))
}

/// `source` as `cargo fmt` would write it.
fn rustfmt(source: &str) -> Result<String, String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running rustfmt: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let input = source.to_string();
    // Write from another thread: rustfmt may fill its output pipe first.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|e| format!("running rustfmt: {e}"))?;
    let _ = writer.join();
    if !output.status.success() {
        return Err(format!(
            "rustfmt failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| e.to_string())
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

/// The `.rs` files directly in `dir`, sorted by name (none if it is missing).
pub fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_file() && name.ends_with(".rs") {
            files.push((name, read(&path)?));
        }
    }
    files.sort();
    Ok(files)
}
