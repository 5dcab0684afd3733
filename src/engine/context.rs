//! A llama.cpp context with its own token batch: the decode loop of a judge.
//!
//! The judge drives llama.cpp directly (not through llama-cpp-2's context) because
//! image embeddings are decoded by mtmd into the same `llama_context` as the text.

use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use llama_cpp_2::token::LlamaToken;
use llama_cpp_sys_2 as sys;

use super::cancel::{abort_callback, CancelFlag};
use super::logs::Defer;
use super::raw::model_ptr;
use super::vision::{EncodedImage, ImageChunk, ImagePart};
use super::Model;
use crate::{Error, Result};

/// llama.cpp mutates the model while creating a context, so contexts are created one
/// at a time even when judges are opened from many threads.
static CONTEXT_CREATION: Mutex<()> = Mutex::new(());

/// The shape of a context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ContextParams {
    pub n_ctx: u32,
    /// Most tokens per decode call.
    pub n_batch: u32,
    pub n_ubatch: u32,
    pub n_seq_max: u32,
    /// One KV stream per sequence (non-unified), so each sequence's attention sums in
    /// the same order whatever else is in flight.
    pub kv_unified: bool,
    pub threads: i32,
}

/// The most KV cells one sequence may have: 128k, the longest context of the models
/// vlmjudge supports.
pub const MAX_CTX_PER_SEQ: u32 = 131_072;

impl ContextParams {
    /// A context of `n_seq` sequences of `ctx_per_seq` KV cells each, every one in a
    /// stream of its own, where one decode call carries a whole prompt segment (at most
    /// `ctx_per_seq` tokens) or one token per sequence; `threads` 0 means the physical
    /// cores.
    pub(crate) fn for_sequences(
        model: &Model,
        n_seq: usize,
        ctx_per_seq: u32,
        threads: usize,
    ) -> Result<ContextParams> {
        // llama.cpp would touch gigabytes for a huge context before failing to allocate.
        if ctx_per_seq > MAX_CTX_PER_SEQ {
            return Err(Error::InvalidArgument(format!(
                "ctx_per_seq is {ctx_per_seq} but must be at most {MAX_CTX_PER_SEQ}"
            )));
        }
        if threads > super::MAX_THREADS {
            return Err(Error::InvalidArgument(format!(
                "threads is {threads} but must be at most {}",
                super::MAX_THREADS
            )));
        }
        let threads = if threads == 0 { super::default_threads() } else { threads } as i32;
        let n_ctx = u32::try_from(n_seq)
            .ok()
            .and_then(|n| n.checked_mul(ctx_per_seq))
            .ok_or_else(|| Error::InvalidArgument("sequences x ctx_per_seq is too large".into()))?;
        let call_tokens = ctx_per_seq.max(n_seq as u32);
        // Micro-batches of up to 512 tokens; with non-causal image attention an image
        // chunk must fit one, so any chunk that fits a sequence fits a micro-batch.
        let non_causal = model.vision.as_ref().is_some_and(|v| v.non_causal);
        let n_ubatch = if non_causal { call_tokens } else { call_tokens.min(512) };
        Ok(ContextParams { n_ctx, n_batch: call_tokens, n_ubatch, n_seq_max: n_seq as u32, kv_unified: false, threads })
    }
}

/// A piece of a prompt prefix: a token run or an encoded image.
pub(crate) enum Segment {
    Tokens(Vec<LlamaToken>),
    Image(Arc<EncodedImage>),
}

/// What a prefix decode did, for throughput counters.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DecodeCounts {
    pub tokens: u64,
    pub image_tokens: u64,
    pub calls: u64,
}

/// A llama.cpp context on a [`Model`]. Use from one thread at a time.
pub(crate) struct Context<'m> {
    ptr: NonNull<sys::llama_context>,
    batch: sys::llama_batch,
    batch_capacity: usize,
    n_batch: u32,
    n_ubatch: u32,
    n_vocab: usize,
    model: &'m Model,
    /// Polled by llama.cpp during decodes (see [`Context::set_cancel`]).
    cancel: Option<CancelFlag>,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

// SAFETY: a llama_context may move between threads; it is never used from two at once
// (the type is not Sync and every method takes &mut self or reads finished output).
unsafe impl Send for Context<'_> {}

