//! The benchmarks' official metrics, computed from our verdicts the way their scoring
//! scripts compute them, so a result can be placed next to the published numbers.
//!
//! - VL-RewardBench (`cal.py` of vl-rewardbench/VL_RewardBench): an item whose verdict
//!   cannot be parsed is left out of the denominator; Overall = right / scored over the
//!   three groups, Macro = the plain mean of the three groups' accuracies.
//! - Multimodal RewardBench (`scripts/2_get_accuracy.py`): an unparsed verdict becomes a
//!   seeded coin flip; we give its expected value, half credit, so the number does not
//!   depend on a random draw. Overall is item-weighted (micro); the categories are the
//!   script's (safety and reasoning split); it reports no macro average.
//!
//! "Unparsed" here is any item without a decision: no verdict, a failed pair, or a tie
//! (which only the swap-debiased protocol can produce).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::item::{BenchFormat, BenchItem};
use super::score::{CategoryScore, Outcome};
use crate::judge::Verdict;

/// How the official script scores a verdict it cannot parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnparsedRule {
    /// Left out of the denominator (VL-RewardBench's `cal.py`).
    Dropped,
    /// A coin flip, scored at its expected value 0.5 (Multimodal RewardBench).
    HalfCredit,
}

/// The official-style metrics of one benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfficialScore {
    /// The script whose rules these are.
    pub script: String,
    pub unparsed_rule: UnparsedRule,
    /// Items given.
    pub n: usize,
    /// Items without a decision (no verdict, failed, tie).
    pub unparsed: usize,
    /// Items in the denominator (`n - unparsed` when unparsed items are dropped).
    pub scored: usize,
    pub overall: f64,
    /// The mean of the category accuracies, where the benchmark reports one.
    pub macro_avg: Option<f64>,
    /// Per official category: `n` is the items scored in it.
    pub categories: BTreeMap<String, CategoryScore>,
}

/// The official metrics of `items` given their verdicts, or `None` for a format with no
/// official script (our pairs). Items without a verdict count as unparsed.
pub fn official_score(
    format: BenchFormat,
    items: &[&BenchItem],
    verdicts: &HashMap<String, Verdict>,
) -> Option<OfficialScore> {
    let (script, rule, has_macro) = match format {
        BenchFormat::Pairs => return None,
        BenchFormat::VlRewardBench => ("VL-RewardBench cal.py", UnparsedRule::Dropped, true),
        BenchFormat::MmRewardBench => {
            ("Multimodal RewardBench scripts/2_get_accuracy.py", UnparsedRule::HalfCredit, false)
        }
    };
    let mut per_category: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    let mut unparsed = 0;
    for item in items {
        let outcome = verdicts.get(&item.id).map_or(Outcome::Guess, |v| Outcome::of(item.label, v));
        let credit = match outcome {
            Outcome::Right => Some(1.0),
            Outcome::Wrong => Some(0.0),
            Outcome::Guess | Outcome::Error => {
                unparsed += 1;
                match rule {
                    UnparsedRule::Dropped => None,
                    UnparsedRule::HalfCredit => Some(0.5),
                }
            }
        };
        if let Some(credit) = credit {
            let entry = per_category.entry(item.category.clone()).or_insert((0, 0.0));
            entry.0 += 1;
            entry.1 += credit;
        }
    }
    let ratio = |credit: f64, n: usize| if n == 0 { 0.0 } else { credit / n as f64 };
    let categories: BTreeMap<String, CategoryScore> = per_category
        .into_iter()
        .map(|(name, (n, correct))| (name, CategoryScore { n, correct, accuracy: ratio(correct, n) }))
        .collect();
    let scored: usize = categories.values().map(|c| c.n).sum();
    let credit: f64 = categories.values().map(|c| c.correct).sum();
    let macro_avg = (has_macro && !categories.is_empty())
        .then(|| categories.values().map(|c| c.accuracy).sum::<f64>() / categories.len() as f64);
    Some(OfficialScore {
        script: script.into(),
        unparsed_rule: rule,
        n: items.len(),
        unparsed,
        scored,
        overall: ratio(credit, scored),
        macro_avg,
        categories,
    })
}
