//! The language model's architecture and hyperparameters.
//!
//! llama.cpp checks each tensor's shape against the hyperparameters with an error
//! (`llama_model_loader::check_tensor_dims`), and a key of the wrong type is an error
//! too. What it does not survive are hyperparameters it asserts on while loading, or that
//! size tensors and ops of the compute graph inconsistently: those abort in
//! `GGML_ASSERT` when a context is created or the first batch is decoded. Each rule
//! below names the llama.cpp code it stands in front of (files under `src/` of the
//! pinned llama.cpp).

use super::keys::{as_i32_bits, Check, Meta};
use super::tensors::{data_aligned, types_have_kernels, vectors_are_f32};
use crate::gguf::{GgufFile, ValueType};

/// The `general.architecture` values vlmjudge runs, in the order the error lists them.
pub(super) const SUPPORTED_ARCHITECTURES: [&str; 4] = ["llama", "qwen2", "qwen2vl", "gemma3"];

/// llama.cpp's `LLAMA_MAX_LAYERS` (src/llama-hparams.h): per-layer tables have this size.
const MAX_LAYERS: u32 = 512;

/// Checks the language model in `file`.
pub(super) fn check(file: &GgufFile) -> Check {
    let meta = Meta(file);
    let arch = architecture(&meta)?;
    let key = |k: &str| format!("{arch}.{k}");
    context_length(&meta, &key("context_length"))?;
    norm_epsilon(&meta, &key("attention.layer_norm_rms_epsilon"))?;
    let n_embd = embedding_length(&meta, &key("embedding_length"))?;
    let n_layer = block_count(&meta, &key("block_count"))?;
    feed_forward_length(&meta, &key("feed_forward_length"), n_layer)?;
    let n_head = head_counts(&meta, &key("attention.head_count"), &key("attention.head_count_kv"), n_layer)?;
    let head = head_size(&meta, &arch, n_embd, n_head)?;
    let n_rot = rope_dimensions(&meta, &key("rope.dimension_count"), head)?;
    graph_head_layout(&arch, n_embd, n_head, head, n_rot)?;
    rope_scaling_type(&meta, &key("rope.scaling.type"))?;
    dense_only(&meta, &arch, n_layer)?;
    if arch == "qwen2vl" {
        mrope_sections(&meta, &key("rope.dimension_sections"), head)?;
    }
    if arch == "gemma3" {
        let n_ctx_train = meta.required_u32(&key("context_length"))?;
        sliding_window(&meta, &arch, n_layer, n_ctx_train)?;
    }
    types_have_kernels(file)?;
    vectors_are_f32(file)?;
    data_aligned(file)
}

/// Only the architectures whose loaders, graphs and chat formats vlmjudge is tested on
/// are run; anything else is refused by name before llama.cpp sees it.
fn architecture(meta: &Meta) -> Result<String, String> {
    let arch = meta.string("general.architecture")?.ok_or("it has no general.architecture")?;
    if SUPPORTED_ARCHITECTURES.contains(&arch.as_str()) {
        Ok(arch)
    } else {
        Err(format!("architecture {arch:?} is not supported; vlmjudge runs {}", SUPPORTED_ARCHITECTURES.join(", ")))
    }
}

/// The training context. A zero one cannot size a context (`llama_init_from_model`
/// refuses it), and llama.cpp stores it in a signed int: above i32::MAX it reads back
/// negative and llama-cpp-2's `LlamaModel::n_ctx_train` panics converting it.
fn context_length(meta: &Meta, key: &str) -> Check {
    match meta.required_u32(key)? {
        0 => Err(format!("{key} is 0; a model needs a training context of at least one token")),
        n if n > i32::MAX as u32 => Err(format!("{key} is {n}, more than llama.cpp can represent")),
        _ => Ok(()),
    }
}

