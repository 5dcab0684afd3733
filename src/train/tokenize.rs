//! Turning SFT examples into model inputs with the engine's own tokenizer and chat
//! template, so training sees exactly the tokens the judge will see.
//!
//! - The prompt is `Model::chat_prompt(messages, None, add_assistant = true)`: the
//!   engine that renders the judge's prompt (the GGUF's Jinja template through
//!   minijinja, llama.cpp's built-ins as the fallback and for a GGUF without a
//!   template, a system message folded into the first user message for formats
//!   without a system role). It is tokenized with special-token parsing **on** (the
//!   template's `<|im_start|>` etc. must become special tokens). The messages' own
//!   text is parsed too: a message that contains the literal text of a special token
//!   becomes that token. SFT data comes from the project's own pipeline, so this is
//!   accepted (the judge, which sees untrusted answers, tokenizes user text without
//!   parsing).
//! - A BOS token leads when the tokenizer adds one; a BOS the template writes itself
//!   (Gemma's `{{ bos_token }}`) is dropped then, so exactly one leads.
//! - The target is tokenized with special parsing **off**, then followed by the
//!   end-of-turn tokens of the chat template: the text the template puts after an
//!   assistant message (rendered with a sentinel answer), cut after its first
//!   end-of-generation token, e.g. `<|im_end|>` for ChatML (the `\n` after it is not
//!   trained: generation stops at `<|im_end|>`). Templates where that cannot be derived
//!   fall back to the EOS token.
//! - An image goes at the very start of the first user message with no text of ours
//!   around it, as the judge places it (mtmd's framing tokens surround it): a
//!   private-use marker is templated with the text and the rendered prompt is split on
//!   it; the image's framing tokens and embedding rows (from the mmproj) are put in its
//!   place. Each distinct image is encoded once per run and, with
//!   [`Encoder::with_image_cache`], once across runs: its pieces are kept on disk keyed
//!   by the sha256 of the image file and of the mmproj.
//! - Too-long examples lose prompt tokens from the left, right after the BOS (an image
//!   that would be cut goes as a whole); the target is never cut, and an example whose
//!   target alone does not fit is dropped.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use llama_cpp_2::token::LlamaToken;
use sha2::{Digest, Sha256};

use super::data::SftExample;
use super::{TrainError, TrainResult};
use crate::engine::ImageSource;
use crate::engine::{EncodedImage, ImagePiece, Model};
use crate::Error;

/// Where the image goes in the first user message.
const IMAGE_MARKER: char = '\u{F0104}';
/// Stands in for an assistant answer while the end-of-turn text is derived.
const ANSWER_SENTINEL: char = '\u{F0105}';

/// A run of image embeddings inside an example's input.
#[derive(Debug, Clone)]
pub struct ImageSpan {
    /// Position of the first embedding row in the example.
    pub start: usize,
    pub n_tokens: usize,
    /// `n_tokens * n_embd` floats, shared by every example that shows the image.
    pub data: Arc<[f32]>,
    /// (columns, rows) of an M-RoPE image's token grid (see
    /// [`crate::engine::ImagePiece::Embeddings`]).
    pub grid: Option<(usize, usize)>,
}

impl ImageSpan {
    /// The span's rows, `n_tokens * n_embd` floats.
    pub fn rows(&self) -> &[f32] {
        &self.data
    }
}

/// An example ready for the model.
#[derive(Debug, Clone)]
pub struct EncodedExample {
    pub id: String,
    /// Prompt then target tokens; positions covered by an image hold 0.
    pub tokens: Vec<u32>,
    pub images: Vec<ImageSpan>,
    /// Positions `0..n_prompt` are the prompt; the rest is the target (with the
    /// end-of-turn tokens), which the loss covers.
    pub n_prompt: usize,
    /// Prompt positions removed to fit `max_len`.
    pub truncated: usize,
}

impl EncodedExample {
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn n_target(&self) -> usize {
        self.tokens.len() - self.n_prompt
    }
}

/// The outcome of encoding one example.
#[derive(Debug)]
pub enum Encoded {
    Ok(EncodedExample),
    /// The target (with end-of-turn) has `target_len` tokens, more than `max_len`
    /// allows next to at least one prompt token.
    TooLong {
        target_len: usize,
    },
}

/// A piece of a prompt before truncation (and of a cached image).
#[derive(Debug, Clone)]
enum Piece {
    Tokens(Vec<u32>),
    Image { n_tokens: usize, data: Arc<[f32]>, grid: Option<(usize, usize)> },
}

