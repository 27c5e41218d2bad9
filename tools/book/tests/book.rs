//! The book's checks: its generated files are up to date, it builds with
//! the mdbook library, every include resolved, every listing has lines,
//! every internal link and image leads somewhere, and every Rust code block
//! says why it is not compiled here.
//!
//! `UPDATE_BOOK=1 cargo test -p workbook-book` rewrites the generated files.
//!
//! The built book is also opened in headless Chromium ([`browser`]): every
//! page loads without a JavaScript error or a missing image, the charts'
//! labels are readable with the real fonts, and the heap explorer draws the
//! blocks the stages' maps say, op by op.

mod browser;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use workbook_book::{book_dir, generate, site};
use workbook_manifest::STAGES;

/// The book built once for this test binary (with the explorer's data),
/// for the tests that read the result.
fn built_book() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("book-check");
        let _ = std::fs::remove_dir_all(&out);
        site::build(&book_dir(), &out).unwrap_or_else(|e| panic!("{e}"));
        out
    })
}

/// The generated files on disk equal what the project makes now.
#[test]
fn generated_files_are_up_to_date() {
    let book = book_dir();
    let dir = book.join("src/generated");
    let files = generate::all(&book).unwrap_or_else(|e| panic!("generating: {e}"));
    let update = std::env::var_os("UPDATE_BOOK").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for file in &files {
        let path = dir.join(&file.path);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        if on_disk != file.text {
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &file.text).unwrap();
                println!("rewrote {}", path.display());
            } else {
                stale.push(file.path.clone());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files in book/src/generated: {stale:?}\n\
         rewrite them with: UPDATE_BOOK=1 cargo test -p workbook-book"
    );
}

/// The README's course map (between its marker lines) is the manifest's.
#[test]
fn readme_course_map_is_current() {
    let path = book_dir().join("../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let fresh = generate::readme_with_course_map(&readme).unwrap_or_else(|e| panic!("{e}"));
    if fresh == readme {
        return;
    }
    if std::env::var_os("UPDATE_BOOK").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).unwrap();
        println!("rewrote the course map in {}", path.display());
        return;
    }
    panic!(
        "README.md's course map is not the stage manifest's (stages/manifest/src/lib.rs); \
         it should read:\n{}\nrewrite it with: UPDATE_BOOK=1 cargo test -p workbook-book",
        generate::course_map_table()
    );
}

