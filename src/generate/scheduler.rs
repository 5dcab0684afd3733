//! The generation scheduler: continuous batching of prompts, each with `n` samples on
//! sequences of their own.
//!
//! Like the judge, each sequence has its own KV stream (non-unified cache), a prompt's
//! prefix is decoded in calls of its own and copied to its samples' sequences, and
//! every generation step decodes one token per live sample in one call: results do not
//! depend on the batch.

use llama_cpp_2::token::LlamaToken;

use super::prompt::chat_tokens;
use super::{GenOutput, GenParams, GenRequest};
use crate::engine::{min_tokens, open_context, run_slots, Context, DecodeCounts, Model, Scheduler, Segment, SlotShape};
use crate::engine::{ImageSource, Sampler};
use crate::{Error, Result};

/// A generation session on a model: one llama.cpp context. Use it from one thread at a
/// time.
pub struct Generator<'m> {
    model: &'m Model,
    ctx: Context<'m>,
    params: GenParams,
    /// The most input bytes one token stands for, when the tokenizer bounds it.
    max_token_bytes: Option<usize>,
}

impl std::fmt::Debug for Generator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator").field("params", &self.params).finish_non_exhaustive()
    }
}

impl<'m> Generator<'m> {
    pub fn new(model: &'m Model, params: GenParams) -> Result<Generator<'m>> {
        if params.parallel == 0 || params.max_samples == 0 {
            return Err(Error::InvalidArgument("parallel and max_samples must be at least 1".into()));
        }
        if params.ctx_per_seq < 16 || params.max_tokens == 0 {
            return Err(Error::InvalidArgument("ctx_per_seq must be at least 16 and max_tokens at least 1".into()));
        }
        let items = format!("prompts (x {} samples)", params.max_samples);
        let ctx = open_context(
            model,
            &SlotShape {
                slots: params.parallel,
                per_slot: params.max_samples,
                extra: 0,
                ctx_per_seq: params.ctx_per_seq,
                threads: params.threads,
                items: &items,
            },
        )?;
        Ok(Generator { model, ctx, params, max_token_bytes: model.max_token_bytes() })
    }

    pub fn params(&self) -> &GenParams {
        &self.params
    }

    /// Generates the samples of every request, calling `on_output(index, output)` as
    /// each request finishes (completion order). Returning `false` cancels the rest
    /// with [`Error::Cancelled`]. A request's own problems go into its `error`.
    pub fn generate(
        &mut self,
        requests: &[GenRequest],
        mut on_output: impl FnMut(usize, GenOutput) -> bool,
    ) -> Result<()> {
        let slots = self.params.parallel;
        let result = run_slots(self, requests, slots, &mut on_output);
        self.ctx.clear_memory();
        result
    }

    /// Checks a request and builds its prompt prefix; `Err` is the request's error.
    fn prepare(&self, request: &GenRequest) -> std::result::Result<Prefix, String> {
        if request.n == 0 || request.n > self.params.max_samples {
            return Err(format!(
                "asks for {} samples; this session allows 1 to {}",
                request.n, self.params.max_samples
            ));
        }
        if request.user.trim().is_empty() {
            return Err("the prompt is empty".into());
        }
        // Before any image is encoded or any text tokenized.
        self.check_text_length(request)?;
        if let Some(ImageSource::Path(path)) = &request.image {
            if !path.is_file() {
                return Err(format!("image not found: {}", path.display()));
            }
        }
        let image = match (&request.image, &self.model.vision) {
            (None, _) => None,
            (Some(_), None) => return Err("the prompt has an image but no mmproj is loaded (pass --mmproj)".into()),
            (Some(source), Some(vision)) => Some(vision.encode(source)?),
        };
        let tokens = chat_tokens(self.model, request.system.as_deref(), &request.user, image.is_some())
            .map_err(|e| e.to_string())?;
        if let Some(reason) = image.as_deref().and_then(|i| self.ctx.image_misfit(i)) {
            return Err(reason);
        }
        // Counted in KV cells: with M-RoPE an image advances the position by less.
        let image_cells = image.as_ref().map_or(0, |i| i.n_tokens);
        let cells = tokens.before_image.len() + image_cells + tokens.after_image.len();
        let needed = cells + self.params.max_tokens as usize;
        if needed > self.params.ctx_per_seq as usize {
            return Err(format!(
                "the prompt is too long for the context: it needs {needed} KV cells ({cells} prompt + {} to generate) \
                 but each sequence has {} (raise --ctx-per-seq or lower --max-tokens)",
                self.params.max_tokens, self.params.ctx_per_seq
            ));
        }
        let segments =
            [Segment::Tokens(tokens.before_image), image.map_or(Segment::Tokens(Vec::new()), Segment::Image)]
                .into_iter()
                .filter(|s| !matches!(s, Segment::Tokens(t) if t.is_empty()))
                .chain([Segment::Tokens(tokens.after_image)])
                .collect();
        Ok(Prefix { segments })
    }

    /// Refuses a request whose text cannot fit a sequence, judging by its length in
    /// bytes alone: when the tokenizer bounds the bytes a token stands for, n bytes are
    /// at least n / that many tokens. Why: tokenizing a megabyte prompt took seconds
    /// before its error; this check costs nothing. A text that passes is measured
    /// exactly later.
    fn check_text_length(&self, request: &GenRequest) -> std::result::Result<(), String> {
        let Some(span) = self.max_token_bytes else {
            return Ok(());
        };
        // The system text is template text, but its tokens are bounded the same way.
        let system = request.system.as_deref().unwrap_or("");
        let at_least = min_tokens(request.user.len(), span) + min_tokens(system.len(), span);
        let cells = self.params.ctx_per_seq as usize;
        let room = cells.saturating_sub(self.params.max_tokens as usize);
        if at_least <= room {
            return Ok(());
        }
        Err(format!(
            "the prompt is too long for the context: its text is {} bytes (user {}, system {}) and a token of this \
             model stands for at most {span} bytes, so it is at least {at_least} tokens, but a sequence has room for \
             {room} (--ctx-per-seq {cells} less {} to generate); text over about {} bytes cannot fit (raise \
             --ctx-per-seq or lower --max-tokens)",
            request.user.len() + system.len(),
            request.user.len(),
            system.len(),
            self.params.max_tokens,
            room * span,
        ))
    }

    /// Decodes the prefix on the first sample's sequence, copies it to the others and
    /// draws every sample's first token from the prefix's last logits.
    fn start_request(&mut self, index: usize, slot: usize, request: &GenRequest, prefix: Prefix) -> Result<RequestRun> {
        let first_seq = (slot * self.params.max_samples) as i32;
        let mut counts = DecodeCounts::default();
        let (pos, logits_at) = self.ctx.decode_prefix(first_seq, 0, &prefix.segments, true, &mut counts)?;
        let mut samples: Vec<SampleRun> = (0..request.n)
            .map(|k| SampleRun {
                seq: first_seq + k as i32,
                pos,
                pending: None,
                text: Vec::new(),
                generated: 0,
                done: false,
                sampler: Sampler::new(self.params.sampling, self.params.seed, &format!("{}/{k}", request.id)),
            })
            .collect();
        for sample in &samples[1..] {
            self.ctx.copy_sequence(first_seq, sample.seq);
        }
        let logits = self.ctx.logits(logits_at)?.to_vec();
        let vocab = self.model.llama.vocab();
        for sample in &mut samples {
            sample.consume(&logits, self.params.max_tokens, &vocab);
        }
        Ok(RequestRun { index, prompt_tokens: (counts.tokens + counts.image_tokens) as usize, samples })
    }
}

impl Scheduler for Generator<'_> {
    type Item = GenRequest;
    type Run = RequestRun;
    type Output = GenOutput;

