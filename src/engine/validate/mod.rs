//! Semantic validation of GGUF files before llama.cpp loads them.
//!
//! [`super::gguf::check_gguf`] checks a file's structure. A file can be structurally
//! sound and still make llama.cpp abort the whole process: a `GGML_ASSERT` on a
//! hyperparameter, a shape assertion while a compute graph is built, a division by a
//! zero count, a null tensor dereferenced. vlmjudge is a library that must never take
//! its host down, so each file is read here first (metadata and tensor table, with
//! [`crate::gguf::GgufFile`]; no tensor data) and refused with a sentence naming the
//! key or tensor and its values when the pinned llama.cpp would not survive it.
//!
//! The rules cover the architectures (`llama`, `qwen2`, `qwen2vl`, `gemma3`) and
//! projectors (`mlp`, `idefics3`, `qwen2.5vl_merger`, `gemma3`) vlmjudge runs; other
//! ones are refused by name. Each rule's comment names the llama.cpp code it stands in
//! front of. Checks that llama.cpp already answers with an error (tensor shapes of the
//! language model, key types of its loader, an adapter for another model) are left to
//! it.
//!
//! - [`language`]: architecture and hyperparameters of the language model.
//! - [`vocab`]: the tokenizer tables.
//! - [`projector`] and [`vit`]: the mmproj header, image geometry, encoder and
//!   projector tensors, and the width the projector must produce.
//! - [`lora`]: LoRA adapters.
//! - [`keys`], [`tensors`]: typed metadata access and shape checks they share.

mod keys;
mod language;
mod lora;
mod projector;
mod tensors;
mod vit;
mod vocab;

use std::path::Path;

use crate::gguf::GgufFile;
use crate::{Error, Result};

/// Validates the language model at `path`; returns its metadata and tensor table for
/// the checks of adapters applied to it.
pub(crate) fn model(path: &Path) -> Result<GgufFile> {
    let file = GgufFile::open(path)?;
    language::check(&file)
        .and_then(|()| vocab::check(&file))
        .map_err(|reason| Error::InvalidGguf { path: path.into(), reason })?;
    Ok(file)
}

/// Validates the mmproj at `path` for a language model whose input embeddings are
/// `text_width` wide (`llama_model_n_embd_inp`).
pub(crate) fn mmproj(path: &Path, text_width: u64) -> Result<()> {
    let file = GgufFile::open(path)?;
    projector::check(&file, text_width).map_err(|detail| Error::MmprojLoad { path: path.into(), detail })
}

/// Validates the LoRA adapter at `path` for the base model `base`.
pub(crate) fn lora(path: &Path, base: &GgufFile) -> Result<()> {
    let file = GgufFile::open(path)?;
    lora::check(&file, base).map_err(|reason| Error::InvalidGguf { path: path.into(), reason })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    /// The checks run on every load: on the demo model (49k tokens and merges) they must
    /// cost little next to loading it.
    #[test]
    fn the_demo_model_validates_quickly() {
        let path = crate::demo_model_path();
        let start = Instant::now();
        let file = super::model(&path).expect("the demo model is valid");
        let elapsed = start.elapsed();
        eprintln!("validating {} ({} tensors) took {elapsed:?}", path.display(), file.tensors.len());
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    }
}