/// The RMS norm's epsilon: ggml's norms (`ggml_compute_forward_rms_norm`,
/// ggml/src/ggml-cpu/ops.cpp) assert it is not negative (NaN fails that too).
pub(super) fn norm_epsilon(meta: &Meta, key: &str) -> Check {
    let eps = meta.f32(key)?.ok_or_else(|| super::keys::missing(key))?;
    if eps.is_finite() && eps >= 0.0 {
        Ok(())
    } else {
        Err(format!("{key} is {eps}; a norm epsilon must be a finite number >= 0"))
    }
}

/// A zero width fits no weight (llama.cpp would report the first mis-shaped tensor
/// instead of the key) and leaves no room for a head.
fn embedding_length(meta: &Meta, key: &str) -> Result<u32, String> {
    match meta.required_u32(key)? {
        0 => Err(format!("{key} is 0")),
        n => Ok(n),
    }
}

/// `llama_model_base::load_hparams` (src/llama-model.cpp) asserts 0 < layers <=
/// LLAMA_MAX_LAYERS: a layer count of 0 or above 512 aborts the process.
fn block_count(meta: &Meta, key: &str) -> Result<u32, String> {
    let n = meta.required_u32(key)?;
    if (1..=MAX_LAYERS).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{key} is {n}; llama.cpp supports 1 to {MAX_LAYERS} layers"))
    }
}

/// Every layer of these architectures has an FFN: a missing or zero width fits none of
/// its matrices (llama.cpp would report the first mis-shaped tensor instead of the key).
fn feed_forward_length(meta: &Meta, key: &str, n_layer: u32) -> Check {
    let widths = meta.per_layer_u32(key, n_layer)?.ok_or_else(|| super::keys::missing(key))?;
    match widths.iter().position(|&w| w == 0) {
        Some(il) => Err(format!("{key} is 0 for layer {il}")),
        None => Ok(()),
    }
}

/// Head counts. The graphs of these architectures (src/models/llama.cpp, qwen2.cpp,
/// qwen2vl.cpp, gemma3.cpp) shape every layer's attention with layer 0's head counts
/// while the KV cache (src/llama-kv-cache.cpp) sizes each layer with its own, so the
/// counts must be the same in every layer (a ggml shape assertion otherwise); zero
/// heads leave every head size at 0 (`load_hparams`); and ggml's attention product
/// (`ggml_mul_mat`, ggml/src/ggml.c) asserts that the query heads are a whole multiple
/// of the key/value heads.
fn head_counts(meta: &Meta, key: &str, key_kv: &str, n_layer: u32) -> Result<u32, String> {
    let heads = meta.per_layer_u32(key, n_layer)?.ok_or_else(|| super::keys::missing(key))?;
    let heads_kv = meta.per_layer_u32(key_kv, n_layer)?.unwrap_or_else(|| heads.clone());
    for (name, counts) in [(key, &heads), (key_kv, &heads_kv)] {
        if let Some(il) = counts.iter().position(|&n| n == 0) {
            return Err(format!("{name} is 0 for layer {il}; every layer needs at least one head"));
        }
        if let Some(il) = counts.iter().position(|&n| n != counts[0]) {
            return Err(format!(
                "{name} varies by layer ({} in layer 0, {} in layer {il}); llama.cpp runs these architectures \
                 with one head count for all layers",
                counts[0], counts[il]
            ));
        }
    }
    let (n_head, n_head_kv) = (heads[0], heads_kv[0]);
    if n_head % n_head_kv != 0 {
        return Err(format!("{key} {n_head} is not a multiple of {key_kv} {n_head_kv}"));
    }
    Ok(n_head)
}

