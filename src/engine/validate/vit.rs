//! The vision transformer in front of every supported projector: its hyperparameters
//! and the tensors the clip graphs multiply with them.
//!
//! Unlike the language-model loader, `clip_model_loader::load_tensors`
//! (tools/mtmd/clip.cpp) checks no tensor shape: a tensor that does not fit the
//! hyperparameters loads, and the first image then aborts in a ggml shape assertion
//! while the encoder graph is built (`clip_graph::build_vit`, `clip_graph_llava::build`,
//! `clip_graph_qwen2vl::build`). So every tensor those graphs use is checked here
//! against what the graph will do with it.

use super::keys::{Check, Meta};
use super::projector::Projector;
use super::tensors::{dim, expect_f32, expect_shape, fmt_dims, is_matrix, Tensors};
use crate::gguf::TensorInfo;

/// The encoder's hyperparameters, as `clip_model_loader::load_hparams` and the
/// `clip_graph` constructor derive them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Encoder {
    pub n_embd: u64,
    pub n_head: u64,
    pub n_head_kv: u64,
    /// Per-head size: `attention.head_dim`, else width / heads.
    pub d_head: u64,
    pub n_layer: u64,
    pub image_size: u64,
    pub patch_size: u64,
}

impl Encoder {
    /// Patches along each side of an `image_size` square (the grid llama.cpp counts).
    pub fn n_side(&self) -> u64 {
        self.image_size / self.patch_size
    }
}

/// Reads and checks the encoder's hyperparameters. Their types were checked by
/// `projector::key_types`; the keys the clip loader requires are required here too.
pub(super) fn encoder(meta: &Meta, proj: Projector) -> Result<Encoder, String> {
    let req = |k: &str| meta.required_u32(k).map(u64::from);
    let n_embd = req("clip.vision.embedding_length")?;
    let n_head = req("clip.vision.attention.head_count")?;
    let n_layer = req("clip.vision.block_count")?;
    let image_size = req("clip.vision.image_size")?;
    let patch_size = req("clip.vision.patch_size")?;
    req("clip.vision.feed_forward_length")?;
    req("clip.vision.projection_dim")?;
    super::language::norm_epsilon(meta, "clip.vision.attention.layer_norm_epsilon")?;
    if n_embd == 0 {
        return Err("clip.vision.embedding_length is 0".into());
    }
    // Zero heads leave the head size at 0 (`clip_graph::clip_graph`), and every
    // attention reshape asserts.
    if n_head == 0 {
        return Err("clip.vision.attention.head_count is 0; the encoder needs at least one head".into());
    }
    let d_head = match meta.u32("clip.vision.attention.head_dim")? {
        Some(0) => return Err("clip.vision.attention.head_dim is 0".into()),
        Some(d) => u64::from(d),
        // The heads split the width: a remainder leaves the query projection wider
        // than the heads it is reshaped into (a ggml_reshape assertion).
        None if n_embd % n_head != 0 => {
            return Err(format!(
                "clip.vision.embedding_length {n_embd} is not divisible by clip.vision.attention.head_count {n_head}"
            ))
        }
        None => n_embd / n_head,
    };
    let n_head_kv = meta.u32("clip.vision.attention.head_count_kv")?.map_or(n_head, u64::from);
    // Keys and values are reshaped into n_head_kv heads and broadcast over the query
    // heads by ggml_mul_mat, which asserts a whole multiple; the LLaVA and Qwen graphs
    // reshape them into the query head count outright.
    if n_head_kv == 0 || n_head % n_head_kv != 0 {
        return Err(format!(
            "clip.vision.attention.head_count_kv {n_head_kv} does not divide clip.vision.attention.head_count {n_head}"
        ));
    }
    if matches!(proj, Projector::Mlp | Projector::Qwen25vl) && n_head_kv != n_head {
        return Err(format!(
            "clip.vision.attention.head_count_kv {n_head_kv} differs from clip.vision.attention.head_count {n_head}; \
             llama.cpp's {} encoder has no grouped attention",
            proj.name()
        ));
    }
    // clip's loader refuses a zero patch (an error); a patch larger than the image
    // leaves no patch at all, and the patch grid sizes every tensor below.
    if patch_size == 0 || patch_size > image_size {
        return Err(format!(
            "clip.vision.patch_size {patch_size} does not fit clip.vision.image_size {image_size} (at least one \
             patch per side is needed)"
        ));
    }
    Ok(Encoder { n_embd, n_head, n_head_kv, d_head, n_layer, image_size, patch_size })
}

