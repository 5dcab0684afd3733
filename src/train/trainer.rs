//! The training loop: data, split, schedule, micro-batches with gradient
//! accumulation, clipping, AdamW, evaluation, metrics, checkpoints, export.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::batch::Batch;
use super::checkpoint::{self, CheckpointState, RngState};
use super::data::read_sft_examples;
use super::device::DeviceChoice;
use super::lora::{mix_seed, LoraConfig};
use super::metrics::{EvalLine, MetricsLog, TrainLine};
use super::model::{Mode, TrainModel};
use super::optim::{clip_global_norm, AdamW, AdamWParams};
use super::schedule::Schedule;
use super::step::{StepGrads, StepRunner};
use super::tokenize::{Encoded, EncodedExample, Encoder};
use super::{TrainError, TrainResult};
use crate::engine::{Model, ModelParams};
use crate::export::{write_lora_adapter, write_merged, MergedDtype};
use crate::gguf::GgufFile;
use crate::progress::Progress;
use crate::Error;

/// Everything a training run needs. `Default` gives the CLI's defaults.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub base: PathBuf,
    pub mmproj: Option<PathBuf>,
    pub data: PathBuf,
    pub out: PathBuf,
    /// [`Mode::Lora`] or [`Mode::Full`].
    pub mode: Mode,
    pub epochs: u32,
    /// Peak learning rate.
    pub lr: f64,
    /// Warmup as a fraction of all optimizer steps.
    pub warmup: f64,
    /// Examples per micro-batch.
    pub batch: usize,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
    /// Micro-batches of a step computed at once on CPU, each on its own thread, at most
    /// `grad_accum`; results are the same for any value. 0: as many as the physical
    /// cores that candle's matmuls leave free (`RAYON_NUM_THREADS=1` on 8 cores: 8; unset:
    /// 1). Each holds its own activations and gradients.
    pub parallel_micro_batches: usize,
    /// Longest example in tokens (prompt cut from the left to fit).
    pub max_len: usize,
    /// Fraction of examples held out for the eval loss (chosen by `seed`).
    pub eval_split: f64,
    /// Global gradient-norm clip (0 = off).
    pub clip: f64,
    pub weight_decay: f64,
    pub seed: u64,
    pub device: DeviceChoice,
    /// Continue from `out/checkpoint` when there is one.
    pub resume: bool,
    /// LoRA: also write the merged model.
    pub merge: bool,
    /// Checkpoint every this many steps (0 = only at epoch ends and at the end).
    pub save_every: u64,
    /// Stop (with a checkpoint, without export) once this many optimizer steps are
    /// done in total; the schedule still spans the whole run, so `--resume` continues
    /// it exactly.
    pub stop_after: Option<u64>,
    /// Tensor type of merged / full checkpoints.
    pub merged_dtype: MergedDtype,
    /// Where image embeddings are kept between runs (default `out/image-cache`).
    pub image_cache: Option<PathBuf>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            base: PathBuf::new(),
            mmproj: None,
            data: PathBuf::new(),
            out: PathBuf::new(),
            mode: Mode::Lora(LoraConfig::default()),
            epochs: 1,
            lr: 2e-4,
            warmup: 0.03,
            batch: 4,
            grad_accum: 4,
            parallel_micro_batches: 0,
            max_len: 1024,
            eval_split: 0.05,
            clip: 1.0,
            weight_decay: 0.0,
            seed: 0,
            device: DeviceChoice::Auto,
            resume: false,
            merge: false,
            save_every: 50,
            stop_after: None,
            merged_dtype: MergedDtype::F32,
            image_cache: None,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> TrainResult<()> {
        let bad = |s: &str| Err(TrainError::Config(s.into()));
        match &self.mode {
            Mode::Frozen => return bad("the mode must be LoRA or full fine-tuning"),
            Mode::Lora(l) => l.validate()?,
            Mode::Full => {
                if self.merge {
                    return bad("--merge is for LoRA; full fine-tuning always writes the full model");
                }
            }
        }
        if self.epochs == 0 {
            return bad("--epochs must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("--lr must be positive");
        }
        if !(0.0..=1.0).contains(&self.warmup) {
            return bad("--warmup is a fraction of the steps, in [0, 1]");
        }
        if self.batch == 0 || self.grad_accum == 0 {
            return bad("--batch and --grad-accum must be at least 1");
        }
        if self.max_len < 2 {
            return bad("--max-len must be at least 2");
        }
        if !(0.0..1.0).contains(&self.eval_split) {
            return bad("--eval-split must be in [0, 1)");
        }
        if !(self.clip >= 0.0 && self.weight_decay >= 0.0) {
            return bad("--clip and --weight-decay must not be negative");
        }
        Ok(())
    }

    /// [`TrainConfig::parallel_micro_batches`] resolved: GPU kernels queue on one stream, so a GPU
    /// runs one micro-batch at a time.
    fn micro_batches_in_flight(&self, device: &candle_core::Device) -> usize {
        if !device.is_cpu() {
            return 1;
        }
        let wanted = match self.parallel_micro_batches {
            0 => num_cpus::get_physical() / candle_core::utils::get_num_threads().max(1),
            n => n,
        };
        wanted.clamp(1, self.grad_accum.max(1))
    }

    fn merged_name(&self) -> &'static str {
        match self.merged_dtype {
            MergedDtype::F32 => "model-f32.gguf",
            MergedDtype::F16 => "model-f16.gguf",
        }
    }
}