    fn start(
        &mut self,
        index: usize,
        slot: usize,
        request: &GenRequest,
    ) -> Result<std::result::Result<RequestRun, String>> {
        let prefix = match self.prepare(request) {
            Ok(prefix) => prefix,
            Err(reason) => return Ok(Err(reason)),
        };
        match self.start_request(index, slot, request, prefix) {
            Ok(run) => Ok(Ok(run)),
            Err(Error::Cancelled) => Err(Error::Cancelled),
            // A prefix is one request's alone: its failure is that request's.
            Err(e) => {
                self.ctx.remove_sequence((slot * self.params.max_samples) as i32)?;
                Ok(Err(format!("decoding the prompt failed: {e}")))
            }
        }
    }

    fn failed(&self, request: &GenRequest, reason: String) -> GenOutput {
        GenOutput::failed(&request.id, reason)
    }

    /// Decodes the pending token of every live sample in one call.
    fn step(&mut self, slots: &mut [Option<RequestRun>]) -> Result<()> {
        self.ctx.clear_batch();
        let mut outputs = Vec::new();
        for (r, run) in slots.iter_mut().enumerate().filter_map(|(r, s)| s.as_mut().map(|run| (r, run))) {
            for (k, sample) in run.samples.iter_mut().enumerate() {
                if let Some(token) = sample.pending.take() {
                    self.ctx.push(token, sample.pos, sample.seq, true)?;
                    sample.pos += 1;
                    outputs.push((r, k));
                }
            }
        }
        if outputs.is_empty() {
            return Ok(());
        }
        self.ctx.decode()?;
        let vocab = self.model.llama.vocab();
        for (i, &(r, k)) in outputs.iter().enumerate() {
            let sample = &mut slots[r].as_mut().expect("live slot").samples[k];
            sample.consume(self.ctx.logits(i as i32)?, self.params.max_tokens, &vocab);
        }
        Ok(())
    }

