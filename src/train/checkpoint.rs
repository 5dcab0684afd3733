//! Checkpoints in `OUT/checkpoint/`: the trainable tensors and the optimizer moments as
//! safetensors files named by step, and `state.json` naming them, with the step, the
//! settings' fingerprint, the RNG state and the metrics file's length.
//!
//! Each file is written under a temporary name, synced and renamed; `state.json` is
//! written last, so a crash at any point leaves the previous checkpoint intact, and
//! the files of older checkpoints are removed only after the new state is in place.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{TrainError, TrainResult};
use crate::Error;

pub const STATE_FILE: &str = "state.json";
const VERSION: u32 = 1;

/// The random state of a run. Every random draw is a pure function of these and the
/// step, so nothing else needs saving: the epoch's example order comes from
/// `(seed, epoch)`, LoRA dropout masks from `(seed, step, micro-batch, layer)`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RngState {
    pub seed: u64,
    /// Micro-batches run so far.
    pub micro_steps: u64,
}

/// `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckpointState {
    pub version: u32,
    /// Optimizer steps done.
    pub step: u64,
    pub total_steps: u64,
    /// A hash of every setting that shapes the run (data, model, hyperparameters);
    /// `--resume` refuses a checkpoint made with other settings.
    pub fingerprint: String,
    pub rng: RngState,
    /// Length of `metrics.jsonl` when the checkpoint was taken.
    pub metrics_len: u64,
    pub trainable_file: String,
    pub optimizer_file: String,
    pub last_loss: Option<f64>,
    pub last_eval_loss: Option<f64>,
    /// Tokens trained on and training time so far (for the summary).
    pub tokens_seen: u64,
    pub train_seconds: f64,
}

impl CheckpointState {
    pub fn new_version() -> u32 {
        VERSION
    }
}

/// Writes a checkpoint into `dir`.
pub fn save(
    dir: &Path,
    state: &CheckpointState,
    trainable: &HashMap<String, Tensor>,
    optimizer: &HashMap<String, Tensor>,
) -> TrainResult<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    save_tensors(&dir.join(&state.trainable_file), trainable)?;
    save_tensors(&dir.join(&state.optimizer_file), optimizer)?;
    let json = serde_json::to_vec_pretty(state).map_err(|e| TrainError::Config(e.to_string()))?;
    crate::fsutil::write_atomic(&dir.join(STATE_FILE), |w| w.write_all(&json))?;
    // Older checkpoints' tensors are no longer referenced.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name == state.trainable_file || name == state.optimizer_file || name == STATE_FILE;
            if !ours && name.ends_with(".safetensors") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

/// A checkpoint read back: its state and its tensors.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub state: CheckpointState,
    /// The trainable variables by name.
    pub trainable: HashMap<String, Tensor>,
    /// The optimizer moments (`m.<name>`, `v.<name>`).
    pub optimizer: HashMap<String, Tensor>,
}

/// Reads the checkpoint in `dir`, if there is one.
pub fn load(dir: &Path, device: &Device) -> TrainResult<Option<Checkpoint>> {
    let state_path = dir.join(STATE_FILE);
    if !state_path.is_file() {
        return Ok(None);
    }
    let bad = |reason: String| TrainError::Resume { path: state_path.clone(), reason };
    let text = std::fs::read(&state_path).map_err(|e| Error::io(&state_path, e))?;
    let state: CheckpointState = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    if state.version != VERSION {
        return Err(bad(format!("checkpoint version {} (this build reads {VERSION})", state.version)));
    }
    let read = |name: &str| -> TrainResult<HashMap<String, Tensor>> {
        let path = dir.join(name);
        candle_core::safetensors::load(&path, device).map_err(|e| bad(format!("{}: {e}", path.display())))
    };
    let trainable = read(&state.trainable_file)?;
    let optimizer = read(&state.optimizer_file)?;
    Ok(Some(Checkpoint { state, trainable, optimizer }))
}

fn save_tensors(path: &Path, tensors: &HashMap<String, Tensor>) -> TrainResult<()> {
    let tmp = temp_name(path);
    let result = (|| -> TrainResult<()> {
        candle_core::safetensors::save(tensors, &tmp)?;
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}
