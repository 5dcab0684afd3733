//! `RUN/round-K/manifest.json`: what one round of the loop used and produced.
//!
//! Round 0 describes the base judge (its evaluation, when a benchmark is given); rounds
//! 1.. describe synth -> filter -> train -> export -> quantize -> eval. The manifest is
//! rewritten atomically after every stage, so it always says which stages are done.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Stage;
use crate::eval::EvalSummary;
use crate::fsutil::write_atomic;
use crate::{Error, Result};

/// The file name of a round's manifest.
pub const MANIFEST: &str = "manifest.json";

/// A file a round read or wrote, with its content hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRef {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
}

/// Counts of the synth stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SynthCounts {
    pub prompts: usize,
    pub open: usize,
    pub closed: usize,
    /// Pairs written.
    pub pairs: usize,
    /// Closed questions where no answer reached the vote threshold, or all agreed.
    pub no_majority: usize,
    /// Open questions whose error-injected rewrite was rejected (no change, or too much).
    pub rejected_edits: usize,
    /// Prompts that failed (bad image, too long, ...).
    pub errors: usize,
}

/// Counts of the filter stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FilterCounts {
    pub pairs: usize,
    /// Pairs with at least one kept trace.
    pub kept_pairs: usize,
    /// kept_pairs / pairs.
    pub kept_fraction: f64,
    /// SFT examples written (traces).
    pub examples: usize,
    pub errors: usize,
}

/// One point of the training loss curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossPoint {
    pub step: u64,
    pub loss: f64,
}

/// What the train stage did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainRecord {
    pub examples: usize,
    pub steps: u64,
    pub loss: Vec<LossPoint>,
    pub eval_loss: Vec<LossPoint>,
    pub final_loss: Option<f64>,
    pub tokens_per_s: f64,
}

/// One round's manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub round: u32,
    /// The judge this round filtered with (the previous round's checkpoint).
    pub judge: Option<FileRef>,
    /// Inputs by role: "prompts", "base", "mmproj", "bench", ...
    pub inputs: BTreeMap<String, FileRef>,
    /// The settings the round ran with (CLI flags), for reproducing it.
    pub settings: serde_json::Value,
    pub synth: Option<SynthCounts>,
    pub filter: Option<FilterCounts>,
    pub train: Option<TrainRecord>,
    /// Checkpoints by kind: "adapter", "merged", "quantized".
    pub checkpoints: BTreeMap<String, FileRef>,
    /// The evaluation of this round's judge (round 0: the base).
    pub eval: Option<EvalSummary>,
    /// Stages finished, in order.
    pub stages_done: Vec<Stage>,
    /// Wall time of each finished stage, in seconds.
    pub stage_seconds: BTreeMap<Stage, f64>,
}

impl Manifest {
    /// Reads `dir/manifest.json`; `None` when the round has not started.
    pub fn read(dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(MANIFEST);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| Error::InvalidInput {
                path,
                line: 0,
                reason: format!("not a round manifest: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Writes `dir/manifest.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(MANIFEST);
        let json = serde_json::to_vec_pretty(self).map_err(|source| Error::Json { path: path.clone(), source })?;
        write_atomic(&path, |w| w.write_all(&json))
    }

    pub fn is_done(&self, stage: Stage) -> bool {
        self.stages_done.contains(&stage)
    }

    /// Every round manifest under `run` (`round-0`, `round-1`, ...), in round order.
    pub fn read_run(run: &Path) -> Result<Vec<Manifest>> {
        let entries = std::fs::read_dir(run).map_err(|e| Error::io(run, e))?;
        let mut rounds = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(run, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(k) = name.strip_prefix("round-").and_then(|k| k.parse::<u32>().ok()) {
                if let Some(m) = Manifest::read(&entry.path())? {
                    rounds.push((k, m));
                }
            }
        }
        rounds.sort_by_key(|(k, _)| *k);
        Ok(rounds.into_iter().map(|(_, m)| m).collect())
    }
}

/// The directory of round `k` in `run`.
pub fn round_dir(run: &Path, k: u32) -> PathBuf {
    run.join(format!("round-{k}"))
}