/// Tokenizes examples for one engine model.
pub struct Encoder<'m> {
    model: &'m Model,
    end_of_turn: Vec<u32>,
    image_cache: Option<ImageCache>,
    /// Images encoded by the mmproj / read from the on-disk cache.
    encoded: Cell<u64>,
    cached: Cell<u64>,
    /// Pieces of the images seen so far, by content key.
    in_memory: RefCell<HashMap<String, Vec<Piece>>>,
}

impl<'m> Encoder<'m> {
    pub fn new(model: &'m Model) -> TrainResult<Encoder<'m>> {
        let end_of_turn = derive_end_of_turn(model)?;
        Ok(Encoder {
            model,
            end_of_turn,
            image_cache: None,
            encoded: Cell::new(0),
            cached: Cell::new(0),
            in_memory: RefCell::new(HashMap::new()),
        })
    }

    /// Keeps image embeddings in `dir` (created when needed), keyed by the sha256 of
    /// the image file and of the mmproj, so later runs (a resume, the next round) read
    /// them instead of running the vision encoder again.
    pub fn with_image_cache(mut self, dir: &Path) -> TrainResult<Encoder<'m>> {
        if let Some(mmproj) = &self.model.info().mmproj_path {
            let bytes = std::fs::read(mmproj).map_err(|e| Error::io(mmproj, e))?;
            let mut key = Sha256::new();
            key.update(Sha256::digest(&bytes));
            key.update((self.model.info().n_embd as u64).to_le_bytes());
            self.image_cache = Some(ImageCache { dir: dir.into(), mmproj_key: key.finalize().into() });
        }
        Ok(self)
    }

    /// (images run through the vision encoder, images read from the on-disk cache).
    pub fn image_counts(&self) -> (u64, u64) {
        (self.encoded.get(), self.cached.get())
    }

    /// The tokens appended after every target.
    pub fn end_of_turn(&self) -> &[u32] {
        &self.end_of_turn
    }

    /// Encodes `ex` (line `line` of `data_path`); images are resolved against the data
    /// file's directory and encoded by the model's mmproj (cached by content).
    pub fn encode(&self, ex: &SftExample, data_path: &Path, line: usize, max_len: usize) -> TrainResult<Encoded> {
        let invalid = |reason: String| TrainError::Lib(Error::InvalidInput { path: data_path.into(), line, reason });
        let mut target: Vec<u32> = self.model.tokenize(&ex.target, false).iter().map(tok).collect();
        target.extend_from_slice(&self.end_of_turn);
        let bos: Vec<u32> = self.model.bos().iter().map(tok).collect();
        if target.len() + bos.len() + 1 > max_len {
            return Ok(Encoded::TooLong { target_len: target.len() });
        }
        let base_dir = data_path.parent().unwrap_or(Path::new("."));
        let image = match ex.image_path(base_dir) {
            None => None,
            Some(path) => {
                if !self.model.has_vision() {
                    return Err(invalid(format!("example {:?} has an image but no --mmproj was given", ex.id)));
                }
                Some(self.image_pieces(&path).map_err(|e| invalid(format!("example {:?}: {e}", ex.id)))?)
            }
        };
        let mut marked = false;
        let messages: Vec<(String, String)> = ex
            .messages
            .iter()
            .map(|m| {
                if image.is_some() && !marked && m.role == "user" {
                    marked = true;
                    (m.role.clone(), format!("{IMAGE_MARKER}{}", m.content))
                } else {
                    (m.role.clone(), m.content.clone())
                }
            })
            .collect();
        let borrowed: Vec<(&str, &str)> = messages.iter().map(|(r, c)| (r.as_str(), c.as_str())).collect();
        let rendered = self.model.chat_prompt(&borrowed, None, true)?;
        let mut pieces = vec![Piece::Tokens(bos)];
        match &image {
            Some(image) => {
                let (head, tail) = rendered
                    .split_once(IMAGE_MARKER)
                    .ok_or_else(|| invalid("the chat template dropped the image marker".into()))?;
                pieces.push(Piece::Tokens(self.model.tokenize(head, true).iter().map(tok).collect()));
                pieces.extend(image.iter().cloned());
                pieces.push(Piece::Tokens(self.model.tokenize(tail, true).iter().map(tok).collect()));
            }
            None => pieces.push(Piece::Tokens(self.model.tokenize(&rendered, true).iter().map(tok).collect())),
        }
        Ok(Encoded::Ok(assemble(&ex.id, pieces, target, max_len)))
    }

