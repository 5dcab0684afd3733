//! The training loop: data, split, schedule, micro-batches with gradient
//! accumulation, clipping, AdamW, evaluation, metrics, checkpoints, export.
//!
//! [`train`] runs it as a sequence of steps: check the settings and the output folder,
//! tokenize and split the data, load the model, restore the checkpoint when resuming,
//! run the optimizer steps (the eval loss after each epoch, checkpoints along the way),
//! export. Cheap checks come first: a bad setting, or data without a usable example, is
//! refused before the weights are loaded for training. What is fixed for the run and
//! what the steps change are two structs, so that the step runner can borrow the model
//! while the optimizer and the metrics file move on.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use candle_core::{Device, Tensor, Var};

use super::batch::Batch;
use super::checkpoint::{self, CheckpointState, RngState};
use super::data::read_sft_examples;
use super::dataset::Dataset;
use super::metrics::{EvalLine, MetricsLog, TrainLine};
use super::model::{Mode, TrainModel};
use super::optim::{clip_global_norm, AdamW, AdamWParams};
use super::projector::{check_foldable, write_trained_mmproj};
use super::schedule::Schedule;
use super::settings::fingerprint;
use super::step::{StepGrads, StepRunner};
use super::tokenize::EncodedExample;
use super::{TrainError, TrainResult};
use crate::engine::{Model, ModelParams};
use crate::export::{write_lora_adapter, write_merged};
use crate::gguf::GgufFile;
use crate::progress::Progress;
use crate::Error;

// Defined beside the loop's other parts, and public here as well, where callers of
// `train::trainer` find them.
pub use super::dataset::{epoch_order, split_eval};
pub use super::settings::TrainConfig;

/// Files a run writes.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOutputs {
    /// `OUT/adapter.gguf` (LoRA).
    pub adapter: Option<PathBuf>,
    /// `OUT/model-f32.gguf` (full, or LoRA with `merge`).
    pub model: Option<PathBuf>,
    /// `OUT/mmproj.gguf`, with the trained projector (`train_projector`).
    pub mmproj: Option<PathBuf>,
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
    let run = RunDir::prepare(config)?;
    let records = read_sft_examples(&config.data)?;
    // llama.cpp tokenizes the examples and runs their images through the mmproj; the
    // training itself is candle's.
    let engine = Model::load(&config.base, config.mmproj.as_deref(), &ModelParams::default())?;
    // A projector the run cannot fold is refused before every image is encoded.
    if let (true, Some(mmproj)) = (config.train_projector, &config.mmproj) {
        check_foldable(mmproj, engine.info().n_embd as usize)?;
    }
    let data = Dataset::encode(config, &engine, &records, progress)?;
    let trainer = Trainer::load(config, run, &data)?;
    let mut state = trainer.load_or_resume()?;
    trainer.run_steps(&mut state, progress)?;
    let outputs = trainer.write_outputs(&state)?;
    Ok(trainer.summary(state, outputs))
}

/// Where a run keeps its files, and the device it trains on.
struct RunDir {
    checkpoint_dir: PathBuf,
    metrics_path: PathBuf,
    device: Device,
    device_note: Option<&'static str>,
}

impl RunDir {
    /// Checks the settings, picks the device and creates `out`. An `out` that already
    /// holds a run is refused unless resuming: a new run would truncate its metrics and
    /// overwrite its checkpoint.
    fn prepare(config: &TrainConfig) -> TrainResult<RunDir> {
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
        Ok(RunDir { checkpoint_dir, metrics_path, device, device_note })
    }
}

/// What stays fixed once the data and the model are loaded.
struct Trainer<'a> {
    config: &'a TrainConfig,
    run: RunDir,
    data: &'a Dataset,
    train_set: Vec<&'a EncodedExample>,
    eval_set: Vec<&'a EncodedExample>,
    base_gguf: GgufFile,
    model: TrainModel,
    vars: Vec<(String, Var)>,
    /// Examples per optimizer step.
    per_step: usize,
    steps_per_epoch: u64,
    total_steps: u64,
    schedule: Schedule,
}

