//! `metrics.jsonl`: one JSON object per optimizer step (`"type": "train"`) and per
//! evaluation (`"type": "eval"`), each appended with one `write` and flushed, so a
//! killed run keeps every finished line. A resumed run first truncates the file to the
//! length it had at the checkpoint, so its lines continue the interrupted run exactly.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Error, Result};

/// A train line.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct TrainLine {
    #[serde(rename = "type")]
    pub kind: String,
    /// Optimizer steps done (1 for the first update).
    pub step: u64,
    /// 1-based epoch the step belongs to.
    pub epoch: u64,
    /// Mean cross-entropy over the step's target tokens.
    pub loss: f64,
    pub lr: f64,
    pub tokens_per_s: f64,
    /// Input positions (prompt and target, no padding) and target tokens of the step.
    pub tokens: u64,
    pub target_tokens: u64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

/// An eval line, after each epoch.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct EvalLine {
    #[serde(rename = "type")]
    pub kind: String,
    pub step: u64,
    pub epoch: u64,
    pub eval_loss: f64,
    pub eval_examples: u64,
    pub eval_tokens: u64,
}

/// The append-only metrics file.
pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// Opens `path` for appending, first truncating it to `keep` bytes (0 for a new run).
    pub fn open(path: &Path, keep: u64) -> Result<MetricsLog> {
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len > keep {
            file.set_len(keep).map_err(|e| Error::io(path, e))?;
        } else if len < keep {
            return Err(Error::InvalidArgument(format!(
                "{} is shorter ({len} bytes) than at the checkpoint ({keep} bytes)",
                path.display()
            )));
        }
        Ok(MetricsLog { path: path.into(), file })
    }

    pub fn append(&mut self, line: &impl Serialize) -> Result<()> {
        let mut text = serde_json::to_string(line).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        text.push('\n');
        self.file.write_all(text.as_bytes()).map_err(|e| Error::io(&self.path, e))?;
        self.file.flush().map_err(|e| Error::io(&self.path, e))
    }

    /// Bytes written so far.
    pub fn len(&self) -> Result<u64> {
        Ok(self.file.metadata().map_err(|e| Error::io(&self.path, e))?.len())
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Syncs the file to disk (before a checkpoint records its length).
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }
}