/// Files a run writes.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOutputs {
    /// `OUT/adapter.gguf` (LoRA).
    pub adapter: Option<PathBuf>,
    /// `OUT/model-f32.gguf` (full, or LoRA with `merge`).
    pub model: Option<PathBuf>,
    pub metrics: PathBuf,
    pub checkpoint: PathBuf,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub examples_read: usize,
    pub examples_train: usize,
    pub examples_eval: usize,
    /// Dropped because their target alone exceeds `max_len`.
    pub dropped_too_long: usize,
    /// Kept, with prompt tokens cut from the left.
    pub truncated: usize,
    pub steps_done: u64,
    pub total_steps: u64,
    /// The step the run resumed from.
    pub resumed_from: Option<u64>,
    /// True when `stop_after` ended the run before the last step (nothing exported).
    pub stopped_early: bool,
    pub final_loss: Option<f64>,
    pub final_eval_loss: Option<f64>,
    /// Input tokens per second over the steps this invocation ran.
    pub tokens_per_s: f64,
    pub trainable_params: usize,
    /// Images run through the vision encoder, and read from the image cache instead.
    pub images_encoded: u64,
    pub images_cached: u64,
    pub device_note: Option<String>,
    pub outputs: TrainOutputs,
}

/// Runs (or resumes) a training job; see [`TrainConfig`].
pub fn train(config: &TrainConfig, progress: &dyn Progress) -> TrainResult<TrainSummary> {
    config.validate()?;
    let (device, device_note) = config.device.resolve()?;
    let out = &config.out;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let checkpoint_dir = out.join("checkpoint");
    let metrics_path = out.join("metrics.jsonl");
    let has_checkpoint = checkpoint_dir.join(checkpoint::STATE_FILE).is_file();
    if !config.resume && (has_checkpoint || metrics_path.is_file()) {
        return Err(TrainError::Config(format!(
            "{} already holds a run; pass --resume to continue it or choose another --out",
            out.display()
        )));
    }

    // Data: read, tokenize with the engine (images through the mmproj), split.
    let records = read_sft_examples(&config.data)?;
    let engine = Model::load(&config.base, config.mmproj.as_deref(), &ModelParams::default())?;
    let cache_dir = config.image_cache.clone().unwrap_or_else(|| out.join("image-cache"));
    let encoder = Encoder::new(&engine)?.with_image_cache(&cache_dir)?;
    progress.start("tokenize", records.len() as u64, 0);
    let (mut examples, mut dropped, mut truncated) = (Vec::new(), 0, 0);
    for (line, ex) in &records {
        match encoder.encode(ex, &config.data, *line, config.max_len)? {
            Encoded::Ok(e) => {
                truncated += usize::from(e.truncated > 0);
                examples.push(e);
            }
            Encoded::TooLong { .. } => dropped += 1,
        }
        progress.advance(1);
    }
    progress.finish();
    let (images_encoded, images_cached) = encoder.image_counts();
    if examples.is_empty() {
        return Err(TrainError::NoExamples(format!(
            "{} has {} examples, {dropped} of them with targets longer than --max-len {}",
            config.data.display(),
            records.len(),
            config.max_len
        )));
    }
    let (train_idx, eval_idx) = split_eval(examples.len(), config.eval_split, config.seed);
    let train_set: Vec<&EncodedExample> = train_idx.iter().map(|&i| &examples[i]).collect();
    let eval_set: Vec<&EncodedExample> = eval_idx.iter().map(|&i| &examples[i]).collect();

    // Model and optimizer.
    let base_gguf = GgufFile::open(&config.base)?;
    let model = TrainModel::load(&config.base, config.mode.clone(), config.seed, &device)?;
    let vars = model.trainable();
    let trainable_params = vars.iter().map(|(_, v)| v.elem_count()).sum();
    let params = AdamWParams { weight_decay: config.weight_decay, ..AdamWParams::default() };
    let mut optimizer = AdamW::new(vars.clone(), params)?;
    let per_step = config.batch * config.grad_accum;
    let steps_per_epoch = train_set.len().div_ceil(per_step) as u64;
    let total_steps = steps_per_epoch * u64::from(config.epochs);
    let schedule = Schedule::new(config.lr, config.warmup, total_steps);
    let fingerprint = fingerprint(config)?;

    // Resume.
    let mut start_step = 0;
    let mut resumed_from = None;
    let mut metrics_len = 0;
    let (mut last_loss, mut last_eval_loss) = (None, None);
    let (mut tokens_seen, mut train_seconds) = (0u64, 0f64);
    let mut micro_steps = 0u64;
    if config.resume {
        if let Some(checkpoint::Checkpoint { state, trainable, optimizer: moments }) =
            checkpoint::load(&checkpoint_dir, &device)?
        {
            let resume_error = |reason: String| TrainError::Resume { path: checkpoint_dir.clone(), reason };
            if state.fingerprint != fingerprint {
                return Err(resume_error(
                    "it was made with other data, model or settings; resume with the original arguments".into(),
                ));
            }
            model.set_trainable(&trainable).map_err(|e| resume_error(e.to_string()))?;
            optimizer.load_state(&moments, state.step).map_err(resume_error)?;
            start_step = state.step;
            resumed_from = Some(state.step);
            metrics_len = state.metrics_len;
            last_loss = state.last_loss;
            last_eval_loss = state.last_eval_loss;
            tokens_seen = state.tokens_seen;
            train_seconds = state.train_seconds;
            micro_steps = state.rng.micro_steps;
        }
    }
    let mut metrics = MetricsLog::open(&metrics_path, metrics_len)?;

    let end_step = config.stop_after.map_or(total_steps, |s| s.min(total_steps)).max(start_step);
    let dropout = matches!(&config.mode, Mode::Lora(l) if l.dropout > 0.0);
    let in_flight = config.micro_batches_in_flight(&device);
    let runner = StepRunner::new(
        &model,
        vars.iter().map(|(_, v)| v.clone()).collect(),
        in_flight,
        dropout.then_some(config.seed),
    );
    let (mut session_tokens, mut session_seconds) = (0u64, 0f64);
    let mut order: Option<(u64, Vec<usize>)> = None;
    progress.start("train", total_steps, start_step);
    for step in start_step..end_step {
        let started = Instant::now();
        let epoch = step / steps_per_epoch;
        let within = (step % steps_per_epoch) as usize;
        if order.as_ref().is_none_or(|(e, _)| *e != epoch) {
            order = Some((epoch, epoch_order(train_set.len(), config.seed, epoch)));
        }
        let ord = &order.as_ref().expect("set above").1;
        let lo = within * per_step;
        let hi = (lo + per_step).min(train_set.len());
        let mut chunk: Vec<&EncodedExample> = ord[lo..hi].iter().map(|&i| train_set[i]).collect();
        // Similar lengths share a micro-batch: less padding, the same mean loss.
        chunk.sort_by_key(|e| e.len());
        let n_target: usize = chunk.iter().map(|e| e.n_target()).sum();
        let StepGrads { mut grads, loss_sum, tokens: step_tokens } =
            runner.run(step, &chunk, config.batch, n_target)?;
        micro_steps += chunk.len().div_ceil(config.batch) as u64;
        let grad_norm = clip_global_norm(&mut grads, config.clip)?;
        let lr = schedule.lr(step);
        optimizer.step(&grads, lr)?;
        let loss = loss_sum / n_target.max(1) as f64;
        let seconds = started.elapsed().as_secs_f64();
        let tokens_per_s = step_tokens as f64 / seconds.max(1e-9);
        session_tokens += step_tokens as u64;
        session_seconds += seconds;
        tokens_seen += step_tokens as u64;
        train_seconds += seconds;
        last_loss = Some(loss);
        let done = step + 1;
        metrics.append(&TrainLine {
            kind: "train".into(),
            step: done,
            epoch: epoch + 1,
            loss,
            lr,
            tokens_per_s,
            tokens: step_tokens as u64,
            target_tokens: n_target as u64,
            grad_norm,
        })?;
        progress.advance(1);
        progress.message(&format!("loss {loss:.4} lr {lr:.2e} {tokens_per_s:.0} tok/s"));
        let epoch_end = done % steps_per_epoch == 0;
        if epoch_end && !eval_set.is_empty() {
            let (eval_loss, eval_tokens) = evaluate(&model, &eval_set, config.batch)?;
            last_eval_loss = Some(eval_loss);
            metrics.append(&EvalLine {
                kind: "eval".into(),
                step: done,
                epoch: epoch + 1,
                eval_loss,
                eval_examples: eval_set.len() as u64,
                eval_tokens: eval_tokens as u64,
            })?;
        }
        let periodic = config.save_every > 0 && done % config.save_every == 0;
        if periodic || epoch_end || done == end_step {
            metrics.sync()?;
            let state = CheckpointState {
                version: CheckpointState::new_version(),
                step: done,
                total_steps,
                fingerprint: fingerprint.clone(),
                rng: RngState { seed: config.seed, micro_steps },
                metrics_len: metrics.len()?,
                trainable_file: format!("trainable-{done:08}.safetensors"),
                optimizer_file: format!("optimizer-{done:08}.safetensors"),
                last_loss,
                last_eval_loss,
                tokens_seen,
                train_seconds,
            };
            let trainable: HashMap<String, Tensor> =
                vars.iter().map(|(n, v)| (n.clone(), v.as_tensor().detach())).collect();
            checkpoint::save(&checkpoint_dir, &state, &trainable, &optimizer.state())?;
        }
    }
    progress.finish();

    let stopped_early = end_step < total_steps;
    let mut outputs =
        TrainOutputs { adapter: None, model: None, metrics: metrics_path, checkpoint: checkpoint_dir.clone() };
    if !stopped_early {
        match &config.mode {
            Mode::Lora(lora) => {
                let path = out.join("adapter.gguf");
                write_lora_adapter(&path, &base_gguf, lora.alpha, &model.lora_pairs()?)?;
                outputs.adapter = Some(path);
                if config.merge {
                    let path = out.join(config.merged_name());
                    write_merged(&path, &base_gguf, &model.export_tensors(true)?, config.merged_dtype)?;
                    outputs.model = Some(path);
                }
            }
            Mode::Full => {
                let path = out.join(config.merged_name());
                write_merged(&path, &base_gguf, &model.export_tensors(false)?, config.merged_dtype)?;
                outputs.model = Some(path);
            }
            Mode::Frozen => {}
        }
    }
    Ok(TrainSummary {
        examples_read: records.len(),
        examples_train: train_set.len(),
        examples_eval: eval_set.len(),
        dropped_too_long: dropped,
        truncated,
        steps_done: end_step,
        total_steps,
        resumed_from,
        stopped_early,
        final_loss: last_loss,
        final_eval_loss: last_eval_loss,
        tokens_per_s: if session_seconds > 0.0 { session_tokens as f64 / session_seconds } else { 0.0 },
        trainable_params,
        images_encoded,
        images_cached,
        device_note: device_note.map(str::to_string),
        outputs,
    })
}

