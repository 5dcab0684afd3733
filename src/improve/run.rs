//! The round runner: `vlmjudge improve`.
//!
//! Round 0 is the base judge (evaluated when a benchmark is given). Round K >= 1:
//!
//! 1. **synth** with the generator (the base model by default) on the round's prompts;
//! 2. **filter** with the judge of round K-1 (both orders, reasoning sampled);
//! 3. **train** the full-precision checkpoint of round K-1 on the kept traces (LoRA
//!    merged into a full checkpoint, or full fine-tuning);
//! 4. **quantize** that checkpoint: the judge of round K;
//! 5. **eval** it on the benchmark.
//!
//! After each stage the round's manifest is rewritten (atomically) with the stage
//! marked done, so a rerun after a kill skips finished stages; an unfinished stage
//! resumes from its own outputs (append-only pair and verdict logs, the trainer's
//! checkpoint).

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::filter::{filter_file, write_synthetic_traces, FilterParams};
use super::manifest::{round_dir, FileRef, LossPoint, Manifest, TrainRecord};
use super::other_run::{copy_pairs_of, examples_kept_by};
use super::synth_stage::{synth_file, SynthParams};
use super::Stage;
use crate::data::{read_jsonl, read_prompts, rebase_path, write_jsonl, PromptRecord};
use crate::engine::{Model, ModelParams};
use crate::eval::{evaluate, read_bench, BenchFormat, EvalSummary, ReadOptions};
use crate::fsutil::sha256_file;
use crate::judge::{Judge, JudgeParams};
use crate::progress::Progress;
use crate::shard::Shard;
use crate::train::metrics::{EvalLine, TrainLine};
use crate::train::{train, TrainConfig};
use crate::{Error, Result};

/// A benchmark to evaluate every round's judge on.
#[derive(Debug, Clone)]
pub struct Bench {
    pub path: PathBuf,
    pub format: BenchFormat,
}

/// Which model writes the synthetic responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GeneratorChoice {
    /// The base model every round (the responses' quality stays fixed).
    #[default]
    Base,
    /// The current judge (the previous round's checkpoint).
    Current,
}

/// Everything `improve` needs. The `train` config's base/data/out are filled per round.
#[derive(Debug, Clone)]
pub struct ImproveConfig {
    pub base: PathBuf,
    pub mmproj: Option<PathBuf>,
    pub prompts: PathBuf,
    pub rounds: u32,
    pub out: PathBuf,
    pub bench: Option<Bench>,
    /// Take this many prompts per round, round K continuing where round K-1 stopped
    /// (wrapping around); `None` = the whole pool every round.
    pub prompts_per_round: Option<usize>,
    pub generator: GeneratorChoice,
    pub model: ModelParams,
    pub synth: SynthParams,
    /// The judge's settings in the filter stage (reason mode, sampled).
    pub filter_judge: JudgeParams,
    pub filter: FilterParams,
    /// Cap each round's examples at the count round K of this other run kept (the
    /// ablation: the same number of examples without the judge filter).
    pub match_examples_of: Option<PathBuf>,
    /// Take each round's pairs from this other run instead of synthesizing them (it must
    /// have synthesized with the same inputs, settings and seed, from the base model).
    pub pairs_of: Option<PathBuf>,
    /// The judge's settings in the eval stage.
    pub eval_judge: JudgeParams,
    pub train: TrainConfig,
    /// llama.cpp quantization type of each round's judge (`None`: judge with the
    /// full-precision checkpoint).
    pub quantize: Option<String>,
    pub seed: u64,
}

/// Where a stage reports; the CLI prints these lines.
pub trait RoundLog: Progress {
    fn stage(&self, round: u32, stage: Stage, detail: &str);
}

/// Runs (or resumes) every round; returns the manifests, round 0 first.
pub fn improve(config: &ImproveConfig, log: &dyn RoundLog) -> Result<Vec<Manifest>> {
    validate(config)?;
    std::fs::create_dir_all(&config.out).map_err(|e| Error::io(&config.out, e))?;
    let mut manifests = vec![base_round(config, log)?];
    for k in 1..=config.rounds {
        let previous = manifests.last().expect("round 0 exists");
        let manifest = run_round(config, k, previous, log)?;
        manifests.push(manifest);
    }
    Ok(manifests)
}

