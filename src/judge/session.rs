//! A judge session: the public face of judging (open a judge on a model, judge a pair
//! or a batch, cancel). How a batch is scheduled is in `schedule.rs`, what each pair in
//! flight holds in `pair_run.rs`.
//!
//! How pairs share the context:
//!
//! Every pair in flight owns one KV sequence per presentation order, each in its own
//! KV stream (llama.cpp's non-unified cache). With swap debiasing the two orders'
//! prompts share a token prefix (system, image, question): it is decoded once on the
//! first sequence and copied to the second (`llama_memory_seq_cp`, a buffer copy
//! between streams), then the two suffixes are decoded in the same batch.
//!
//! Why separate streams: in a shared (unified) cache a sequence's cells land wherever
//! other sequences left room, which changes the summation order inside attention and
//! moved p(A) by up to 0.005 between a pair judged alone and in a batch. In its own
//! stream a sequence always occupies cells 0..n, so its result does not depend on what
//! else is in flight.
//!
//! Each scheduler step decodes the next token of every generating sequence in one
//! call, then prompt segments of newly admitted pairs, each in a call of its own
//! (continuous batching; `schedule.rs` says why segments are not merged). A finished
//! pair frees its sequences and the next pair takes its slot.

use std::time::Duration;

use llama_cpp_2::token::LlamaToken;

use super::prompt::{PromptBuilder, VerdictTokens};
use super::{JudgeParams, Mode, Pair, Verdict};
use crate::engine::{open_context, run_slots, CancelFlag, Context, Model, Segment};
use crate::{Error, Result};

/// Throughput counters of a judge session, for benchmarks and progress reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JudgeStats {
    /// Prompt tokens decoded, and wall time of the steps that decoded them.
    pub prompt_tokens: u64,
    pub prompt_time: Duration,
    /// Generated tokens decoded, and wall time of the steps that decoded only those.
    pub generated_tokens: u64,
    pub generation_time: Duration,
    pub decode_calls: u64,
    /// Image embeddings decoded (their time counts as prompt time).
    pub image_tokens: u64,
}

/// A judging session on a model: one llama.cpp context. Use it from one thread at a
/// time; open one judge per thread to judge in parallel on a shared [`Model`].
pub struct Judge<'m> {
    pub(super) model: &'m Model,
    pub(super) ctx: Context<'m>,
    /// Set from any thread to stop the call in progress (see [`Judge::cancel_flag`]).
    pub(super) cancel: CancelFlag,
    pub(super) params: JudgeParams,
    pub(super) prompt: PromptBuilder,
    pub(super) verdict_tokens: VerdictTokens,
    pub(super) stats: JudgeStats,
}

impl std::fmt::Debug for Judge<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Judge").field("params", &self.params).finish_non_exhaustive()
    }
}

impl<'m> Judge<'m> {
    pub fn new(model: &'m Model, params: JudgeParams) -> Result<Judge<'m>> {
        if params.parallel == 0 {
            return Err(Error::InvalidArgument("parallel must be at least 1".into()));
        }
        if params.ctx_per_seq < 16 || params.batch_tokens == 0 {
            return Err(Error::InvalidArgument("ctx_per_seq must be at least 16 and batch_tokens at least 1".into()));
        }
        if params.mode == Mode::Reason && params.max_tokens == 0 {
            return Err(Error::InvalidArgument("reason mode needs max_tokens >= 1".into()));
        }
        let prompt = PromptBuilder::new(model, &params.template)?;
        let verdict_tokens = VerdictTokens::find(model)?;
        // One sequence per presentation order of each pair in flight.
        let orders = if params.swap { 2 } else { 1 };
        let mut ctx = open_context(model, params.parallel, orders, params.ctx_per_seq, params.threads, "pairs")?;
        let cancel = CancelFlag::default();
        ctx.set_cancel(cancel.clone());
        Ok(Judge { model, ctx, cancel, params, prompt, verdict_tokens, stats: JudgeStats::default() })
    }

    pub fn params(&self) -> &JudgeParams {
        &self.params
    }

    pub fn stats(&self) -> JudgeStats {
        self.stats
    }

    /// A flag another thread may set to stop this judge: the call in progress (or, if
    /// none is, the next call) returns [`Error::Cancelled`] soon after, even in the
    /// middle of a long prompt decode (an image encode in progress finishes first). The
    /// request is used up when that call returns.
    pub fn cancel_flag(&self) -> CancelFlag {
        self.cancel.clone()
    }

    /// The prompt tokens of a text pair in its given (AB) order, exactly as the judge
    /// decodes them; `Err` is the pair's error message.
    pub fn prompt_tokens(&self, pair: &Pair) -> std::result::Result<Vec<LlamaToken>, String> {
        if pair.image.is_some() {
            return Err("an image pair's prompt is not only tokens".into());
        }
        let prepared = self.prepare(pair)?;
        let mut tokens = Vec::new();
        for segment in prepared.shared {
            if let Segment::Tokens(t) = segment {
                tokens.extend(t);
            }
        }
        tokens.extend_from_slice(&prepared.suffixes[0].1);
        Ok(tokens)
    }

    /// Judges one pair. A problem with the pair itself (empty text, too long, missing
    /// image) is reported in the verdict's `error`; `Err` means the engine failed.
    pub fn judge_pair(&mut self, pair: &Pair) -> Result<Verdict> {
        let mut out = None;
        self.judge_batch(std::slice::from_ref(pair), |_, v| {
            out = Some(v);
            true
        })?;
        out.ok_or_else(|| Error::Engine("the scheduler finished without a verdict".into()))
    }

    /// Judges `pairs`, calling `on_verdict(index, verdict)` as each pair finishes (in
    /// completion order, not input order). Returning `false` from it cancels the rest
    /// with [`Error::Cancelled`]. A pair's own problems go into its verdict's `error`
    /// and the batch goes on.
    pub fn judge_batch(&mut self, pairs: &[Pair], mut on_verdict: impl FnMut(usize, Verdict) -> bool) -> Result<()> {
        let slots = self.params.parallel;
        let result = run_slots(self, pairs, slots, &mut on_verdict);
        // Whatever happened, leave no sequence behind for the next call.
        self.ctx.clear_memory();
        // A request that came too late to stop this call must not stop the next one.
        self.cancel.take();
        result
    }
}