    fn is_finished(run: &RequestRun) -> bool {
        run.finished()
    }

    fn finish(&mut self, run: RequestRun, requests: &[GenRequest]) -> Result<(usize, GenOutput)> {
        for sample in &run.samples {
            self.ctx.remove_sequence(sample.seq)?;
        }
        let index = run.index;
        Ok((index, run.into_output(&requests[index].id)))
    }
}

struct Prefix {
    segments: Vec<Segment>,
}

pub(crate) struct RequestRun {
    index: usize,
    prompt_tokens: usize,
    samples: Vec<SampleRun>,
}

impl RequestRun {
    fn finished(&self) -> bool {
        self.samples.iter().all(|s| s.done)
    }

    fn into_output(self, id: &str) -> GenOutput {
        GenOutput {
            id: id.into(),
            generated_tokens: self.samples.iter().map(|s| s.generated as usize).sum(),
            samples: self.samples.into_iter().map(|s| String::from_utf8_lossy(&s.text).trim().to_string()).collect(),
            prompt_tokens: self.prompt_tokens,
            error: None,
        }
    }
}

struct SampleRun {
    seq: i32,
    pos: i32,
    pending: Option<LlamaToken>,
    text: Vec<u8>,
    generated: u32,
    done: bool,
    sampler: Sampler,
}

impl SampleRun {
    /// Draws the next token from `logits`: an end-of-generation token or the token
    /// budget ends the sample, anything else waits to be decoded.
    fn consume(&mut self, logits: &[f32], max_tokens: u32, vocab: &llama_cpp_2::vocab::LlamaVocab<'_>) {
        let token = LlamaToken(self.sampler.sample(logits) as i32);
        if vocab.is_eog(token) {
            self.done = true;
            return;
        }
        self.generated += 1;
        self.text.extend(vocab.token_to_piece(token, false, None));
        if self.generated >= max_tokens {
            self.done = true;
        } else {
            self.pending = Some(token);
        }
    }
}