/// Per-head key and value sizes (default: width / heads, as in `load_hparams`). The
/// graphs pass one head size for queries, keys and values to `build_qkv`
/// (src/llama-graph.cpp), so a value size that differs from the key size makes ggml's
/// reshape assert; sliding-window layers may not have sizes of their own either (their
/// tensors are sized with the full-attention ones).
fn head_size(meta: &Meta, arch: &str, n_embd: u32, n_head: u32) -> Result<u32, String> {
    let key = |k: &str| format!("{arch}.attention.{k}");
    let default = n_embd / n_head;
    let head_k = meta.u32(&key("key_length"))?.unwrap_or(default);
    let head_v = meta.u32(&key("value_length"))?.unwrap_or(default);
    if head_k == 0 || head_v == 0 {
        return Err(format!(
            "the attention head size is 0 (key {head_k}, value {head_v}; {arch}.embedding_length {n_embd} over \
             {n_head} heads unless {} / {} say otherwise)",
            key("key_length"),
            key("value_length")
        ));
    }
    if head_k != head_v {
        return Err(format!("{} {head_k} differs from {} {head_v}", key("key_length"), key("value_length")));
    }
    for (swa_key, full) in [(key("key_length_swa"), head_k), (key("value_length_swa"), head_v)] {
        if let Some(v) = meta.u32(&swa_key)? {
            if v != full {
                return Err(format!("{swa_key} {v} differs from the full-attention head size {full}"));
            }
        }
    }
    Ok(head_k)
}

/// Rotated dimensions per head: ggml's CPU rope (`ggml_compute_forward_rope`,
/// ggml/src/ggml-cpu/ops.cpp) asserts they are even and at most the head size.
fn rope_dimensions(meta: &Meta, key: &str, head_k: u32) -> Result<u32, String> {
    let n_rot = meta.u32(key)?.unwrap_or(head_k);
    if n_rot == 0 || n_rot % 2 != 0 || n_rot > head_k {
        return Err(format!("{key} is {n_rot}; it must be even and between 2 and the head size {head_k}"));
    }
    let swa_key = format!("{}_swa", key);
    if let Some(v) = meta.u32(&swa_key)? {
        if v != n_rot {
            return Err(format!("{swa_key} {v} differs from {key} {n_rot}"));
        }
    }
    Ok(n_rot)
}

/// The graphs of llama, qwen2 and qwen2vl (src/models/llama.cpp, qwen2.cpp,
/// qwen2vl.cpp) assert that the head size equals the rotated dimensions; qwen2 and
/// qwen2vl size their query and output projections with the model width, so the heads
/// must tile it exactly or the query reshape asserts.
fn graph_head_layout(arch: &str, n_embd: u32, n_head: u32, head: u32, n_rot: u32) -> Check {
    if arch != "gemma3" && n_rot != head {
        return Err(format!(
            "{arch}.rope.dimension_count {n_rot} differs from the head size {head}; llama.cpp's {arch} graph needs \
             them equal"
        ));
    }
    if (arch == "qwen2" || arch == "qwen2vl") && u64::from(head) * u64::from(n_head) != u64::from(n_embd) {
        return Err(format!(
            "{n_head} heads of {head} do not make up {arch}.embedding_length {n_embd}; llama.cpp's {arch} graph \
             needs them to"
        ));
    }
    Ok(())
}

/// `load_hparams` asserts the rope scaling type is one it knows: any other name aborts.
fn rope_scaling_type(meta: &Meta, key: &str) -> Check {
    const KNOWN: [&str; 4] = ["none", "linear", "yarn", "longrope"];
    match meta.string(key)? {
        Some(name) if !KNOWN.contains(&name.as_str()) => {
            Err(format!("{key} {name:?} is not a rope scaling type llama.cpp knows ({})", KNOWN.join(", ")))
        }
        _ => Ok(()),
    }
}