impl<'m> Context<'m> {
    pub(crate) fn new(model: &'m Model, params: ContextParams) -> Result<Context<'m>> {
        // SAFETY: plain value constructor.
        let mut cp = unsafe { sys::llama_context_default_params() };
        cp.n_ctx = params.n_ctx;
        cp.n_batch = params.n_batch;
        cp.n_ubatch = params.n_ubatch;
        cp.n_seq_max = params.n_seq_max;
        cp.kv_unified = params.kv_unified;
        cp.n_threads = params.threads;
        cp.n_threads_batch = params.threads;
        cp.no_perf = true;
        cp.flash_attn_type = model.flash_attention();
        let raw = {
            // Taken before the lock so it drops after it: llama.cpp logs while creating
            // the context, and a host log callback that opens a judge would otherwise
            // wait for this lock inside it.
            let _defer = Defer::start();
            let _guard = CONTEXT_CREATION.lock().unwrap_or_else(|e| e.into_inner());
            // SAFETY: the model pointer is valid while `model` lives, which outlives 'm.
            unsafe { sys::llama_init_from_model(model_ptr(&model.llama), cp) }
        };
        let ptr = NonNull::new(raw).ok_or_else(|| {
            Error::Engine(format!(
                "cannot create a context of {} tokens for {} sequences (out of memory?)",
                params.n_ctx, params.n_seq_max
            ))
        })?;
        let capacity = params.n_batch as usize;
        // SAFETY: allocates token/pos/seq/logits arrays for `capacity` tokens, one sequence each.
        let batch = unsafe { sys::llama_batch_init(capacity as i32, 0, 1) };
        let ctx = Context {
            ptr,
            batch,
            batch_capacity: capacity,
            n_batch: params.n_batch,
            n_ubatch: params.n_ubatch,
            n_vocab: model.info().n_vocab as usize,
            model,
            cancel: None,
            _not_sync: PhantomData,
        };
        // If this fails, dropping `ctx` frees the context and the batch.
        model.lora.apply(ctx.ptr.as_ptr())?;
        Ok(ctx)
    }

    /// Makes `flag` stop this context's decodes: a decode in progress returns
    /// [`Error::Cancelled`] once llama.cpp next polls it.
    pub(crate) fn set_cancel(&mut self, flag: CancelFlag) {
        // SAFETY: the data pointer stays valid because the context keeps the flag alive
        // for as long as llama.cpp may call back (until the context is freed).
        unsafe { sys::llama_set_abort_callback(self.ptr.as_ptr(), Some(abort_callback), flag.as_callback_data()) };
        self.cancel = Some(flag);
    }

    /// Whether this context's cancel flag is set.
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(CancelFlag::is_cancelled)
    }

    /// Empties the pending batch.
    pub(crate) fn clear_batch(&mut self) {
        self.batch.n_tokens = 0;
    }

    /// Adds a token for sequence `seq` at position `pos`; returns its batch index.
    pub(crate) fn push(&mut self, token: LlamaToken, pos: i32, seq: i32, logits: bool) -> Result<i32> {
        let i = self.batch.n_tokens as usize;
        if i >= self.batch_capacity {
            return Err(Error::Engine(format!("a decode call holds at most {} tokens", self.batch_capacity)));
        }
        // SAFETY: i < capacity, and llama_batch_init allocated every array for capacity
        // tokens with room for one sequence id each.
        unsafe {
            *self.batch.token.add(i) = token.0;
            *self.batch.pos.add(i) = pos;
            *self.batch.n_seq_id.add(i) = 1;
            *(*self.batch.seq_id.add(i)) = seq;
            *self.batch.logits.add(i) = i8::from(logits);
        }
        self.batch.n_tokens += 1;
        Ok(i as i32)
    }

    /// Decodes the pending batch.
    pub(crate) fn decode(&mut self) -> Result<()> {
        if self.batch.n_tokens == 0 {
            return Ok(());
        }
        // SAFETY: the context and batch are valid; the batch is not freed during the call.
        let status = unsafe { sys::llama_decode(self.ptr.as_ptr(), self.batch) };
        match status {
            0 => Ok(()),
            1 => Err(Error::Engine("decode failed: no room left in the KV cache".into())),
            2 if self.cancelled() => Err(Error::Cancelled),
            2 => Err(Error::Engine("decode aborted".into())),
            s => Err(Error::Engine(format!("decode failed (status {s})"))),
        }
    }

    /// The logits of batch index `i` of the last decode (which must have asked for them).
    pub(crate) fn logits(&self, i: i32) -> Result<&[f32]> {
        // SAFETY: returns null for an index without logits; otherwise n_vocab floats
        // that stay valid until the next decode, which needs &mut self.
        let ptr = unsafe { sys::llama_get_logits_ith(self.ptr.as_ptr(), i) };
        if ptr.is_null() {
            return Err(Error::Engine(format!("no logits for batch index {i}")));
        }
        Ok(unsafe { std::slice::from_raw_parts(ptr, self.n_vocab) })
    }

    /// Why `image` cannot be decoded in this context, if it cannot: with non-causal
    /// image attention every chunk must fit one micro-batch (llama.cpp asserts
    /// otherwise).
    pub(crate) fn image_misfit(&self, image: &EncodedImage) -> Option<String> {
        let non_causal = self.model.vision.as_ref().is_some_and(|v| v.non_causal);
        let largest = image.largest_chunk();
        (non_causal && largest > self.n_ubatch as usize).then(|| {
            format!(
                "the image has a chunk of {largest} embeddings, which this model attends to all at once, but a \
                 micro-batch holds {} (raise --ctx-per-seq or lower --image-max-tokens)",
                self.n_ubatch
            )
        })
    }

