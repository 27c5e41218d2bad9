//! Building the book with the mdbook library, and checking what it made.
//!
//! mdbook only logs an `{{#include}}` whose file or anchor it cannot find,
//! so [`check`] reads the rendered HTML for what such a mistake leaves
//! behind: the directive itself, or an empty listing. It also checks that
//! every Rust listing has its caption, and follows every relative link and
//! image to a file (and `#fragment` to an `id`) that must exist.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mdbook_driver::MDBook;

use crate::explore;

/// Builds the book at `book` (the folder holding `book.toml`, in the
/// repository) as HTML into `out`, with its search index, and writes the
/// heap explorer's data beside its page ([`explore::write_book_data`]).
pub fn build(book: &Path, out: &Path) -> Result<(), String> {
    let mut md = MDBook::load(book).map_err(|e| format!("cannot load the book: {e:#}"))?;
    md.config.build.build_dir = out.to_path_buf();
    // In the place book.toml gives it: before `links` expands the includes.
    md.with_preprocessor(crate::captions::Captions);
    md.build()
        .map_err(|e| format!("building the book failed: {e:#}"))?;
    explore::write_book_data(&book.join(".."), out)?;
    Ok(())
}

/// What is wrong with the rendered book at `out`: one line per problem.
pub fn check(out: &Path) -> Result<Vec<String>, String> {
    let mut pages = BTreeMap::new();
    collect(out, out, &mut pages)?;
    let ids: BTreeMap<&PathBuf, BTreeSet<String>> = pages
        .iter()
        .map(|(path, html)| (path, ids_in(html)))
        .collect();
    let mut problems = Vec::new();
    for (path, html) in &pages {
        // The print page repeats every chapter; checking chapters is enough.
        if path.ends_with("print.html") || path.ends_with("404.html") || path.ends_with("toc.html")
        {
            continue;
        }
        let name = path.display();
        let main = main_part(html);
        if let Some(at) = main.find("{{#") {
            let end = (at + 60).min(main.len());
            let snippet = main.get(at..end).unwrap_or("{{#");
            problems.push(format!("{name}: an unresolved directive: {snippet}"));
        }
        let mut rest = main;
        while let Some(at) = rest.find("<pre><code class=\"language-rust") {
            let before = rest[..at].trim_end();
            let captioned = before.ends_with("</p>")
                && before
                    .rfind("<p")
                    .is_some_and(|p| before[p..].starts_with("<p class=\"listing-caption\""));
            if !captioned {
                let end = (at + 120).min(rest.len());
                let snippet = rest.get(at..end).unwrap_or("");
                problems.push(format!(
                    "{name}: a Rust listing without a caption (captions come from \
                     `{{{{#include}}}}` of a .rs file): {snippet}"
                ));
            }
            rest = &rest[at + 10..];
        }
        for code in code_blocks(main) {
            if code.trim().is_empty() {
                problems.push(format!(
                    "{name}: an empty code block (an include whose anchor or lines are missing?)"
                ));
            }
        }
        for (attribute, target) in links(main) {
            if target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:")
                || target.starts_with("data:")
            {
                continue;
            }
            let (file, fragment) = match target.split_once('#') {
                Some((file, fragment)) => (file, Some(fragment)),
                None => (target.as_str(), None),
            };
            let dir = path.parent().unwrap_or(Path::new(""));
            let resolved = if file.is_empty() {
                path.clone()
            } else {
                normalize(&dir.join(file))
            };
            if !out.join(&resolved).exists() {
                problems.push(format!(
                    "{name}: {attribute}=\"{target}\" points to a missing file"
                ));
                continue;
            }
            if let Some(fragment) = fragment.filter(|f| !f.is_empty()) {
                match ids.get(&resolved) {
                    Some(ids) if ids.contains(fragment) => {}
                    Some(_) => problems.push(format!(
                        "{name}: {attribute}=\"{target}\": no id \"{fragment}\" there"
                    )),
                    None => {}
                }
            }
        }
    }
    Ok(problems)
}

/// Every `.html` file under `dir`, by path relative to `root`.
fn collect(root: &Path, dir: &Path, pages: &mut BTreeMap<PathBuf, String>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect(root, &path, pages)?;
        } else if path.extension().is_some_and(|e| e == "html") {
            let html = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            pages.insert(relative, html);
        }
    }
    Ok(())
}

/// The chapter's own content (inside `<main>`), without the page's frame.
fn main_part(html: &str) -> &str {
    let start = html.find("<main>").unwrap_or(0);
    let end = html.rfind("</main>").unwrap_or(html.len());
    &html[start..end.max(start)]
}

/// The text inside each `<code ...>...</code>` of a `<pre>` block.
fn code_blocks(html: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("<pre><code") {
        rest = &rest[at..];
        let Some(open_end) = rest
            .find('>')
            .and_then(|a| rest[a + 1..].find('>').map(|b| a + b + 2))
        else {
            break;
        };
        let Some(close) = rest.find("</code>") else {
            break;
        };
        blocks.push(&rest[open_end.min(close)..close]);
        rest = &rest[close..];
    }
    blocks
}

/// Every `href="..."` and `src="..."` value.
fn links(html: &str) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    for attribute in ["href", "src"] {
        let pattern = format!(" {attribute}=\"");
        let mut rest = html;
        while let Some(at) = rest.find(&pattern) {
            rest = &rest[at + pattern.len()..];
            if let Some(end) = rest.find('"') {
                found.push((attribute, rest[..end].replace("&amp;", "&")));
                rest = &rest[end..];
            }
        }
    }
    found
}

/// Every `id="..."` in a page.
fn ids_in(html: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut rest = html;
    while let Some(at) = rest.find(" id=\"") {
        rest = &rest[at + 5..];
        if let Some(end) = rest.find('"') {
            ids.insert(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    ids
}

/// `a/./b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::CurDir => {}
            other => parts.push(other.as_os_str()),
        }
    }
    parts.iter().collect()
}
