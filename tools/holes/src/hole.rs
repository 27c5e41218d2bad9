//! Holes in a source file: finding them, emptying them, filling them.
//!
//! A stage marks the code an exercise leaves out with comments, in two
//! forms:
//!
//! ```text
//! // EXERCISE BODY: name        the body of the next `fn name` is a hole
//!
//! // EXERCISE: name             the lines in between are a hole
//! ...
//! // EXERCISE END
//! ```
//!
//! The markers stay in the exercise, so the holes can be found there too:
//! to fill them with the stage's code (the solution), or to compare an
//! exercise with its stage outside the holes. This file is plain text
//! processing with no dependencies: the build script of the proofs uses it
//! too.

/// A hole in a file: the lines `start..end` (0-based, end excluded) are its
/// content, which an exercise replaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hole {
    /// Its name, from the marker.
    pub name: String,
    /// The first line of its content.
    pub start: usize,
    /// The line after its content.
    pub end: usize,
    /// The indentation of its content.
    pub indent: String,
}

const BODY: &str = "// EXERCISE BODY: ";
const BLOCK: &str = "// EXERCISE: ";
const END: &str = "// EXERCISE END";

/// Finds the holes in `text`, in the order they appear; an error names a
/// marker that leads nowhere.
pub fn find(text: &str) -> Result<Vec<Hole>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut holes = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if let Some(name) = trimmed.strip_prefix(BODY) {
            holes.push(body_hole(&lines, at, name.trim())?);
        } else if let Some(name) = trimmed.strip_prefix(BLOCK) {
            let end = (at + 1..lines.len())
                .find(|&i| lines[i].trim() == END)
                .ok_or_else(|| format!("line {}: `{BLOCK}{name}` has no `{END}`", at + 1))?;
            holes.push(Hole {
                name: name.trim().to_string(),
                start: at + 1,
                end,
                indent: indent_of(line),
            });
        }
    }
    holes.sort_by_key(|hole| hole.start);
    Ok(holes)
}

/// The body of the first `fn name` after line `marker`.
fn body_hole(lines: &[&str], marker: usize, name: &str) -> Result<Hole, String> {
    let missing = || format!("line {}: no `fn {name}` after the marker", marker + 1);
    let signature = (marker + 1..lines.len())
        .find(|&i| {
            let line = lines[i];
            line.contains(&format!("fn {name}(")) || line.contains(&format!("fn {name}<"))
        })
        .ok_or_else(missing)?;
    // The body starts after the line that opens it.
    let open = (signature..lines.len())
        .find(|&i| code_of(lines[i]).trim_end().ends_with('{'))
        .ok_or_else(missing)?;
    let mut depth = 0i32;
    for (i, line) in lines.iter().enumerate().skip(open) {
        for c in code_of(line).chars() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
        }
        if depth == 0 {
            return Ok(Hole {
                name: name.to_string(),
                start: open + 1,
                end: i,
                indent: format!("{}    ", indent_of(lines[signature])),
            });
        }
    }
    Err(missing())
}

/// A line without its `//` comment (good enough for brace counting in the
/// stages, which put no braces in strings).
fn code_of(line: &str) -> &str {
    line.find("//").map_or(line, |at| &line[..at])
}

fn indent_of(line: &str) -> String {
    line.chars().take_while(|c| c.is_whitespace()).collect()
}

/// `text` with the content of some holes replaced: `with` gets each hole and
/// its current content, and returns the new content (lines without line
/// ends), or `None` to keep it.
pub fn replace(
    text: &str,
    mut with: impl FnMut(&Hole, &[&str]) -> Result<Option<Vec<String>>, String>,
) -> Result<String, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut at = 0;
    for hole in find(text)? {
        if hole.start < at {
            return Err(format!("hole `{}` overlaps the one before", hole.name));
        }
        let content = &lines[hole.start..hole.end];
        let Some(new) = with(&hole, content)? else {
            continue;
        };
        out.extend(lines[at..hole.start].iter().map(|l| l.to_string()));
        out.extend(new);
        at = hole.end;
    }
    out.extend(lines[at..].iter().map(|l| l.to_string()));
    let mut result = out.join("\n");
    if text.ends_with('\n') {
        result.push('\n');
    }
    Ok(result)
}

/// What goes into an open hole: the description as comments, then a
/// `todo!()` that names the hole.
pub fn open(hole: &Hole, description: &str) -> Vec<String> {
    let mut lines: Vec<String> = description
        .lines()
        .map(|line| format!("{}// {line}", hole.indent).trim_end().to_string())
        .collect();
    lines.push(format!("{}todo!(\"hole `{}`\");", hole.indent, hole.name));
    lines
}

