//! Majority vote over sampled answers: the closed-question pairs.
//!
//! The base model answers a closed question `samples` times (the paper: 16 at
//! temperature 0.6, top_k 50, top_p 0.9). The answers are normalised
//! ([`normalize_answer`]) and counted. The most frequent answer is taken as correct if
//! it is the single most frequent one and has at least `threshold` votes (the paper: 5);
//! it is paired with a random answer that differs from it.
//!
//! Which samples make the pair:
//! - **chosen**: among the samples with the majority answer, the one with the shortest
//!   raw text (characters after trimming), the earliest index on equal length. The
//!   shortest is the most answer-like: least likely to carry reasoning that a judge
//!   could hold against it, and the same on every run.
//! - **rejected**: uniformly at random among the samples whose normalised answer is
//!   non-empty and differs from the majority, so a minority answer appears in
//!   proportion to how often the model produced it.
//!
//! Samples that normalise to the empty string (blank or punctuation-only output) do not
//! vote and are never picked.

use std::collections::HashMap;

use rand::Rng;

use super::normalize_answer;

/// Vote settings (paper defaults: 16 samples, threshold 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VoteParams {
    /// Answers sampled per closed question.
    pub samples: usize,
    /// Votes the majority answer needs.
    pub threshold: usize,
}

impl Default for VoteParams {
    fn default() -> Self {
        VoteParams { samples: 16, threshold: 5 }
    }
}

/// A preference pair from a vote: indexes into the samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MajorityPair {
    /// The preferred sample (has the majority answer).
    pub chosen: usize,
    /// The less-preferred sample (a different answer).
    pub rejected: usize,
    /// Votes for the majority answer.
    pub majority_count: usize,
    /// Samples that voted (non-empty after normalisation).
    pub voters: usize,
    /// The majority answer, normalised.
    pub answer: String,
}

/// Why a vote gave no pair.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoPair {
    /// No sample had a non-empty answer.
    #[error("no sample has a non-empty answer")]
    Empty,
    /// The most frequent answer has fewer votes than the threshold.
    #[error("the most frequent answer has {top} votes, below the threshold")]
    BelowThreshold { top: usize },
    /// Two or more answers share the highest count.
    #[error("no clear majority: the top answers are tied")]
    Tie,
    /// Every sample gave the majority answer: nothing to pair it with.
    #[error("all samples agree: no differing answer to reject")]
    Unanimous,
}

