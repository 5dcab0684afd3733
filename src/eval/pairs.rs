//! Labelled pairs in our JSON Lines format.

use std::path::Path;

use super::item::{BenchItem, ReadOptions};
use crate::data::{read_jsonl, read_pairs, PairRecord};
use crate::judge::{Choice, ImageSource};
use crate::{Error, Result};

/// Reads a pairs file for evaluation: every line needs a `label` (`A`/`B`); a missing
/// `category` is `all`. Images are relative to the file (or `options.image_root`).
pub fn read_labelled_pairs(path: &Path, options: &ReadOptions) -> Result<Vec<BenchItem>> {
    let records = read_pairs(path)?;
    let mut items = Vec::with_capacity(records.len());
    for record in records {
        let label = match record.label.as_deref() {
            Some("A") => Choice::A,
            Some("B") => Choice::B,
            // read_pairs has rejected any other label already.
            _ => return Err(missing_label(path, &record.id)),
        };
        items.push(BenchItem {
            image: record.image.as_deref().map(|p| ImageSource::Path(options.resolve_image(path, p))),
            id: record.id,
            question: record.question,
            response_a: record.response_a,
            response_b: record.response_b,
            label,
            category: record.category.unwrap_or_else(|| "all".into()),
        });
    }
    Ok(items)
}

/// The error for an unlabelled pair, naming its line (looked up only on this path).
fn missing_label(path: &Path, id: &str) -> Error {
    let line = read_jsonl::<PairRecord>(path)
        .ok()
        .and_then(|records| records.into_iter().find(|(_, r)| r.id == id).map(|(line, _)| line))
        .unwrap_or(0);
    Error::InvalidInput {
        path: path.into(),
        line,
        reason: format!("pair {id:?} has no label: evaluation needs \"label\": \"A\" or \"B\" on every pair"),
    }
}
