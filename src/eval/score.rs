//! Accuracy of a judge on labelled pairs: overall, per category and the macro average.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::judge::{Choice, Verdict};

/// Accuracy on one category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryScore {
    pub n: usize,
    /// Credit earned: 1 per right verdict, 0.5 per verdict counted as a random guess
    /// (no verdict, a tie), 0 per wrong one.
    pub correct: f64,
    pub accuracy: f64,
}

/// The result of an evaluation: what `vlmjudge eval` prints and round manifests keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    /// Labelled items scored.
    pub n: usize,
    /// Items with no verdict or a tie, counted as random guesses (half credit).
    pub guesses: usize,
    /// Items that failed (their error is in the verdicts file), scored as guesses too.
    pub errors: usize,
    pub overall: f64,
    /// Unweighted mean of the per-category accuracies.
    pub macro_avg: f64,
    pub categories: BTreeMap<String, CategoryScore>,
}

/// How one item scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The verdict named the labelled response: credit 1.
    Right,
    /// The verdict named the other response: credit 0.
    Wrong,
    /// No verdict, or a tie: a random guess, credit 0.5.
    Guess,
    /// The pair failed (its verdict carries an error): a random guess, credit 0.5.
    Error,
}

impl Outcome {
    /// Scores a verdict against the label (`A` or `B`).
    pub fn of(label: Choice, verdict: &Verdict) -> Outcome {
        if verdict.error.is_some() {
            return Outcome::Error;
        }
        match verdict.verdict {
            Choice::Tie | Choice::None => Outcome::Guess,
            v if v == label => Outcome::Right,
            _ => Outcome::Wrong,
        }
    }

    pub fn credit(self) -> f64 {
        match self {
            Outcome::Right => 1.0,
            Outcome::Wrong => 0.0,
            Outcome::Guess | Outcome::Error => 0.5,
        }
    }
}

/// Accumulates outcomes per category into an [`EvalSummary`].
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Per category: items and credit.
    categories: BTreeMap<String, (usize, f64)>,
    guesses: usize,
    errors: usize,
}

impl Tally {
    pub fn new() -> Tally {
        Tally::default()
    }

    pub fn add(&mut self, category: &str, outcome: Outcome) {
        let entry = self.categories.entry(category.to_string()).or_insert((0, 0.0));
        entry.0 += 1;
        entry.1 += outcome.credit();
        self.guesses += usize::from(outcome == Outcome::Guess);
        self.errors += usize::from(outcome == Outcome::Error);
    }

    /// Overall accuracy = credit / items; macro = the unweighted mean of the categories'
    /// accuracies. Both are 0 when nothing was scored.
    pub fn summary(&self) -> EvalSummary {
        let categories: BTreeMap<String, CategoryScore> = self
            .categories
            .iter()
            .map(|(name, &(n, correct))| (name.clone(), CategoryScore { n, correct, accuracy: ratio(correct, n) }))
            .collect();
        let n = categories.values().map(|c| c.n).sum();
        let credit: f64 = categories.values().map(|c| c.correct).sum();
        let macro_avg = if categories.is_empty() {
            0.0
        } else {
            categories.values().map(|c| c.accuracy).sum::<f64>() / categories.len() as f64
        };
        EvalSummary { n, guesses: self.guesses, errors: self.errors, overall: ratio(credit, n), macro_avg, categories }
    }
}

fn ratio(credit: f64, n: usize) -> f64 {
    if n == 0 {
        0.0
    } else {
        credit / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(choice: Choice, error: Option<&str>) -> Verdict {
        let mut v = Verdict::failed("x", "");
        v.verdict = choice;
        v.error = error.map(str::to_string);
        v
    }

    #[test]
    fn right_wrong_tie_none_and_failed_verdicts_score_1_0_and_half() {
        assert_eq!(Outcome::of(Choice::A, &verdict(Choice::A, None)), Outcome::Right);
        assert_eq!(Outcome::of(Choice::B, &verdict(Choice::B, None)), Outcome::Right);
        assert_eq!(Outcome::of(Choice::A, &verdict(Choice::B, None)), Outcome::Wrong);
        assert_eq!(Outcome::of(Choice::A, &verdict(Choice::Tie, None)), Outcome::Guess);
        assert_eq!(Outcome::of(Choice::B, &verdict(Choice::None, None)), Outcome::Guess);
        // A failed pair is an error even if a verdict field happens to be set.
        assert_eq!(Outcome::of(Choice::A, &verdict(Choice::A, Some("image not found"))), Outcome::Error);
        let credits: Vec<f64> =
            [Outcome::Right, Outcome::Wrong, Outcome::Guess, Outcome::Error].iter().map(|o| o.credit()).collect();
        assert_eq!(credits, [1.0, 0.0, 0.5, 0.5]);
    }

    #[test]
    fn overall_is_credit_over_items_and_macro_is_the_mean_of_category_accuracies() {
        let mut t = Tally::new();
        // general: 3 items, right + wrong + guess = 1.5 / 3 = 0.5
        t.add("general", Outcome::Right);
        t.add("general", Outcome::Wrong);
        t.add("general", Outcome::Guess);
        // reasoning: 1 item, an error = 0.5 / 1
        t.add("reasoning", Outcome::Error);
        // safety: 4 right = 1.0
        for _ in 0..4 {
            t.add("safety", Outcome::Right);
        }
        let s = t.summary();
        assert_eq!(s.n, 8);
        assert_eq!((s.guesses, s.errors), (1, 1));
        assert_eq!(s.categories["general"], CategoryScore { n: 3, correct: 1.5, accuracy: 0.5 });
        assert_eq!(s.categories["reasoning"], CategoryScore { n: 1, correct: 0.5, accuracy: 0.5 });
        assert_eq!(s.categories["safety"].accuracy, 1.0);
        assert!((s.overall - 6.0 / 8.0).abs() < 1e-12, "{}", s.overall);
        assert!((s.macro_avg - (0.5 + 0.5 + 1.0) / 3.0).abs() < 1e-12, "{}", s.macro_avg);
    }

    #[test]
    fn an_empty_tally_scores_zero_not_nan() {
        let s = Tally::new().summary();
        assert_eq!((s.n, s.overall, s.macro_avg), (0, 0.0, 0.0));
        assert!(serde_json::to_string(&s).is_ok());
    }
}
