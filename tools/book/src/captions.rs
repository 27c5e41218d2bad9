//! Listing captions: every listing the book pulls from a source file gets a
//! caption with its number in the chapter, its file and its anchor, as the
//! Rust book captions its listings ("Listing 10.3 · stages/7-merge/src/
//! merge.rs · free_and_merge").
//!
//! It runs as an mdbook preprocessor, before mdbook's `links` expands the
//! `{{#include}}` directives, so it can still read which file a listing
//! comes from. book.toml declares `[preprocessor.captions]` with
//! `before = ["links"]` to give it that place; [`crate::site::build`] puts
//! this preprocessor there (a plain `mdbook build` skips it: the command it
//! names does not exist, and it is optional).

use mdbook_driver::book::{Book, BookItem};
use mdbook_driver::errors::Result;
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};

/// The captions preprocessor (see the module docs).
pub struct Captions;

/// Its name, the key of its table in book.toml.
pub const NAME: &str = "captions";

impl Preprocessor for Captions {
    fn name(&self) -> &str {
        NAME
    }

    fn run(&self, _ctx: &PreprocessorContext, mut book: Book) -> Result<Book> {
        let mut problems = Vec::new();
        book.for_each_mut(|item| {
            if let BookItem::Chapter(chapter) = item {
                let number = chapter
                    .number
                    .as_ref()
                    .map(|n| n.to_string().trim_end_matches('.').to_string());
                match caption(&chapter.content, number.as_deref()) {
                    Ok(content) => chapter.content = content,
                    Err(problem) => problems.push(format!("{}: {problem}", chapter.name)),
                }
            }
        });
        if !problems.is_empty() {
            return Err(mdbook_driver::errors::Error::msg(format!(
                "listing captions: {}",
                problems.join("; ")
            )));
        }
        Ok(book)
    }
}

/// Where a listing comes from: the file (relative to the workspace) and the
/// anchor, if any.
#[derive(Debug, PartialEq, Eq)]
pub struct Source {
    /// The file, as the include names it without its leading `../`.
    pub file: String,
    /// The anchor, if the include names one.
    pub anchor: Option<String>,
}

/// The source of a fenced block whose only content is an include of a
/// source file (`.rs`), if it is one.
fn listing_source(content: &[&str]) -> Option<Source> {
    let lines: Vec<&str> = content
        .iter()
        .map(|line| strip_quote(line).trim())
        .filter(|line| !line.is_empty())
        .collect();
    let [line] = lines.as_slice() else {
        return None;
    };
    let inner = line
        .strip_prefix("{{#include ")
        .or_else(|| line.strip_prefix("{{#rustdoc_include "))?
        .strip_suffix("}}")?
        .trim();
    let (path, anchor) = match inner.split_once(':') {
        Some((path, rest)) => (path, Some(rest)),
        None => (inner, None),
    };
    if !path.ends_with(".rs") {
        return None;
    }
    // An anchor is a name; `:5:` or `:3:10` are line ranges.
    let anchor = anchor
        .filter(|a| a.chars().next().is_some_and(|c| !c.is_ascii_digit()))
        .map(str::to_string);
    let file = path.trim_start_matches("../").to_string();
    Some(Source { file, anchor })
}

/// A line without a blockquote's `> ` prefix.
fn strip_quote(line: &str) -> &str {
    let trimmed = line.trim_start();
    trimmed
        .strip_prefix("> ")
        .or_else(|| trimmed.strip_prefix('>'))
        .unwrap_or(line)
}

/// How the prose names a listing: `{{#listing ANCHOR}}` (or
/// `{{#listing FILE:ANCHOR}}` where two listings of a chapter share an
/// anchor) becomes a link "Listing 7.3" to its caption, so that the number
/// follows when listings move.
const REFERENCE: &str = "{{#listing ";