fn validate(config: &ImproveConfig) -> Result<()> {
    if config.rounds == 0 {
        return Err(Error::InvalidArgument("--rounds must be at least 1".into()));
    }
    for (what, path) in [("the base model", &config.base), ("the prompt pool", &config.prompts)] {
        if !path.is_file() {
            return Err(Error::InvalidArgument(format!("{what} {} does not exist", path.display())));
        }
    }
    if config.pairs_of.is_some() && config.generator != GeneratorChoice::Base {
        return Err(Error::InvalidArgument(
            "--pairs-of needs --generator base: the current judge's pairs differ between runs".into(),
        ));
    }
    if config.prompts_per_round == Some(0) {
        return Err(Error::InvalidArgument("--prompts-per-round must be at least 1".into()));
    }
    config.train.validate()?;
    Ok(())
}

fn file_ref(path: &Path) -> Result<FileRef> {
    let (sha256, bytes) = sha256_file(path)?;
    Ok(FileRef { path: std::path::absolute(path).unwrap_or_else(|_| path.into()), sha256, bytes })
}

/// Round 0: the base judge, evaluated when there is a benchmark.
fn base_round(config: &ImproveConfig, log: &dyn RoundLog) -> Result<Manifest> {
    let dir = round_dir(&config.out, 0);
    let mut m = Manifest::read(&dir)?.unwrap_or_default();
    m.round = 0;
    if m.checkpoints.is_empty() {
        m.checkpoints.insert("judge".into(), file_ref(&config.base)?);
        m.checkpoints.insert("full".into(), file_ref(&config.base)?);
        m.inputs = inputs(config)?;
        m.settings = settings(config);
        m.write(&dir)?;
    }
    let mut round = Round { config, k: 0, dir, m, log };
    if let Some(bench) = &config.bench {
        round.stage(Stage::Eval, |r| {
            r.say(Stage::Eval, "the base judge");
            r.m.eval = Some(eval_stage(config, &config.base, &r.dir, bench, r.log)?);
            Ok(())
        })?;
    }
    Ok(round.m)
}

fn inputs(config: &ImproveConfig) -> Result<std::collections::BTreeMap<String, FileRef>> {
    let mut inputs = std::collections::BTreeMap::new();
    inputs.insert("base".into(), file_ref(&config.base)?);
    inputs.insert("prompts".into(), file_ref(&config.prompts)?);
    if let Some(mmproj) = &config.mmproj {
        inputs.insert("mmproj".into(), file_ref(mmproj)?);
    }
    if let Some(bench) = &config.bench {
        inputs.insert("bench".into(), file_ref(&bench.path)?);
    }
    Ok(inputs)
}

/// The settings a round ran with, for the manifest.
fn settings(config: &ImproveConfig) -> serde_json::Value {
    let s = &config.synth;
    let t = &config.train;
    serde_json::json!({
        "synth": {
            "samples": s.samples, "threshold": s.threshold, "unanimous": s.unanimous,
            "resample_temperature": s.resample_temperature, "temperature": s.sampling.temperature,
            "top_k": s.sampling.top_k, "top_p": s.sampling.top_p, "inject": s.inject,
            "max_edits": s.max_edits, "closed_max_tokens": s.closed_max_tokens, "open_max_tokens": s.open_max_tokens,
        },
        "filter": {
            "policy": config.filter.policy, "keep_forced": config.filter.keep_forced, "traces": config.filter.traces,
            "max_per_question": config.filter.max_per_question,
            "mode": config.filter_judge.mode, "temperature": config.filter_judge.sampling.temperature,
            "max_tokens": config.filter_judge.max_tokens,
        },
        "train": {
            "mode": format!("{:?}", t.mode), "epochs": t.epochs, "lr": t.lr, "batch": t.batch,
            "grad_accum": t.grad_accum, "max_len": t.max_len, "warmup": t.warmup,
        },
        "eval": { "mode": config.eval_judge.mode, "swap": config.eval_judge.swap },
        "quantize": config.quantize, "prompts_per_round": config.prompts_per_round,
        "match_examples_of": config.match_examples_of, "pairs_of": config.pairs_of,
        "generator": format!("{:?}", config.generator), "seed": config.seed,
    })
}

