//! Judge traces written from a synthetic label (`vlmjudge filter --traces synthetic`).
//!
//! The paper trains the judge on its own reasoning. A judge that reads the image worse
//! under the judge prompt than when it answers can only pass on what it reads there:
//! its traces teach it to say the same in both orders, not to see better (the world
//! experiment's attempt 8). A synthetic trace instead states the better answer of the
//! pair, which the model gave when asked directly (a unanimous vote, or its own
//! description), checks both answers against it and gives the verdict those checks
//! imply, in the words of the template's `trace` patterns.

use serde::{Deserialize, Serialize};

use super::QuestionKind;
use crate::judge::Template;
use crate::{Error, Result};

/// How a synthetic trace reads, one pattern per kind of question. Placeholders:
/// `{better}`, `{worse}`, `{answer_a}`, `{answer_b}` (the answers as shown in this
/// order), `{mark_a}`, `{mark_b}` (`right` or `wrong` for each) and `{winner}`,
/// `{loser}` (the letters). The verdict line (`[[A]]`) is added after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracePattern {
    /// For short answers (a vote's majority against another answer).
    pub closed: String,
    /// For long answers (the model's answer against a copy with injected errors).
    pub open: String,
    /// The mark of the better answer.
    #[serde(default = "default_right")]
    pub right: String,
    /// The mark of the worse answer.
    #[serde(default = "default_wrong")]
    pub wrong: String,
}

fn default_right() -> String {
    "right".into()
}

fn default_wrong() -> String {
    "wrong".into()
}

/// The pattern used when the template has none: plain sentences for a judge prompt that
/// asks for a brief explanation, like the default one.
impl Default for TracePattern {
    fn default() -> Self {
        TracePattern {
            closed: "The correct answer is {better}. Answer A ({answer_a}) is {mark_a}; Answer B ({answer_b}) is \
                     {mark_b}."
                .into(),
            open: "Answer {loser} contains an error that Answer {winner} does not, so Answer {winner} is better."
                .into(),
            right: default_right(),
            wrong: default_wrong(),
        }
    }
}

const PLACEHOLDERS: [&str; 8] = ["better", "worse", "answer_a", "answer_b", "mark_a", "mark_b", "winner", "loser"];

/// One piece of a pattern, as both validating and writing read it.
enum Piece<'a> {
    Text(&'a str),
    /// A known placeholder, by its index in [`PLACEHOLDERS`].
    Placeholder(usize),
    /// A `{` that opens no known placeholder: what follows it up to the next `}`, or
    /// `None` when no `}` follows. The text after the `{` is read on as usual.
    Stray(Option<&'a str>),
}

/// The pieces of `pattern`, in order.
fn pieces(pattern: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = pattern;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let piece = match rest.find('{') {
            Some(0) => {
                let name = rest.find('}').map(|close| &rest[1..close]);
                match name.and_then(|name| PLACEHOLDERS.iter().position(|p| *p == name)) {
                    Some(index) => {
                        rest = &rest[PLACEHOLDERS[index].len() + 2..];
                        Piece::Placeholder(index)
                    }
                    None => {
                        rest = &rest[1..];
                        Piece::Stray(name)
                    }
                }
            }
            Some(at) => {
                let (text, tail) = rest.split_at(at);
                rest = tail;
                Piece::Text(text)
            }
            None => Piece::Text(std::mem::take(&mut rest)),
        };
        Some(piece)
    })
}

impl TracePattern {
    /// The patterns of a judge template: its `trace` entry (which the runtime keeps
    /// unread), or [`TracePattern::default`] when it has none.
    pub fn of_template(template: &Template) -> Result<TracePattern> {
        let Some(value) = &template.trace else {
            return Ok(TracePattern::default());
        };
        let pattern: TracePattern =
            serde_json::from_value(value.clone()).map_err(|e| Error::Template(format!("trace: {e}")))?;
        pattern.validate()?;
        Ok(pattern)
    }

