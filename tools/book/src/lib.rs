//! The malloc workbook's book (`book/`): built with the mdbook library,
//! checked, and fed with figures and pictures the project makes.
//!
//! - [`site`]: builds the HTML with `mdbook-driver` and checks the result
//!   for includes that did not resolve, empty listings and broken links.
//! - [`generate`]: the files in `book/src/generated/`: lesson figures, heap
//!   pictures (SVG), and the answers to the chapters' drills.
//! - [`picture`]: reads a heap map back into blocks and draws it as SVG.
//! - [`captions`]: numbers and captions every listing with its file.
//! - [`diff`]: what changed from one stage to the next (`cargo workbook
//!   diff N`, and the box that opens each stage's chapter).
//! - [`drill`]: runs a trace on a stage and returns its heap map with the
//!   blocks still live (`cargo workbook map`).
//! - [`explore`]: the heap explorer's data, the heap after every op of a
//!   trace (`cargo workbook explore`, and the explorer page).
//!
//! `cargo workbook book` builds the book; `cargo test -p workbook-book`
//! checks it, and `UPDATE_BOOK=1 cargo test -p workbook-book` rewrites the
//! generated files.

pub mod captions;
pub mod diff;
pub mod drill;
pub mod explore;
pub mod generate;
pub mod picture;
pub mod site;

use std::path::PathBuf;

/// The book's root folder (`book/`, holding `book.toml`).
pub fn book_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../book")
}

/// Where `cargo workbook book` puts the HTML: `book/` in the target folder
/// (`CARGO_TARGET_DIR`, or the workspace's `target/`).
pub fn output_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let target = std::path::absolute(&target).unwrap_or(target);
    target.join("book")
}
