//! The filter stage: the current judge judges each synthetic pair (both orders, with
//! reasoning) and only its traces whose verdict matches the synthetic label become
//! training examples.
//!
//! With `--traces synthetic` the kept examples' reasoning is written from the label
//! instead (see [`TraceSource`]); with `--policy all` as well, no judge is needed.
//!
//! Judging appends every pair's verdict to `<out>.verdicts.jsonl` (resumable); the SFT
//! file is then rebuilt from the verdicts in one atomic write, so it is always complete
//! and deterministic for the verdicts it was built from.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::FilterCounts;
use crate::data::{read_jsonl, read_pairs, rebase_path, write_jsonl, PairRecord};
use crate::judge::{judge_file, Choice, Judge, Order, OrderVerdict, Template, Verdict};
use crate::progress::Progress;
use crate::seed::stream_seed;
use crate::shard::Shard;
use crate::synth::QuestionKind;
use crate::synth::TracePattern;
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

/// Where a kept example's reasoning comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceSource {
    /// The judge's own reasoning in that order (the paper).
    #[default]
    Judge,
    /// Reasoning written from the pair's label with the template's `trace` patterns
    /// ([`TracePattern`]): it states the better answer, which the model itself gave,
    /// and checks both against it. The judge, if the policy needs one, only chooses
    /// which pairs are kept.
    Synthetic,
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
    pub traces: TraceSource,
    /// Keep at most this many pairs of any one closed question (chosen at random). A
    /// closed question asked of many images repeats a few answers, and the questions a
    /// model is sure of are few: in the procedural world, "How many shapes are there?"
    /// made 179 of 1,112 unanimous pairs and counts of one colour or shape 7, and the
    /// judge trained on them answered every counting question with the total.
    pub max_per_question: Option<usize>,
}

impl FilterParams {
    /// Whether the pairs must be judged: not when every pair is kept with written traces.
    pub fn needs_judge(&self) -> bool {
        !(self.policy == KeepPolicy::All && self.traces == TraceSource::Synthetic)
    }
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
    let pairs = labelled_pairs(pairs_path, shard)?;
    let verdicts = verdicts_path(out);
    judge_file(judge, pairs_path, &verdicts, shard, progress)?;
    let verdicts: HashMap<String, Verdict> =
        read_jsonl::<Verdict>(&verdicts)?.into_iter().map(|(_, v)| (v.id.clone(), v)).collect();
    let template = judge.params().template.clone();
    build_examples(&pairs, pairs_path, Some(&verdicts), out, &template, params)
}

/// Writes both orders of every pair of the shard with synthetic traces, judging nothing
/// (`--traces synthetic --policy all`).
pub fn write_synthetic_traces(
    pairs_path: &Path,
    out: &Path,
    template: &Template,
    params: &FilterParams,
    shard: Shard,
) -> Result<FilterCounts> {
    if params.needs_judge() {
        return Err(Error::InvalidArgument(
            "only --traces synthetic with --policy all keeps pairs without judging them".into(),
        ));
    }
    let pairs = labelled_pairs(pairs_path, shard)?;
    build_examples(&pairs, pairs_path, None, out, template, params)
}

/// A labelled pair and the kind of its question (for written traces and the
/// per-question cap).
struct Labelled {
    pair: PairRecord,
    kind: QuestionKind,
}

/// The `kind` field that `vlmjudge synth` writes next to each pair.
#[derive(Deserialize)]
struct KindField {
    kind: Option<QuestionKind>,
}

/// The shard's pairs, each with a label; the kind of question is the one synth recorded,
/// or else the one its rules detect.
fn labelled_pairs(pairs_path: &Path, shard: Shard) -> Result<Vec<Labelled>> {
    let pairs = read_pairs(pairs_path)?;
    if let Some(p) = pairs.iter().find(|p| p.label.is_none()) {
        return Err(Error::InvalidArgument(format!(
            "{}: pair {:?} has no label; the filter keeps traces that match the synthetic label",
            pairs_path.display(),
            p.id
        )));
    }
    // Both readers skip the same blank lines, so the records line up.
    let kinds = read_jsonl::<KindField>(pairs_path)?.into_iter().map(|(_, k)| k.kind);
    let labelled = pairs
        .into_iter()
        .zip(kinds)
        .map(|(pair, kind)| Labelled { kind: kind.unwrap_or_else(|| QuestionKind::detect(&pair.question)), pair });
    Ok(shard.select(labelled))
}

