//! Writes the proofs' variants into OUT_DIR, as modules that tests/proof.rs
//! includes: for every exercise, its stage
//!
//! - with one hole open (one variant per hole), and with every hole open;
//! - with one hole filled by each wrong answer of tools/holes/answers;
//! - filled by each right answer in another style, with the stage's own
//!   tests as the exercise runs them;
//!
//! and one test per variant. One test binary then checks them all, with no
//! nested cargo run.

#[path = "src/answers.rs"]
#[allow(dead_code)]
mod answers;
#[path = "src/hole.rs"]
#[allow(dead_code)]
mod hole;
#[path = "src/table.rs"]
#[allow(dead_code)]
mod table;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use answers::Answer;
use hole::Hole;

/// What a variant puts in the holes.
enum Fill<'a> {
    /// Open: a `todo!()` in these holes, the stage's code in the others.
    Open(Vec<String>),
    /// These holes get the answer's code, the others the stage's.
    Answer(&'a Answer),
}

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
        let tests_dir = root.join("stages").join(exercise.dir).join("tests");
        println!("cargo:rerun-if-changed={}", tests_dir.display());
        let answers_file = root
            .join("tools/holes/answers")
            .join(format!("{}.md", exercise.dir));
        println!("cargo:rerun-if-changed={}", answers_file.display());
        let answers = match fs::read_to_string(&answers_file) {
            Ok(text) => answers::parse(&answers_file.display().to_string(), &text)
                .unwrap_or_else(|e| panic!("{e}")),
            Err(_) => Vec::new(),
        };

        let files = sources(&src);
        let mut names = Vec::new();
        for (_, text) in &files {
            let holes = hole::find(text).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
            names.extend(holes.into_iter().map(|hole| hole.name));
        }
        for answer in &answers {
            for (name, _) in &answer.holes {
                assert!(
                    names.contains(name),
                    "{}: answer `{}` fills hole `{name}`, which stage {} does not have",
                    answers_file.display(),
                    answer.name,
                    exercise.number
                );
            }
        }

        let n = exercise.number;
        let mut variants: Vec<(String, Fill, String)> = Vec::new();
        for name in &names {
            variants.push((
                format!("e{n}_open_{name}"),
                Fill::Open(vec![name.clone()]),
                format!(
                    "#[test]\nfn exercise{n}_fails_with_{name}_open() {{ fails({n}, {name:?}, MAKE) }}\n"
                ),
            ));
        }
        variants.push((
            format!("e{n}_every_hole"),
            Fill::Open(names.clone()),
            format!(
                "#[test]\nfn exercise{n}_fails_with_every_hole_open() {{ fails({n}, \"every_hole\", MAKE) }}\n"
            ),
        ));
        for answer in &answers {
            let test = match &answer.rejected_by {
                Some(rejection) => {
                    let test = format!("exercise{n}_rejects_{}_{}", answer.hole(), answer.name);
                    format!(
                        "#[test]\nfn {test}() {{ rejected({test:?}, {n}, {hole:?}, {name:?}, {check:?}, {saying:?}, MAKE) }}\n",
                        hole = answer.hole(),
                        name = answer.name,
                        check = rejection.check,
                        saying = rejection.saying,
                    )
                }
                None => format!(
                    "#[test]\nfn exercise{n}_accepts_{name}() {{ accepted({n}, {name:?}, MAKE) }}\n",
                    name = answer.name
                ),
            };
            let module = match answer.is_wrong() {
                true => format!("e{n}_wrong_{}_{}", answer.hole(), answer.name),
                false => format!("e{n}_right_{}", answer.name),
            };
            variants.push((module, Fill::Answer(answer), test));
        }

        for (module, fill, test) in &variants {
            let dir = out.join(module);
            fs::create_dir_all(&dir).expect("OUT_DIR is writable");
            for (name, text) in &files {
                let filled = hole::replace(text, |hole, _| Ok(filling(fill, hole)))
                    .expect("holes were found above");
                // The stage's `crate::` is the variant's module here.
                let local = if name == "lib.rs" {
                    "self::"
                } else {
                    "super::"
                };
                fs::write(dir.join(name), filled.replace("crate::", local))
                    .expect("OUT_DIR is writable");
            }
            let make = format!("{module}_make");
            let ty = format!("{module}::{}", exercise.type_name);
            let _ = write!(
                list,
                "#[path = {lib:?}]\n#[allow(warnings, clippy::all)]\nmod {module};\n\
                 fn {make}(sources: Sources) -> Dyn {{ Dyn(Box::new({new})) }}\n{test}\n",
                lib = dir.join("lib.rs").display().to_string(),
                new = table::make_with(exercise, &ty),
                test = test.replace("MAKE", &make),
            );
            // A right answer also passes the stage's own tests, as the
            // exercise runs them.
            if let Fill::Answer(answer) = fill
                && !answer.is_wrong()
            {
                for (name, text) in sources(&tests_dir) {
                    let tests_module = format!("{module}_{}", name.trim_end_matches(".rs"));
                    let path = dir.join(format!("tests_{name}"));
                    let text = hole::exercise_tests(&text).replace(
                        &format!("{}::", exercise.crate_name()),
                        &format!("crate::{module}::"),
                    );
                    fs::write(&path, text).expect("OUT_DIR is writable");
                    let _ = write!(
                        list,
                        "#[path = {path:?}]\n#[allow(warnings, clippy::all)]\nmod {tests_module};\n\n",
                        path = path.display().to_string(),
                    );
                }
            }
        }
        let stage = format!("{}::{}", exercise.crate_name(), exercise.type_name);
        let _ = write!(
            list,
            "fn stage{n}_make(sources: Sources) -> Dyn {{ Dyn(Box::new({make})) }}\n\
             #[test]\nfn exercise{n}_passes_filled() {{ passes({n}, stage{n}_make) }}\n\n",
            make = table::make_with(exercise, &stage),
        );
    }
    fs::write(out.join("variants.rs"), list).expect("OUT_DIR is writable");
}

/// The new content of `hole` in a variant, or `None` to keep the stage's.
fn filling(fill: &Fill, hole: &Hole) -> Option<Vec<String>> {
    match fill {
        Fill::Open(open) => open.contains(&hole.name).then(|| hole::open(hole, "")),
        Fill::Answer(answer) => answer
            .holes
            .iter()
            .find(|(name, _)| *name == hole.name)
            .map(|(_, code)| answers::indented(code, &hole.indent)),
    }
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
                .then(|| (name, fs::read_to_string(&path).expect("a stage source")))
        })
        .collect();
    files.sort();
    files
}
