use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::read_jsonl;
use crate::{Error, Result};

/// One line of a prompt pool: `id`, `image` (path relative to the file, or null),
/// `question`, optional `kind` (`open` or `closed`; detected from the question when
/// absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptRecord {
    pub id: String,
    #[serde(default)]
    pub image: Option<String>,
    pub question: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl PromptRecord {
    /// The image, resolved against `base_dir` (the pool file's directory) when relative.
    pub fn image_path(&self, base_dir: &Path) -> Option<PathBuf> {
        self.image.as_deref().and_then(|p| super::resolve_path(base_dir, p))
    }
}

/// Reads a prompt pool: ids unique, questions non-empty, `kind` open or closed.
pub fn read_prompts(path: &Path) -> Result<Vec<PromptRecord>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (line, record) in read_jsonl::<PromptRecord>(path)? {
        let invalid = |reason: String| Error::InvalidInput { path: path.into(), line, reason };
        if record.id.is_empty() || !seen.insert(record.id.clone()) {
            return Err(invalid(format!("the id {:?} is empty or repeated", record.id)));
        }
        if record.question.trim().is_empty() {
            return Err(invalid(format!("prompt {:?} has an empty question", record.id)));
        }
        if let Some(kind) = record.kind.as_deref().filter(|k| !matches!(*k, "open" | "closed")) {
            return Err(invalid(format!("kind must be \"open\" or \"closed\", not {kind:?}")));
        }
        out.push(record);
    }
    Ok(out)
}
