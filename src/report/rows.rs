//! The rows of a run's report: one per round, read from the round manifests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::improve::{LossPoint, Manifest, MANIFEST};
use crate::{Error, Result};

/// What the report shows of one round. Values a round has not produced yet (or that
/// are not finite numbers) are `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    pub round: u32,
    /// Synthetic pairs written by the synth stage.
    pub synth_pairs: Option<usize>,
    /// Fraction of pairs the filter kept.
    pub kept_fraction: Option<f64>,
    /// SFT examples the filter wrote (else the number the trainer used).
    pub sft_examples: Option<usize>,
    /// The training loss at the end of the round's training.
    pub final_loss: Option<f64>,
    pub eval_overall: Option<f64>,
    pub eval_macro: Option<f64>,
    /// Fraction of eval items scored as guesses: ties (with reasoning, orders that
    /// contradict each other) and items with no verdict. What the filter's both-orders
    /// training should lower.
    pub eval_guesses: Option<f64>,
    /// Accuracy per benchmark category.
    pub categories: BTreeMap<String, f64>,
}

/// A run's report: its rows, the categories seen in any round, and the training loss
/// curves (for the charts).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub run: PathBuf,
    /// The union of the rounds' eval categories, sorted.
    pub categories: Vec<String>,
    pub rows: Vec<ReportRow>,
    /// Training loss per step, by round (rounds that trained).
    pub loss_curves: Vec<(u32, Vec<LossPoint>)>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

impl ReportRow {
    /// The row of one round's manifest.
    pub fn from_manifest(m: &Manifest) -> ReportRow {
        let train = m.train.as_ref();
        ReportRow {
            round: m.round,
            synth_pairs: m.synth.as_ref().map(|s| s.pairs),
            kept_fraction: m.filter.as_ref().and_then(|f| finite(f.kept_fraction)),
            sft_examples: m.filter.as_ref().map(|f| f.examples).or(train.map(|t| t.examples)),
            final_loss: train.and_then(|t| t.final_loss.or(t.loss.last().map(|p| p.loss))).and_then(finite),
            eval_overall: m.eval.as_ref().and_then(|e| finite(e.overall)),
            eval_macro: m.eval.as_ref().and_then(|e| finite(e.macro_avg)),
            eval_guesses: m.eval.as_ref().filter(|e| e.n > 0).map(|e| e.guesses as f64 / e.n as f64),
            categories: m
                .eval
                .iter()
                .flat_map(|e| &e.categories)
                .filter_map(|(name, score)| finite(score.accuracy).map(|a| (name.clone(), a)))
                .collect(),
        }
    }
}

impl Report {
    /// The report of `manifests` (in round order) of the run at `run`.
    pub fn from_manifests(run: &Path, manifests: &[Manifest]) -> Report {
        let rows: Vec<ReportRow> = manifests.iter().map(ReportRow::from_manifest).collect();
        let categories: BTreeSet<String> =
            manifests.iter().flat_map(|m| m.eval.iter().flat_map(|e| e.categories.keys().cloned())).collect();
        let loss_curves = manifests
            .iter()
            .filter_map(|m| m.train.as_ref().filter(|t| !t.loss.is_empty()).map(|t| (m.round, t.loss.clone())))
            .collect();
        Report { run: run.to_path_buf(), categories: categories.into_iter().collect(), rows, loss_curves }
    }
}