    /// Rejects a pattern with an unknown placeholder or an unclosed brace, so a typo
    /// fails when the template is read rather than appearing in every training example.
    pub fn validate(&self) -> Result<()> {
        for (name, pattern) in [("closed", &self.closed), ("open", &self.open)] {
            for piece in pieces(pattern) {
                match piece {
                    Piece::Stray(None) => {
                        return Err(Error::Template(format!("trace.{name}: a '{{' is never closed")));
                    }
                    Piece::Stray(Some(placeholder)) => {
                        return Err(Error::Template(format!(
                            "trace.{name}: unknown placeholder {{{placeholder}}} (known: {})",
                            PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
                        )));
                    }
                    Piece::Text(_) | Piece::Placeholder(_) => {}
                }
            }
        }
        Ok(())
    }

    /// The reasoning of one presentation order: `a_is_better` says whether the better
    /// answer is shown as A. Values are inserted in one pass, so an answer that contains
    /// a placeholder's name is never filled again.
    pub fn write(&self, kind: QuestionKind, answer_a: &str, answer_b: &str, a_is_better: bool) -> String {
        let pattern = match kind {
            QuestionKind::Closed => &self.closed,
            QuestionKind::Open => &self.open,
        };
        let (better, worse) = if a_is_better { (answer_a, answer_b) } else { (answer_b, answer_a) };
        let (winner, loser) = if a_is_better { ("A", "B") } else { ("B", "A") };
        let (mark_a, mark_b) = if a_is_better { (&self.right, &self.wrong) } else { (&self.wrong, &self.right) };
        // In the order of PLACEHOLDERS.
        let values: [&str; 8] = [better, worse, answer_a, answer_b, mark_a, mark_b, winner, loser];
        let mut out = String::with_capacity(pattern.len() + better.len() + answer_a.len() + answer_b.len());
        for piece in pieces(pattern) {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Placeholder(index) => out.push_str(values[index]),
                Piece::Stray(_) => out.push('{'),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> TracePattern {
        TracePattern {
            closed: "The answer is {better}. Answer A: {answer_a}, {mark_a}. Answer B: {answer_b}, {mark_b}.".into(),
            open: "The image shows: {better} Answer A: {mark_a}. Answer B: {mark_b}.".into(),
            ..TracePattern::default()
        }
    }

    #[test]
    fn marks_and_statement_follow_the_better_answer_in_either_order() {
        let p = world();
        assert_eq!(
            p.write(QuestionKind::Closed, "red", "blue", true),
            "The answer is red. Answer A: red, right. Answer B: blue, wrong."
        );
        assert_eq!(
            p.write(QuestionKind::Closed, "blue", "red", false),
            "The answer is red. Answer A: blue, wrong. Answer B: red, right."
        );
        assert_eq!(
            p.write(QuestionKind::Open, "Top left: nothing.", "Top left: a dog.", true),
            "The image shows: Top left: nothing. Answer A: right. Answer B: wrong."
        );
        let d = TracePattern::default();
        assert_eq!(
            d.write(QuestionKind::Open, "x", "y", false),
            "Answer A contains an error that Answer B does not, so Answer B is better."
        );
    }

    #[test]
    fn answers_holding_placeholder_names_are_not_filled_again() {
        let p = world();
        assert_eq!(
            p.write(QuestionKind::Closed, "{answer_b}", "{mark_a} {", true),
            "The answer is {answer_b}. Answer A: {answer_b}, right. Answer B: {mark_a} {, wrong."
        );
    }

    #[test]
    fn unknown_placeholders_and_open_braces_are_rejected() {
        assert!(world().validate().is_ok());
        assert!(TracePattern::default().validate().is_ok());
        let typo = TracePattern { closed: "The answer is {beter}.".into(), ..world() };
        assert!(typo.validate().unwrap_err().to_string().contains("{beter}"));
        let open = TracePattern { open: "The image shows {better".into(), ..world() };
        assert!(open.validate().unwrap_err().to_string().contains("never closed"));
    }
}
