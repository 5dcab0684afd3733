//! Synthetic preference pairs, the first stage of each self-improvement round.
//!
//! The paper trains its judge on pairs whose preferred side is known by construction,
//! with no human labels. There are two constructions, picked per prompt by
//! [`QuestionKind`] (the prompts file's `kind`, else [`QuestionKind::detect`]):
//!
//! - **Closed questions** (a number, a word, yes/no, a choice): the engine samples
//!   [`VoteParams::samples`] answers (16 in the paper, at temperature 0.6, top_k 50,
//!   top_p 0.9). [`majority_pair`] normalises them ([`normalize_answer`]), and when one
//!   answer is the clear majority with at least [`VoteParams::threshold`] votes (5), it
//!   pairs a sample of that answer (preferred) with a random sample of a different
//!   answer (less preferred). The majority is a proxy for correctness: the paper finds
//!   it works better than filtering by gold answers.
//! - **Open questions** (descriptions, explanations, captions): the engine generates one
//!   response, then a copy with one or two concrete details made wrong ("detail
//!   alteration": counts, numbers, colours, positions, objects) in the original's style.
//!   The copy is either written by the model from [`rewrite_instruction`] and cleaned
//!   with [`clean_rewrite`], or made by [`inject_errors`] (word substitution from
//!   lexicons; also the fallback when the model's rewrite is refused). Either way
//!   [`check_edit`] must accept it: it must change something, and not so much that the
//!   pair stops being "the same answer with an error". The original is preferred.
//!
//! Everything here is pure logic on strings, with randomness from a caller-provided
//! [`rand::Rng`] so that a seeded run is reproducible; the engine side (sampling on
//! llama.cpp) lives in the `synth` command.

mod edit_check;
mod inject;
mod kind;
mod normalize;
mod rewrite;
mod trace;
mod vote;

pub use edit_check::{check_edit, EditRejection, DEFAULT_MAX_CHANGED_FRACTION};
pub use inject::{inject_errors, Edit, EditKind, Injected};
pub use kind::QuestionKind;
pub use normalize::normalize_answer;
pub use rewrite::{clean_rewrite, rewrite_instruction};
pub use trace::TracePattern;
pub use vote::{majority_pair, MajorityPair, NoPair, VoteParams};