fn load(config: &ImproveConfig, path: &Path) -> Result<Model> {
    Model::load(path, config.mmproj.as_deref(), &config.model)
}

fn run_round(config: &ImproveConfig, k: u32, previous: &Manifest, log: &dyn RoundLog) -> Result<Manifest> {
    let dir = round_dir(&config.out, k);
    let mut m = Manifest::read(&dir)?.unwrap_or_default();
    if Stage::ALL.iter().all(|&s| {
        m.is_done(s)
            || (s == Stage::Eval && config.bench.is_none())
            || (s == Stage::Quantize && config.quantize.is_none())
    }) {
        return Ok(m);
    }
    let checkpoint = |kind: &str, what: &str| {
        previous
            .checkpoints
            .get(kind)
            .cloned()
            .ok_or_else(|| Error::RoundState { round: k - 1, reason: format!("it has no {what} checkpoint") })
    };
    let previous_judge = checkpoint("judge", "judge")?;
    let previous_full = checkpoint("full", "full-precision")?;
    m.round = k;
    m.judge = Some(previous_judge.clone());
    // The settings of the invocation that runs the round's remaining stages (a rerun
    // may change e.g. the filter policy before the filter is done).
    m.inputs = inputs(config)?;
    m.settings = settings(config);
    m.write(&dir)?;

    let mut round = Round { config, k, dir, m, log };
    round.stage(Stage::Synth, |r| r.synth(&previous_judge))?;
    // A filter that kept nothing is never final (see `Round::filter`).
    if round.m.filter.as_ref().is_some_and(|f| f.examples == 0) {
        round.m.stages_done.retain(|&s| s != Stage::Filter);
    }
    round.stage(Stage::Filter, |r| r.filter(&previous_judge))?;
    round.stage(Stage::Train, |r| r.train(&previous_full))?;
    if config.quantize.is_some() {
        round.stage(Stage::Quantize, Round::quantize)?;
    }
    if config.bench.is_some() {
        round.stage(Stage::Eval, Round::eval)?;
    }
    Ok(round.m)
}

/// A round in progress (round 0 only evaluates the base): its directory and manifest.
struct Round<'a> {
    config: &'a ImproveConfig,
    k: u32,
    dir: PathBuf,
    m: Manifest,
    log: &'a dyn RoundLog,
}

