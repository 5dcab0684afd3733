//! The image path: mmproj loading, image encoding through llama.cpp's mtmd, and a
//! cache of encoded images keyed by content hash.
//!
//! An image becomes a list of parts: the image's embeddings (one or more chunks, e.g.
//! tiles) and, for models that frame images with special tokens, text tokens between
//! them. Encoding is the expensive step, so each distinct image is encoded once and its
//! parts are kept in an LRU cache; decoding the cached embeddings into a sequence is
//! what every pair that shows the image pays.

use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_sys_2 as sys;
use sha2::{Digest, Sha256};

use super::gguf::check_gguf;
use super::image::{decode_image, ImageLimits, RgbImage};
use super::image_cache::ImageCache;
use super::logs::{Capture, Defer};
use super::raw::{model_ptr, path_cstring};
use super::ImageSource;
use super::ModelParams;
use crate::{Error, Result};

/// Counters of the image path, for progress reports and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageStats {
    /// Images run through the vision encoder.
    pub encoded: u64,
    /// Images served from the cache without encoding.
    pub cache_hits: u64,
}

/// An encoded image, ready to decode into any sequence.
#[derive(Debug)]
pub struct EncodedImage {
    pub(crate) parts: Vec<ImagePart>,
    /// KV positions the image occupies (equal to its tokens except for M-RoPE models).
    pub n_pos: i32,
    /// Tokens (embeddings plus framing text) it adds to the prompt: the KV cells it
    /// fills, which is what a sequence's length is checked against.
    pub n_tokens: usize,
}

/// One piece of an encoded image, in prompt order (see [`EncodedImage::pieces`]).
#[derive(Debug, Clone, Copy)]
pub enum ImagePiece<'a> {
    /// Framing tokens decoded as text.
    Tokens(&'a [LlamaToken]),
    /// `n_tokens` embeddings of the language model's input width, row-major. `grid` is
    /// (columns, rows) of an M-RoPE image (Qwen2-VL, Qwen2.5-VL): token `i` sits at
    /// column `i % columns`, row `i / columns`, and the image advances the position by
    /// the grid's longer side.
    Embeddings { n_tokens: usize, data: &'a [f32], grid: Option<(usize, usize)> },
}

impl EncodedImage {
    /// Image chunks (tiles or slices; 1 for an image that is not split).
    pub fn chunks(&self) -> usize {
        self.chunk_sizes().count()
    }

    /// Embeddings over all chunks (the KV cells less the framing text).
    pub fn image_tokens(&self) -> usize {
        self.chunk_sizes().sum()
    }

    /// The largest image chunk's embeddings: a model with non-causal image attention
    /// must decode each chunk in one micro-batch.
    pub fn largest_chunk(&self) -> usize {
        self.chunk_sizes().max().unwrap_or(0)
    }

    fn chunk_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts.iter().filter_map(|part| if let ImagePart::Chunk(c) = part { Some(c.n_tokens) } else { None })
    }

    /// Every chunk's embeddings in prompt order, concatenated: [`Self::image_tokens`]
    /// rows of the language model's input width.
    pub fn embeddings(&self) -> Vec<f32> {
        self.parts
            .iter()
            .filter_map(|part| match part {
                ImagePart::Chunk(chunk) => Some(&chunk.embeddings[..]),
                ImagePart::Text(_) => None,
            })
            .flatten()
            .copied()
            .collect()
    }

    /// The image's pieces in prompt order, e.g. for a trainer that splices image
    /// embeddings into its own forward pass.
    pub fn pieces(&self) -> impl Iterator<Item = ImagePiece<'_>> {
        self.parts.iter().map(|part| match part {
            ImagePart::Text(tokens) => ImagePiece::Tokens(tokens),
            ImagePart::Chunk(chunk) => {
                ImagePiece::Embeddings { n_tokens: chunk.n_tokens, data: &chunk.embeddings, grid: chunk.grid }
            }
        })
    }
}

#[derive(Debug)]
pub(crate) enum ImagePart {
    /// Framing tokens (e.g. `<fake_token_around_image>`), decoded as text.
    Text(Vec<LlamaToken>),
    Chunk(ImageChunk),
}

/// One mtmd image chunk and its computed embeddings.
#[derive(Debug)]
pub(crate) struct ImageChunk {
    ptr: NonNull<sys::mtmd_input_chunk>,
    embeddings: Vec<f32>,
    n_tokens: usize,
    pub(crate) n_pos: i32,
    /// (columns, rows) when the model gives image tokens M-RoPE grid positions.
    grid: Option<(usize, usize)>,
}

