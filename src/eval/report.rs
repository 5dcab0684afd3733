//! The JSON report `vlmjudge eval --report` writes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::official::OfficialScore;
use super::protocol::Protocol;
use super::score::EvalSummary;
use crate::Result;

/// An [`EvalSummary`] with what produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The judge model, if known (`--score-only` may run without one).
    pub model: Option<PathBuf>,
    pub mmproj: Option<PathBuf>,
    #[serde(default)]
    pub lora: Vec<PathBuf>,
    pub bench: PathBuf,
    /// `pairs`, `vl-rewardbench` or `mm-rewardbench`.
    pub format: String,
    pub verdicts: PathBuf,
    /// `K/N`; `0/1` is everything.
    pub shard: String,
    /// Seed of the per-item A/B shuffle (VL-RewardBench).
    pub seed: u64,
    /// How the items were judged (`official`: one order; `vlmjudge`: swap-debiased).
    #[serde(default)]
    pub protocol: Protocol,
    /// The release the benchmark file looks like, from its row count.
    #[serde(default)]
    pub release: Option<String>,
    /// What the reader noticed (renamed duplicate ids, missing subsets, ...).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The benchmark's official metrics from the same verdicts (none for pairs).
    #[serde(default)]
    pub official: Option<OfficialScore>,
    /// Ours: every item counted, half credit for no verdict, a tie or a failure.
    #[serde(flatten)]
    pub summary: EvalSummary,
}

impl EvalReport {
    /// Writes the report as pretty JSON, atomically (temp file + rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::data::write_json(path, self)
    }
}
