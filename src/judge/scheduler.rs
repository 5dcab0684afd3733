//! A judge session and its batch scheduler.
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
//! (continuous batching; see [`Judge::step`] for why segments are not merged). A finished pair frees its sequences and
//! the next pair takes its slot.

use std::time::{Duration, Instant};

use llama_cpp_2::token::LlamaToken;

use super::prompt::{PromptBuilder, UserTexts, VerdictTokens, AB, BA};
use super::sampler::Sampler;
use super::verdict::parse_shown_verdict;
use super::{Choice, ImageSource, JudgeParams, Mode, Order, OrderVerdict, Pair, TokenCounts, Verdict};
use crate::engine::{backend, min_tokens, CancelFlag, Context, ContextParams, DecodeCounts, Model, Segment};
use crate::{Error, Result};

/// llama.cpp's limit on sequences per context (`LLAMA_MAX_SEQ`).
const MAX_SEQUENCES: usize = 256;

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
    model: &'m Model,
    ctx: Context<'m>,
    /// Set from any thread to stop the call in progress (see [`Judge::cancel_flag`]).
    cancel: CancelFlag,
    params: JudgeParams,
    prompt: PromptBuilder,
    verdict_tokens: VerdictTokens,
    stats: JudgeStats,
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
        let orders = if params.swap { 2 } else { 1 };
        if params.parallel * orders > MAX_SEQUENCES {
            return Err(Error::InvalidArgument(format!(
                "{} pairs in flight need {} sequences; llama.cpp allows {MAX_SEQUENCES}",
                params.parallel,
                params.parallel * orders
            )));
        }
        if params.ctx_per_seq < 16 || params.batch_tokens == 0 {
            return Err(Error::InvalidArgument("ctx_per_seq must be at least 16 and batch_tokens at least 1".into()));
        }
        if params.mode == Mode::Reason && params.max_tokens == 0 {
            return Err(Error::InvalidArgument("reason mode needs max_tokens >= 1".into()));
        }
        let prompt = PromptBuilder::new(model, &params.template)?;
        let verdict_tokens = VerdictTokens::find(model)?;
        backend()?;
        let mut ctx = Context::new(
            model,
            ContextParams::for_sequences(model, params.parallel * orders, params.ctx_per_seq, params.threads)?,
        )?;
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
        let result = self.run(pairs, &mut on_verdict);
        // Whatever happened, leave no sequence behind for the next call.
        self.ctx.clear_memory();
        // A request that came too late to stop this call must not stop the next one.
        self.cancel.take();
        result
    }

    fn run(&mut self, pairs: &[Pair], on_verdict: &mut dyn FnMut(usize, Verdict) -> bool) -> Result<()> {
        let mut slots: Vec<Option<PairRun>> = (0..self.params.parallel).map(|_| None).collect();
        let mut next = 0;
        loop {
            if self.cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            // Admit pairs into free slots; a pair that cannot be prepared is answered now.
            for (slot_index, slot) in slots.iter_mut().enumerate() {
                while slot.is_none() && next < pairs.len() {
                    let index = next;
                    next += 1;
                    match self.prepare(&pairs[index]) {
                        Ok(prepared) => *slot = Some(self.start(index, slot_index, prepared, &pairs[index])),
                        Err(reason) => {
                            if !on_verdict(index, Verdict::failed(&pairs[index].id, reason)) {
                                return Err(Error::Cancelled);
                            }
                        }
                    }
                }
            }
            if slots.iter().all(Option::is_none) {
                return Ok(());
            }
            self.step(&mut slots)?;
            for slot in &mut slots {
                if slot.as_ref().is_some_and(PairRun::finished) {
                    let run = slot.take().expect("checked above");
                    for order in &run.orders {
                        self.ctx.remove_sequence(order.seq)?;
                    }
                    let index = run.index;
                    if !on_verdict(index, run.into_verdict(&pairs[index].id, self.params.mode)) {
                        return Err(Error::Cancelled);
                    }
                }
            }
        }
    }

    /// Checks a pair and tokenizes its prompt(s); `Err` is the pair's error message.
    fn prepare(&self, pair: &Pair) -> std::result::Result<Prepared, String> {
        for (what, text) in
            [("question", &pair.question), ("response_a", &pair.response_a), ("response_b", &pair.response_b)]
        {
            if text.trim().is_empty() {
                return Err(format!("{what} is empty"));
            }
        }
        // Before any image is encoded or any text tokenized.
        self.check_text_length(pair)?;
        if let Some(ImageSource::Path(path)) = &pair.image {
            if !path.is_file() {
                return Err(format!("image not found: {}", path.display()));
            }
        }
        let image = match (&pair.image, &self.model.vision) {
            (None, _) => None,
            (Some(_), None) => {
                return Err("the pair has an image but no mmproj is loaded (pass --mmproj)".into());
            }
            (Some(source), Some(vision)) => Some(vision.encode(source)?),
        };
        if let Some(reason) = image.as_deref().and_then(|i| self.ctx.image_misfit(i)) {
            return Err(reason);
        }
        let mut orders = vec![(Order::AB, AB)];
        if self.params.swap {
            orders.push((Order::BA, BA));
        }
        // Both orders show the same three texts: each is tokenized once.
        let mut texts = UserTexts::new(&pair.question, &pair.response_a, &pair.response_b);
        let mut before_image = Vec::new();
        let prompts: Vec<(Order, Vec<LlamaToken>)> = orders
            .into_iter()
            .map(|(order, shown)| {
                let mut tokens = self.prompt.tokens(self.model, &mut texts, shown, image.is_some());
                if self.params.mode == Mode::Fast {
                    tokens.after_image.extend_from_slice(&self.verdict_tokens.prefix);
                }
                // Both orders show the same system text and image.
                before_image = tokens.before_image;
                (order, tokens.after_image)
            })
            .collect();
        // The shared prefix: tokens both orders start with; each order keeps at least
        // one token of its own so its logits are computed on its own sequence.
        let shared_len = match prompts.as_slice() {
            [(_, x), (_, y)] => x.iter().zip(y).take_while(|(a, b)| a == b).count().min(x.len().min(y.len()) - 1),
            _ => 0,
        };
        let common = prompts[0].1[..shared_len].to_vec();
        let suffixes: Vec<(Order, Vec<LlamaToken>)> =
            prompts.into_iter().map(|(order, tokens)| (order, tokens[shared_len..].to_vec())).collect();
        let image_pos = image.as_ref().map_or(0, |i| i.n_pos as usize);
        let image_cells = image.as_ref().map_or(0, |i| i.n_tokens);
        let shared_pos = before_image.len() + image_pos + common.len();
        let shared_tokens = before_image.len() + image_cells + common.len();
        let shared: Vec<Segment> = [
            Segment::Tokens(before_image),
            image.map_or(Segment::Tokens(Vec::new()), Segment::Image),
            Segment::Tokens(common),
        ]
        .into_iter()
        .filter(|s| !matches!(s, Segment::Tokens(t) if t.is_empty()))
        .collect();
        // Each order's sequence holds its whole prompt plus its reasoning and, if the
        // judge writes no verdict, the appended verdict prefix. Its length is counted in
        // KV cells: with M-RoPE an image advances the position by less than the cells
        // it fills.
        let prompt_cells = shared_tokens + suffixes.iter().map(|(_, s)| s.len()).max().unwrap_or(0);
        let generation = self.reasoning_cells();
        let needed = prompt_cells + generation;
        if needed > self.params.ctx_per_seq as usize {
            return Err(format!(
                "the pair is too long for the context: it needs {needed} KV cells ({prompt_cells} prompt{} + {generation} for reasoning) \
                 but each sequence has {} (raise --ctx-per-seq{})",
                if image_cells > 0 { format!(", of which {image_cells} for the image") } else { String::new() },
                self.params.ctx_per_seq,
                if image_cells > 0 {
                    ", or lower --image-max-tokens where the projector resizes images, or --max-tokens"
                } else {
                    " or lower --max-tokens"
                },
            ));
        }
        Ok(Prepared { shared, shared_pos: shared_pos as i32, shared_tokens, suffixes })
    }

    /// KV cells each sequence keeps for reasoning after its prompt: the most reasoning
    /// tokens and, if the judge writes no verdict, the appended verdict prefix.
    fn reasoning_cells(&self) -> usize {
        match self.params.mode {
            Mode::Fast => 0,
            Mode::Reason => self.params.max_tokens as usize + self.verdict_tokens.forced_tail.len(),
        }
    }

    /// Refuses a pair whose text cannot fit a sequence, judging by its length in bytes
    /// alone: each order's prompt holds all three texts, and when the tokenizer bounds
    /// the bytes a token stands for, n bytes are at least n / that many tokens. Why:
    /// tokenizing a megabyte answer (twice, once per order) took seconds before its
    /// error; this check costs nothing. A text that passes is measured exactly later.
    fn check_text_length(&self, pair: &Pair) -> std::result::Result<(), String> {
        let Some(span) = self.prompt.max_token_bytes() else {
            return Ok(());
        };
        let texts = [&pair.question, &pair.response_a, &pair.response_b];
        let at_least: usize = texts.iter().map(|t| min_tokens(t.len(), span)).sum();
        let cells = self.params.ctx_per_seq as usize;
        let room = cells.saturating_sub(self.reasoning_cells());
        if at_least <= room {
            return Ok(());
        }
        let bytes: usize = texts.iter().map(|t| t.len()).sum();
        Err(format!(
            "the pair is too long for the context: its text is {bytes} bytes (question {}, response_a {}, \
             response_b {}) and a token of this model stands for at most {span} bytes, so it is at least \
             {at_least} tokens, but a sequence has room for {room} (--ctx-per-seq {cells}{}); text over about {} \
             bytes cannot fit (raise --ctx-per-seq{})",
            pair.question.len(),
            pair.response_a.len(),
            pair.response_b.len(),
            if room < cells { format!(" less {} for reasoning", cells - room) } else { String::new() },
            room * span,
            if room < cells { " or lower --max-tokens" } else { "" },
        ))
    }

    fn start(&self, index: usize, slot: usize, prepared: Prepared, pair: &Pair) -> PairRun {
        let n_orders = if self.params.swap { 2 } else { 1 };
        let shared_pos = prepared.shared_pos;
        let orders = prepared
            .suffixes
            .into_iter()
            .enumerate()
            .map(|(k, (order, suffix))| OrderRun {
                order,
                seq: (slot * n_orders + k) as i32,
                suffix,
                fed: 0,
                pos: shared_pos,
                pending: None,
                text: Vec::new(),
                generated: 0,
                p_at_marker: None,
                p_shown_a: None,
                shown: None,
                forcing: false,
                done: false,
                sampler: Sampler::new(self.params.sampling, self.params.seed, &format!("{}/{order:?}", pair.id)),
            })
            .collect();
        PairRun {
            index,
            shared: prepared.shared,
            shared_tokens: prepared.shared_tokens,
            shared_decoded: false,
            orders,
            error: None,
            started: Instant::now(),
        }
    }

    /// One scheduler step: a decode call with the next token of every generating
    /// sequence, then whole prompt segments (a shared prefix, a suffix, an appended
    /// verdict prefix) of waiting sequences, each in a decode call of its own, until
    /// `batch_tokens` prompt tokens are spent.
    ///
    /// Why one call per segment: llama.cpp splits a call into micro-batches with an
    /// equal number of tokens per sequence, so a segment decoded beside other
    /// sequences' segments is cut into different chunks, and chunking changes the
    /// rounding. Decoded alone, a segment is always cut the same way, so a pair's
    /// result does not depend on the rest of the batch. Generation steps carry one
    /// token per sequence, which splits the same way whatever else is in flight.
    fn step(&mut self, slots: &mut [Option<PairRun>]) -> Result<()> {
        self.decode_generation(slots)?;
        let mut room = self.params.batch_tokens as usize;
        for run in slots.iter_mut().flatten() {
            if room == 0 {
                break;
            }
            // A prompt segment is one pair's alone, so its failure is that pair's error
            // and the batch goes on (its sequences are freed when it is reported).
            if let Err(e) = self.feed_prompt(run, &mut room) {
                if matches!(e, Error::Cancelled) {
                    return Err(e);
                }
                run.error = Some(format!("decoding the prompt failed: {e}"));
            }
        }
        Ok(())
    }

    /// Decodes a pair's waiting prompt segments within `room` prompt tokens.
    fn feed_prompt(&mut self, run: &mut PairRun, room: &mut usize) -> Result<()> {
        if !run.shared_decoded && !run.shared.is_empty() {
            self.decode_shared(run.orders[0].seq, &run.shared)?;
            run.shared_decoded = true;
            *room = room.saturating_sub(run.shared_tokens);
            // llama.cpp applies the copy before the next decode, so the suffixes may
            // follow at once. Across streams it copies whole buffers, so the positions
            // must be left open.
            let (first, rest) = run.orders.split_first().expect("a pair has an order");
            for order in rest {
                self.ctx.copy_sequence(first.seq, order.seq);
            }
        }
        for order in &mut run.orders {
            if *room == 0 || order.fed == order.suffix.len() {
                continue;
            }
            let segment = order.suffix[order.fed..].to_vec();
            let logits_at = self.decode_segment(order.seq, order.pos, &segment, true)?;
            order.fed = order.suffix.len();
            order.pos += segment.len() as i32;
            *room = room.saturating_sub(segment.len());
            let vocab = self.model.llama.vocab();
            let logits = self.ctx.logits(logits_at)?;
            order.consume(logits, &self.verdict_tokens, &self.params, &vocab);
        }
        Ok(())
    }

    /// Decodes the pending token of every generating sequence in one call.
    fn decode_generation(&mut self, slots: &mut [Option<PairRun>]) -> Result<()> {
        let started = Instant::now();
        self.ctx.clear_batch();
        let mut outputs = Vec::new();
        for (r, run) in slots.iter_mut().enumerate().filter_map(|(r, s)| s.as_mut().map(|run| (r, run))) {
            for (o, order) in run.orders.iter_mut().enumerate() {
                if let Some(token) = order.pending.take() {
                    self.ctx.push(token, order.pos, order.seq, true)?;
                    order.pos += 1;
                    outputs.push((r, o));
                }
            }
        }
        if outputs.is_empty() {
            return Ok(());
        }
        self.ctx.decode()?;
        let vocab = self.model.llama.vocab();
        for (i, &(r, o)) in outputs.iter().enumerate() {
            let order = &mut slots[r].as_mut().expect("live slot").orders[o];
            order.consume(self.ctx.logits(i as i32)?, &self.verdict_tokens, &self.params, &vocab);
        }
        self.stats.decode_calls += 1;
        self.stats.generated_tokens += outputs.len() as u64;
        self.stats.generation_time += started.elapsed();
        Ok(())
    }

    /// Decodes a pair's shared prefix on `seq` from position 0, each token run and
    /// image chunk in calls of its own, so the result does not depend on the batch.
    fn decode_shared(&mut self, seq: i32, shared: &[Segment]) -> Result<()> {
        let started = Instant::now();
        let mut counts = DecodeCounts::default();
        self.ctx.decode_prefix(seq, shared, false, &mut counts)?;
        self.count_prompt(counts, started);
        Ok(())
    }

    /// Decodes `tokens` on one sequence from position `pos` in a call of its own,
    /// optionally with logits for the last token; returns that token's batch index.
    fn decode_segment(&mut self, seq: i32, pos: i32, tokens: &[LlamaToken], logits: bool) -> Result<i32> {
        let started = Instant::now();
        let at = self.ctx.decode_run(seq, pos, tokens, logits)?;
        self.count_prompt(DecodeCounts { tokens: tokens.len() as u64, image_tokens: 0, calls: 1 }, started);
        Ok(at)
    }

    fn count_prompt(&mut self, counts: DecodeCounts, started: Instant) {
        self.stats.decode_calls += counts.calls;
        self.stats.prompt_tokens += counts.tokens;
        self.stats.image_tokens += counts.image_tokens;
        self.stats.prompt_time += started.elapsed();
    }
}

