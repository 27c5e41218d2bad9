//! `cargo workbook classes`: how much memory a size-class table wastes on
//! the requests of real programs, the measurement behind the 16-byte steps
//! of stage 7's bins and stage 9's cache classes.
//!
//! A request rounded up to its class wastes the difference. Fewer classes
//! waste more; more classes mean more buckets (stages 2 to 6), each a region
//! of its own that is partly empty, or more bins and caches to keep. The
//! table compares candidate class tables on every small request (at most
//! 1024 bytes) in the recorded traces of real programs.

use std::path::Path;

use malloc_trace::{Op, parse};

use crate::Failure;

/// A candidate table of size classes, smallest first, the largest 1024.
struct Table {
    name: &'static str,
    classes: Vec<usize>,
}

/// The candidates: the four classes of stages 2 to 6, the sixty-four of
/// stages 7 to 9, and two more.
fn candidates() -> Vec<Table> {
    let steps = |from: usize, to: usize, step: usize| (from..=to).step_by(step);
    vec![
        Table {
            name: "stages 2-6: 16, 64, 256, 1024",
            classes: vec![16, 64, 256, 1024],
        },
        Table {
            name: "powers of two, 16 to 1024",
            classes: (4..=10).map(|shift| 1 << shift).collect(),
        },
        Table {
            name: "16-byte steps to 128, then 4 per doubling",
            classes: steps(16, 128, 16)
                .chain(steps(160, 256, 32))
                .chain(steps(320, 512, 64))
                .chain(steps(640, 1024, 128))
                .collect(),
        },
        Table {
            name: "stages 7-9: 16-byte steps to 1024",
            classes: steps(16, 1024, 16).collect(),
        },
    ]
}

/// The small request sizes of every trace in `dir` (`.rep` files).
fn request_sizes(dir: &Path) -> Result<Vec<usize>, Failure> {
    let mut sizes = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Failure::Input(format!("{}: {e}", dir.display())))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "rep"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
        let trace = parse(&text).map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
        sizes.extend(trace.ops.iter().filter_map(|op| match *op {
            Op::Malloc { size, .. } | Op::Realloc { size, .. } | Op::Memalign { size, .. } => {
                Some(size)
            }
            Op::Calloc { count, size, .. } => count.checked_mul(size),
            Op::Free { .. } => None,
        }));
    }
    sizes.retain(|&size| size <= 1024);
    Ok(sizes)
}

/// The table as Markdown: per candidate, the classes, the share of the
/// bytes handed out that nobody asked for, over `sizes`, and the worst share
/// of one block above 128 bytes (below, 16-byte alignment decides anyway).
pub fn table(sizes: &[usize]) -> String {
    let mut out = String::from(
        "| class table | classes | mean waste | worst waste above 128 B |\n|---|---|---|---|\n",
    );
    for table in candidates() {
        let (mut wasted, mut given, mut worst) = (0usize, 0usize, 0f64);
        for &size in sizes {
            let class = *table.classes.iter().find(|&&c| size <= c).expect("≤ 1024");
            wasted += class - size;
            given += class;
            if size > 128 {
                worst = worst.max((class - size) as f64 / class as f64);
            }
        }
        let mean = 100.0 * wasted as f64 / given.max(1) as f64;
        out.push_str(&format!(
            "| {} | {} | {mean:.1}% | {:.0}% |\n",
            table.name,
            table.classes.len(),
            100.0 * worst
        ));
    }
    out
}

/// Prints the table for the traces in `dir`.
pub fn run(dir: &Path) -> Result<(), Failure> {
    let sizes = request_sizes(dir)?;
    if sizes.is_empty() {
        return Err(Failure::Input(format!(
            "no small requests in the .rep files of {}",
            dir.display()
        )));
    }
    println!(
        "Waste of rounding up to a class, over {} requests of at most 1024 bytes\n\
         in the traces of {} (the bytes of each block the program did not ask for):\n",
        sizes.len(),
        dir.display()
    );
    print!("{}", table(&sizes));
    println!(
        "\nStages 2 to 6 keep a bucket per class, so more classes leave more buckets\n\
         partly empty. Stage 7 cuts blocks from one heap at their own size, rounded\n\
         to 16 bytes, with a bin per size up to 1024; stage 9 caches the same classes."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finer_tables_waste_less() {
        let sizes: Vec<usize> = (1..=1024).collect();
        let text = table(&sizes);
        let means: Vec<f64> = text
            .lines()
            .skip(2)
            .map(|line| {
                let cell = line.split('|').nth(3).unwrap().trim();
                cell.trim_end_matches('%').parse().unwrap()
            })
            .collect();
        assert_eq!(means.len(), 4);
        assert!(means[0] > means[2] && means[2] > means[3], "{text}");
    }
}
