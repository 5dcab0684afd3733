//! Data formats: JSON Lines prompts and pairs in, verdicts out (append-only and resumable),
//! and the deterministic merge of shard outputs.

mod append_log;
mod jsonl;
mod merge;
mod pairs;
mod prompts;

pub use append_log::{AppendLog, VerdictLog};
pub use jsonl::{read_jsonl, write_jsonl};
pub use merge::{merge_files, merge_jsonl, MergeOptions, MergeSummary};
pub use pairs::{read_pairs, PairRecord};
pub use prompts::{read_prompts, PromptRecord};
