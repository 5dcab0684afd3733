//! How right the loop's labels are: a round's synthetic pairs graded against the
//! world's truth (which the loop never sees), for every pair and for the pairs the
//! judge filter kept.
//!
//! - A closed pair's label is right when the response it prefers is the true answer.
//! - An open pair's label is right when the description it prefers makes fewer errors
//!   than the other (errors: shapes stated that the image does not have, shapes it has
//!   that are not stated, and a wrong count); equal errors are a tie.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Serialize;

use super::probe::TruthLine;
use super::text::Claims;
use vlmjudge::data::read_jsonl;
use vlmjudge::data::read_pairs;
use vlmjudge::{Error, Result};

/// Labels graded: right, tied (open pairs only) and wrong.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LabelTally {
    pub right: usize,
    pub tied: usize,
    pub wrong: usize,
}

impl LabelTally {
    pub fn total(&self) -> usize {
        self.right + self.tied + self.wrong
    }

    /// Right over all graded (ties count as not right); 0 when empty.
    pub fn accuracy(&self) -> f64 {
        self.right as f64 / self.total().max(1) as f64
    }

    fn add(&mut self, verdict: Grade) {
        match verdict {
            Grade::Right => self.right += 1,
            Grade::Tied => self.tied += 1,
            Grade::Wrong => self.wrong += 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Grade {
    Right,
    Tied,
    Wrong,
}

/// A pairs file's labels graded, by the pool's kind (`closed`, `open`) and category.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LabelGrades {
    pub closed: LabelTally,
    pub open: LabelTally,
    pub by_category: BTreeMap<String, LabelTally>,
}

impl LabelGrades {
    pub fn summary(&self) -> String {
        let line = |name: &str, t: &LabelTally| {
            format!("{name:<12} {:>5.1}% right of {} ({} tied)\n", 100.0 * t.accuracy(), t.total(), t.tied)
        };
        let mut out = line("closed", &self.closed) + &line("open", &self.open);
        for (category, t) in &self.by_category {
            out += &line(&format!("  {category}"), t);
        }
        out
    }
}

/// Grades the labels of the pairs in `pairs` (a round's `pairs.jsonl`) against
/// `world`'s truth; with `only`, just the pairs whose ids it holds.
pub fn grade_labels(world: &Path, pairs: &Path, only: Option<&HashSet<String>>) -> Result<LabelGrades> {
    let truth_path = world.join("truth/pool.jsonl");
    let truth: BTreeMap<String, TruthLine> =
        read_jsonl::<TruthLine>(&truth_path)?.into_iter().map(|(_, t)| (t.id.clone(), t)).collect();
    let mut grades = LabelGrades::default();
    for pair in read_pairs(pairs)? {
        if only.is_some_and(|ids| !ids.contains(&pair.id)) {
            continue;
        }
        let t = truth.get(&pair.id).ok_or_else(|| Error::InvalidInput {
            path: pairs.into(),
            line: 0,
            reason: format!("pair {:?} is not a prompt of {}", pair.id, truth_path.display()),
        })?;
        let (better, worse) = match pair.label.as_deref() {
            Some("A") => (&pair.response_a, &pair.response_b),
            Some("B") => (&pair.response_b, &pair.response_a),
            _ => return Err(Error::InvalidArgument(format!("pair {:?} has no label", pair.id))),
        };
        let grade = if t.kind == "open" {
            let truth_claims = Claims::parse(&t.answer).expect("the truth is in the world's style");
            let (b, w) = (errors(better, &truth_claims), errors(worse, &truth_claims));
            match b.cmp(&w) {
                std::cmp::Ordering::Less => Grade::Right,
                std::cmp::Ordering::Equal => Grade::Tied,
                std::cmp::Ordering::Greater => Grade::Wrong,
            }
        } else if normal(better) == normal(&t.answer) {
            Grade::Right
        } else {
            Grade::Wrong
        };
        let kind = if t.kind == "open" { &mut grades.open } else { &mut grades.closed };
        kind.add(grade);
        grades.by_category.entry(t.category.clone()).or_default().add(grade);
    }
    Ok(grades)
}

/// The pair ids of the examples in an SFT file the loop's filter wrote (`<pair id>/AB`
/// and `<pair id>/BA`).
pub fn kept_pair_ids(sft: &Path) -> Result<HashSet<String>> {
    #[derive(serde::Deserialize)]
    struct Example {
        id: String,
    }
    Ok(read_jsonl::<Example>(sft)?
        .into_iter()
        .map(|(_, ex)| match ex.id.rsplit_once('/') {
            Some((pair, "AB" | "BA")) => pair.to_string(),
            _ => ex.id,
        })
        .collect())
}

/// Errors of a description against the truth; one that cannot be read has every
/// shape missing and a wrong count.
fn errors(description: &str, truth: &Claims) -> usize {
    let Some(said) = Claims::parse(description) else {
        return truth.shapes.len() + 1;
    };
    let missing = truth.shapes.iter().filter(|s| !said.shapes.contains(s)).count();
    let invented = said.shapes.iter().filter(|s| !truth.shapes.contains(s)).count();
    missing + invented + usize::from(said.count != truth.count)
}

/// A closed answer as compared: lower case, without surrounding space or a final stop.
fn normal(answer: &str) -> String {
    answer.trim().trim_end_matches('.').trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_with_a_changed_detail_has_two_errors_and_an_unreadable_one_all() {
        let truth = Claims::parse(
            "Top left: a large red circle. Top right: nothing. Bottom left: nothing. \
             Bottom right: a small blue square. There are two shapes.",
        )
        .unwrap();
        let changed = "Top left: a large green circle. Top right: nothing. Bottom left: nothing. \
                       Bottom right: a small blue square. There are two shapes.";
        let miscounted = changed.replace("two shapes", "three shapes");
        assert_eq!(errors(&truth.render(), &truth), 0);
        assert_eq!(errors(changed, &truth), 2);
        assert_eq!(errors(&miscounted, &truth), 3);
        assert_eq!(errors("I cannot tell.", &truth), 3);
        assert_eq!(normal(" Top left. "), "top left");
    }
}
