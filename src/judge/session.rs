//! A judge session: the public face of judging (open a judge on a model, judge a pair
//! or a batch, cancel). How a batch is scheduled is in `schedule.rs`, what each pair in
//! flight holds in `pair_run.rs`.
//!
//! How pairs share the context:
//!
//! Every pair in flight owns one KV sequence per presentation order, each in its own
//! KV stream (llama.cpp's non-unified cache). Every prompt starts with the same head
//! (BOS, system turn): it is decoded once per judge on a sequence of its own and
//! copied to each pair's first sequence (`llama_memory_seq_cp`, a buffer copy between
//! streams). With swap debiasing the two orders' prompts share a longer prefix (head,
//! image, question): its rest is decoded once on the first sequence, which is copied to
//! the second, then the two suffixes are decoded.
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
use crate::engine::{open_context, run_slots, CancelFlag, Context, Model, Segment, SlotShape, MAX_SEQUENCES};
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
    /// The head every prompt starts with, when it is worth keeping decoded.
    pub(super) head: Option<PromptHead>,
    pub(super) stats: JudgeStats,
}

/// The tokens every judge prompt starts with ([`PromptBuilder::head`]), decoded once
/// on a KV sequence of its own and copied to each pair. The copy moves a whole KV
/// stream, so a head of a few tokens is cheaper decoded with each pair.
pub(super) struct PromptHead {
    pub(super) tokens: Vec<LlamaToken>,
    pub(super) seq: i32,
    /// Whether `seq` holds the decoded head (it is dropped after a failed call).
    pub(super) ready: bool,
}

/// The shortest head kept decoded (see [`PromptHead`]).
const MIN_HEAD_TOKENS: usize = 16;

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
        let orders = params.orders();
        // A head as long as a sequence leaves no pair room (each pair then says so), and
        // it takes a sequence of its own, which llama.cpp's limit may leave no room for.
        let head_tokens = prompt.head(model);
        let pair_seqs = params.parallel.saturating_mul(orders);
        let head = (head_tokens.len() >= MIN_HEAD_TOKENS
            && head_tokens.len() < params.ctx_per_seq as usize
            && pair_seqs < MAX_SEQUENCES)
            .then_some(PromptHead { tokens: head_tokens, seq: pair_seqs as i32, ready: false });
        let shape = SlotShape {
            slots: params.parallel,
            per_slot: orders,
            extra: usize::from(head.is_some()),
            ctx_per_seq: params.ctx_per_seq,
            threads: params.threads,
            items: "pairs",
        };
        let mut ctx = open_context(model, &shape)?;
        let cancel = CancelFlag::default();
        ctx.set_cancel(cancel.clone());
        Ok(Judge { model, ctx, cancel, params, prompt, verdict_tokens, head, stats: JudgeStats::default() })
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
        let mut tokens = match &self.head {
            Some(head) if prepared.head > 0 => head.tokens.clone(),
            _ => Vec::new(),
        };
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
        // Leave no pair's sequence behind for the next call, and after a failure not
        // even the head, whose decode may be what failed.
        if result.is_ok() {
            let pair_seqs = self.params.parallel * self.params.orders();
            for seq in 0..pair_seqs as i32 {
                self.ctx.remove_sequence(seq)?;
            }
        } else {
            self.ctx.clear_memory();
            if let Some(head) = &mut self.head {
                head.ready = false;
            }
        }
        // A request that came too late to stop this call must not stop the next one.
        self.cancel.take();
        result
    }
}
