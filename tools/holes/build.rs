//! Writes the proofs' variants into OUT_DIR: for every exercise, its stage
//! with one hole open (one variant per hole) and with all holes open, as
//! modules that tests/proof.rs includes. One test binary then checks them
//! all, with no nested cargo run.

#[path = "src/hole.rs"]
#[allow(dead_code)]
mod hole;
#[path = "src/table.rs"]
#[allow(dead_code)]
mod table;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mut list = String::new();
    for exercise in table::EXERCISES {
        let src = root.join("stages").join(exercise.dir).join("src");
        println!("cargo:rerun-if-changed={}", src.display());
        assert!(
            src.is_dir(),
            "stage {} is in the manifest (stages/manifest/src/lib.rs), but {}/src does not \
             exist: create the stage's crate there",
            exercise.number,
            exercise.stage_dir()
        );
        let files = sources(&src);
        let mut names = Vec::new();
        for (_, text) in &files {
            let holes = hole::find(text).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
            names.extend(holes.into_iter().map(|hole| hole.name));
        }
        let mut variants: Vec<(String, Vec<String>)> = names
            .iter()
            .map(|name| (name.clone(), vec![name.clone()]))
            .collect();
        variants.push(("every_hole".to_string(), names.clone()));
        for (variant, open) in variants {
            let module = format!("e{}_{variant}", exercise.number);
            let dir = out.join(&module);
            fs::create_dir_all(&dir).expect("OUT_DIR is writable");
            for (name, text) in &files {
                let opened = hole::replace(text, |hole, _| {
                    Ok(open.contains(&hole.name).then(|| hole::open(hole, "")))
                })
                .expect("holes were found above");
                // The stage's `crate::` is the variant's module here.
                let local = if name == "lib.rs" {
                    "self::"
                } else {
                    "super::"
                };
                fs::write(dir.join(name), opened.replace("crate::", local))
                    .expect("OUT_DIR is writable");
            }
            let ty = format!("{module}::{}", exercise.type_name);
            let _ = write!(
                list,
                "#[path = {lib:?}]\n#[allow(warnings, clippy::all)]\nmod {module};\n\
                 fn {module}_make(sources: Sources) -> impl Malloc {{ {make} }}\n\
                 #[test]\nfn exercise{n}_fails_with_{variant}_open() {{ fails({n}, {variant:?}, {module}_make) }}\n\n",
                lib = dir.join("lib.rs").display().to_string(),
                make = table::make_with(exercise, &ty),
                n = exercise.number,
            );
        }
        let stage = format!("{}::{}", exercise.crate_name(), exercise.type_name);
        let _ = write!(
            list,
            "fn stage{n}_make(sources: Sources) -> impl Malloc {{ {make} }}\n\
             #[test]\nfn exercise{n}_passes_filled() {{ passes({n}, stage{n}_make) }}\n\n",
            n = exercise.number,
            make = table::make_with(exercise, &stage),
        );
    }
    fs::write(out.join("variants.rs"), list).expect("OUT_DIR is writable");
}

/// The `.rs` files in `dir`, by name.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_string_lossy().into_owned();
            name.ends_with(".rs")
                .then(|| (name, fs::read_to_string(&path).expect("a stage source")))
        })
        .collect();
    files.sort();
    files
}