/// Tensors the supported graphs do not run but clip's loader would pick up and build
/// into the encoder (fused QKV, per-head norms, layer scales, mixture-of-experts FFNs,
/// attention sinks, post-norms): their shapes are not validated here, so a file with
/// them is refused rather than run unchecked.
const UNVALIDATED_LAYER_TENSORS: [&str; 14] = [
    "attn_qkv",
    "attn_q_norm",
    "attn_k_norm",
    "ls1",
    "ls2",
    "out_scale",
    "attn_post_norm",
    "ffn_post_norm",
    "attn_sinks",
    "ffn_gate_inp",
    "ffn_gate_exps",
    "ffn_up_exps",
    "ffn_down_exps",
    "exp_probs_b",
];

/// Checks the encoder's tensors for projector `proj`.
pub(super) fn check_tensors(t: &Tensors, proj: Projector, enc: &Encoder) -> Check {
    patch_embedding(t, proj, enc)?;
    positions(t, proj, enc)?;
    let d = enc.n_embd;
    for name in ["v.pre_ln.weight", "v.pre_ln.bias", "v.post_ln.weight", "v.post_ln.bias"] {
        t.expect_optional(name, &[d])?;
    }
    for il in 0..enc.n_layer {
        layer(t, proj, enc, il)?;
    }
    Ok(())
}

/// The patch embedding is a convolution whose stride is the patch size
/// (`clip_graph::build_inp`); a kernel of another size gives a different patch grid
/// than the one llama.cpp counts, and the following reshape asserts. Qwen2.5-VL has a
/// second kernel for its temporal pair of frames and no bias (its graph asserts that).
fn patch_embedding(t: &Tensors, proj: Projector, enc: &Encoder) -> Check {
    let (p, d) = (enc.patch_size, enc.n_embd);
    let names: &[&str] = if proj == Projector::Qwen25vl {
        &["v.patch_embd.weight", "v.patch_embd.weight.1"]
    } else {
        &["v.patch_embd.weight"]
    };
    for &name in names {
        let kernel = t.required(name)?;
        if dim(kernel, 0) != p || dim(kernel, 1) != p {
            return Err(format!(
                "tensor {name} has kernel size {}x{} but clip.vision.patch_size is {p}",
                dim(kernel, 0),
                dim(kernel, 1)
            ));
        }
        expect_shape(kernel, &[p, p, 3, d])?;
    }
    if proj == Projector::Qwen25vl {
        for name in ["v.patch_embd.bias", "v.class_embd"] {
            if t.has(name) {
                return Err(format!("tensor {name} is not part of a Qwen2.5-VL encoder"));
            }
        }
    } else {
        t.expect_optional("v.patch_embd.bias", &[d])?;
    }
    Ok(())
}

/// Learned positions, one per patch of an `image_size` square (plus the class token in
/// LLaVA's CLIP). The graphs add them to the patches (`ggml_add` asserts the shapes
/// repeat) or look them up by position (`ggml_get_rows` asserts the rows exist).
/// Qwen2.5-VL rotates positions in instead and has no table.
fn positions(t: &Tensors, proj: Projector, enc: &Encoder) -> Check {
    if proj == Projector::Qwen25vl {
        return Ok(());
    }
    let class = proj == Projector::Mlp && t.has("v.class_embd");
    if class {
        t.expect("v.class_embd", &[enc.n_embd])?;
    }
    let n_side = enc.n_side();
    let n_pos = n_side * n_side + u64::from(class);
    let table = t.required("v.position_embd.weight")?;
    // SigLIP's graph adds the table to the patches as it is (LLaVA's looks rows up).
    if proj != Projector::Mlp {
        expect_f32(t, "v.position_embd.weight", "llama.cpp adds it to the F32 patch features, which needs F32")?;
    }
    if dim(table, 0) != enc.n_embd || dim(table, 1) != n_pos || !is_matrix(table) {
        return Err(format!(
            "tensor v.position_embd.weight has shape {} but clip.vision.image_size {} / clip.vision.patch_size {} \
             gives {n_side}x{n_side} patches{}, so [{}, {n_pos}] is expected",
            fmt_dims(&table.dims),
            enc.image_size,
            enc.patch_size,
            if class { " plus a class token" } else { "" },
            enc.n_embd
        ));
    }
    Ok(())
}

