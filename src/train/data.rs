//! SFT examples: JSON Lines of
//! `{"id": "...", "image": "path or null", "messages": [{"role": "system"|"user", "content": "..."}], "target": "..."}`.
//!
//! `image` is relative to the file's directory (as in pairs files). `messages` may also
//! hold earlier `assistant` turns; the `target` is the assistant answer the model is
//! trained to write next. Unknown fields are ignored, so files written by later stages
//! (with scores, sources, ...) can be read as they are.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::read_jsonl;
use crate::{Error, Result};

/// One chat message of an example's prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// One supervised example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SftExample {
    pub id: String,
    #[serde(default)]
    pub image: Option<String>,
    pub messages: Vec<Message>,
    pub target: String,
}

impl SftExample {
    /// The image path, resolved against `base_dir` when relative.
    pub fn image_path(&self, base_dir: &Path) -> Option<PathBuf> {
        self.image.as_deref().and_then(|p| crate::data::resolve_path(base_dir, p))
    }
}

/// Reads and checks an SFT file: each line an example (with its line number), ids
/// unique, roles `system`, `user` or `assistant`, at least one user message, and a
/// non-empty target.
pub fn read_sft_examples(path: &Path) -> Result<Vec<(usize, SftExample)>> {
    let records: Vec<(usize, SftExample)> = read_jsonl(path)?;
    let mut seen = HashSet::new();
    for (line, ex) in &records {
        let invalid = |reason: String| Error::InvalidInput { path: path.into(), line: *line, reason };
        if ex.id.is_empty() {
            return Err(invalid("the id is empty".into()));
        }
        if !seen.insert(ex.id.as_str()) {
            return Err(invalid(format!("duplicate id {:?}", ex.id)));
        }
        if ex.target.trim().is_empty() {
            return Err(invalid(format!("example {:?} has an empty target", ex.id)));
        }
        if let Some(m) = ex.messages.iter().find(|m| !matches!(m.role.as_str(), "system" | "user" | "assistant")) {
            return Err(invalid(format!("example {:?}: unknown role {:?} (system, user or assistant)", ex.id, m.role)));
        }
        if !ex.messages.iter().any(|m| m.role == "user") {
            return Err(invalid(format!("example {:?} has no user message", ex.id)));
        }
    }
    Ok(records)
}
