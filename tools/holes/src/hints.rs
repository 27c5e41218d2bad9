//! The hints file, exercises/hints.md: what each hole asks, and its hints
//! from the idea to nearly the code, kept as data so that they can change
//! without touching code.
//!
//! ```text
//! # Exercise 1
//!
//! ## hole payload_size
//! What goes into the hole (the exercise shows it as a comment).
//!
//! ### the idea
//! What the code must achieve, and why.
//!
//! ### the approach
//! How to get there, step by step.
//!
//! ### nearly the code
//! The steps as code, in words and fragments.
//! ```

/// The levels every hole's hints have, in order.
pub const LEVELS: [&str; 3] = ["the idea", "the approach", "nearly the code"];

/// What the hints file says about one exercise.
#[derive(Clone, Debug, Default)]
pub struct Text {
    /// Its number.
    pub number: u32,
    /// Its holes, in the file's order.
    pub holes: Vec<HoleText>,
}

/// What the hints file says about one hole.
#[derive(Clone, Debug, Default)]
pub struct HoleText {
    /// The hole's name, as its marker in the stage names it.
    pub name: String,
    /// What goes into the hole.
    pub description: String,
    /// Its hints, from the gentlest to the most telling: a level's name
    /// (one of [`LEVELS`]) and its text.
    pub hints: Vec<(String, String)>,
}

impl Text {
    /// The description of hole `name`.
    pub fn hole(&self, name: &str) -> Option<&str> {
        self.find(name).map(|hole| hole.description.as_str())
    }

    /// Everything about hole `name`.
    pub fn find(&self, name: &str) -> Option<&HoleText> {
        self.holes.iter().find(|hole| hole.name == name)
    }
}

/// Reads the hints file; an error names the line it does not understand.
pub fn parse(text: &str) -> Result<Vec<Text>, String> {
    let mut exercises: Vec<Text> = Vec::new();
    for (at, line) in text.lines().enumerate() {
        let problem = |what: &str| format!("exercises/hints.md line {}: {what}", at + 1);
        if let Some(rest) = line.strip_prefix("# Exercise ") {
            let number = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| problem("expected `# Exercise N`"))?;
            exercises.push(Text {
                number,
                ..Text::default()
            });
            continue;
        }
        let exercise = exercises.last_mut();
        if let Some(name) = line.strip_prefix("## hole ") {
            let exercise = exercise.ok_or_else(|| problem("a hole before any exercise"))?;
            exercise.holes.push(HoleText {
                name: name.trim().to_string(),
                ..HoleText::default()
            });
        } else if let Some(level) = line.strip_prefix("### ") {
            let hole = exercise
                .and_then(|exercise| exercise.holes.last_mut())
                .ok_or_else(|| problem("a hint before any `## hole NAME`"))?;
            hole.hints.push((level.trim().to_string(), String::new()));
        } else if line.starts_with('#') {
            return Err(problem(
                "expected `# Exercise N`, `## hole NAME` or `### LEVEL`",
            ));
        } else if let Some(hole) = exercise.and_then(|exercise| exercise.holes.last_mut()) {
            let text = match hole.hints.last_mut() {
                Some((_, hint)) => hint,
                None => &mut hole.description,
            };
            text.push_str(line);
            text.push('\n');
        }
    }
    for exercise in &mut exercises {
        for hole in &mut exercise.holes {
            hole.description = hole.description.trim().to_string();
            for (_, text) in &mut hole.hints {
                *text = text.trim().to_string();
            }
        }
    }
    Ok(exercises)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_holes_and_their_hints() {
        let text = "# Exercise 2: buckets\n\nintro\n## hole class_of\nRound up.\n\n\
                    ### the idea\nOne.\n### the approach\nTwo\nlines.\n## hole alloc_small\nCarve.\n";
        let exercises = super::parse(text).unwrap();
        assert_eq!(exercises[0].number, 2);
        assert_eq!(exercises[0].hole("class_of"), Some("Round up."));
        let hole = exercises[0].find("class_of").unwrap();
        assert_eq!(
            hole.hints,
            [
                ("the idea".to_string(), "One.".to_string()),
                ("the approach".to_string(), "Two\nlines.".to_string())
            ]
        );
        assert_eq!(exercises[0].hole("alloc_small"), Some("Carve."));
    }
}
