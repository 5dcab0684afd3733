//! The judge: prompts, fast (logit) and reason (generate) modes, swap debiasing and the
//! continuous-batching scheduler. See `docs` in the README for the protocol.

mod file;
pub mod inspect;
mod pair_run;
mod prompt;
mod schedule;
mod session;
mod verdict;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::PairRecord;

pub use file::{judge_file, judge_into_log, FileSummary};
pub use prompt::{Template, DEFAULT_SYSTEM, DEFAULT_USER};
// A pair's image and the sampler's settings are the engine's; they are named here too
// because every judge call takes them.
pub use crate::engine::{ImageSource, SamplingParams};
pub use session::{Judge, JudgeStats};
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

impl JudgeParams {
    /// Presentation orders judged per pair, each on a KV sequence of its own: AB, and
    /// BA with swap debiasing.
    pub(crate) fn orders(&self) -> usize {
        if self.swap {
            2
        } else {
            1
        }
    }
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
    /// The pair of one line of a pairs file; a relative image path is resolved against
    /// `base_dir` (the file's directory).
    pub fn from_record(record: &PairRecord, base_dir: &Path) -> Pair {
        Pair {
            id: record.id.clone(),
            question: record.question.clone(),
            response_a: record.response_a.clone(),
            response_b: record.response_b.clone(),
            image: record.image_path(base_dir).map(ImageSource::Path),
        }
    }

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
