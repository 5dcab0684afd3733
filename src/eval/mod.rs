//! `vlmjudge eval`: a judge's accuracy on labelled preference pairs and on the public
//! benchmarks' own files (VL-RewardBench parquet, Multimodal RewardBench JSON).
//!
//! Read a benchmark into [`BenchItem`]s with [`read_bench`], judge and score them with
//! [`evaluate`] (resumable, shardable), or score an existing verdicts file without a
//! model with [`score_verdicts`]. [`score_official`] gives the benchmark's own metrics
//! (its official script's categories and handling of unparsed verdicts) next to ours;
//! [`Protocol`] chooses between judging as the official script does (one order) and
//! swap-debiased judging.

mod item;
mod mm_rewardbench;
mod official;
mod pairs;
mod protocol;
mod report;
mod run;
mod score;
#[cfg(feature = "parquet")]
mod unique_ids;
#[cfg(feature = "parquet")]
mod vl_rewardbench;

pub use item::{read_bench, read_bench_with_notes, Bench, BenchFormat, BenchItem, ReadOptions};
pub use mm_rewardbench::{read_mm_rewardbench, read_mm_rewardbench_with_notes};
pub use official::{official_score, OfficialScore, UnparsedRule};
pub use pairs::read_labelled_pairs;
pub use protocol::Protocol;
pub use report::EvalReport;
pub use run::{evaluate, score_official, score_verdicts};
pub use score::{CategoryScore, EvalSummary, Outcome, Tally};
#[cfg(feature = "parquet")]
pub use vl_rewardbench::{
    read_vl_rewardbench, read_vl_rewardbench_with_notes, vl_rewardbench_category, vl_rewardbench_source_group,
    VL_REWARDBENCH_GROUPS,
};
