//! How a judge schedules a batch: the [`Scheduler`] of the batching core for pairs.
//!
//! Each scheduler step decodes the next token of every generating sequence in one
//! call, then prompt segments of newly admitted pairs, each in a call of its own (the
//! trait's `step` below says why segments are not merged).

use std::time::Instant;

use llama_cpp_2::token::LlamaToken;

use super::pair_run::{OrderRun, PairRun, Prepared};
use super::prompt::{UserTexts, AB, BA};
use super::Judge;
use super::{ImageSource, Mode, Order, Pair, Verdict};
use crate::engine::{min_tokens, DecodeCounts, Sampler, Scheduler, Segment};
use crate::{Error, Result};

impl Scheduler for Judge<'_> {
    type Item = Pair;
    type Run = PairRun;
    type Output = Verdict;

    fn start(&mut self, index: usize, slot: usize, pair: &Pair) -> Result<std::result::Result<PairRun, String>> {
        Ok(self.prepare(pair).map(|prepared| self.start_pair(index, slot, prepared, pair)))
    }

    fn failed(&self, pair: &Pair, reason: String) -> Verdict {
        Verdict::failed(&pair.id, reason)
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

    fn is_finished(run: &PairRun) -> bool {
        run.finished()
    }

    fn finish(&mut self, run: PairRun, pairs: &[Pair]) -> Result<(usize, Verdict)> {
        for order in &run.orders {
            self.ctx.remove_sequence(order.seq)?;
        }
        let index = run.index;
        Ok((index, run.into_verdict(&pairs[index].id, self.params.mode)))
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

impl Judge<'_> {
    /// Checks a pair and tokenizes its prompt(s); `Err` is the pair's error message.
    pub(super) fn prepare(&self, pair: &Pair) -> std::result::Result<Prepared, String> {
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
        let mut prompts: Vec<(Order, Vec<LlamaToken>)> = orders
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
        // The judge's head comes decoded: cut it off whatever starts with it (the
        // tokens before the image, or each order's whole prompt).
        let head = self.head.as_ref().map_or(0, |h| {
            let starts = |tokens: &[LlamaToken]| tokens.len() > h.tokens.len() && tokens.starts_with(&h.tokens);
            let fits = if image.is_some() {
                before_image.starts_with(&h.tokens)
            } else {
                prompts.iter().all(|(_, t)| starts(t))
            };
            if fits {
                h.tokens.len()
            } else {
                0
            }
        });
        if image.is_some() {
            before_image.drain(..head);
        } else {
            prompts.iter_mut().for_each(|(_, t)| drop(t.drain(..head)));
        }
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
        let shared_pos = head + before_image.len() + image_pos + common.len();
        let shared_tokens = head + before_image.len() + image_cells + common.len();
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
        Ok(Prepared { head, shared, shared_pos: shared_pos as i32, shared_tokens, suffixes })
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

    fn start_pair(&self, index: usize, slot: usize, prepared: Prepared, pair: &Pair) -> PairRun {
        let n_orders = self.params.orders();
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
            head: prepared.head,
            shared: prepared.shared,
            shared_tokens: prepared.shared_tokens,
            shared_decoded: false,
            orders,
            error: None,
            started: Instant::now(),
        }
    }

    /// Decodes a pair's waiting prompt segments within `room` prompt tokens.
    fn feed_prompt(&mut self, run: &mut PairRun, room: &mut usize) -> Result<()> {
        if !run.shared_decoded && (run.head > 0 || !run.shared.is_empty()) {
            // llama.cpp applies a copy before the next decode, so decoding may follow at
            // once. Across streams it copies whole buffers, so the positions must be
            // left open.
            let first = run.orders[0].seq;
            if run.head > 0 {
                let head = self.decoded_head()?;
                self.ctx.copy_sequence(head, first);
            }
            self.decode_shared(first, run.head as i32, &run.shared)?;
            run.shared_decoded = true;
            *room = room.saturating_sub(run.shared_tokens - run.head);
            for order in &run.orders[1..] {
                self.ctx.copy_sequence(first, order.seq);
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

    /// Decodes a pair's shared prefix on `seq` from position `start` (after the head),
    /// each token run and image chunk in calls of its own, so the result does not
    /// depend on the batch.
    fn decode_shared(&mut self, seq: i32, start: i32, shared: &[Segment]) -> Result<()> {
        let started = Instant::now();
        let mut counts = DecodeCounts::default();
        self.ctx.decode_prefix(seq, start, shared, false, &mut counts)?;
        self.count_prompt(counts, started);
        Ok(())
    }

    /// The sequence holding the decoded head, decoding it first if it is not there
    /// (alone in its call, so it is the same whenever it is decoded).
    fn decoded_head(&mut self) -> Result<i32> {
        let head = self.head.as_ref().expect("pairs cut off a head only when there is one");
        let seq = head.seq;
        if !head.ready {
            let tokens = head.tokens.clone();
            self.ctx.remove_sequence(seq)?;
            self.decode_segment(seq, 0, &tokens, false)?;
            self.head.as_mut().expect("checked above").ready = true;
        }
        Ok(seq)
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
