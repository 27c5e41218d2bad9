//! A one-line progress bar on stderr, drawn only when stderr is a terminal
//! (so logs and CI output stay clean).

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Counts steps towards a known total and redraws the bar.
pub struct Progress {
    done: usize,
    total: usize,
    start: Instant,
    draw: bool,
}

impl Progress {
    /// A bar for `total` steps.
    pub fn new(total: usize) -> Self {
        Progress {
            done: 0,
            total: total.max(1),
            start: Instant::now(),
            draw: std::io::stderr().is_terminal(),
        }
    }

    /// One more step, now working on `what`.
    pub fn step(&mut self, what: &str) {
        self.done = (self.done + 1).min(self.total);
        if !self.draw {
            return;
        }
        const WIDTH: usize = 30;
        let filled = WIDTH * self.done / self.total;
        let seconds = self.start.elapsed().as_secs();
        eprint!(
            "\r\x1b[2K[{}{}] {:>3}% {:>3}s  {what}",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            100 * self.done / self.total,
            seconds,
        );
        let _ = std::io::stderr().flush();
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if self.draw {
            eprint!("\r\x1b[2K");
        }
    }
}
