//! How well a model knows the world: greedy answers to the pool's prompts, graded
//! against the ground truth in `truth/pool.jsonl`.
//!
//! Closed questions count as right when the answer is exactly the true one (the
//! pretraining format is the bare answer, e.g. `two`). Descriptions are parsed back into
//! claims ([`Claims::parse`]) and count as right only when the count and every shape
//! (size, colour, kind, cell) are right; the fraction of true shapes stated exactly is
//! reported too.
//!
//! Generation runs on the trainer's forward pass (candle, f32, no KV cache: the
//! sequences are short), with image embeddings from the model's mmproj through
//! llama.cpp, tokenized as the trainer tokenizes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::text::Claims;
use vlmjudge::data::read_jsonl;
use vlmjudge::engine::argmax;
use vlmjudge::engine::{Model, ModelParams};
use vlmjudge::train::batch::Batch;
use vlmjudge::train::{Encoded, Encoder, Mode, SftExample, TrainModel, TrainResult};
use vlmjudge::train::{EncodedExample, Message};
use vlmjudge::Error;

/// Longest answer generated for a closed question / a description, in tokens.
const MAX_CLOSED_TOKENS: usize = 8;
const MAX_OPEN_TOKENS: usize = 80;

#[derive(Debug, Clone, Deserialize)]
struct PromptLine {
    id: String,
    image: String,
    question: String,
}

/// A line of `truth/pool.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TruthLine {
    pub id: String,
    pub kind: String,
    pub category: String,
    pub answer: String,
    #[serde(default)]
    pub candidates: Option<Vec<String>>,
}

/// Right / asked, per category.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub right: usize,
    pub total: usize,
    /// The chance level of guessing among the well-formed answers, summed.
    pub chance_sum: f64,
}

impl Tally {
    pub fn accuracy(&self) -> f64 {
        self.right as f64 / self.total.max(1) as f64
    }

    pub fn chance(&self) -> f64 {
        self.chance_sum / self.total.max(1) as f64
    }
}

/// One graded answer.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeAnswer {
    pub id: String,
    pub category: String,
    pub question: String,
    pub truth: String,
    pub answer: String,
    pub right: bool,
}

/// What [`probe`] measured.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    pub closed: BTreeMap<String, Tally>,
    /// Over all closed questions.
    pub closed_all: Tally,
    /// Descriptions entirely right.
    pub descriptions: Tally,
    /// True shapes stated exactly (size, colour, kind, cell) over all descriptions.
    pub shapes_stated: Tally,
    /// Descriptions with the right count sentence.
    pub description_counts: Tally,
    pub seconds: f64,
    pub answers: Vec<ProbeAnswer>,
}

impl ProbeReport {
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let pct = |t: &Tally| format!("{:5.1}% ({}/{})", 100.0 * t.accuracy(), t.right, t.total);
        for (name, t) in &self.closed {
            out.push_str(&format!("closed {name:<9} {}  chance {:4.1}%\n", pct(t), 100.0 * t.chance()));
        }
        out.push_str(&format!(
            "closed all       {}  chance {:4.1}%\n",
            pct(&self.closed_all),
            100.0 * self.closed_all.chance()
        ));
        out.push_str(&format!("descriptions     {}  entirely right\n", pct(&self.descriptions)));
        out.push_str(&format!("  shapes stated  {}\n", pct(&self.shapes_stated)));
        out.push_str(&format!("  count right    {}\n", pct(&self.description_counts)));
        out.push_str(&format!("time {:.1} s", self.seconds));
        out
    }
}

