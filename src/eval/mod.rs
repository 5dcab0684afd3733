//! `vlmjudge eval`: a judge's accuracy on labelled preference pairs and on the public
//! benchmarks' own files (VL-RewardBench parquet, Multimodal RewardBench JSON).
//!
//! Read a benchmark into [`BenchItem`]s with [`read_bench`], judge and score them with
//! [`evaluate`] (resumable, shardable), or score an existing verdicts file without a
//! model with [`score_verdicts`].

mod item;
mod mm_rewardbench;
mod pairs;
mod report;
mod run;
mod score;
#[cfg(feature = "parquet")]
mod vl_rewardbench;

pub use item::{read_bench, BenchFormat, BenchItem, ReadOptions};
pub use mm_rewardbench::read_mm_rewardbench;
pub use pairs::read_labelled_pairs;
pub use report::EvalReport;
pub use run::{evaluate, score_verdicts};
pub use score::{CategoryScore, EvalSummary, Outcome, Tally};
#[cfg(feature = "parquet")]
pub use vl_rewardbench::{read_vl_rewardbench, vl_rewardbench_category};