    /// Decodes an image chunk's embeddings on `seq` from position `pos` (in calls of at
    /// most n_batch tokens); returns the position after it.
    pub(crate) fn decode_image(&mut self, chunk: &ImageChunk, pos: i32, seq: i32) -> Result<i32> {
        let vision =
            self.model.vision.as_ref().ok_or_else(|| Error::Engine("an image chunk without a loaded mmproj".into()))?;
        if vision.non_causal && chunk.n_tokens() > self.n_ubatch as usize {
            // Callers check with `image_misfit` first; this keeps llama.cpp's assertion
            // unreachable even if one does not.
            return Err(Error::Engine(format!(
                "an image chunk of {} embeddings does not fit a micro-batch of {}",
                chunk.n_tokens(),
                self.n_ubatch
            )));
        }
        match vision.decode_chunk(self.ptr.as_ptr(), chunk, pos, seq, self.n_batch as i32) {
            Err(_) if self.cancelled() => Err(Error::Cancelled),
            other => other,
        }
    }

    /// Decodes `tokens` on one sequence from position `pos` in a call of its own,
    /// optionally with logits for the last token; returns that token's batch index.
    ///
    /// Why a call of its own: llama.cpp splits a call into micro-batches with an equal
    /// number of tokens per sequence, so a run decoded beside other sequences' runs is
    /// cut into different chunks, and chunking changes the rounding. Decoded alone, a
    /// run is always cut the same way, so its result does not depend on the batch.
    pub(crate) fn decode_run(&mut self, seq: i32, pos: i32, tokens: &[LlamaToken], logits: bool) -> Result<i32> {
        self.clear_batch();
        for (i, &token) in tokens.iter().enumerate() {
            let last = logits && i + 1 == tokens.len();
            self.push(token, pos + i as i32, seq, last)?;
        }
        self.decode()?;
        Ok(tokens.len() as i32 - 1)
    }

    /// Decodes a prompt prefix on `seq` from position `start`, each token run and each
    /// image chunk in calls of its own (see [`Context::decode_run`]). With
    /// `logits_last`, the last segment must be tokens and the logits of its last token
    /// are kept; returns the next free position and that token's batch index.
    pub(crate) fn decode_prefix(
        &mut self,
        seq: i32,
        start: i32,
        segments: &[Segment],
        logits_last: bool,
        counts: &mut DecodeCounts,
    ) -> Result<(i32, i32)> {
        let mut pos = start;
        let mut logits_at = -1;
        for (k, segment) in segments.iter().enumerate() {
            let last = logits_last && k + 1 == segments.len();
            match segment {
                Segment::Tokens(tokens) => {
                    logits_at = self.decode_run(seq, pos, tokens, last)?;
                    pos += tokens.len() as i32;
                    counts.tokens += tokens.len() as u64;
                    counts.calls += 1;
                }
                Segment::Image(_) if last => {
                    return Err(Error::Engine("a prompt cannot end with an image".into()));
                }
                Segment::Image(image) => {
                    for part in &image.parts {
                        match part {
                            ImagePart::Text(tokens) => {
                                self.decode_run(seq, pos, tokens, false)?;
                                pos += tokens.len() as i32;
                                counts.tokens += tokens.len() as u64;
                            }
                            ImagePart::Chunk(chunk) => {
                                pos = self.decode_image(chunk, pos, seq)?;
                                counts.image_tokens += chunk.n_tokens() as u64;
                            }
                        }
                        counts.calls += 1;
                    }
                }
            }
        }
        Ok((pos, logits_at))
    }

    /// Forgets every sequence.
    pub(crate) fn clear_memory(&mut self) {
        // SAFETY: valid context; clearing data too.
        unsafe { sys::llama_memory_clear(sys::llama_get_memory(self.ptr.as_ptr()), true) }
    }

    /// Forgets sequence `seq`.
    pub(crate) fn remove_sequence(&mut self, seq: i32) -> Result<()> {
        // SAFETY: valid context; -1/-1 is the whole sequence.
        let ok = unsafe { sys::llama_memory_seq_rm(sys::llama_get_memory(self.ptr.as_ptr()), seq, -1, -1) };
        if ok {
            Ok(())
        } else {
            Err(Error::Engine(format!("cannot free KV sequence {seq}")))
        }
    }

    /// Copies sequence `src` into `dst`. Across non-unified streams llama.cpp copies the
    /// whole buffer at the start of the next decode, so positions are not selectable.
    pub(crate) fn copy_sequence(&mut self, src: i32, dst: i32) {
        // SAFETY: valid context and sequence ids below n_seq_max.
        unsafe { sys::llama_memory_seq_cp(sys::llama_get_memory(self.ptr.as_ptr()), src, dst, -1, -1) }
    }
}

impl Drop for Context<'_> {
    fn drop(&mut self) {
        // SAFETY: both were allocated by llama.cpp in `new` and are freed once.
        unsafe {
            sys::llama_batch_free(self.batch);
            sys::llama_free(self.ptr.as_ptr());
        }
    }
}