/// Rebuilds `out` from the judge's verdicts, or from the labels alone when there are
/// none (every pair kept).
fn build_examples(
    pairs: &[Labelled],
    pairs_path: &Path,
    verdicts: Option<&HashMap<String, Verdict>>,
    out: &Path,
    template: &Template,
    params: &FilterParams,
) -> Result<FilterCounts> {
    let pairs_dir = pairs_path.parent().unwrap_or(Path::new("."));
    let out_dir = out.parent().unwrap_or(Path::new("."));
    let pattern = TracePattern::of_template(template)?;
    let writer = ExampleWriter { pairs_dir, out_dir, template, traces: params.traces, pattern: &pattern };
    let mut counts = FilterCounts { pairs: pairs.len(), ..FilterCounts::default() };
    let mut kept_pairs = Vec::new();
    for labelled in pairs {
        let pair = &labelled.pair;
        let label = if pair.label.as_deref() == Some("A") { Choice::A } else { Choice::B };
        let kept = match verdicts {
            Some(verdicts) => {
                let Some(verdict) = verdicts.get(&pair.id) else {
                    return Err(Error::InvalidInput {
                        path: verdicts_path(out),
                        line: 0,
                        reason: format!("the verdict of pair {:?} is missing", pair.id),
                    });
                };
                if verdict.error.is_some() {
                    counts.errors += 1;
                    continue;
                }
                kept_orders(verdict, label, params)
            }
            None => [Order::AB, Order::BA]
                .map(|order| OrderVerdict { order, verdict: label, p_a: None, forced: false, reasoning: None })
                .to_vec(),
        };
        if !kept.is_empty() {
            kept_pairs.push((labelled, kept));
        }
    }
    if let Some(max) = params.max_per_question {
        cap_per_question(&mut kept_pairs, max, params.seed);
    }
    counts.kept_pairs = kept_pairs.len();
    let mut examples = Vec::new();
    for (Labelled { pair, kind }, kept) in &kept_pairs {
        for order in kept {
            examples.push(writer.example(pair, *kind, order));
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

/// The orders of a judged pair that the policy keeps, with the verdict their example
/// gives.
fn kept_orders(verdict: &Verdict, label: Choice, params: &FilterParams) -> Vec<OrderVerdict> {
    let usable = |o: &&OrderVerdict| matches!(o.verdict, Choice::A | Choice::B) && (params.keep_forced || !o.forced);
    let right: Vec<_> = verdict.orders.iter().filter(usable).filter(|o| o.verdict == label).collect();
    match params.policy {
        KeepPolicy::BothOrders if right.len() == 2 => right.into_iter().cloned().collect(),
        KeepPolicy::BothOrders => Vec::new(),
        KeepPolicy::OneOrder => right.into_iter().cloned().collect(),
        // Written traces follow the label, so every usable order gets it.
        KeepPolicy::All if params.traces == TraceSource::Synthetic => {
            verdict.orders.iter().filter(usable).map(|o| OrderVerdict { verdict: label, ..o.clone() }).collect()
        }
        KeepPolicy::All => verdict.orders.iter().filter(usable).cloned().collect(),
        KeepPolicy::Combined if verdict.verdict == label => verdict
            .orders
            .iter()
            .filter(|o| params.keep_forced || !o.forced)
            .map(|o| OrderVerdict { verdict: label, ..o.clone() })
            .collect(),
        KeepPolicy::Combined => Vec::new(),
    }
}

/// Turns kept orders into SFT examples.
struct ExampleWriter<'a> {
    pairs_dir: &'a Path,
    out_dir: &'a Path,
    template: &'a Template,
    traces: TraceSource,
    pattern: &'a TracePattern,
}

impl ExampleWriter<'_> {
    /// The SFT example of one kept order: the judge's prompt in that order and, as the
    /// target, its reasoning (the judge's up to the verdict marker, or one written from
    /// the label) followed by the verdict.
    fn example(&self, pair: &PairRecord, kind: QuestionKind, order: &OrderVerdict) -> TraceExample {
        let (first, second) = match order.order {
            Order::AB => (&pair.response_a, &pair.response_b),
            Order::BA => (&pair.response_b, &pair.response_a),
        };
        let shown = if order.order == Order::BA { order.verdict.swapped() } else { order.verdict };
        let letter = if shown == Choice::A { "A" } else { "B" };
        let reasoning = match self.traces {
            TraceSource::Judge => {
                let reasoning = order.reasoning.as_deref().unwrap_or("");
                reasoning.find("[[").map_or(reasoning, |at| &reasoning[..at]).trim().to_string()
            }
            TraceSource::Synthetic => self.pattern.write(kind, first, second, shown == Choice::A),
        };
        let target = if reasoning.is_empty() { format!("[[{letter}]]") } else { format!("{reasoning}\n[[{letter}]]") };
        let image = pair.image.as_deref().and_then(|p| rebase_path(p, self.pairs_dir, self.out_dir));
        let suffix = if order.order == Order::AB { "AB" } else { "BA" };
        TraceExample {
            example: SftExample {
                id: format!("{}/{suffix}", pair.id),
                image,
                messages: vec![
                    Message { role: "system".into(), content: self.template.system.clone() },
                    Message { role: "user".into(), content: self.template.fill_user(&pair.question, first, second) },
                ],
                target,
            },
            pair_id: pair.id.clone(),
            order: order.order,
            shown: letter.into(),
            forced: order.forced,
        }
    }
}

/// Keeps at most `max` pairs of each closed question, chosen at random, in their order.
fn cap_per_question<T>(kept: &mut Vec<(&Labelled, T)>, max: usize, seed: u64) {
    // Ordered by question, so the draws do not depend on a hash map's order.
    let mut by_question: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (labelled, _)) in kept.iter().enumerate() {
        if labelled.kind == QuestionKind::Closed {
            by_question.entry(labelled.pair.question.trim()).or_default().push(i);
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(seed, "per-question"));
    let mut keep = vec![true; kept.len()];
    for mut indices in by_question.into_values() {
        indices.shuffle(&mut rng);
        for &i in indices.iter().skip(max) {
            keep[i] = false;
        }
    }
    retain_mask(kept, &keep);
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