/// Every stage has its chapter, book/src/stageN.md, listed in SUMMARY.md,
/// and no chapter is there for a stage the manifest lacks.
#[test]
fn every_stage_has_a_chapter_in_the_summary() {
    let src = book_dir().join("src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).unwrap();
    let mut problems = Vec::new();
    for stage in STAGES {
        let file = format!("stage{}.md", stage.number);
        if !src.join(&file).is_file() {
            problems.push(format!(
                "{}: there is no chapter {}: write it",
                stage.label(),
                stage.chapter()
            ));
        }
        if !summary.contains(&format!("]({file})")) {
            problems.push(format!(
                "{}: book/src/SUMMARY.md does not list {file}: add \
                 `- [Stage {}: ...]({file})` under the stages",
                stage.label(),
                stage.number
            ));
        }
    }
    for entry in std::fs::read_dir(&src).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let number = name
            .strip_prefix("stage")
            .and_then(|rest| rest.strip_suffix(".md"))
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(n) = number
            && workbook_manifest::find(n).is_none()
        {
            problems.push(format!(
                "book/src/{name} is a chapter for stage {n}, which stages/manifest/src/lib.rs \
                 does not list: add the stage to STAGES (or remove the chapter)"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Prose that counts the stages in words ("in six stages") counts them as
/// the manifest does.
#[test]
fn prose_counts_the_stages_right() {
    const WORDS: [&str; 12] = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve",
    ];
    let count = workbook_manifest::count_in_words();
    let book = book_dir();
    let root = book.join("..").canonicalize().unwrap();
    let mut files = vec![book.join("../README.md"), book.join("book.toml")];
    files.extend(chapters(&book.join("src")));
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // Named from the workspace root, as a contributor would open it.
        let file = file.canonicalize().unwrap();
        let file = file.strip_prefix(&root).unwrap_or(&file);
        for (n, line) in text.lines().enumerate() {
            let words: Vec<String> = line
                .split(|c: char| !c.is_alphanumeric())
                .filter(|word| !word.is_empty())
                .map(str::to_lowercase)
                .collect();
            for pair in words.windows(2) {
                if pair[1] == "stages" && WORDS.contains(&pair[0].as_str()) && pair[0] != count {
                    problems.push(format!(
                        "{}:{}: says \"{} stages\", but stages/manifest lists {count}: reword it",
                        file.display(),
                        n + 1,
                        pair[0]
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// No chapter up to and including a stage's prints the code of one of
/// its exercise's holes in the open: the chapters explain each hole's idea,
/// and the stage's code for it sits only in a collapsed `<details>` block
/// (or in `cargo workbook solution N`). The check reads each chapter as
/// the reader sees it (includes resolved, `<details>` blocks left out) and
/// looks for a hole's code there: two consecutive lines of it (one, for a
/// hole of one line), at least one of which the stage has nowhere outside
/// its holes (a line the holes share with their context is no answer).
#[test]
fn no_chapter_shows_a_hole_in_the_open_up_to_its_stage() {
    let src = book_dir().join("src");
    let order = chapters_in_order(&src);
    let mut problems = Vec::new();
    for stage in STAGES {
        let chapter = format!("stage{}.md", stage.number);
        let Some(last) = order.iter().position(|c| *c == chapter) else {
            continue; // every_stage_has_a_chapter_in_the_summary reports it
        };
        let sources = book_dir().join("../stages").join(stage.dir).join("src");
        let mut answers = Vec::new();
        let mut context = Vec::new();
        for entry in std::fs::read_dir(&sources).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            let holes = holes::hole::find(&text).unwrap();
            for (i, line) in lines.iter().enumerate() {
                if !holes.iter().any(|h| (h.start..h.end).contains(&i)) {
                    context.push(line.trim().to_string());
                }
            }
            for hole in holes {
                let code: Vec<String> = lines[hole.start..hole.end]
                    .iter()
                    .map(|line| line.trim().to_string())
                    .filter(|line| substantive(line))
                    .collect();
                answers.push((hole.name, code));
            }
        }
        for name in &order[..=last] {
            let shown = open_text(&src.join(name));
            for (hole, code) in &answers {
                let width = code.len().min(2);
                let leak = code.windows(width).find(|window| {
                    window.iter().any(|line| !context.contains(line))
                        && shown.windows(width).any(|seen| seen == *window)
                });
                if let Some(window) = leak {
                    problems.push(format!(
                        "book/src/{name} shows the code of exercise {}'s hole `{hole}` in the \
                         open:\n    {}\n  explain the idea in prose, pseudo-code or a worked \
                         example, and include the listing in a `<details>` block after the \
                         exercise",
                        stage.number,
                        window.join("\n    ")
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A line of code worth comparing: not blank, not a comment, not a lone
/// brace or keyword.
fn substantive(line: &str) -> bool {
    let line = line.trim();
    !line.starts_with("//")
        && line.chars().filter(|c| c.is_alphanumeric()).count() >= 4
        && !matches!(line, "unsafe {" | "} else {" | "loop {")
}

/// The chapters as SUMMARY.md lists them, in order.
fn chapters_in_order(src: &Path) -> Vec<String> {
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).unwrap();
    summary
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(link, _)| link.to_string()))
        .filter(|link| link.ends_with(".md"))
        .collect()
}

/// The substantive lines a reader sees in the open in `chapter`: includes
/// resolved, `<details>` blocks left out.
fn open_text(chapter: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(chapter).unwrap_or_default();
    let mut lines = Vec::new();
    let mut depth = 0usize;
    for line in text.lines() {
        depth += line.matches("<details>").count();
        if depth > 0 {
            depth = depth.saturating_sub(line.matches("</details>").count());
            continue;
        }
        if let Some(at) = line.find("{{#include ") {
            let rest = &line[at + "{{#include ".len()..];
            let target = rest.split("}}").next().unwrap_or("").trim();
            lines.extend(included(chapter.parent().unwrap(), target));
        } else {
            lines.push(line.to_string());
        }
    }
    lines
        .into_iter()
        .map(|line| line.trim().to_string())
        .filter(|line| substantive(line))
        .collect()
}

/// The lines `{{#include target}}` puts in a chapter in `dir`: a whole
/// file, an anchor's lines, or a range of lines.
fn included(dir: &Path, target: &str) -> Vec<String> {
    let (file, selector) = match target.split_once(':') {
        Some((file, selector)) => (file, Some(selector)),
        None => (target, None),
    };
    let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let kept: Vec<&str> = match selector {
        None => lines,
        Some(selector) if selector.starts_with(|c: char| c.is_ascii_digit() || c == ':') => {
            let (from, to) = selector.split_once(':').unwrap_or((selector, selector));
            let from = from.parse::<usize>().unwrap_or(1).max(1) - 1;
            let to = to.parse::<usize>().unwrap_or(lines.len()).min(lines.len());
            lines
                .get(from..to)
                .map(<[&str]>::to_vec)
                .unwrap_or_default()
        }
        Some(anchor) => {
            let mut inside = false;
            let mut kept = Vec::new();
            for line in lines {
                let trimmed = line.trim();
                if trimmed == format!("// ANCHOR: {anchor}") {
                    inside = true;
                } else if trimmed == format!("// ANCHOR_END: {anchor}") {
                    inside = false;
                } else if inside && !trimmed.contains("ANCHOR") {
                    kept.push(line);
                }
            }
            kept
        }
    };
    kept.into_iter().map(str::to_string).collect()
}

/// Every ```rust block in the book's sources is marked `ignore` with a
/// reason nearby, or is not Rust: listings are fragments of the stage
/// crates, which the workspace compiles and tests as they are.
#[test]
fn rust_blocks_say_why_they_are_not_compiled() {
    let mut problems = Vec::new();
    for chapter in chapters(&book_dir().join("src")) {
        let text = std::fs::read_to_string(&chapter).unwrap();
        for (n, line) in text.lines().enumerate() {
            let fence = line.trim_start();
            if let Some(info) = fence.strip_prefix("```rust")
                && !info.contains("ignore")
            {
                problems.push(format!(
                    "{}:{}: a ```rust block without `ignore`: mdbook test would try to \
                     compile a fragment; include it as ```rust,ignore",
                    chapter.display(),
                    n + 1
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The book builds with mdbook-driver, and the result has no leftover
/// `{{#` directives, no empty listings, no broken internal links.
#[test]
fn book_builds_and_every_include_and_link_resolves() {
    let out = built_book();
    assert!(
        out.join("index.html").exists(),
        "no index.html in {}",
        out.display()
    );
    assert!(
        out.join("searchindex.js").exists()
            || out.join("searchindex.json").exists()
            || std::fs::read_dir(out).unwrap().any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("searchindex")),
        "the search index is missing"
    );
    let problems = site::check(out).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        problems.is_empty(),
        "the rendered book has problems:\n{}",
        problems.join("\n")
    );
}

/// The built book in headless Chromium: see [`browser`].
#[test]
fn book_works_in_a_browser() {
    browser::check(built_book());
}

/// The benchmark chapter's results: either `cargo workbook bench --book`
/// wrote them, or the marked placeholder stands in their place.
#[test]
fn bench_results_are_there_or_marked_as_missing() {
    let path = book_dir().join("src/bench/results.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run `cargo workbook bench --book`)",
            path.display()
        )
    });
    if text.contains("<!-- placeholder: cargo workbook bench --book -->") {
        println!("note: {} is still the placeholder", path.display());
    } else {
        assert!(
            text.contains("| ") && text.contains("cargo workbook bench"),
            "{} has neither a results table nor the placeholder",
            path.display()
        );
    }
}

/// The Markdown files under `dir`.
fn chapters(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(chapters(&path));
        } else if path.extension().is_some_and(|e| e == "md") {
            found.push(path);
        }
    }
    found
}
