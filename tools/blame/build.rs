//! Writes the variants `cargo workbook check` tries when every hole of an
//! exercise is filled and a check fails: for each filled hole, the stage's
//! code with only that hole taken from the learner's sources. A variant
//! that still fails a check puts the blame on its hole.
//!
//! `WORKBOOK_BLAME=N` names the exercise; without it there are no variants
//! (the crate then builds in a moment, as part of the workspace).

#[path = "../holes/src/hole.rs"]
#[allow(dead_code)]
mod hole;
#[path = "../holes/src/table.rs"]
#[allow(dead_code)]
mod table;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=WORKBOOK_BLAME");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let exercise = std::env::var("WORKBOOK_BLAME")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .and_then(table::find);
    let mut list = String::new();
    let mut table_rows = String::new();
    let number = exercise.map_or(0, |e| e.number);
    if let Some(exercise) = exercise {
        let stage = root.join("stages").join(exercise.dir).join("src");
        let mine = root.join("exercises").join(exercise.dir).join("src");
        println!("cargo:rerun-if-changed={}", stage.display());
        println!("cargo:rerun-if-changed={}", mine.display());
        let stage_files = sources(&stage);
        let mut filled: Vec<(String, Vec<String>)> = Vec::new();
        for (_, text) in sources(&mine) {
            let lines: Vec<&str> = text.lines().collect();
            for found in hole::find(&text).unwrap_or_default() {
                if !hole::is_open(&found, &lines) {
                    let content = lines[found.start..found.end]
                        .iter()
                        .map(|l| l.to_string())
                        .collect();
                    filled.push((found.name, content));
                }
            }
        }
        for (name, content) in &filled {
            let module = format!("v_{name}");
            let dir = out.join(&module);
            fs::create_dir_all(&dir).expect("OUT_DIR is writable");
            for (file, text) in &stage_files {
                let variant = hole::replace(text, |hole, _| {
                    Ok((hole.name == *name).then(|| content.clone()))
                })
                .expect("the stage's holes are sound");
                let local = if file == "lib.rs" {
                    "self::"
                } else {
                    "super::"
                };
                fs::write(dir.join(file), variant.replace("crate::", local))
                    .expect("OUT_DIR is writable");
            }
            let ty = format!("{module}::{}", exercise.type_name);
            let _ = write!(
                list,
                "#[path = {lib:?}]\n#[allow(warnings, clippy::all)]\nmod {module};\n\
                 fn {module}_make(sources: Sources) -> Boxed {{ Boxed(Box::new({new})) }}\n",
                lib = dir.join("lib.rs").display().to_string(),
                new = table::make_with(exercise, &ty),
            );
            let _ = writeln!(table_rows, "    ({name:?}, {module}_make),");
        }
    }
    let _ = write!(
        list,
        "/// The exercise the variants are of (0: none).\nconst EXERCISE: u32 = {number};\n\
         /// Makes an allocator from the sources the checks watch.\n\
         type Make = fn(Sources) -> Boxed;\n\
         /// Each filled hole, and the stage with only that hole the learner's.\n\
         const VARIANTS: &[(&str, Make)] = &[\n{table_rows}];\n"
    );
    fs::write(out.join("variants.rs"), list).expect("OUT_DIR is writable");
}

/// The `.rs` files in `dir`, by name.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, String)> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_string_lossy().into_owned();
            name.ends_with(".rs")
                .then(|| fs::read_to_string(&path).ok().map(|text| (name, text)))
                .flatten()
        })
        .collect();
    files.sort();
    files
}