/// vlmjudge runs dense models. `load_hparams` asserts a consistent expert setup
/// (`expert_used_count` at most `expert_count`, groups below experts, ...) and that
/// multi-token-prediction layers (`nextn_predict_layers`) fit the layer count; none of
/// these architectures' supported models has either, so any nonzero value is refused.
fn dense_only(meta: &Meta, arch: &str, n_layer: u32) -> Check {
    for k in ["expert_count", "expert_group_count", "expert_group_used_count", "nextn_predict_layers"] {
        let key = format!("{arch}.{k}");
        if let Some(v) = meta.u32(&key)?.filter(|&v| v != 0) {
            return Err(format!("{key} is {v}; vlmjudge runs dense models only"));
        }
    }
    let key = format!("{arch}.expert_used_count");
    if let Some(used) = meta.per_layer_u32(&key, n_layer)? {
        if let Some(v) = used.into_iter().find(|&v| v != 0) {
            return Err(format!("{key} is {v}; vlmjudge runs dense models only"));
        }
    }
    Ok(())
}

/// Qwen2-VL's M-RoPE splits each head's rotary pairs into sections. ggml's CPU rope
/// (`ggml_mrope_cache_init` and `ggml_compute_forward_rope`, ggml/src/ggml-cpu/ops.cpp)
/// asserts that one of the first three sections is positive and that their total fits
/// the head, and takes each pair's index modulo the total (a zero total divides by
/// zero).
fn mrope_sections(meta: &Meta, key: &str, head: u32) -> Check {
    let items = meta
        .array(key, &[ValueType::I32, ValueType::U32, ValueType::Bool])?
        .ok_or_else(|| super::keys::missing(key))?;
    if items.len() != 4 {
        return Err(format!("{key} has {} entries; llama.cpp reads 4", items.len()));
    }
    let sections: Vec<i64> = items.iter().map(|v| i64::from(as_i32_bits(v))).collect();
    if sections.iter().any(|&s| s < 0) || sections[..3].iter().sum::<i64>() == 0 {
        return Err(format!("{key} {sections:?} must be non-negative with a positive first three"));
    }
    let total: i64 = sections.iter().sum();
    if total > i64::from(head) {
        return Err(format!("{key} {sections:?} add up to {total}, more than the head size {head}"));
    }
    Ok(())
}

/// Gemma 3's sliding window. With a window, the model gets an interleaved KV cache,
/// and `llama_model_base::create_memory` (src/llama-model.cpp) asserts that at least
/// one layer slides. `load_swa_pattern` marks the layers from
/// `attention.sliding_window_pattern`: a table of flags (layers past its end do not
/// slide) or a period n (layer i slides unless i % n == n - 1; 0 makes every layer
/// slide, 1 none).
///
/// The window itself must not exceed the training context: llama.cpp keeps it in a
/// signed int, so above i32::MAX it turns negative, masks every position and the
/// first decode either allocates without bound or yields NaN logits (found by the
/// fuzzer); a window longer than the context would be no window at all.
fn sliding_window(meta: &Meta, arch: &str, n_layer: u32, n_ctx_train: u32) -> Check {
    let key = format!("{arch}.attention.sliding_window");
    let pattern_key = format!("{arch}.attention.sliding_window_pattern");
    let Some(window) = meta.u32(&key)?.filter(|&w| w > 0) else { return Ok(()) };
    if window > n_ctx_train {
        return Err(format!("{key} is {window}, longer than the training context ({n_ctx_train} tokens)"));
    }
    let any_sliding = match meta.get(&pattern_key) {
        Some(crate::gguf::Value::Array(..)) => {
            let flags = meta.array(&pattern_key, &[ValueType::Bool, ValueType::I32, ValueType::U32])?.unwrap_or(&[]);
            if flags.len() > MAX_LAYERS as usize {
                return Err(format!("{pattern_key} has {} entries, more than {MAX_LAYERS}", flags.len()));
            }
            flags.iter().take(n_layer as usize).any(|f| super::keys::as_u32_bits(f) != 0)
        }
        // The default period is 6.
        _ => meta.u32(&pattern_key)?.unwrap_or(6) != 1,
    };
    if !any_sliding {
        return Err(format!(
            "{key} is {window} but {pattern_key} makes no layer use the sliding window; llama.cpp needs at least \
             one"
        ));
    }
    Ok(())
}