    /// The pieces of the image at `path`: from memory (an image shared by examples is
    /// held once), from the on-disk cache, or encoded by the mmproj and then stored.
    fn image_pieces(&self, path: &Path) -> std::result::Result<Vec<Piece>, String> {
        let bytes = std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("image not found: {}", path.display()),
            _ => format!("cannot read the image {}: {e}", path.display()),
        })?;
        let key = match &self.image_cache {
            Some(cache) => cache.key(&bytes),
            None => format!("{:x}", Sha256::digest(&bytes)),
        };
        if let Some(pieces) = self.in_memory.borrow().get(&key) {
            return Ok(pieces.clone());
        }
        let n_embd = self.model.info().n_embd as usize;
        let cached = self.image_cache.as_ref().and_then(|cache| cache.get(&key, n_embd));
        let pieces = match cached {
            Some(pieces) => {
                self.cached.set(self.cached.get() + 1);
                pieces
            }
            None => {
                let encoded = self.model.encode_image(&ImageSource::Path(path.into()))?;
                self.encoded.set(self.encoded.get() + 1);
                let pieces = image_to_pieces(&encoded);
                if let Some(cache) = &self.image_cache {
                    // A cache that cannot be written only costs time later.
                    let _ = cache.put(&key, &pieces, n_embd);
                }
                pieces
            }
        };
        self.in_memory.borrow_mut().insert(key, pieces.clone());
        Ok(pieces)
    }
}

/// Lays out the pieces, dropping prompt positions after the BOS (`pieces[0]`) until the
/// example fits `max_len`; an image is dropped whole rather than cut.
fn assemble(id: &str, mut pieces: Vec<Piece>, target: Vec<u32>, max_len: usize) -> EncodedExample {
    let len = |p: &Piece| match p {
        Piece::Tokens(t) => t.len(),
        Piece::Image { n_tokens, .. } => *n_tokens,
    };
    let total: usize = pieces.iter().map(len).sum::<usize>() + target.len();
    let mut excess = total.saturating_sub(max_len);
    let mut truncated = 0;
    let mut i = 1;
    while excess > 0 && i < pieces.len() {
        let n = len(&pieces[i]);
        match &mut pieces[i] {
            Piece::Tokens(t) if n > excess => {
                t.drain(..excess);
                truncated += excess;
                excess = 0;
            }
            _ => {
                truncated += n;
                excess = excess.saturating_sub(n);
                pieces.remove(i);
                continue;
            }
        }
        i += 1;
    }
    let mut tokens = Vec::with_capacity(total - truncated);
    let mut images = Vec::new();
    for p in pieces {
        match p {
            Piece::Tokens(t) => tokens.extend(t),
            Piece::Image { n_tokens, data, grid } => {
                images.push(ImageSpan { start: tokens.len(), n_tokens, data, grid });
                tokens.extend(std::iter::repeat_n(0, n_tokens));
            }
        }
    }
    let n_prompt = tokens.len();
    tokens.extend(target);
    EncodedExample { id: id.to_string(), tokens, images, n_prompt, truncated }
}

fn image_to_pieces(image: &EncodedImage) -> Vec<Piece> {
    image
        .pieces()
        .map(|p| match p {
            ImagePiece::Tokens(t) => Piece::Tokens(t.iter().map(tok).collect()),
            ImagePiece::Embeddings { n_tokens, data, grid } => Piece::Image { n_tokens, data: Arc::from(data), grid },
        })
        .collect()
}

/// Image embeddings on disk: `<dir>/<sha256>.bin`, keyed by the mmproj and the image
/// file's bytes. The format is private to this module: `VJIMG1`, the width, the piece
/// count, then per piece a kind byte (0 tokens, 1 rows, 2 rows of an M-RoPE grid), a
/// count, for kind 2 the grid's columns and rows, and the values (u32 token ids or f32
/// rows, little-endian). Files are written atomically.
struct ImageCache {
    dir: PathBuf,
    mmproj_key: [u8; 32],
}

const CACHE_MAGIC: &[u8; 6] = b"VJIMG1";

impl ImageCache {
    fn key(&self, image: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(self.mmproj_key);
        h.update(Sha256::digest(image));
        format!("{:x}", h.finalize())
    }

