//! The course map: what `cargo workbook` prints with no arguments.

use std::io::IsTerminal;

use crate::stages::{STAGES, built_list};
use crate::table::table;

/// Prints the stages, what each teaches, and the commands to use.
pub fn print_map() {
    // Bold headings on a terminal only: piped output stays plain text.
    let bold = |text: &str| {
        if std::io::stdout().is_terminal() {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };

    println!(
        "{}",
        bold("The malloc workbook: build a real malloc in six stages.")
    );
    println!();
    let mut rows = vec![vec![
        "stage".to_string(),
        "name".to_string(),
        "idea".to_string(),
        "built".to_string(),
    ]];
    for stage in STAGES {
        rows.push(vec![
            stage.number.to_string(),
            stage.name.to_string(),
            stage.idea.to_string(),
            if stage.new.is_some() {
                "yes"
            } else {
                "not yet"
            }
            .to_string(),
        ]);
    }
    print!("{}", table(&rows, 2));
    println!();
    println!("Built so far: stage {}.", built_list());
    println!();

    println!("{}", bold("What each stage teaches"));
    let rows: Vec<Vec<String>> = STAGES
        .iter()
        .map(|stage| vec![stage.number.to_string(), stage.teaches.to_string()])
        .collect();
    print!("{}", table(&rows, 2));
    println!();

    println!("{}", bold("Commands"));
    let commands = [
        ["cargo workbook", "this map"],
        [
            "cargo workbook replay TRACE --stage N",
            "replay a trace on stage N and on the system malloc",
        ],
        [
            "cargo workbook replay --help",
            "the options (--runs R: runs to take the median of)",
        ],
        ["cargo test", "run every test of every stage"],
    ];
    let rows: Vec<Vec<String>> = commands
        .iter()
        .map(|row| row.iter().map(|cell| cell.to_string()).collect())
        .collect();
    print!("{}", table(&rows, 2));
    println!();
    println!("Sample traces are in traces/ (see traces/README.md), e.g.");
    println!("  cargo workbook replay traces/small-churn.rep --stage 1");
}
