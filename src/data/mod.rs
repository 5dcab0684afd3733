//! Data formats: JSON Lines pairs in, verdicts out (append-only and resumable), and the
//! deterministic merge of shard outputs.

mod jsonl;
mod merge;
mod pairs;
mod verdict_log;

pub use jsonl::read_jsonl;
pub use merge::{merge_files, merge_jsonl, MergeOptions, MergeSummary};
pub use pairs::{read_pairs, PairRecord};
pub use verdict_log::VerdictLog;