    fn get(&self, key: &str, n_embd: usize) -> Option<Vec<Piece>> {
        let bytes = std::fs::read(self.dir.join(format!("{key}.bin"))).ok()?;
        let mut r = bytes.strip_prefix(CACHE_MAGIC)?;
        let u32_at = |r: &mut &[u8]| -> Option<u32> {
            let (head, rest) = r.split_first_chunk::<4>()?;
            *r = rest;
            Some(u32::from_le_bytes(*head))
        };
        if u32_at(&mut r)? as usize != n_embd {
            return None;
        }
        let n_pieces = u32_at(&mut r)?;
        let mut pieces = Vec::new();
        for _ in 0..n_pieces {
            let (&kind, rest) = r.split_first()?;
            r = rest;
            let n = u32_at(&mut r)? as usize;
            let grid = if kind == 2 { Some((u32_at(&mut r)? as usize, u32_at(&mut r)? as usize)) } else { None };
            // A damaged file's empty grid is a miss, not a division by zero later.
            if grid.is_some_and(|(columns, rows)| columns == 0 || rows == 0) {
                return None;
            }
            let count = if kind == 0 { n } else { n.checked_mul(n_embd)? };
            let (values, rest) = r.split_at_checked(count.checked_mul(4)?)?;
            r = rest;
            let words = values.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]);
            pieces.push(match kind {
                0 => Piece::Tokens(words.map(u32::from_le_bytes).collect()),
                1 | 2 => Piece::Image { n_tokens: n, data: words.map(f32::from_le_bytes).collect(), grid },
                _ => return None,
            });
        }
        r.is_empty().then_some(pieces)
    }

    fn put(&self, key: &str, pieces: &[Piece], n_embd: usize) -> crate::Result<()> {
        let mut out = CACHE_MAGIC.to_vec();
        out.extend((n_embd as u32).to_le_bytes());
        out.extend((pieces.len() as u32).to_le_bytes());
        for p in pieces {
            match p {
                Piece::Tokens(t) => {
                    out.push(0);
                    out.extend((t.len() as u32).to_le_bytes());
                    t.iter().for_each(|v| out.extend(v.to_le_bytes()));
                }
                Piece::Image { n_tokens, data, grid } => {
                    out.push(if grid.is_some() { 2 } else { 1 });
                    out.extend((*n_tokens as u32).to_le_bytes());
                    if let Some((columns, rows)) = grid {
                        out.extend((*columns as u32).to_le_bytes());
                        out.extend((*rows as u32).to_le_bytes());
                    }
                    data.iter().for_each(|v| out.extend(v.to_le_bytes()));
                }
            }
        }
        crate::fsutil::write_atomic(&self.dir.join(format!("{key}.bin")), |w| w.write_all(&out))
    }
}

fn tok(t: &LlamaToken) -> u32 {
    t.0 as u32
}

/// The tokens the chat template puts after an assistant answer, cut after the first
/// end-of-generation token; the EOS token when that cannot be derived.
fn derive_end_of_turn(model: &Model) -> TrainResult<Vec<u32>> {
    let vocab = model.llama.vocab();
    let user = [("user", "Hi")];
    let sentinel = ANSWER_SENTINEL.to_string();
    let with_answer = [("user", "Hi"), ("assistant", sentinel.as_str())];
    let prompt = model.chat_prompt(&user, None, true)?;
    let full = model.chat_prompt(&with_answer, None, false)?;
    let suffix = full.strip_prefix(prompt.as_str()).and_then(|rest| rest.strip_prefix(ANSWER_SENTINEL));
    if let Some(suffix) = suffix {
        let tokens = model.tokenize(suffix, true);
        if let Some(end) = tokens.iter().position(|&t| vocab.is_eog(t)) {
            return Ok(tokens[..=end].iter().map(tok).collect());
        }
        let trimmed = model.tokenize(suffix.trim_end(), true);
        if !trimmed.is_empty() {
            return Ok(trimmed.iter().map(tok).collect());
        }
    }
    Ok(vec![tok(&vocab.eos())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_cuts_the_prompt_after_bos_and_never_the_target() {
        let pieces = vec![Piece::Tokens(vec![1]), Piece::Tokens(vec![10, 11, 12, 13, 14])];
        let ex = assemble("x", pieces, vec![20, 21], 5);
        assert_eq!(ex.tokens, vec![1, 13, 14, 20, 21]);
        assert_eq!(ex.n_prompt, 3);
        assert_eq!(ex.truncated, 3);
        let pieces = vec![Piece::Tokens(vec![]), Piece::Tokens(vec![10, 11])];
        let ex = assemble("y", pieces, vec![20], 8);
        assert_eq!((ex.tokens, ex.n_prompt, ex.truncated), (vec![10, 11, 20], 2, 0));
    }
}
