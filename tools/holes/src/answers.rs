//! Other answers to the exercises, kept as data: wrong ones that the
//! checks must reject, and right ones in another style that they must
//! accept. One file per exercise, tools/holes/answers/N-name.md:
//!
//! ````text
//! # Exercise 3
//!
//! ## wrong pop forgets_the_count
//! The block comes off the list, but `len` still counts it.
//! rejected by: memory_from_the_source, saying "free lists"
//!
//! ```rust
//! ...the hole's new content, without its indentation...
//! ```
//!
//! ## right fifo
//! A first-in, first-out list: push walks to the tail.
//!
//! ### push
//! ```rust
//! ...
//! ```
//! ````
//!
//! A wrong answer fills one hole (the others keep the stage's code) and
//! names the check that must fail and words its message must contain: the
//! broken property. A right answer fills one or more holes. tests/proof.rs
//! builds every answer and proves both. This file has no dependencies: the
//! build script of the proofs includes it.

/// A way to fill holes that is not the stage's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The exercise.
    pub exercise: u32,
    /// Its name: a Rust identifier, unique in the exercise.
    pub name: String,
    /// What the answer does, in words (for a wrong one: the mistake).
    pub why: String,
    /// `Some` for a wrong answer: what must reject it.
    pub rejected_by: Option<Rejection>,
    /// The holes it fills, each with its new content (unindented lines).
    pub holes: Vec<(String, Vec<String>)>,
}

/// The check that must fail on a wrong answer, and words its message must
/// contain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// A check of `conformance::exercise::NAMES`.
    pub check: String,
    /// Words of the message (the property that broke).
    pub saying: String,
}

impl Answer {
    /// Whether the checks must reject it.
    pub fn is_wrong(&self) -> bool {
        self.rejected_by.is_some()
    }

    /// For a wrong answer: the hole it fills.
    pub fn hole(&self) -> &str {
        self.holes.first().map_or("", |(hole, _)| hole.as_str())
    }
}