impl Round<'_> {
    /// Runs `stage` unless the manifest says it is done, then marks it done with its
    /// wall time; a failure names the round and the stage.
    fn stage(&mut self, stage: Stage, run: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        if self.m.is_done(stage) {
            return Ok(());
        }
        let started = Instant::now();
        run(self).map_err(|e| e.in_round(self.k, stage))?;
        self.m.stages_done.push(stage);
        self.m.stage_seconds.insert(stage, started.elapsed().as_secs_f64());
        self.m.write(&self.dir)
    }

    fn say(&self, stage: Stage, detail: &str) {
        self.log.stage(self.k, stage, detail);
    }

    fn pairs(&self) -> PathBuf {
        self.dir.join("pairs.jsonl")
    }

    fn sft(&self) -> PathBuf {
        self.dir.join("sft.jsonl")
    }

    fn synth(&mut self, previous_judge: &FileRef) -> Result<()> {
        let (config, k) = (self.config, self.k);
        let counts = match &config.pairs_of {
            Some(other) => {
                self.say(Stage::Synth, &format!("the pairs of {}", round_dir(other, k).display()));
                copy_pairs_of(other, k, &self.m, &self.dir)?
            }
            None => {
                let prompts = round_prompts(config, k, &self.dir)?;
                let generator = match config.generator {
                    GeneratorChoice::Base => config.base.clone(),
                    GeneratorChoice::Current => previous_judge.path.clone(),
                };
                self.say(Stage::Synth, &format!("pairs from {} with {}", prompts.display(), generator.display()));
                let model = load(config, &generator)?;
                let synth = SynthParams { seed: config.seed.wrapping_add(u64::from(k)), ..config.synth.clone() };
                synth_file(&model, &prompts, &self.pairs(), &synth, Shard::ALL, self.log)?
            }
        };
        self.say(Stage::Synth, &format!("{} pairs from {} prompts", counts.pairs, counts.prompts));
        self.m.synth = Some(counts);
        Ok(())
    }

    fn filter(&mut self, previous_judge: &FileRef) -> Result<()> {
        let (config, k) = (self.config, self.k);
        let mut filter = config.filter.clone();
        if let Some(other) = &config.match_examples_of {
            filter.max_examples = Some(examples_kept_by(other, k)?);
        }
        let (pairs, sft) = (self.pairs(), self.sft());
        let counts = if filter.needs_judge() {
            self.say(Stage::Filter, &format!("judging the pairs with {}", previous_judge.path.display()));
            let model = load(config, &previous_judge.path)?;
            let mut judge_params = config.filter_judge.clone();
            judge_params.seed = config.seed.wrapping_add(u64::from(k));
            let mut judge = Judge::new(&model, judge_params)?;
            filter_file(&mut judge, &pairs, &sft, &filter, Shard::ALL, self.log)?
        } else {
            self.say(Stage::Filter, "every pair, with traces written from its label");
            write_synthetic_traces(&pairs, &sft, &config.filter_judge.template, &filter, Shard::ALL)?
        };
        self.say(
            Stage::Filter,
            &format!(
                "kept {} of {} pairs ({:.0}%), {} examples",
                counts.kept_pairs,
                counts.pairs,
                100.0 * counts.kept_fraction,
                counts.examples
            ),
        );
        let kept_nothing = counts.examples == 0;
        self.m.filter = Some(counts);
        if kept_nothing {
            // Not marked done: a rerun with another --policy or --keep-forced rebuilds
            // the examples from the verdicts already judged.
            self.m.write(&self.dir)?;
            return Err(nothing_kept(&self.m, &self.dir));
        }
        Ok(())
    }

    fn train(&mut self, previous_full: &FileRef) -> Result<()> {
        let (config, k) = (self.config, self.k);
        self.say(Stage::Train, &format!("fine-tuning {}", previous_full.path.display()));
        let mut train_config = config.train.clone();
        train_config.base = previous_full.path.clone();
        train_config.mmproj = config.mmproj.clone();
        train_config.data = self.sft();
        train_config.out = self.dir.join("train");
        train_config.resume = true;
        train_config.seed = config.seed.wrapping_add(u64::from(k));
        if matches!(train_config.mode, crate::train::Mode::Lora(_)) {
            train_config.merge = true;
        }
        let summary = train(&train_config, self.log)?;
        let full = summary
            .outputs
            .model
            .clone()
            .ok_or_else(|| Error::RoundState { round: k, reason: "its training wrote no model".into() })?;
        self.m.train = Some(train_record(&summary.outputs.metrics, summary.examples_train, summary.tokens_per_s)?);
        if let Some(adapter) = &summary.outputs.adapter {
            self.m.checkpoints.insert("adapter".into(), file_ref(adapter)?);
        }
        self.m.checkpoints.insert("full".into(), file_ref(&full)?);
        if config.quantize.is_none() {
            self.m.checkpoints.insert("judge".into(), file_ref(&full)?);
        }
        Ok(())
    }

    fn quantize(&mut self) -> Result<()> {
        let qtype = self.config.quantize.as_deref().expect("called with --quantize");
        let full = self.m.checkpoints.get("full").expect("train wrote it").path.clone();
        let out = self.dir.join(format!("judge-{}.gguf", qtype.to_lowercase()));
        self.say(Stage::Quantize, &format!("{} -> {}", full.display(), out.display()));
        quantize(&full, &out, qtype)?;
        self.m.checkpoints.insert("judge".into(), file_ref(&out)?);
        Ok(())
    }

    fn eval(&mut self) -> Result<()> {
        let bench = self.config.bench.as_ref().expect("called with a benchmark");
        let judge = self.m.checkpoints.get("judge").expect("a judge checkpoint exists").path.clone();
        self.say(Stage::Eval, &format!("{} on {}", judge.display(), bench.path.display()));
        self.m.eval = Some(eval_stage(self.config, &judge, &self.dir, bench, self.log)?);
        Ok(())
    }
}

