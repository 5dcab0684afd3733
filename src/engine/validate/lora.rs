//! LoRA adapters, as `llama_adapter_lora_init_impl` (src/llama-adapter.cpp) loads them
//! and `llm_graph_context::build_lora_mm` / `build_inp_embd` (src/llama-graph.cpp)
//! apply them.
//!
//! The loader already refuses (with an error) an adapter of another architecture, a
//! tensor the base model lacks, and first-two-dimension shapes that do not fit the base
//! tensor; those stay llama.cpp's to report. What aborts is checked here.

use super::keys::{Check, Meta};
use super::tensors::{dim, fmt_dims, is_matrix, types_have_kernels, Tensors};
use crate::gguf::GgufFile;

/// Checks the adapter in `file` against the base model `base`.
pub(super) fn check(file: &GgufFile, base: &GgufFile) -> Check {
    key_types(&Meta(file))?;
    types_have_kernels(file)?;
    let base_tensors = Tensors::new(base);
    for t in &file.tensors {
        let Some(target) = t.name.strip_suffix(".lora_a").or_else(|| t.name.strip_suffix(".lora_b")) else {
            continue;
        };
        // The graph multiplies by lora_a and then lora_b (`ggml_mul_mat`), whose
        // broadcast over the third and fourth dimensions asserts; the loader compares
        // only the first two.
        if !is_matrix(t) {
            return Err(format!("tensor {} has shape {}; a LoRA factor must be a matrix", t.name, fmt_dims(&t.dims)));
        }
        if target == "token_embd.weight" && t.name.ends_with(".lora_a") {
            token_embedding(file, base, &base_tensors)?;
        }
    }
    Ok(())
}

/// The loader reads these keys with `gguf_get_val_str` / `gguf_get_val_f32`, which
/// assert the type.
fn key_types(meta: &Meta) -> Check {
    for key in ["general.type", "general.architecture", "adapter.type"] {
        meta.string(key)?;
    }
    meta.f32("adapter.lora.alpha")?;
    Ok(())
}

/// An adapter on the token embeddings is stored flipped (lora_a is [rank, n_vocab],
/// looked up by token; lora_b [rank, n_embd]). The loader checks it against the base's
/// shape but not that both factors have the same rank, which the product asserts. And
/// when the model ties its output layer to the embeddings (no `output.weight`), the
/// output projection is the same tensor, so llama.cpp applies the adapter there too,
/// multiplying hidden states by the flipped lora_a: a shape assertion unless the rank
/// happens to equal the width. Such an adapter is refused.
fn token_embedding(file: &GgufFile, base: &GgufFile, base_tensors: &Tensors) -> Check {
    let tensors = Tensors::new(file);
    let (Some(a), Some(b)) = (tensors.get("token_embd.weight.lora_a"), tensors.get("token_embd.weight.lora_b")) else {
        return Ok(()); // the loader reports a missing half
    };
    if dim(a, 0) != dim(b, 0) {
        return Err(format!(
            "token_embd.weight.lora_a has rank {} but token_embd.weight.lora_b has rank {}",
            dim(a, 0),
            dim(b, 0)
        ));
    }
    if !base_tensors.has("output.weight") {
        return Err(format!(
            "the adapter changes token_embd.weight, which {} also uses as its output layer; llama.cpp cannot \
             apply such an adapter",
            base.path.display()
        ));
    }
    Ok(())
}