impl ImageChunk {
    pub(crate) fn n_tokens(&self) -> usize {
        self.n_tokens
    }
}

// SAFETY: an owned chunk copy is plain data, only read after creation.
unsafe impl Send for ImageChunk {}
unsafe impl Sync for ImageChunk {}

impl Drop for ImageChunk {
    fn drop(&mut self) {
        // SAFETY: the chunk is an owned copy made by mtmd_input_chunk_copy.
        unsafe { sys::mtmd_input_chunk_free(self.ptr.as_ptr()) }
    }
}

struct MtmdContext(NonNull<sys::mtmd_context>);

// SAFETY: tokenizing and reading the model's flags are thread-safe in mtmd; encoding
// writes the context's output buffer and is serialised by `Vision::encoder`.
unsafe impl Send for MtmdContext {}
unsafe impl Sync for MtmdContext {}

impl Drop for MtmdContext {
    fn drop(&mut self) {
        // SAFETY: created by mtmd_init_from_file, freed once.
        unsafe { sys::mtmd_free(self.0.as_ptr()) }
    }
}

/// A loaded mmproj with its image cache.
pub(crate) struct Vision {
    ctx: MtmdContext,
    /// Held while encoding: mtmd keeps the encoder output inside the context.
    encoder: Mutex<()>,
    n_embd: usize,
    n_vocab: i32,
    /// The image's embeddings attend to each other in both directions (Gemma 3), so a
    /// chunk must fit one micro-batch: llama.cpp asserts otherwise.
    pub(crate) non_causal: bool,
    limits: ImageLimits,
    cache: Option<ImageCache<Arc<EncodedImage>>>,
    encoded: AtomicU64,
    cache_hits: AtomicU64,
}

impl Vision {
    pub(crate) fn load(path: &Path, llama: &LlamaModel, threads: usize, model: &ModelParams) -> Result<Vision> {
        let summary = check_gguf(path)?;
        let mmproj_error = |detail: String| Error::MmprojLoad { path: path.into(), detail };
        if summary.architecture.as_deref() != Some("clip") {
            return Err(mmproj_error(format!(
                "it is not an mmproj (general.architecture is {:?}, expected \"clip\")",
                summary.architecture.unwrap_or_default()
            )));
        }
        // Before mtmd: it aborts on files these checks refuse, and leaks its clip context
        // when it rejects an mmproj of the wrong width.
        // SAFETY: valid model pointer.
        let text_width = unsafe { sys::llama_model_n_embd_inp(model_ptr(llama)) };
        super::validate::mmproj(path, u64::try_from(text_width).unwrap_or(0))?;
        let cpath = path_cstring(path).ok_or_else(|| mmproj_error("the path contains a NUL byte".into()))?;
        // SAFETY: plain value constructor.
        let mut params = unsafe { sys::mtmd_context_params_default() };
        params.use_gpu = model.gpu_layers > 0;
        if model.image_max_tokens > 0 {
            params.image_max_tokens = model.image_max_tokens as i32;
        }
        params.print_timings = false;
        params.n_threads = threads as i32;
        params.warmup = false;
        let capture = Capture::start();
        // SAFETY: valid C string and model pointer; params by value.
        let raw = unsafe { sys::mtmd_init_from_file(cpath.as_ptr(), model_ptr(llama), params) };
        let ctx = NonNull::new(raw).map(MtmdContext).ok_or_else(|| {
            let detail = capture.reason();
            mmproj_error(if detail.is_empty() { "mtmd_init_from_file failed".into() } else { detail })
        })?;
        // SAFETY: valid context.
        if !unsafe { sys::mtmd_support_vision(ctx.0.as_ptr()) } {
            return Err(mmproj_error("it has no vision encoder (audio-only projectors are not supported)".into()));
        }
        // SAFETY: valid model pointer.
        let n_embd = unsafe { sys::llama_model_n_embd_inp(model_ptr(llama)) } as usize;
        // SAFETY: valid context; a null chunk asks about the vision projector.
        let non_causal = unsafe { sys::mtmd_decode_use_non_causal(ctx.0.as_ptr(), std::ptr::null()) };
        Ok(Vision {
            ctx,
            encoder: Mutex::new(()),
            n_embd,
            n_vocab: llama.n_vocab(),
            non_causal,
            limits: ImageLimits::default(),
            cache: ImageCache::new(model.image_cache_entries),
            encoded: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
        })
    }

