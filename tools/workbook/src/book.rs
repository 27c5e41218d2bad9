//! `cargo workbook book [--open]`: the course book as HTML;
//! `cargo workbook diff N`: what stage N adds to stage N-1; and
//! `cargo workbook map TRACE --stage N`: the heap a trace leaves behind.
//!
//! The book is built with the mdbook library (`tools/book`) into `book/` in
//! the target folder, with its search index. `map` is the "then check" of
//! the book's "predict, then check" questions: it runs a short trace on a
//! stage (its frees too), frees nothing more at the end, and prints the
//! heap map (and, with `--svg`, draws it). `explore` does the same after
//! every op, for the heap explorer.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Failure::{self, Input};
use crate::stages;

/// Builds the book and prints where it is; `open`: opens it in a browser.
pub fn build(open: bool) -> Result<(), Failure> {
    let out = workbook_book::output_dir();
    workbook_book::site::build(&workbook_book::book_dir(), &out).map_err(Input)?;
    let index = out.join("index.html");
    println!("{}", index.display());
    if open {
        match find_in_path("xdg-open") {
            Some(opener) => {
                Command::new(opener)
                    .arg(&index)
                    .spawn()
                    .map_err(|e| Input(format!("cannot run xdg-open: {e}")))?;
            }
            None => eprintln!("no xdg-open here: open {} in a browser", index.display()),
        }
    }
    Ok(())
}

/// Prints what changed from stage `number - 1` to stage `number`: the
/// unified diff of their `src/`, or with `stat` the summary; the holes'
/// code is masked unless `with_holes`.
pub fn diff(number: u32, stat: bool, with_holes: bool) -> Result<(), Failure> {
    use workbook_book::diff::{self, Holes};
    let stage = stages::get(number);
    let holes = if with_holes {
        Holes::Shown
    } else {
        Holes::Masked
    };
    let root = workbook_book::book_dir().join("..");
    let changes = diff::changes(&root, stage, holes).map_err(Input)?;
    if stat {
        print!("{}", diff::stat(&changes));
    } else {
        print!("{}", diff::unified(stage, &changes));
    }
    Ok(())
}

/// Runs `trace` on stage `number`, prints its heap map with every block the
/// trace left live, and writes the picture to `svg` if asked.
pub fn map(
    trace: &Path,
    number: u32,
    svg: Option<&Path>,
    policy: Option<&str>,
) -> Result<(), Failure> {
    let policy = stages::policy(stages::get(number), policy)?;
    let name = trace.display();
    let text =
        std::fs::read_to_string(trace).map_err(|e| Input(format!("cannot read {name}: {e}")))?;
    let trace = malloc_trace::parse(&text).map_err(|e| Input(format!("{name}: {e}")))?;
    // The same checks, and words, as `replay`.
    malloc_trace::validate(&trace).map_err(|e| Input(format!("{name}: {e}")))?;
    for warning in trace.header_warnings() {
        eprintln!("note: {name}: {warning}");
    }
    let heap = stages::simulated_with(stages::get(number), policy);
    let map = workbook_book::drill::heap_map_after(&*heap, &trace)
        .map_err(|e| Input(format!("{name}: {e}")))?;
    print!("{map}");
    if let Some(path) = svg {
        let pieces = workbook_book::picture::parse(&map).map_err(Input)?;
        let title = match policy {
            Some(_) => format!(
                "{} after {name}",
                stages::label(stages::get(number), policy)
            ),
            None => format!("Stage {number} after {name}"),
        };
        std::fs::write(path, workbook_book::picture::svg(&title, &pieces))
            .map_err(|e| Input(format!("cannot write {}: {e}", path.display())))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Runs `trace` on stage `number` op by op and prints the heap's changes,
/// as text or (`json`) as the explorer page reads them.
pub fn explore(trace: &Path, number: u32, json: bool) -> Result<(), Failure> {
    let name = trace.display().to_string();
    let text =
        std::fs::read_to_string(trace).map_err(|e| Input(format!("cannot read {name}: {e}")))?;
    let trace = malloc_trace::parse(&text).map_err(|e| Input(format!("{name}: {e}")))?;
    let exploration = workbook_book::explore::explore(&name, &trace, stages::get(number).number)
        .map_err(Input)?;
    if json {
        println!(
            "{}",
            workbook_book::explore::json(&exploration).map_err(Input)?
        );
    } else {
        print!("{}", exploration.text());
    }
    Ok(())
}

/// The first `name` in `PATH`.
fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
