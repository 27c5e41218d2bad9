//! The hints file, exercises/hints.md: what each hole asks, and hints in
//! levels, kept as data so that they can change without touching code.
//!
//! ```text
//! # Exercise 1
//!
//! ## hole payload_size
//! What goes into the hole (the exercise shows it as a comment).
//!
//! ## hint
//! The first hint; every `## hint` is one level more.
//! ```

/// What the hints file says about one exercise.
#[derive(Clone, Debug, Default)]
pub struct Text {
    /// Its number.
    pub number: u32,
    /// Each hole's description, by hole name.
    pub holes: Vec<(String, String)>,
    /// Its hints, from the gentlest to the most telling.
    pub hints: Vec<String>,
}

impl Text {
    /// The description of hole `name`.
    pub fn hole(&self, name: &str) -> Option<&str> {
        self.holes
            .iter()
            .find(|(hole, _)| hole == name)
            .map(|(_, text)| text.as_str())
    }
}

/// Reads the hints file; an error names the line it does not understand.
pub fn parse(text: &str) -> Result<Vec<Text>, String> {
    enum Into {
        Nothing,
        Hole,
        Hint,
    }
    let mut exercises: Vec<Text> = Vec::new();
    let mut into = Into::Nothing;
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
            into = Into::Nothing;
            continue;
        }
        let current = exercises.last_mut();
        if let Some(name) = line.strip_prefix("## hole ") {
            let current = current.ok_or_else(|| problem("a hole before any exercise"))?;
            current.holes.push((name.trim().to_string(), String::new()));
            into = Into::Hole;
        } else if line.trim() == "## hint" {
            let current = current.ok_or_else(|| problem("a hint before any exercise"))?;
            current.hints.push(String::new());
            into = Into::Hint;
        } else if line.starts_with('#') {
            return Err(problem(
                "expected `# Exercise N`, `## hole NAME` or `## hint`",
            ));
        } else if let Some(current) = current {
            let text = match into {
                Into::Nothing => continue,
                Into::Hole => &mut current.holes.last_mut().expect("a hole").1,
                Into::Hint => current.hints.last_mut().expect("a hint"),
            };
            text.push_str(line);
            text.push('\n');
        }
    }
    for exercise in &mut exercises {
        for (_, text) in &mut exercise.holes {
            *text = text.trim().to_string();
        }
        for text in &mut exercise.hints {
            *text = text.trim().to_string();
        }
    }
    Ok(exercises)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_holes_and_hints() {
        let text = "# Exercise 2: buckets\n\nintro\n## hole class_of\nRound up.\n\n## hint\nOne.\n## hint\nTwo\nlines.\n";
        let exercises = super::parse(text).unwrap();
        assert_eq!(exercises[0].number, 2);
        assert_eq!(exercises[0].hole("class_of"), Some("Round up."));
        assert_eq!(exercises[0].hints, ["One.", "Two\nlines."]);
    }
}