/// Reads one answers file; an error names the line it does not understand.
pub fn parse(file: &str, text: &str) -> Result<Vec<Answer>, String> {
    let mut answers: Vec<Answer> = Vec::new();
    let mut exercise = None;
    let mut code: Option<Vec<String>> = None;
    let mut hole: Option<String> = None;
    for (at, line) in text.lines().enumerate() {
        let problem = |what: &str| format!("{file} line {}: {what}", at + 1);
        if let Some(lines) = &mut code {
            if line.trim_end() == "```" {
                let lines = code.take().expect("inside a code block");
                let answer = answers
                    .last_mut()
                    .ok_or_else(|| problem("code before any answer"))?;
                if answer.is_wrong() {
                    let (_, code) = &mut answer.holes[0];
                    if !code.is_empty() {
                        return Err(problem("a wrong answer fills one hole: one code block"));
                    }
                    *code = lines;
                } else {
                    let name = hole
                        .take()
                        .ok_or_else(|| problem("a code block needs a `### HOLE` first"))?;
                    answer.holes.push((name, lines));
                }
            } else {
                lines.push(line.to_string());
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# Exercise ") {
            let number = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| problem("expected `# Exercise N`"))?;
            exercise = Some(number);
        } else if let Some(rest) = line.strip_prefix("## ") {
            let exercise = exercise.ok_or_else(|| problem("an answer before `# Exercise N`"))?;
            let words: Vec<&str> = rest.split_whitespace().collect();
            let (name, wrong_hole) = match words.as_slice() {
                ["wrong", hole, name] => (*name, Some(*hole)),
                ["right", name] => (*name, None),
                _ => return Err(problem("expected `## wrong HOLE NAME` or `## right NAME`")),
            };
            if !is_identifier(name) {
                return Err(problem(&format!("`{name}` is not a Rust identifier")));
            }
            if answers.iter().any(|a| {
                a.name == name
                    && a.is_wrong() == wrong_hole.is_some()
                    && (wrong_hole.is_none() || Some(a.hole()) == wrong_hole)
            }) {
                return Err(problem(&format!("a second answer named `{name}`")));
            }
            answers.push(Answer {
                exercise,
                name: name.to_string(),
                why: String::new(),
                // Filled by the `rejected by:` line.
                rejected_by: wrong_hole.map(|_| Rejection {
                    check: String::new(),
                    saying: String::new(),
                }),
                // A wrong answer's hole is known now; its code comes later.
                holes: wrong_hole
                    .map(|hole| vec![(hole.to_string(), Vec::new())])
                    .unwrap_or_default(),
            });
            hole = None;
        } else if let Some(name) = line.strip_prefix("### ") {
            let answer = answers
                .last()
                .ok_or_else(|| problem("a hole before any answer"))?;
            if answer.is_wrong() {
                return Err(problem("a wrong answer fills its one hole: no `###`"));
            }
            hole = Some(name.trim().to_string());
        } else if line.trim_start().starts_with("```") {
            code = Some(Vec::new());
        } else if let Some(rest) = line.strip_prefix("rejected by: ") {
            let answer = answers
                .last_mut()
                .ok_or_else(|| problem("`rejected by:` before any answer"))?;
            let rejection = answer
                .rejected_by
                .as_mut()
                .ok_or_else(|| problem("a right answer is rejected by nothing"))?;
            let (check, saying) = rest
                .split_once(", saying \"")
                .and_then(|(check, saying)| Some((check, saying.strip_suffix('"')?)))
                .ok_or_else(|| problem("expected `rejected by: CHECK, saying \"WORDS\"`"))?;
            rejection.check = check.trim().to_string();
            rejection.saying = saying.to_string();
        } else if let Some(answer) = answers.last_mut()
            && (!line.trim().is_empty() || !answer.why.is_empty())
        {
            answer.why.push_str(line.trim());
            answer.why.push('\n');
        }
    }
    if code.is_some() {
        return Err(format!("{file}: a code block is not closed"));
    }
    for answer in &mut answers {
        answer.why = answer.why.split_whitespace().collect::<Vec<_>>().join(" ");
        let missing = |what: &str| format!("{file}: answer `{}` has no {what}", answer.name);
        if answer.why.is_empty() {
            return Err(missing("words saying what it does"));
        }
        if let Some(rejection) = &answer.rejected_by
            && (rejection.check.is_empty() || rejection.saying.is_empty())
        {
            return Err(missing("`rejected by: CHECK, saying \"WORDS\"` line"));
        }
        if answer.holes.is_empty() || answer.holes.iter().any(|(_, code)| code.is_empty()) {
            return Err(missing("code"));
        }
    }
    Ok(answers)
}

/// `code` indented to sit in `hole` (blank lines stay empty).
pub fn indented(code: &[String], indent: &str) -> Vec<String> {
    code.iter()
        .map(|line| {
            if line.trim().is_empty() {
                String::new()
            } else {
                format!("{indent}{line}")
            }
        })
        .collect()
}

fn is_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# Exercise 3

## wrong pop forgets_the_count
The block comes off the list,
but `len` still counts it.
rejected by: memory_from_the_source, saying \"free lists\"

```rust
let x = 1;

x
```

## right fifo
First in, first out.

### push
```rust
a
```

### pop
```rust
b
```
";

    #[test]
    fn reads_wrong_and_right_answers() {
        let answers = parse("3-freelist.md", TEXT).unwrap();
        assert_eq!(answers.len(), 2);
        let wrong = &answers[0];
        assert_eq!(wrong.exercise, 3);
        assert_eq!(wrong.hole(), "pop");
        assert_eq!(
            wrong.why,
            "The block comes off the list, but `len` still counts it."
        );
        let rejection = wrong.rejected_by.as_ref().unwrap();
        assert_eq!(rejection.check, "memory_from_the_source");
        assert_eq!(rejection.saying, "free lists");
        assert_eq!(wrong.holes[0].1, ["let x = 1;", "", "x"]);
        let right = &answers[1];
        assert!(!right.is_wrong());
        let holes: Vec<_> = right.holes.iter().map(|(h, _)| h.as_str()).collect();
        assert_eq!(holes, ["push", "pop"]);
        assert_eq!(
            indented(&wrong.holes[0].1, "    "),
            ["    let x = 1;", "", "    x"]
        );
    }

    #[test]
    fn a_wrong_answer_needs_its_rejection() {
        let text = "# Exercise 1\n## wrong bump oops\nWhy.\n```rust\nx\n```\n";
        assert!(parse("f", text).unwrap_err().contains("rejected by"));
    }
}
