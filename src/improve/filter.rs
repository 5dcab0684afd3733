//! The filter stage: the current judge judges each synthetic pair (both orders, with
//! reasoning) and only its traces whose verdict matches the synthetic label become
//! training examples.
//!
//! Judging appends every pair's verdict to `<out>.verdicts.jsonl` (resumable); the SFT
//! file is then rebuilt from the verdicts in one atomic write, so it is always complete
//! and deterministic for the verdicts it was built from.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::synth::relative_to;
use super::FilterCounts;
use crate::data::{read_jsonl, read_pairs, resolve_path, write_jsonl, PairRecord};
use crate::judge::{judge_file, stream_seed, Choice, Judge, Order, OrderVerdict, Template, Verdict};
use crate::progress::Progress;
use crate::shard::Shard;
use crate::train::{Message, SftExample};
use crate::{Error, Result};

/// Which traces are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeepPolicy {
    /// A pair's traces are kept only if the verdict is right in both orders (the
    /// paper's default); each kept pair gives one example per order, so the verdict
    /// letters are balanced by construction.
    #[default]
    BothOrders,
    /// Every order whose verdict is right is kept; the letters are then balanced by
    /// dropping surplus examples of the more frequent letter at random.
    OneOrder,
    /// The pair is kept when the judge's swap-combined verdict (the mean of both
    /// orders' p(A), what `vlmjudge judge` reports) matches the label; both orders'
    /// traces are kept with that verdict as their letter. A judge with a strong
    /// position bias is right in both orders for almost no pair, yet its combined
    /// verdict still carries whatever signal it has; best with `--mode fast`, whose
    /// traces are the verdict alone.
    Combined,
    /// No filter: every trace, whatever its verdict (the ablation of the paper's
    /// judge filter; combine with `max_examples` to match a filtered run's count).
    All,
}

/// Settings of the filter stage (the judge's own settings are its `JudgeParams`).
#[derive(Debug, Clone, Default)]
pub struct FilterParams {
    pub policy: KeepPolicy,
    /// Keep traces whose verdict was read after `[[` was appended because the judge
    /// wrote none (marked `forced` in the output).
    pub keep_forced: bool,
    /// For balancing (`OneOrder`) and subsampling.
    pub seed: u64,
    /// Keep at most this many examples, chosen at random (order kept).
    pub max_examples: Option<usize>,
}

/// One training example made from a kept trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceExample {
    #[serde(flatten)]
    pub example: SftExample,
    pub pair_id: String,
    pub order: Order,
    /// The verdict letter as shown in this order.
    pub shown: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
}

/// Where the judge's verdicts on the pairs are kept next to `out`.
pub fn verdicts_path(out: &Path) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    out.with_file_name(format!("{}.verdicts.jsonl", name.trim_end_matches(".jsonl")))
}

/// Judges the shard's labelled pairs of `pairs_path` not yet judged, then writes the
/// kept traces of all the shard's pairs to `out` as SFT examples.
pub fn filter_file(
    judge: &mut Judge<'_>,
    pairs_path: &Path,
    out: &Path,
    params: &FilterParams,
    shard: Shard,
    progress: &dyn Progress,
) -> Result<FilterCounts> {
    let pairs = shard.select(read_pairs(pairs_path)?);
    if let Some(p) = pairs.iter().find(|p| p.label.is_none()) {
        return Err(Error::InvalidArgument(format!(
            "{}: pair {:?} has no label; the filter keeps traces that match the synthetic label",
            pairs_path.display(),
            p.id
        )));
    }
    let verdicts = verdicts_path(out);
    judge_file(judge, pairs_path, &verdicts, shard, progress)?;
    let template = judge.params().template.clone();
    build_examples(&pairs, pairs_path, &verdicts, out, &template, params)
}