/// Answers up to `limit` closed and `limit` open prompts of the world in `world_dir`
/// (its `pool.jsonl`, graded with `truth/pool.jsonl`) with `model` + `mmproj`.
pub fn probe(model: &Path, mmproj: &Path, world_dir: &Path, limit: usize) -> TrainResult<ProbeReport> {
    let started = Instant::now();
    let prompts_path = world_dir.join("pool.jsonl");
    let truth_path = world_dir.join("truth/pool.jsonl");
    let prompts: Vec<(usize, PromptLine)> = read_jsonl(&prompts_path)?;
    let truths: Vec<(usize, TruthLine)> = read_jsonl(&truth_path)?;
    let truth: BTreeMap<String, TruthLine> = truths.into_iter().map(|(_, t)| (t.id.clone(), t)).collect();
    let engine = Model::load(model, Some(mmproj), &ModelParams::default())?;
    let encoder = Encoder::new(&engine)?;
    let lm = TrainModel::load(model, Mode::Frozen, 0, &Device::Cpu)?;
    let eog: Vec<u32> = encoder.end_of_turn().to_vec();
    let mut report = ProbeReport {
        closed: BTreeMap::new(),
        closed_all: Tally::default(),
        descriptions: Tally::default(),
        shapes_stated: Tally::default(),
        description_counts: Tally::default(),
        seconds: 0.0,
        answers: Vec::new(),
    };
    let (mut n_open, mut n_closed) = (0, 0);
    for (line, p) in &prompts {
        let t = truth.get(&p.id).ok_or_else(|| Error::InvalidInput {
            path: truth_path.clone(),
            line: *line,
            reason: format!("no ground truth for prompt {:?}", p.id),
        })?;
        let open = t.kind == "open";
        if (open && n_open >= limit) || (!open && n_closed >= limit) {
            continue;
        }
        let ex = SftExample {
            id: p.id.clone(),
            image: Some(p.image.clone()),
            messages: vec![Message { role: "user".into(), content: p.question.clone() }],
            target: "x".into(),
        };
        let Encoded::Ok(encoded) = encoder.encode(&ex, &prompts_path, *line, 4096)? else {
            continue;
        };
        let max_new = if open { MAX_OPEN_TOKENS } else { MAX_CLOSED_TOKENS };
        let tokens = greedy(&lm, &encoded, &eog, max_new)?;
        let answer: String = tokens
            .iter()
            .map(|&t| engine.token_text(llama_cpp_2::token::LlamaToken(t as i32)))
            .collect::<String>()
            .trim()
            .to_string();
        let right = if open {
            n_open += 1;
            let truth_claims = Claims::parse(&t.answer).expect("the truth is in the world's style");
            let said = Claims::parse(&answer);
            let stated =
                said.as_ref().map_or(0, |s| truth_claims.shapes.iter().filter(|x| s.shapes.contains(x)).count());
            report.shapes_stated.right += stated;
            report.shapes_stated.total += truth_claims.shapes.len();
            report.description_counts.total += 1;
            report.description_counts.right +=
                usize::from(said.as_ref().is_some_and(|s| s.count == truth_claims.count));
            let right = said.is_some_and(|s| s.same_as(&truth_claims));
            report.descriptions.total += 1;
            report.descriptions.right += usize::from(right);
            right
        } else {
            n_closed += 1;
            let right = answer == t.answer;
            let chance = t.candidates.as_ref().map_or(0.0, |c| 1.0 / c.len().max(1) as f64);
            for tally in [report.closed.entry(t.category.clone()).or_default(), &mut report.closed_all] {
                tally.total += 1;
                tally.right += usize::from(right);
                tally.chance_sum += chance;
            }
            right
        };
        report.answers.push(ProbeAnswer {
            id: p.id.clone(),
            category: t.category.clone(),
            question: p.question.clone(),
            truth: t.answer.clone(),
            answer,
            right,
        });
        if n_open >= limit && n_closed >= limit {
            break;
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Greedy continuation of `prompt`'s prompt tokens until the first end-of-turn token
/// (not included) or `max_new` tokens.
fn greedy(lm: &TrainModel, prompt: &EncodedExample, eog: &[u32], max_new: usize) -> TrainResult<Vec<u32>> {
    let mut tokens: Vec<u32> = prompt.tokens[..prompt.n_prompt].to_vec();
    let mut out = Vec::new();
    for _ in 0..max_new {
        let n = tokens.len();
        let batch = Batch {
            n_seq: 1,
            seq_len: n,
            ids: tokens.clone(),
            images: prompt.images.clone(),
            next_tokens: vec![0; n],
            loss_mask: vec![false; n],
            n_tokens: n,
        };
        let logits: Vec<f32> = lm.logits_at(&batch, &[n as u32 - 1], None)?.squeeze(0)?.to_vec1()?;
        let next = argmax(&logits);
        if eog.first() == Some(&next) {
            break;
        }
        out.push(next);
        tokens.push(next);
    }
    Ok(out)
}