fn nothing_kept(m: &Manifest, dir: &Path) -> Error {
    let pairs = m.synth.as_ref().map_or(0, |s| s.pairs);
    Error::InvalidArgument(format!(
        "no training data was kept: under the current --policy the judge's verdicts agreed with none of \
         the {pairs} pairs. Rerun with --policy combined or one-order, or --keep-forced: the examples are rebuilt \
         from the verdicts already in {}. To judge again with other judge settings (--mode, --temperature, \
         --max-tokens), delete that file first. More prompts or a stronger base model help too.",
        dir.join("sft.verdicts.jsonl").display()
    ))
}

/// The round's prompts: the whole pool, or the round's slice of it written to the
/// round directory (image paths rebased onto it).
fn round_prompts(config: &ImproveConfig, k: u32, dir: &Path) -> Result<PathBuf> {
    let Some(per_round) = config.prompts_per_round else {
        return Ok(config.prompts.clone());
    };
    let pool = read_prompts(&config.prompts)?;
    if pool.is_empty() {
        return Err(Error::InvalidArgument(format!("{} holds no prompts", config.prompts.display())));
    }
    let pool_dir = config.prompts.parent().unwrap_or(Path::new("."));
    let start = (k as usize - 1) * per_round;
    let slice: Vec<PromptRecord> = (0..per_round.min(pool.len()))
        .map(|i| {
            let mut p: PromptRecord = pool[(start + i) % pool.len()].clone();
            if let Some(image) = p.image.as_deref().and_then(|image| rebase_path(image, pool_dir, dir)) {
                p.image = Some(image);
            }
            p
        })
        .collect();
    let path = dir.join("prompts.jsonl");
    write_jsonl(&path, &slice)?;
    Ok(path)
}

fn train_record(metrics: &Path, examples: usize, tokens_per_s: f64) -> Result<TrainRecord> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Line {
        Train(TrainLine),
        Eval(EvalLine),
    }
    let mut record = TrainRecord { examples, tokens_per_s, ..TrainRecord::default() };
    for (_, line) in read_jsonl::<Line>(metrics)? {
        match line {
            Line::Train(t) => record.loss.push(LossPoint { step: t.step, loss: t.loss }),
            Line::Eval(e) => record.eval_loss.push(LossPoint { step: e.step, loss: e.eval_loss }),
        }
    }
    record.steps = record.loss.last().map_or(0, |p| p.step);
    record.final_loss = record.loss.last().map(|p| p.loss);
    Ok(record)
}

fn quantize(input: &Path, output: &Path, qtype: &str) -> Result<()> {
    let qtype = vlmjudge_quantize::QuantType::parse(qtype).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    vlmjudge_quantize::quantize(input, output, &vlmjudge_quantize::QuantizeParams::new(qtype))
        .map_err(|source| Error::Quantize { path: input.into(), source })
}

fn eval_stage(
    config: &ImproveConfig,
    judge_path: &Path,
    dir: &Path,
    bench: &Bench,
    log: &dyn RoundLog,
) -> Result<EvalSummary> {
    // The same A/B shuffle for every round, so rounds are compared on the same items.
    let items = read_bench(&bench.path, bench.format, &ReadOptions { seed: config.seed, ..ReadOptions::default() })?;
    let model = load(config, judge_path)?;
    let mut judge = Judge::new(&model, config.eval_judge.clone())?;
    evaluate(&mut judge, &items, &dir.join("eval-verdicts.jsonl"), Shard::ALL, log)
}
