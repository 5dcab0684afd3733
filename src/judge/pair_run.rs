//! What a pair in flight holds: its prompt segments and, per presentation order, its
//! sequence, position, sampler and what it has read so far.

use std::time::Instant;

use llama_cpp_2::token::LlamaToken;

use super::prompt::VerdictTokens;
use super::verdict::parse_shown_verdict;
use super::{Choice, JudgeParams, Mode, Order, OrderVerdict, TokenCounts, Verdict};
use crate::engine::{Sampler, Segment};

pub(super) struct Prepared {
    /// Tokens of the judge's head at the start of the prompt (0: the pair decodes its
    /// whole prompt itself).
    pub(super) head: usize,
    /// The rest of the prefix both orders share, after the head.
    pub(super) shared: Vec<Segment>,
    /// KV positions the shared prefix fills.
    pub(super) shared_pos: i32,
    /// Tokens (image embeddings included) in the shared prefix.
    pub(super) shared_tokens: usize,
    pub(super) suffixes: Vec<(Order, Vec<LlamaToken>)>,
}

pub(crate) struct PairRun {
    pub(super) index: usize,
    pub(super) head: usize,
    pub(super) shared: Vec<Segment>,
    pub(super) shared_tokens: usize,
    pub(super) shared_decoded: bool,
    pub(super) orders: Vec<OrderRun>,
    /// Decoding this pair's prompt failed; it is reported with this error.
    pub(super) error: Option<String>,
    pub(super) started: Instant,
}

impl PairRun {
    pub(super) fn finished(&self) -> bool {
        self.error.is_some() || self.orders.iter().all(|o| o.done)
    }

    pub(super) fn into_verdict(self, id: &str, mode: Mode) -> Verdict {
        if let Some(error) = self.error {
            return Verdict::failed(id, error);
        }
        let tokens = TokenCounts {
            prompt: (self.shared_tokens + self.orders.iter().map(|o| o.suffix.len()).sum::<usize>()) as u32,
            generated: self.orders.iter().map(|o| o.generated).sum(),
        };
        let orders = self
            .orders
            .into_iter()
            .map(|o| {
                let to_original = |c: Choice| if o.order == Order::BA { c.swapped() } else { c };
                let p_a = o.p_shown_a.map(|p| if o.order == Order::BA { 1.0 - p } else { p });
                let verdict = match mode {
                    Mode::Fast => p_a.map_or(Choice::None, Choice::from_p_a),
                    Mode::Reason => o.shown.map_or(Choice::None, to_original),
                };
                let reasoning = (mode == Mode::Reason).then(|| String::from_utf8_lossy(&o.text).into_owned());
                let verdict = if o.forcing { p_a.map_or(Choice::None, Choice::from_p_a) } else { verdict };
                OrderVerdict { order: o.order, verdict, p_a, forced: o.forcing, reasoning }
            })
            .collect();
        let ms = self.started.elapsed().as_secs_f64() * 1e3;
        Verdict::combine(id.to_string(), orders, tokens, ms)
    }
}

pub(super) struct OrderRun {
    pub(super) order: Order,
    pub(super) seq: i32,
    pub(super) suffix: Vec<LlamaToken>,
    pub(super) fed: usize,
    pub(super) pos: i32,
    /// A sampled token waiting to be decoded.
    pub(super) pending: Option<LlamaToken>,
    pub(super) text: Vec<u8>,
    pub(super) generated: u32,
    /// p(shown A) read at the latest `[[` in the generated text.
    pub(super) p_at_marker: Option<f64>,
    pub(super) p_shown_a: Option<f64>,
    pub(super) shown: Option<Choice>,
    /// The judge wrote no verdict; the verdict prefix was appended to read p(A).
    pub(super) forcing: bool,
    pub(super) done: bool,
    pub(super) sampler: Sampler,
}

impl OrderRun {
    pub(super) fn consume(
        &mut self,
        logits: &[f32],
        verdict: &VerdictTokens,
        params: &JudgeParams,
        vocab: &llama_cpp_2::vocab::LlamaVocab<'_>,
    ) {
        if params.mode == Mode::Fast || self.forcing {
            let p = verdict.p_first(logits);
            self.p_shown_a = Some(p);
            self.shown = Some(Choice::from_p_a(p));
            self.done = true;
            return;
        }
        if !verdict.prefix.is_empty() && self.text.ends_with(b"[[") {
            self.p_at_marker = Some(verdict.p_first(logits));
        }
        let token = LlamaToken(self.sampler.sample(logits) as i32);
        if vocab.is_eog(token) {
            self.force_verdict(None, verdict);
            return;
        }
        self.generated += 1;
        self.text.extend(vocab.token_to_piece(token, false, None));
        if let Some(shown) = parse_shown_verdict(&String::from_utf8_lossy(&self.text)) {
            self.shown = Some(shown);
            self.p_shown_a = self.p_at_marker;
            self.done = true;
        } else if self.generated >= params.max_tokens {
            self.force_verdict(Some(token), verdict);
        } else {
            self.pending = Some(token);
        }
    }

    /// The reasoning ended without a written verdict: append the verdict prefix (after
    /// the last sampled token, if it is not yet decoded) and read p(A) there. The order
    /// is marked `forced`, so this is never mistaken for a verdict the judge wrote.
    pub(super) fn force_verdict(&mut self, undecoded: Option<LlamaToken>, verdict: &VerdictTokens) {
        if verdict.prefix.is_empty() {
            self.done = true;
            return;
        }
        self.suffix.extend(undecoded);
        self.suffix.extend_from_slice(&verdict.forced_tail);
        self.forcing = true;
    }
}
