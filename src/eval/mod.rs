//! `vlmjudge eval`: a judge's accuracy on labelled preference pairs and on the public
//! benchmarks' own files (VL-RewardBench parquet, Multimodal RewardBench JSON).

mod score;

pub use score::{CategoryScore, EvalSummary};