/// Builds a pair from sampled answers (rules in the [module docs](self)).
///
/// Errors, checked in this order: [`NoPair::Empty`], [`NoPair::BelowThreshold`] (the
/// top count is below `threshold`), [`NoPair::Tie`], [`NoPair::Unanimous`].
pub fn majority_pair(samples: &[String], threshold: usize, rng: &mut impl Rng) -> Result<MajorityPair, NoPair> {
    let normalized: Vec<String> = samples.iter().map(|s| normalize_answer(s)).collect();
    // Counts in first-seen order, so nothing below depends on hash order.
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for answer in normalized.iter().filter(|a| !a.is_empty()) {
        match index.get(answer.as_str()) {
            Some(&i) => counts[i].1 += 1,
            None => {
                index.insert(answer.as_str(), counts.len());
                counts.push((answer.as_str(), 1));
            }
        }
    }
    let top = counts.iter().map(|&(_, n)| n).max().ok_or(NoPair::Empty)?;
    if top < threshold {
        return Err(NoPair::BelowThreshold { top });
    }
    let mut at_top = counts.iter().filter(|&&(_, n)| n == top);
    let (answer, _) = *at_top.next().expect("the maximum is attained");
    if at_top.next().is_some() {
        return Err(NoPair::Tie);
    }

    let chosen = (0..samples.len())
        .filter(|&i| normalized[i] == answer)
        .min_by_key(|&i| (samples[i].trim().chars().count(), i))
        .expect("the majority answer has a sample");
    let others: Vec<usize> =
        (0..samples.len()).filter(|&i| !normalized[i].is_empty() && normalized[i] != answer).collect();
    if others.is_empty() {
        return Err(NoPair::Unanimous);
    }
    let rejected = others[rng.random_range(0..others.len())];
    Ok(MajorityPair {
        chosen,
        rejected,
        majority_count: top,
        voters: counts.iter().map(|&(_, n)| n).sum(),
        answer: answer.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_follow_the_paper() {
        assert_eq!(VoteParams::default(), VoteParams { samples: 16, threshold: 5 });
    }

    #[test]
    fn majority_is_chosen_and_a_differing_answer_rejected() {
        let samples = strings(&["Three.", "3", "three", "4", "3", "several", "Three"]);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let pair = majority_pair(&samples, 5, &mut rng).unwrap();
        assert_eq!(pair.answer, "3");
        assert_eq!(pair.majority_count, 5);
        assert_eq!(pair.voters, 7);
        // Shortest raw text with the answer: "3" at index 1 (index 4 is equally short).
        assert_eq!(pair.chosen, 1);
        assert!(pair.rejected == 3 || pair.rejected == 5, "rejected {}", pair.rejected);
    }

    #[test]
    fn chosen_prefers_the_shortest_then_the_earliest() {
        let samples = strings(&["Yes, there is a cat.", "yes", "Yes.", "no", "YES"]);
        let pair = majority_pair(&samples, 2, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
        assert_eq!(pair.chosen, 1, "\"yes\" and \"YES\" are equally short; index 1 comes first");
        assert_eq!(pair.rejected, 3);
    }

    #[test]
    fn below_threshold_reports_the_top_count() {
        let samples = strings(&["a cat", "cat", "dog", "bird", "cat"]);
        let err = majority_pair(&samples, 4, &mut ChaCha8Rng::seed_from_u64(0)).unwrap_err();
        assert_eq!(err, NoPair::BelowThreshold { top: 3 });
        assert!(majority_pair(&samples, 3, &mut ChaCha8Rng::seed_from_u64(0)).is_ok());
    }

    #[test]
    fn tied_top_answers_give_no_pair() {
        let samples = strings(&["red", "blue", "Red", "Blue.", "green"]);
        assert_eq!(majority_pair(&samples, 2, &mut ChaCha8Rng::seed_from_u64(0)), Err(NoPair::Tie));
        // A tie below the top does not matter.
        let samples = strings(&["red", "red", "red", "blue", "green"]);
        assert!(majority_pair(&samples, 2, &mut ChaCha8Rng::seed_from_u64(0)).is_ok());
    }

    #[test]
    fn unanimous_and_empty_samples_give_no_pair() {
        let unanimous = strings(&["2", "two", "Two.", "", "  "]);
        assert_eq!(majority_pair(&unanimous, 2, &mut ChaCha8Rng::seed_from_u64(0)), Err(NoPair::Unanimous));
        let empty = strings(&["", " ", "...", "\"\""]);
        assert_eq!(majority_pair(&empty, 1, &mut ChaCha8Rng::seed_from_u64(0)), Err(NoPair::Empty));
        assert_eq!(majority_pair(&[], 0, &mut ChaCha8Rng::seed_from_u64(0)), Err(NoPair::Empty));
    }

    #[test]
    fn empty_samples_neither_vote_nor_get_rejected() {
        let samples = strings(&["", "cat", "cat", " ", "dog", "..."]);
        for seed in 0..50 {
            let pair = majority_pair(&samples, 2, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
            assert_eq!((pair.chosen, pair.rejected, pair.voters), (1, 4, 3));
        }
    }

    #[test]
    fn rejected_is_drawn_uniformly_from_the_differing_samples() {
        let samples = strings(&["cat", "cat", "cat", "dog", "bird", "cat", "fox"]);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut seen: HashMap<usize, usize> = HashMap::new();
        for _ in 0..3000 {
            *seen.entry(majority_pair(&samples, 3, &mut rng).unwrap().rejected).or_default() += 1;
        }
        let mut keys: Vec<_> = seen.keys().copied().collect();
        keys.sort();
        assert_eq!(keys, vec![3, 4, 6]);
        for (&i, &n) in &seen {
            assert!((800..1200).contains(&n), "sample {i} rejected {n} times of 3000");
        }
    }

    /// Many random sample sets: every pair satisfies the contract, and every refusal
    /// is the right one.
    #[test]
    fn random_sample_sets_respect_the_contract() {
        let vocabulary =
            ["3", "Three.", "4", "four", "yes", "Yes, it is.", "no", "B.", "(b)", "C", "red", "Red", "", " "];
        let mut rng = ChaCha8Rng::seed_from_u64(2024);
        let (mut pairs, mut total) = (0, 0);
        for _ in 0..5000 {
            let n = rng.random_range(0..=16);
            let k = rng.random_range(2..=vocabulary.len());
            let samples: Vec<String> = (0..n).map(|_| vocabulary[rng.random_range(0..k)].to_string()).collect();
            let threshold = rng.random_range(0..=8);

            let mut counts: HashMap<String, usize> = HashMap::new();
            for s in &samples {
                let a = normalize_answer(s);
                if !a.is_empty() {
                    *counts.entry(a).or_default() += 1;
                }
            }
            let top = counts.values().copied().max().unwrap_or(0);
            let modes = counts.values().filter(|&&c| c == top).count();

            match majority_pair(&samples, threshold, &mut rng) {
                Ok(pair) => {
                    pairs += 1;
                    let chosen = normalize_answer(&samples[pair.chosen]);
                    let rejected = normalize_answer(&samples[pair.rejected]);
                    assert_eq!(chosen, pair.answer);
                    assert_eq!(counts[&chosen], top, "chosen is the mode");
                    assert_eq!(modes, 1, "the mode is unique");
                    assert_eq!(pair.majority_count, top);
                    assert!(top >= threshold);
                    assert!(!rejected.is_empty());
                    assert_ne!(rejected, chosen);
                    assert_ne!(pair.chosen, pair.rejected);
                }
                Err(NoPair::Empty) => assert!(counts.is_empty()),
                Err(NoPair::BelowThreshold { top: t }) => {
                    assert_eq!(t, top);
                    assert!(top < threshold);
                }
                Err(NoPair::Tie) => assert!(modes > 1 && top >= threshold),
                Err(NoPair::Unanimous) => assert_eq!(counts.len(), 1),
            }
            total += 1;
        }
        assert!(pairs > 500, "the generator should produce pairs, got {pairs} of {total}");
    }
}