/// Reads every round manifest of the run at `run` into a [`Report`]. A directory with
/// no round manifests is an error.
pub fn report(run: &Path) -> Result<Report> {
    if !run.is_dir() {
        return Err(Error::InvalidArgument(format!("{}: not a run directory", run.display())));
    }
    let manifests = Manifest::read_run(run)?;
    if manifests.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{}: no round manifests (round-K/{MANIFEST}) found; is this the --out directory of `vlmjudge improve`?",
            run.display()
        )));
    }
    Ok(Report::from_manifests(run, &manifests))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{CategoryScore, EvalSummary};
    use crate::improve::{round_dir, FilterCounts, SynthCounts, TrainRecord};

    pub(crate) fn eval(overall: f64, cats: &[(&str, f64)]) -> EvalSummary {
        EvalSummary {
            n: 100,
            guesses: 0,
            errors: 0,
            overall,
            macro_avg: cats.iter().map(|c| c.1).sum::<f64>() / cats.len().max(1) as f64,
            categories: cats
                .iter()
                .map(|(n, a)| (n.to_string(), CategoryScore { n: 50, correct: a * 50.0, accuracy: *a }))
                .collect(),
        }
    }

    fn round(k: u32, kept: f64, loss: &[f64], ev: Option<EvalSummary>) -> Manifest {
        Manifest {
            round: k,
            synth: Some(SynthCounts { pairs: 100 * k as usize, ..Default::default() }),
            filter: Some(FilterCounts {
                pairs: 100,
                kept_pairs: (kept * 100.0) as usize,
                kept_fraction: kept,
                examples: 7 * k as usize,
                errors: 0,
            }),
            train: Some(TrainRecord {
                examples: 7 * k as usize,
                steps: loss.len() as u64,
                loss: loss.iter().enumerate().map(|(i, l)| LossPoint { step: i as u64 + 1, loss: *l }).collect(),
                final_loss: loss.last().copied(),
                ..Default::default()
            }),
            eval: ev,
            ..Default::default()
        }
    }

    #[test]
    fn rows_follow_the_manifests_of_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let base = Manifest { round: 0, eval: Some(eval(0.55, &[("math", 0.5)])), ..Default::default() };
        base.write(&round_dir(dir.path(), 0)).unwrap();
        round(1, 0.4, &[2.0, 1.5, 1.2], Some(eval(0.6, &[("math", 0.6), ("ocr", 0.7)])))
            .write(&round_dir(dir.path(), 1))
            .unwrap();
        // Round 2 has not trained or evaluated yet.
        let mut r2 = round(2, 0.25, &[], None);
        r2.train = None;
        r2.write(&round_dir(dir.path(), 2)).unwrap();

        let rep = report(dir.path()).unwrap();
        assert_eq!(rep.categories, vec!["math", "ocr"]);
        assert_eq!(rep.rows.len(), 3);
        let r0 = &rep.rows[0];
        assert_eq!((r0.round, r0.synth_pairs, r0.kept_fraction, r0.final_loss), (0, None, None, None));
        assert_eq!(r0.eval_overall, Some(0.55));
        assert_eq!(r0.categories.get("ocr"), None);
        let r1 = &rep.rows[1];
        assert_eq!((r1.synth_pairs, r1.kept_fraction, r1.sft_examples), (Some(100), Some(0.4), Some(7)));
        assert_eq!(r1.final_loss, Some(1.2));
        assert_eq!(r1.categories.get("ocr"), Some(&0.7));
        let r2 = &rep.rows[2];
        assert_eq!((r2.final_loss, r2.eval_overall, r2.kept_fraction), (None, None, Some(0.25)));
        assert_eq!(rep.loss_curves.len(), 1);
        assert_eq!(rep.loss_curves[0].0, 1);
    }

    #[test]
    fn non_finite_values_become_missing() {
        let mut m = round(1, f64::NAN, &[f64::INFINITY], Some(eval(f64::NAN, &[("x", f64::NAN)])));
        m.train.as_mut().unwrap().final_loss = None;
        let row = ReportRow::from_manifest(&m);
        assert_eq!((row.kept_fraction, row.final_loss, row.eval_overall), (None, None, None));
        assert!(row.categories.is_empty());
    }

    #[test]
    fn final_loss_falls_back_to_the_last_curve_point() {
        let mut m = round(1, 0.5, &[3.0, 2.5], None);
        m.train.as_mut().unwrap().final_loss = None;
        assert_eq!(ReportRow::from_manifest(&m).final_loss, Some(2.5));
    }

    #[test]
    fn a_run_without_manifests_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("round-0")).unwrap();
        let e = report(dir.path()).unwrap_err().to_string();
        assert!(e.contains("no round manifests"), "{e}");
        let e = report(&dir.path().join("nope")).unwrap_err().to_string();
        assert!(e.contains("not a run directory"), "{e}");
    }
}