/// Rebuilds `out` from the verdicts file.
fn build_examples(
    pairs: &[PairRecord],
    pairs_path: &Path,
    verdicts_path: &Path,
    out: &Path,
    template: &Template,
    params: &FilterParams,
) -> Result<FilterCounts> {
    let verdicts: HashMap<String, Verdict> =
        read_jsonl::<Verdict>(verdicts_path)?.into_iter().map(|(_, v)| (v.id.clone(), v)).collect();
    let pairs_dir = pairs_path.parent().unwrap_or(Path::new("."));
    let out_dir = out.parent().unwrap_or(Path::new("."));
    let mut counts = FilterCounts { pairs: pairs.len(), ..FilterCounts::default() };
    let mut examples = Vec::new();
    for pair in pairs {
        let Some(verdict) = verdicts.get(&pair.id) else {
            return Err(Error::Engine(format!("the verdict of pair {:?} is missing", pair.id)));
        };
        if verdict.error.is_some() {
            counts.errors += 1;
            continue;
        }
        let label = if pair.label.as_deref() == Some("A") { Choice::A } else { Choice::B };
        let usable =
            |o: &&OrderVerdict| matches!(o.verdict, Choice::A | Choice::B) && (params.keep_forced || !o.forced);
        let right: Vec<_> = verdict.orders.iter().filter(usable).filter(|o| o.verdict == label).collect();
        let kept: Vec<OrderVerdict> = match params.policy {
            KeepPolicy::BothOrders if right.len() == 2 => right.into_iter().cloned().collect(),
            KeepPolicy::BothOrders => Vec::new(),
            KeepPolicy::OneOrder => right.into_iter().cloned().collect(),
            KeepPolicy::All => verdict.orders.iter().filter(usable).cloned().collect(),
            KeepPolicy::Combined if verdict.verdict == label => verdict
                .orders
                .iter()
                .filter(|o| params.keep_forced || !o.forced)
                .map(|o| OrderVerdict { verdict: label, ..o.clone() })
                .collect(),
            KeepPolicy::Combined => Vec::new(),
        };
        counts.kept_pairs += usize::from(!kept.is_empty());
        for order in &kept {
            examples.push(trace_example(pair, order, pairs_dir, out_dir, template));
        }
    }
    if params.policy == KeepPolicy::OneOrder {
        balance_letters(&mut examples, params.seed);
    }
    if let Some(max) = params.max_examples {
        subsample(&mut examples, max, params.seed);
        counts.kept_pairs = examples.iter().map(|e| &e.pair_id).collect::<std::collections::HashSet<_>>().len();
    }
    counts.examples = examples.len();
    counts.kept_fraction = if counts.pairs == 0 { 0.0 } else { counts.kept_pairs as f64 / counts.pairs as f64 };
    write_jsonl(out, &examples)?;
    Ok(counts)
}

/// The SFT example of one kept order: the judge's prompt in that order and, as the
/// target, its reasoning up to the verdict marker followed by the verdict it gave.
fn trace_example(
    pair: &PairRecord,
    order: &OrderVerdict,
    pairs_dir: &Path,
    out_dir: &Path,
    template: &Template,
) -> TraceExample {
    let (first, second) = match order.order {
        Order::AB => (&pair.response_a, &pair.response_b),
        Order::BA => (&pair.response_b, &pair.response_a),
    };
    let shown = if order.order == Order::BA { order.verdict.swapped() } else { order.verdict };
    let letter = if shown == Choice::A { "A" } else { "B" };
    let reasoning = order.reasoning.as_deref().unwrap_or("");
    let before_marker = reasoning.find("[[").map_or(reasoning, |at| &reasoning[..at]).trim();
    let target =
        if before_marker.is_empty() { format!("[[{letter}]]") } else { format!("{before_marker}\n[[{letter}]]") };
    let image = pair.image.as_deref().and_then(|p| resolve_path(pairs_dir, p)).map(|p| relative_to(&p, out_dir));
    let suffix = if order.order == Order::AB { "AB" } else { "BA" };
    TraceExample {
        example: SftExample {
            id: format!("{}/{suffix}", pair.id),
            image,
            messages: vec![
                Message { role: "system".into(), content: template.system.clone() },
                Message { role: "user".into(), content: template.fill_user(&pair.question, first, second) },
            ],
            target,
        },
        pair_id: pair.id.clone(),
        order: order.order,
        shown: letter.into(),
        forced: order.forced,
    }
}

/// Keeps `max` examples chosen at random, in their order.
fn subsample(examples: &mut Vec<TraceExample>, max: usize, seed: u64) {
    if examples.len() <= max {
        return;
    }
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(stream_seed(seed, "subsample")));
    let mut keep = vec![false; examples.len()];
    for &i in &order[..max] {
        keep[i] = true;
    }
    retain_mask(examples, &keep);
}

fn retain_mask<T>(items: &mut Vec<T>, keep: &[bool]) {
    let mut index = 0;
    items.retain(|_| {
        index += 1;
        keep[index - 1]
    });
}

/// Drops examples of the more frequent shown letter (chosen at random, order kept)
/// until both letters are equally frequent.
fn balance_letters(examples: &mut Vec<TraceExample>, seed: u64) {
    let a: Vec<usize> = (0..examples.len()).filter(|&i| examples[i].shown == "A").collect();
    let b: Vec<usize> = (0..examples.len()).filter(|&i| examples[i].shown == "B").collect();
    let (mut more, fewer) = if a.len() > b.len() { (a, b.len()) } else { (b, a.len()) };
    let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(seed, "balance"));
    more.shuffle(&mut rng);
    let mut keep = vec![true; examples.len()];
    for &i in &more[fewer..] {
        keep[i] = false;
    }
    retain_mask(examples, &keep);
}
