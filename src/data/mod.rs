//! Data formats: JSON Lines prompts and pairs in, verdicts out (append-only and resumable).

mod append_log;
mod jsonl;
mod pairs;
mod prompts;

pub use append_log::{AppendLog, VerdictLog};
pub use jsonl::read_jsonl;
pub use pairs::{read_pairs, PairRecord};
pub use prompts::{read_prompts, PromptRecord};
