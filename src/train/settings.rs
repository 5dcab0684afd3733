//! [`TrainConfig`]: the settings of a training run, their checks, and the fingerprint
//! that ties a checkpoint to the settings that made it (so `--resume` cannot continue
//! a run with other data or hyperparameters).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::device::DeviceChoice;
use super::lora::LoraConfig;
use super::model::Mode;
use super::{TrainError, TrainResult};
use crate::export::MergedDtype;
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
    /// Train the mmproj's projector too (its last layer; see [`super::projector`]) and
    /// write the trained mmproj as `out/mmproj.gguf`.
    pub train_projector: bool,
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
            train_projector: false,
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
        if self.train_projector && self.mmproj.is_none() {
            return bad("--train-projector needs the --mmproj whose projector it trains");
        }
        Ok(())
    }

    /// [`TrainConfig::parallel_micro_batches`] resolved: GPU kernels queue on one stream, so a GPU
    /// runs one micro-batch at a time.
    pub(super) fn micro_batches_in_flight(&self, device: &candle_core::Device) -> usize {
        if !device.is_cpu() {
            return 1;
        }
        let wanted = match self.parallel_micro_batches {
            0 => num_cpus::get_physical() / candle_core::utils::get_num_threads().max(1),
            n => n,
        };
        wanted.clamp(1, self.grad_accum.max(1))
    }

    pub(super) fn merged_name(&self) -> &'static str {
        match self.merged_dtype {
            MergedDtype::F32 => "model-f32.gguf",
            MergedDtype::F16 => "model-f16.gguf",
        }
    }
}

/// A hash of what shapes the run: the data's bytes, the base (and mmproj) file's size,
/// and every hyperparameter (not `out`, `resume`, `merge`, `save_every`,
/// `stop_after`: they do not change the loss curve).
pub(super) fn fingerprint(config: &TrainConfig) -> TrainResult<String> {
    let data = std::fs::read(&config.data).map_err(|e| Error::io(&config.data, e))?;
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).map_err(|e| Error::io(p, e));
    let mmproj = config.mmproj.as_deref().map(size).transpose()?;
    let text = format!(
        "v1|{:x}|{}|{:?}|{:?}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}{}",
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
        config.seed,
        // Appended only when set, so the runs of earlier builds still resume.
        if config.train_projector { "|projector" } else { "" }
    );
    Ok(format!("{:x}", Sha256::digest(text.as_bytes())))
}
