//! Data formats: JSON Lines pairs in, verdicts out (append-only and resumable).

mod jsonl;
mod pairs;
mod verdict_log;

pub use jsonl::read_jsonl;
pub use pairs::{read_pairs, PairRecord};
pub use verdict_log::VerdictLog;
