//! The judge: prompts, fast (logit) and reason (generate) modes, swap debiasing and the
//! continuous-batching scheduler. See `docs` in the README for the protocol.

pub mod chat;
mod file;
pub mod inspect;
mod prompt;
mod sampler;
mod scheduler;
mod trace;
mod verdict;

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use file::{judge_file, judge_into_log, FileSummary};
pub use prompt::{Template, DEFAULT_SYSTEM, DEFAULT_USER};
pub(crate) use sampler::argmax;
pub use sampler::SamplingParams;
pub(crate) use sampler::{stream_seed, Sampler};
pub use scheduler::{Judge, JudgeStats};
pub use trace::TracePattern;
pub use verdict::{Choice, Order, OrderVerdict, TokenCounts, Verdict};

/// How the judge reaches its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// No generation: the assistant turn opens with `[[` and p(A) is read from the
    /// logits of the two letters there.
    #[default]
    Fast,
    /// Generate reasoning until `[[`, read p(A) there, and parse the written verdict.
    Reason,
}

/// Settings of a judge session. `Default` gives fast mode with swap debiasing.
#[derive(Debug, Clone)]
pub struct JudgeParams {
    pub mode: Mode,
    /// Judge both presentation orders and average (on by default).
    pub swap: bool,
    /// Most tokens of reasoning per order (reason mode).
    pub max_tokens: u32,
    pub sampling: SamplingParams,
    pub seed: u64,
    /// Threads for llama.cpp (0 = physical cores).
    pub threads: usize,
    /// Pairs in flight at once, each on its own KV sequences.
    pub parallel: usize,
    /// Context positions of each sequence (one per order of each pair in flight): the
    /// prompt plus generated tokens. KV memory is parallel x orders x ctx_per_seq.
    pub ctx_per_seq: u32,
    /// Prompt tokens decoded per scheduler step, between two generation steps: more
    /// admits new pairs faster, fewer keeps generating pairs' latency flat.
    pub batch_tokens: u32,
    pub template: Template,
}

impl Default for JudgeParams {
    fn default() -> Self {
        JudgeParams {
            mode: Mode::Fast,
            swap: true,
            max_tokens: 256,
            sampling: SamplingParams::default(),
            seed: 0,
            threads: 0,
            parallel: 8,
            ctx_per_seq: 1024,
            batch_tokens: 1024,
            template: Template::default(),
        }
    }
}

/// An image attached to a pair.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    Path(PathBuf),
    /// Encoded bytes (PNG, JPEG, ...), e.g. from a benchmark parquet or the C ABI.
    Bytes(Arc<[u8]>),
}

/// A preference pair to judge.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub id: String,
    pub question: String,
    pub response_a: String,
    pub response_b: String,
    pub image: Option<ImageSource>,
}

impl Pair {
    /// A text-only pair.
    pub fn text(
        id: impl Into<String>,
        question: impl Into<String>,
        response_a: impl Into<String>,
        response_b: impl Into<String>,
    ) -> Pair {
        Pair {
            id: id.into(),
            question: question.into(),
            response_a: response_a.into(),
            response_b: response_b.into(),
            image: None,
        }
    }
}
