//! Data formats: JSON Lines prompts and pairs in, verdicts out (append-only and resumable),
//! and the deterministic merge of shard outputs.

mod append_log;
mod jsonl;
mod merge;
mod pairs;
mod prompts;

pub use append_log::AppendLog;
pub use jsonl::{read_jsonl, write_json, write_jsonl};
pub use merge::{merge_files, merge_jsonl, MergeOptions, MergeSummary};
pub use pairs::{read_pairs, PairRecord};
pub use prompts::{read_prompts, PromptRecord};

use std::path::{Path, PathBuf};

/// A path as a data record gives it (an image beside the file, say), resolved against
/// `base_dir` when relative (`join` keeps an absolute path as it is); `None` when the
/// record leaves it empty.
pub fn resolve_path(base_dir: &Path, path: &str) -> Option<PathBuf> {
    (!path.is_empty()).then(|| base_dir.join(path))
}

/// A path as a record in `from` gives it, rewritten for a record in `to`: relative to
/// `to` when it lies inside it, else absolute (so a copied record still points at the
/// same file). `None` when the record leaves it empty.
pub fn rebase_path(path: &str, from: &Path, to: &Path) -> Option<String> {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (path, dir) = (absolute(&resolve_path(from, path)?), absolute(to));
    Some(match path.strip_prefix(&dir) {
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => path.to_string_lossy().into_owned(),
    })
}