/// What the steps change, and what a checkpoint saves of it.
struct RunState {
    optimizer: AdamW,
    metrics: MetricsLog,
    fingerprint: String,
    /// The first step this invocation runs, and the step after its last.
    start_step: u64,
    end_step: u64,
    resumed_from: Option<u64>,
    micro_steps: u64,
    last_loss: Option<f64>,
    last_eval_loss: Option<f64>,
    /// Over the whole run, resumed invocations included.
    tokens_seen: u64,
    train_seconds: f64,
    /// Over this invocation only, for its throughput.
    session_tokens: u64,
    session_seconds: f64,
}

impl<'a> Trainer<'a> {
    /// Loads the model in the configured mode and lays out the schedule over all epochs.
    fn load(config: &'a TrainConfig, run: RunDir, data: &'a Dataset) -> TrainResult<Trainer<'a>> {
        let train_set = data.train_set();
        let eval_set = data.eval_set();
        let base_gguf = GgufFile::open(&config.base)?;
        let mut model = TrainModel::load(&config.base, config.mode.clone(), config.seed, &run.device)?;
        if config.train_projector {
            model.train_projector()?;
        }
        let vars = model.trainable();
        let per_step = config.batch * config.grad_accum;
        let steps_per_epoch = train_set.len().div_ceil(per_step) as u64;
        let total_steps = steps_per_epoch * u64::from(config.epochs);
        let schedule = Schedule::new(config.lr, config.warmup, total_steps);
        Ok(Trainer {
            config,
            run,
            data,
            train_set,
            eval_set,
            base_gguf,
            model,
            vars,
            per_step,
            steps_per_epoch,
            total_steps,
            schedule,
        })
    }

    /// A fresh optimizer and metrics file, or, when resuming from a checkpoint, the
    /// model's trainable tensors, the optimizer, the counters and the metrics file as
    /// they were at that checkpoint. A checkpoint of other settings is refused.
    fn load_or_resume(&self) -> TrainResult<RunState> {
        let config = self.config;
        let params = AdamWParams { weight_decay: config.weight_decay, ..AdamWParams::default() };
        let mut optimizer = AdamW::new(self.vars.clone(), params)?;
        let fingerprint = fingerprint(config)?;
        let mut start_step = 0;
        let mut resumed_from = None;
        let mut metrics_len = 0;
        let (mut last_loss, mut last_eval_loss) = (None, None);
        let (mut tokens_seen, mut train_seconds) = (0u64, 0f64);
        let mut micro_steps = 0u64;
        if config.resume {
            let checkpoint_dir = &self.run.checkpoint_dir;
            if let Some(checkpoint::Checkpoint { state, trainable, optimizer: moments }) =
                checkpoint::load(checkpoint_dir, &self.run.device)?
            {
                let resume_error = |reason: String| TrainError::Resume { path: checkpoint_dir.clone(), reason };
                if state.fingerprint != fingerprint {
                    return Err(resume_error(
                        "it was made with other data, model or settings; resume with the original arguments".into(),
                    ));
                }
                self.model.set_trainable(&trainable).map_err(|e| resume_error(e.to_string()))?;
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
        let metrics = MetricsLog::open(&self.run.metrics_path, metrics_len)?;
        let end_step = config.stop_after.map_or(self.total_steps, |s| s.min(self.total_steps)).max(start_step);
        Ok(RunState {
            optimizer,
            metrics,
            fingerprint,
            start_step,
            end_step,
            resumed_from,
            micro_steps,
            last_loss,
            last_eval_loss,
            tokens_seen,
            train_seconds,
            session_tokens: 0,
            session_seconds: 0.0,
        })
    }

    /// The optimizer steps from `state.start_step` to `state.end_step`, with the eval
    /// loss after each epoch and a checkpoint every `save_every` steps, at each epoch's
    /// end and after the last step.
    fn run_steps(&self, state: &mut RunState, progress: &dyn Progress) -> TrainResult<()> {
        let config = self.config;
        let dropout = matches!(&config.mode, Mode::Lora(l) if l.dropout > 0.0);
        let in_flight = config.micro_batches_in_flight(&self.run.device);
        let runner = StepRunner::new(
            &self.model,
            self.vars.iter().map(|(_, v)| v.clone()).collect(),
            in_flight,
            dropout.then_some(config.seed),
        );
        let mut order: Option<(u64, Vec<usize>)> = None;
        progress.start("train", self.total_steps, state.start_step);
        for step in state.start_step..state.end_step {
            let line = self.step(&runner, state, &mut order, step)?;
            progress.advance(1);
            progress.message(&format!("loss {:.4} lr {:.2e} {:.0} tok/s", line.loss, line.lr, line.tokens_per_s));
            let done = line.step;
            let epoch_end = done % self.steps_per_epoch == 0;
            if epoch_end && !self.eval_set.is_empty() {
                self.evaluate_epoch(state, done, line.epoch)?;
            }
            let periodic = config.save_every > 0 && done % config.save_every == 0;
            if periodic || epoch_end || done == state.end_step {
                self.save_checkpoint(state, done)?;
            }
        }
        progress.finish();
        Ok(())
    }

    /// Optimizer step `step`: its examples in the epoch's order (`order` caches the
    /// current epoch's), forward and backward passes, clipping, the AdamW update, and
    /// its line in the metrics file, which it returns.
    fn step(
        &self,
        runner: &StepRunner,
        state: &mut RunState,
        order: &mut Option<(u64, Vec<usize>)>,
        step: u64,
    ) -> TrainResult<TrainLine> {
        let config = self.config;
        let started = Instant::now();
        let epoch = step / self.steps_per_epoch;
        let within = (step % self.steps_per_epoch) as usize;
        if order.as_ref().is_none_or(|(e, _)| *e != epoch) {
            *order = Some((epoch, epoch_order(self.train_set.len(), config.seed, epoch)));
        }
        let ord = &order.as_ref().expect("set above").1;
        let lo = within * self.per_step;
        let hi = (lo + self.per_step).min(self.train_set.len());
        let mut chunk: Vec<&EncodedExample> = ord[lo..hi].iter().map(|&i| self.train_set[i]).collect();
        // Similar lengths share a micro-batch: less padding, the same mean loss.
        chunk.sort_by_key(|e| e.len());
        let n_target: usize = chunk.iter().map(|e| e.n_target()).sum();
        let StepGrads { mut grads, loss_sum, tokens: step_tokens } =
            runner.run(step, &chunk, config.batch, n_target)?;
        state.micro_steps += chunk.len().div_ceil(config.batch) as u64;
        let grad_norm = clip_global_norm(&mut grads, config.clip)?;
        let lr = self.schedule.lr(step);
        state.optimizer.step(&grads, lr)?;
        let loss = loss_sum / n_target.max(1) as f64;
        let seconds = started.elapsed().as_secs_f64();
        let tokens_per_s = step_tokens as f64 / seconds.max(1e-9);
        state.session_tokens += step_tokens as u64;
        state.session_seconds += seconds;
        state.tokens_seen += step_tokens as u64;
        state.train_seconds += seconds;
        state.last_loss = Some(loss);
        let line = TrainLine {
            kind: "train".into(),
            step: step + 1,
            epoch: epoch + 1,
            loss,
            lr,
            tokens_per_s,
            tokens: step_tokens as u64,
            target_tokens: n_target as u64,
            grad_norm,
        };
        state.metrics.append(&line)?;
        Ok(line)
    }

    /// The eval loss at the end of (1-based) `epoch`, after `done` steps, appended to
    /// the metrics file.
    fn evaluate_epoch(&self, state: &mut RunState, done: u64, epoch: u64) -> TrainResult<()> {
        let (eval_loss, eval_tokens) = evaluate(&self.model, &self.eval_set, self.config.batch)?;
        state.last_eval_loss = Some(eval_loss);
        state.metrics.append(&EvalLine {
            kind: "eval".into(),
            step: done,
            epoch,
            eval_loss,
            eval_examples: self.eval_set.len() as u64,
            eval_tokens: eval_tokens as u64,
        })?;
        Ok(())
    }

    /// A checkpoint after `done` steps. The metrics file is synced first: the checkpoint
    /// records its length, which a resumed run truncates it back to.
    fn save_checkpoint(&self, state: &RunState, done: u64) -> TrainResult<()> {
        state.metrics.sync()?;
        let checkpoint_state = CheckpointState {
            version: CheckpointState::new_version(),
            step: done,
            total_steps: self.total_steps,
            fingerprint: state.fingerprint.clone(),
            rng: RngState { seed: self.config.seed, micro_steps: state.micro_steps },
            metrics_len: state.metrics.len()?,
            trainable_file: format!("trainable-{done:08}.safetensors"),
            optimizer_file: format!("optimizer-{done:08}.safetensors"),
            last_loss: state.last_loss,
            last_eval_loss: state.last_eval_loss,
            tokens_seen: state.tokens_seen,
            train_seconds: state.train_seconds,
        };
        let trainable: HashMap<String, Tensor> =
            self.vars.iter().map(|(n, v)| (n.clone(), v.as_tensor().detach())).collect();
        checkpoint::save(&self.run.checkpoint_dir, &checkpoint_state, &trainable, &state.optimizer.state())
    }

    /// True when `stop_after` ended the run before its last step.
    fn stopped_early(&self, state: &RunState) -> bool {
        state.end_step < self.total_steps
    }

    /// The LoRA adapter (and with `merge` the merged model) or the fully trained model;
    /// nothing when the run stopped early, as its weights are not final.
    fn write_outputs(&self, state: &RunState) -> TrainResult<TrainOutputs> {
        let config = self.config;
        let out = &config.out;
        let mut outputs = TrainOutputs {
            adapter: None,
            model: None,
            mmproj: None,
            metrics: self.run.metrics_path.clone(),
            checkpoint: self.run.checkpoint_dir.clone(),
        };
        if !self.stopped_early(state) {
            match &config.mode {
                Mode::Lora(lora) => {
                    let path = out.join("adapter.gguf");
                    write_lora_adapter(&path, &self.base_gguf, lora.alpha, &self.model.lora_pairs()?)?;
                    outputs.adapter = Some(path);
                    if config.merge {
                        let path = out.join(config.merged_name());
                        write_merged(&path, &self.base_gguf, &self.model.export_tensors(true)?, config.merged_dtype)?;
                        outputs.model = Some(path);
                    }
                }
                Mode::Full => {
                    let path = out.join(config.merged_name());
                    write_merged(&path, &self.base_gguf, &self.model.export_tensors(false)?, config.merged_dtype)?;
                    outputs.model = Some(path);
                }
                Mode::Frozen => {}
            }
            if let (Some(projector), Some(base)) = (self.model.projector(), &config.mmproj) {
                let path = out.join("mmproj.gguf");
                write_trained_mmproj(&path, base, projector)?;
                outputs.mmproj = Some(path);
            }
        }
        Ok(outputs)
    }

    fn summary(&self, state: RunState, outputs: TrainOutputs) -> TrainSummary {
        let data = self.data;
        TrainSummary {
            examples_read: data.read,
            examples_train: self.train_set.len(),
            examples_eval: self.eval_set.len(),
            dropped_too_long: data.dropped,
            truncated: data.truncated,
            steps_done: state.end_step,
            total_steps: self.total_steps,
            resumed_from: state.resumed_from,
            stopped_early: self.stopped_early(&state),
            final_loss: state.last_loss,
            final_eval_loss: state.last_eval_loss,
            tokens_per_s: if state.session_seconds > 0.0 {
                state.session_tokens as f64 / state.session_seconds
            } else {
                0.0
            },
            trainable_params: self.vars.iter().map(|(_, v)| v.elem_count()).sum(),
            images_encoded: data.images_encoded,
            images_cached: data.images_cached,
            device_note: self.run.device_note.map(str::to_string),
            outputs,
        }
    }
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