/// One encoder block: attention projections into the heads, the output projection
/// back to the width, norms over the width, and the FFN.
fn layer(t: &Tensors, proj: Projector, enc: &Encoder, il: u64) -> Check {
    let name = |x: &str, kind: &str| format!("v.blk.{il}.{x}.{kind}");
    for x in UNVALIDATED_LAYER_TENSORS {
        if t.has(&name(x, "weight")) || t.has(&format!("v.blk.{il}.{x}")) {
            return Err(format!(
                "tensor {} is not part of a {} encoder as vlmjudge runs it",
                name(x, "weight"),
                proj.name()
            ));
        }
    }
    let d = enc.n_embd;
    let q_width = enc.d_head * enc.n_head;
    let kv_width = enc.d_head * enc.n_head_kv;
    // Qwen2.5-VL's graph adds the q/k/v biases unconditionally (a missing one is a
    // null tensor dereference).
    let bias_required = proj == Projector::Qwen25vl;
    for (x, out) in [("attn_q", q_width), ("attn_k", kv_width), ("attn_v", kv_width)] {
        t.expect(&name(x, "weight"), &[d, out])?;
        if bias_required {
            t.expect(&name(x, "bias"), &[out])?;
        } else {
            t.expect_optional(&name(x, "bias"), &[out])?;
        }
    }
    t.expect(&name("attn_out", "weight"), &[q_width, d])?;
    t.expect_optional(&name("attn_out", "bias"), &[d])?;
    for x in ["ln1", "ln2"] {
        t.expect_optional(&name(x, "weight"), &[d])?;
        t.expect_optional(&name(x, "bias"), &[d])?;
    }
    ffn(t, enc, il)
}

/// The FFN. clip's loader swaps `ffn_up` and `ffn_down` (and their biases) when
/// `ffn_down` takes the encoder width as input (old converters named them the other way
/// round); after that, up (and the optional gate) map the width to the hidden size and
/// down maps it back.
fn ffn(t: &Tensors, enc: &Encoder, il: u64) -> Check {
    let d = enc.n_embd;
    let name = |x: &str, kind: &str| format!("v.blk.{il}.{x}.{kind}");
    let file_up = t.required(&name("ffn_up", "weight"))?;
    let file_down = t.required(&name("ffn_down", "weight"))?;
    let swapped = dim(file_down, 0) == d;
    let (up, down, up_bias, down_bias): (&TensorInfo, &TensorInfo, String, String) = if swapped {
        (file_down, file_up, name("ffn_down", "bias"), name("ffn_up", "bias"))
    } else {
        (file_up, file_down, name("ffn_up", "bias"), name("ffn_down", "bias"))
    };
    let hidden = dim(up, 1);
    if dim(up, 0) != d || !is_matrix(up) || hidden == 0 {
        return Err(format!(
            "tensor {} has shape {} but the FFN's input projection must be [{d}, hidden]",
            up.name,
            fmt_dims(&up.dims)
        ));
    }
    expect_shape(down, &[hidden, d])?;
    t.expect_optional(&name("ffn_gate", "weight"), &[d, hidden])?;
    t.expect_optional(&name("ffn_gate", "bias"), &[hidden])?;
    t.expect_optional(&up_bias, &[hidden]).map_err(|e| {
        if swapped {
            format!("{e} (ffn_up and ffn_down are stored swapped)")
        } else {
            e
        }
    })?;
    t.expect_optional(&down_bias, &[d])
}
