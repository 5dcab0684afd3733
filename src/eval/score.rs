//! Accuracy of a judge on labelled pairs: overall, per category and the macro average.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