/// The mean cross-entropy over the target tokens of `examples` (no dropout), and the
/// number of target tokens.
pub fn evaluate(model: &TrainModel, examples: &[&EncodedExample], batch: usize) -> TrainResult<(f64, usize)> {
    let mut sorted: Vec<&EncodedExample> = examples.to_vec();
    sorted.sort_by_key(|e| e.len());
    let (mut sum, mut count) = (0f64, 0usize);
    for micro in sorted.chunks(batch.max(1)) {
        let (s, n) = model.loss_sum(&Batch::from_examples(micro), None)?;
        sum += f64::from(s.to_scalar::<f32>()?);
        count += n;
    }
    Ok((sum / count.max(1) as f64, count))
}

/// Splits `0..n` into (train, eval) indices: `round(n * fraction)` examples (at most
/// `n - 1`) chosen by `seed` are held out. Both lists are sorted.
pub fn split_eval(n: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let n_eval = ((n as f64 * fraction).round() as usize).min(n.saturating_sub(1));
    let perm = shuffled(n, mix_seed(&[seed, 0xE7A1]));
    let mut eval: Vec<usize> = perm[..n_eval].to_vec();
    let mut train: Vec<usize> = perm[n_eval..].to_vec();
    eval.sort_unstable();
    train.sort_unstable();
    (train, eval)
}

/// The order of the training examples in `epoch`: a permutation drawn from
/// `(seed, epoch)` alone, so a resumed run sees the same order.
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    shuffled(n, mix_seed(&[seed, 0x0DE2, epoch]))
}

fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
    v
}

/// A hash of what shapes the run: the data's bytes, the base (and mmproj) file's size,
/// and every hyperparameter (not `out`, `resume`, `merge`, `save_every`,
/// `stop_after`: they do not change the loss curve).
fn fingerprint(config: &TrainConfig) -> TrainResult<String> {
    let data = std::fs::read(&config.data).map_err(|e| Error::io(&config.data, e))?;
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).map_err(|e| Error::io(p, e));
    let mmproj = config.mmproj.as_deref().map(size).transpose()?;
    let text = format!(
        "v1|{:x}|{}|{:?}|{:?}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        Sha256::digest(&data),
        size(&config.base)?,
        mmproj,
        config.mode,
        config.epochs,
        config.lr,
        config.warmup,
        config.batch,
        config.grad_accum,
        config.max_len,
        config.eval_split,
        config.clip,
        config.weight_decay,
        config.seed
    );
    Ok(format!("{:x}", Sha256::digest(text.as_bytes())))
}
