use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use super::read_jsonl;
use crate::{Error, Result};

/// One line of a pairs file: `id`, `image` (path or null), `question`, `response_a`,
/// `response_b`, optional `label` (`A`/`B`) and `category`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairRecord {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub image: Option<String>,
    pub question: String,
    pub response_a: String,
    pub response_b: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

impl PairRecord {
    /// The image's path, resolved against `base_dir` (the pairs file's directory) when
    /// relative.
    pub fn image_path(&self, base_dir: &Path) -> Option<PathBuf> {
        self.image.as_deref().and_then(|p| super::resolve_path(base_dir, p))
    }
}

/// Reads a pairs file. Ids must be unique: resuming and merging rely on them.
pub fn read_pairs(path: &Path) -> Result<Vec<PairRecord>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (line, record) in read_jsonl::<PairRecord>(path)? {
        if let Some(label) = &record.label {
            if label != "A" && label != "B" {
                return Err(Error::InvalidInput {
                    path: path.into(),
                    line,
                    reason: format!("label must be \"A\" or \"B\", not {label:?}"),
                });
            }
        }
        if !seen.insert(record.id.clone()) {
            return Err(Error::InvalidInput {
                path: path.into(),
                line,
                reason: format!("duplicate id {:?}", record.id),
            });
        }
        out.push(record);
    }
    Ok(out)
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("id must be a string or number, not {other}"))),
    }
}