/// `markdown` with a caption line before each listing that includes a
/// source file, numbered in order: "Listing {chapter}.{n}", and each
/// `{{#listing ...}}` reference replaced by a link to its listing. A
/// reference to no listing, or to two, is an error.
pub fn caption(markdown: &str, chapter: Option<&str>) -> std::result::Result<String, String> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut out = String::with_capacity(markdown.len() + 1024);
    let mut listings: Vec<(Source, String)> = Vec::new();
    let mut count = 0;
    let mut at = 0;
    while at < lines.len() {
        let line = lines[at];
        let fence = strip_quote(line).trim_start();
        let ticks = fence.chars().take_while(|&c| c == '`').count();
        if ticks >= 3 {
            // Find its closing fence.
            let close = (at + 1..lines.len()).find(|&i| {
                let l = strip_quote(lines[i]).trim();
                l.len() >= ticks && l.chars().all(|c| c == '`')
            });
            if let Some(close) = close {
                if let Some(source) = listing_source(&lines[at + 1..close]) {
                    count += 1;
                    let number = match chapter {
                        Some(chapter) => format!("{chapter}.{count}"),
                        None => count.to_string(),
                    };
                    let anchor = source
                        .anchor
                        .as_ref()
                        .map(|a| format!(" · <code>{a}</code>"))
                        .unwrap_or_default();
                    let indent = &line[..line.len() - line.trim_start().len()];
                    out.push_str(&format!(
                        "{indent}<p class=\"listing-caption\" id=\"{}\">Listing {number} · <code>{}</code>{anchor}</p>\n\n",
                        id(&number),
                        source.file
                    ));
                    listings.push((source, number));
                }
                for l in &lines[at..=close] {
                    out.push_str(l);
                    out.push('\n');
                }
                at = close + 1;
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
        at += 1;
    }
    if !markdown.ends_with('\n') {
        out.pop();
    }
    resolve(&out, &listings)
}

/// The HTML id of listing `number`: `listing-7-3`.
fn id(number: &str) -> String {
    format!("listing-{}", number.replace('.', "-"))
}

/// `text` with every `{{#listing ...}}` replaced by a link to its listing.
fn resolve(text: &str, listings: &[(Source, String)]) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(REFERENCE) {
        out.push_str(&rest[..at]);
        let after = &rest[at + REFERENCE.len()..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("`{REFERENCE}` without its closing `}}}}`"))?;
        let name = after[..end].trim();
        let (file, anchor) = match name.rsplit_once(':') {
            Some((file, anchor)) => (Some(file), anchor),
            None => (None, name),
        };
        let found: Vec<&String> = listings
            .iter()
            .filter(|(source, _)| {
                source.anchor.as_deref() == Some(anchor)
                    && file.is_none_or(|file| source.file.ends_with(file))
            })
            .map(|(_, number)| number)
            .collect();
        match found.as_slice() {
            [number] => out.push_str(&format!("[Listing {number}](#{})", id(number))),
            [] => {
                return Err(format!(
                    "`{{{{#listing {name}}}}}` names no listing of this chapter"
                ));
            }
            _ => {
                return Err(format!(
                    "`{{{{#listing {name}}}}}` names {} listings: say which file, \
                     `{{{{#listing FILE:{anchor}}}}}`",
                    found.len()
                ));
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_listing_gets_a_numbered_caption() {
        let md = "# T\n\n```rust,ignore\n{{#include ../../stages/1-bump/src/lib.rs:bump}}\n```\n\n\
                  ```text\n{{#include generated/x.txt}}\n```\n\n\
                  ```rust,ignore\n{{#include ../../stages/core/src/lock.rs}}\n```\n";
        let out = caption(md, Some("4")).unwrap();
        assert!(out.contains(
            "<p class=\"listing-caption\" id=\"listing-4-1\">Listing 4.1 · <code>stages/1-bump/src/lib.rs</code> · <code>bump</code></p>\n\n```rust,ignore"
        ), "{out}");
        assert!(
            out.contains("Listing 4.2 · <code>stages/core/src/lock.rs</code></p>"),
            "{out}"
        );
        // Command output is not a listing.
        assert_eq!(out.matches("listing-caption").count(), 2, "{out}");
        // Everything else is kept as it was.
        assert_eq!(
            out.replace("listing-caption", "").lines().count(),
            md.lines().count() + 4
        );
    }

    #[test]
    fn line_ranges_are_not_anchors() {
        let source = listing_source(&["{{#include ../../tests/x.rs:5:}}"]).unwrap();
        assert_eq!(source.anchor, None);
        assert_eq!(source.file, "tests/x.rs");
    }

    #[test]
    fn the_prose_names_listings_by_anchor_and_gets_their_number() {
        let md = "```rust,ignore\n{{#include ../../stages/1-bump/src/lib.rs:bump}}\n```\n\
                  ```rust,ignore\n{{#include ../../stages/2-buckets/src/lib.rs:bump}}\n```\n\
                  ```rust,ignore\n{{#include ../../stages/core/src/lock.rs:acquire}}\n```\n\
                  As {{#listing acquire}} shows, and {{#listing 2-buckets/src/lib.rs:bump}}.\n";
        let out = caption(md, Some("4")).unwrap();
        assert!(
            out.contains("As [Listing 4.3](#listing-4-3) shows, and [Listing 4.2](#listing-4-2)."),
            "{out}"
        );
        let ambiguous = md.replace("listing 2-buckets/src/lib.rs:bump", "listing bump");
        assert!(
            caption(&ambiguous, Some("4"))
                .unwrap_err()
                .contains("names 2 listings")
        );
        let missing = md.replace("acquire}} shows", "nothing}} shows");
        assert!(
            caption(&missing, Some("4"))
                .unwrap_err()
                .contains("names no listing")
        );
    }
}