struct Prepared {
    shared: Vec<Segment>,
    /// KV positions the shared prefix fills.
    shared_pos: i32,
    /// Tokens (image embeddings included) in the shared prefix.
    shared_tokens: usize,
    suffixes: Vec<(Order, Vec<LlamaToken>)>,
}

struct PairRun {
    index: usize,
    shared: Vec<Segment>,
    shared_tokens: usize,
    shared_decoded: bool,
    orders: Vec<OrderRun>,
    /// Decoding this pair's prompt failed; it is reported with this error.
    error: Option<String>,
    started: Instant,
}

impl PairRun {
    fn finished(&self) -> bool {
        self.error.is_some() || self.orders.iter().all(|o| o.done)
    }

    fn into_verdict(self, id: &str, mode: Mode) -> Verdict {
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

struct OrderRun {
    order: Order,
    seq: i32,
    suffix: Vec<LlamaToken>,
    fed: usize,
    pos: i32,
    /// A sampled token waiting to be decoded.
    pending: Option<LlamaToken>,
    text: Vec<u8>,
    generated: u32,
    /// p(shown A) read at the latest `[[` in the generated text.
    p_at_marker: Option<f64>,
    p_shown_a: Option<f64>,
    shown: Option<Choice>,
    /// The judge wrote no verdict; the verdict prefix was appended to read p(A).
    forcing: bool,
    done: bool,
    sampler: Sampler,
}

impl OrderRun {
    fn consume(
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
    fn force_verdict(&mut self, undecoded: Option<LlamaToken>, verdict: &VerdictTokens) {
        if verdict.prefix.is_empty() {
            self.done = true;
            return;
        }
        self.suffix.extend(undecoded);
        self.suffix.extend_from_slice(&verdict.forced_tail);
        self.forcing = true;
    }
}
