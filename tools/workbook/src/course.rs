//! The course map: what `cargo workbook` prints with no arguments. Every
//! stage in it comes from the stage manifest.

use std::io::IsTerminal;

use crate::stages::STAGES;
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
        bold(&format!(
            "The malloc workbook: build a real malloc in {} stages.",
            workbook_manifest::count_in_words()
        ))
    );
    println!();
    let mut rows = vec![vec![
        "stage".to_string(),
        "name".to_string(),
        "idea".to_string(),
    ]];
    for stage in STAGES {
        rows.push(vec![
            stage.number.to_string(),
            stage.name.to_string(),
            stage.idea.to_string(),
        ]);
    }
    print!("{}", table(&rows, 2));
    println!();

    let by_stage = |line: fn(&workbook_manifest::Stage) -> &'static str| {
        let rows: Vec<Vec<String>> = STAGES
            .iter()
            .map(|stage| vec![stage.number.to_string(), line(stage).to_string()])
            .collect();
        table(&rows, 2)
    };
    println!("{}", bold("What each stage teaches"));
    print!("{}", by_stage(|stage| stage.teaches));
    println!();
    println!("{}", bold("What each stage's lesson test proves"));
    print!("{}", by_stage(|stage| stage.lesson));
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
