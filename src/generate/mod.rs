//! Batched sampling: many answers to many prompts on one llama.cpp context.
//!
//! `vlmjudge synth` asks the model under improvement for answers (16 samples per
//! closed question, one response per open question, then a rewrite of it). Each
//! prompt's prefix (system, image, question) is decoded once and copied to the
//! sequences of its samples; every sample then draws its own tokens with a sampler
//! seeded from the run seed, the prompt id and the sample number, so the text a sample
//! gets does not depend on what else is in flight.

mod prompt;
mod scheduler;

use crate::engine::{ImageSource, SamplingParams};

pub use scheduler::Generator;

/// Settings of a generation session.
#[derive(Debug, Clone)]
pub struct GenParams {
    pub sampling: SamplingParams,
    /// Most tokens per sample.
    pub max_tokens: u32,
    pub seed: u64,
    /// Threads for llama.cpp (0 = physical cores).
    pub threads: usize,
    /// Prompts in flight at once.
    pub parallel: usize,
    /// Most samples any one prompt asks for (sequences reserved per prompt in flight).
    pub max_samples: usize,
    /// Context positions of each sample's sequence: prompt plus generated tokens.
    pub ctx_per_seq: u32,
}

impl Default for GenParams {
    fn default() -> Self {
        GenParams {
            // The paper's sampling settings for majority voting.
            sampling: SamplingParams { temperature: 0.6, top_k: 50, top_p: 0.9 },
            max_tokens: 128,
            seed: 0,
            threads: 0,
            parallel: 4,
            max_samples: 16,
            ctx_per_seq: 1024,
        }
    }
}

/// One prompt: an optional system message, the user's text, an optional image (placed
/// at the start of the user turn, as the judge places it) and how many samples.
#[derive(Debug, Clone, PartialEq)]
pub struct GenRequest {
    pub id: String,
    pub system: Option<String>,
    pub user: String,
    pub image: Option<ImageSource>,
    pub n: usize,
}

/// The samples for one request, in sample order; `error` says why there are none.
#[derive(Debug, Clone, PartialEq)]
pub struct GenOutput {
    pub id: String,
    pub samples: Vec<String>,
    /// Prompt tokens (image embeddings included), counted once per request.
    pub prompt_tokens: usize,
    /// Tokens generated over all samples.
    pub generated_tokens: usize,
    pub error: Option<String>,
}

impl GenOutput {
    pub(crate) fn failed(id: &str, error: String) -> GenOutput {
        GenOutput { id: id.into(), samples: Vec::new(), prompt_tokens: 0, generated_tokens: 0, error: Some(error) }
    }
}