    pub(crate) fn stats(&self) -> ImageStats {
        ImageStats {
            encoded: self.encoded.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
        }
    }

    /// Reads, decodes and encodes an image, or returns it from the cache. The error is
    /// a message for the pair's `error` field.
    pub(crate) fn encode(&self, source: &ImageSource) -> std::result::Result<Arc<EncodedImage>, String> {
        let (bytes, name) = match source {
            ImageSource::Path(path) => {
                let bytes = std::fs::read(path).map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => format!("image not found: {}", path.display()),
                    _ => format!("cannot read the image {}: {e}", path.display()),
                })?;
                (std::borrow::Cow::Owned(bytes), Some(path.as_path()))
            }
            ImageSource::Bytes(bytes) => (std::borrow::Cow::Borrowed(&bytes[..]), None),
        };
        let key: [u8; 32] = Sha256::digest(&bytes).into();
        if let Some(cache) = &self.cache {
            if let Some(hit) = cache.get(&key) {
                self.cache_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(hit);
            }
        }
        let rgb = decode_image(&bytes, name, &self.limits)?;
        drop(bytes);
        let encoded = Arc::new(self.encode_rgb(rgb)?);
        self.encoded.fetch_add(1, Ordering::Relaxed);
        if let Some(cache) = &self.cache {
            cache.put(key, Arc::clone(&encoded));
        }
        Ok(encoded)
    }

    fn encode_rgb(&self, rgb: RgbImage) -> std::result::Result<EncodedImage, String> {
        let ctx = self.ctx.0.as_ptr();
        if rgb.pixels.len() as u64 != u64::from(rgb.width) * u64::from(rgb.height) * 3 {
            return Err(format!(
                "the decoded image has {} bytes for {}x{} pixels",
                rgb.pixels.len(),
                rgb.width,
                rgb.height
            ));
        }
        // SAFETY: pixels holds width*height RGB triples (checked above); mtmd copies them.
        let bitmap =
            Owned::new(unsafe { sys::mtmd_bitmap_init(rgb.width, rgb.height, rgb.pixels.as_ptr()) }, |p| unsafe {
                sys::mtmd_bitmap_free(p)
            })
            .ok_or("mtmd could not take the image")?;
        // mtmd keeps its own copy and makes one more to preprocess: free ours first, so
        // an image is held twice at the peak, not three times.
        drop(rgb);
        let chunks =
            Owned::new(unsafe { sys::mtmd_input_chunks_init() }, |p| unsafe { sys::mtmd_input_chunks_free(p) })
                .ok_or("mtmd could not allocate chunks")?;
        // SAFETY: returns a static string.
        let marker = unsafe { std::ffi::CStr::from_ptr(sys::mtmd_default_marker()) };
        let text = sys::mtmd_input_text {
            text: marker.as_ptr(),
            text_len: marker.to_bytes().len(),
            add_special: false,
            parse_special: true,
        };
        let bitmaps = [bitmap.0.as_ptr().cast_const()];
        let capture = Capture::start();
        // SAFETY: valid context, chunks, text and one bitmap for the one marker.
        let status = unsafe { sys::mtmd_tokenize(ctx, chunks.0.as_ptr(), &text, bitmaps.as_ptr(), 1) };
        if status != 0 {
            let reason = capture.reason();
            return Err(format!("the image could not be preprocessed (mtmd status {status}){}", suffix(&reason)));
        }
        let mut parts = Vec::new();
        let (mut n_pos, mut n_tokens) = (0i32, 0usize);
        // SAFETY: indices below the chunk count; chunk pointers live as long as `chunks`.
        let count = unsafe { sys::mtmd_input_chunks_size(chunks.0.as_ptr()) };
        for i in 0..count {
            let chunk = unsafe { sys::mtmd_input_chunks_get(chunks.0.as_ptr(), i) };
            let kind = unsafe { sys::mtmd_input_chunk_get_type(chunk) };
            if kind == sys::MTMD_INPUT_CHUNK_TYPE_TEXT {
                let mut n = 0usize;
                let ptr = unsafe { sys::mtmd_input_chunk_get_tokens_text(chunk, &mut n) };
                if !ptr.is_null() && n > 0 {
                    let tokens = unsafe { std::slice::from_raw_parts(ptr, n) };
                    // mtmd looks framing tokens up by text and gets -1 when the
                    // vocabulary lacks one; llama_decode would fail the whole batch.
                    if let Some(bad) = tokens.iter().find(|&&t| t < 0 || t >= self.n_vocab) {
                        return Err(format!(
                            "the mmproj frames images with a token the model's vocabulary lacks (id {bad}); \
                             is the mmproj for this model?"
                        ));
                    }
                    parts.push(ImagePart::Text(tokens.iter().map(|&t| LlamaToken(t)).collect()));
                    n_pos += n as i32;
                    n_tokens += n;
                }
            } else if kind == sys::MTMD_INPUT_CHUNK_TYPE_IMAGE {
                let image = self.encode_chunk(chunk)?;
                n_pos += image.n_pos;
                n_tokens += image.n_tokens;
                parts.push(ImagePart::Chunk(image));
            } else {
                return Err("the mmproj produced a non-image chunk for an image".into());
            }
        }
        Ok(EncodedImage { parts, n_pos, n_tokens })
    }

    fn encode_chunk(&self, chunk: *const sys::mtmd_input_chunk) -> std::result::Result<ImageChunk, String> {
        // SAFETY: `chunk` is a valid image chunk; the copy is owned by the ImageChunk.
        let copy = NonNull::new(unsafe { sys::mtmd_input_chunk_copy(chunk) }).ok_or("mtmd could not copy a chunk")?;
        // SAFETY: valid context and chunk; the image tokens live as long as the copy.
        let grid = unsafe {
            let image = sys::mtmd_input_chunk_get_tokens_image(copy.as_ptr());
            (sys::mtmd_decode_use_mrope(self.ctx.0.as_ptr()) && !image.is_null())
                .then(|| (sys::mtmd_image_tokens_get_nx(image), sys::mtmd_image_tokens_get_ny(image)))
        };
        let mut owned = ImageChunk {
            ptr: copy,
            embeddings: Vec::new(),
            n_tokens: 0,
            n_pos: unsafe { sys::mtmd_input_chunk_get_n_pos(copy.as_ptr()) },
            grid,
        };
        let n_tokens = unsafe { sys::mtmd_input_chunk_get_n_tokens(copy.as_ptr()) };
        // Log lines wait until the lock is released: a host log callback may encode an
        // image on this model (see `logs::Defer`).
        let _defer = Defer::start();
        let _encoding = self.encoder.lock().unwrap_or_else(|e| e.into_inner());
        let capture = Capture::start();
        // SAFETY: valid context and chunk; the output buffer is read before the lock is
        // released, so no other encode can overwrite it.
        let status = unsafe { sys::mtmd_encode_chunk(self.ctx.0.as_ptr(), owned.ptr.as_ptr()) };
        if status != 0 {
            return Err(format!("the image encoder failed (status {status}){}", suffix(&capture.reason())));
        }
        let out = unsafe { sys::mtmd_get_output_embd(self.ctx.0.as_ptr()) };
        if out.is_null() {
            return Err("the image encoder returned no embeddings".into());
        }
        let embeddings = unsafe { std::slice::from_raw_parts(out, n_tokens * self.n_embd) }.to_vec();
        owned.embeddings = embeddings;
        owned.n_tokens = n_tokens;
        Ok(owned)
    }

    /// Decodes a chunk's embeddings into `lctx` on `seq` from `pos`; returns the next
    /// position. Needs no lock: the mtmd context is only read here.
    pub(crate) fn decode_chunk(
        &self,
        lctx: *mut sys::llama_context,
        chunk: &ImageChunk,
        pos: i32,
        seq: i32,
        n_batch: i32,
    ) -> Result<i32> {
        let mut next = pos;
        // SAFETY: valid contexts and chunk; llama.cpp only reads the embeddings although
        // the signature takes a mutable pointer.
        let status = unsafe {
            sys::mtmd_helper_decode_image_chunk(
                self.ctx.0.as_ptr(),
                lctx,
                chunk.ptr.as_ptr(),
                chunk.embeddings.as_ptr().cast_mut(),
                pos,
                seq,
                n_batch,
                &mut next,
                None,
                std::ptr::null_mut(),
            )
        };
        if status != 0 {
            return Err(Error::Engine(format!("decoding an image's embeddings failed (status {status})")));
        }
        Ok(next)
    }
}

fn suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

/// An owned mtmd object freed by its destructor function.
struct Owned<T>(NonNull<T>, unsafe fn(*mut T));

impl<T> Owned<T> {
    fn new(ptr: *mut T, free: unsafe fn(*mut T)) -> Option<Owned<T>> {
        NonNull::new(ptr).map(|p| Owned(p, free))
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from the matching allocator and is freed once.
        unsafe { (self.1)(self.0.as_ptr()) }
    }
}