/// Before a test in a stage's tests/: the test pins a choice of the stage
/// (the order a list reuses blocks in), not a rule an exercise must keep.
const IGNORE: &str = "// EXERCISE IGNORE: ";

/// A stage's test file as its exercise runs it: each test marked
/// `// EXERCISE IGNORE: why` is ignored there, with that reason (a learner
/// can still run it with `--ignored`).
pub fn exercise_tests(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.trim_start().strip_prefix(IGNORE) {
            Some(why) => {
                let indent = indent_of(line);
                let why = why.trim_end().replace('\\', "\\\\").replace('"', "\\\"");
                out.push_str(&format!("{indent}#[ignore = \"{why}\"]\n"));
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Whether `hole` in the file of `lines` is still open: nothing in it but
/// blank lines, comments and the `todo!()` that [`open`] writes.
pub fn is_open(hole: &Hole, lines: &[&str]) -> bool {
    let todo = format!("todo!(\"hole `{}`\");", hole.name);
    lines[hole.start..hole.end.min(lines.len())]
        .iter()
        .all(|line| {
            let line = line.trim();
            line.is_empty() || line.starts_with("//") || line == todo
        })
}

/// Whether some hole in `text` holds code (see [`is_open`]). A file whose
/// holes cannot be found counts as filled too: it is someone's work either
/// way.
pub fn has_filled_holes(text: &str) -> bool {
    let Ok(holes) = find(text) else {
        return true;
    };
    let lines: Vec<&str> = text.lines().collect();
    holes.iter().any(|hole| !is_open(hole, &lines))
}

/// The content of every hole in `text`, by name.
pub fn contents(text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let lines: Vec<&str> = text.lines().collect();
    Ok(find(text)?
        .into_iter()
        .map(|hole| {
            let content = lines[hole.start..hole.end]
                .iter()
                .map(|l| l.to_string())
                .collect();
            (hole.name, content)
        })
        .collect())
}

/// `exercise` with every hole filled with the content of the hole of the
/// same name in `stage`.
pub fn fill(exercise: &str, stage: &str) -> Result<String, String> {
    let solutions = contents(stage)?;
    replace(exercise, |hole, _| {
        solutions
            .iter()
            .find(|(name, _)| *name == hole.name)
            .map(|(_, content)| Some(content.clone()))
            .ok_or_else(|| format!("the stage has no hole `{}`", hole.name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAGE: &str = "\
// EXERCISE BODY: double
/// Twice `x`.
fn double(x: u32) -> u32 {
    x * 2 // {not counted}
}

fn main() {
    // EXERCISE: print
    println!(\"{}\", double(2));
    // EXERCISE END
}
";

    #[test]
    fn finds_both_kinds() {
        let holes = find(STAGE).unwrap();
        let names: Vec<_> = holes
            .iter()
            .map(|h| (h.name.as_str(), h.start, h.end))
            .collect();
        assert_eq!(names, [("double", 3, 4), ("print", 8, 9)]);
        assert_eq!(holes[0].indent, "    ");
    }

    #[test]
    fn opens_and_fills_back() {
        let open = replace(STAGE, |hole, _| Ok(Some(open(hole, "What goes here.")))).unwrap();
        assert!(open.contains("    // What goes here.\n    todo!(\"hole `double`\");\n}"));
        assert!(!open.contains("x * 2"));
        assert_eq!(fill(&open, STAGE).unwrap(), STAGE);
    }

    #[test]
    fn stage_only_tests_are_ignored_in_the_exercise() {
        let text = "// EXERCISE IGNORE: the stage's order\n#[test]\nfn lifo() {}\n";
        assert_eq!(
            exercise_tests(text),
            "#[ignore = \"the stage's order\"]\n#[test]\nfn lifo() {}\n"
        );
    }

    #[test]
    fn open_holes_are_not_filled_ones() {
        let open = replace(STAGE, |hole, _| Ok(Some(open(hole, "What goes here.")))).unwrap();
        assert!(!has_filled_holes(&open));
        assert!(has_filled_holes(STAGE));
        let half = open.replace("    todo!(\"hole `double`\");", "    x * 3");
        assert!(has_filled_holes(&half));
    }

    #[test]
    fn a_block_without_end_is_an_error() {
        assert!(find("// EXERCISE: x\nfoo\n").is_err());
    }
}
