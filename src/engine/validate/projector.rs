//! The mmproj: its `clip.*` header, the image geometry each projector's preprocessing
//! and graph rely on, the projector's own tensors, and whether its output fits the
//! language model.
//!
//! References are to the pinned llama.cpp's `tools/mtmd/` (clip.cpp, mtmd.cpp,
//! mtmd-image.cpp and the graph builders under models/).

use super::keys::{as_i32_bits, Check, Meta};
use super::tensors::{dim, fmt_dims, is_matrix, types_have_kernels, vectors_are_f32, Tensors};
use super::vit::{self, Encoder};
use crate::engine::MAX_IMAGE_MAX_TOKENS;
use crate::gguf::{GgufFile, ValueType};

/// The projectors vlmjudge runs, by their `clip.projector_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Projector {
    /// LLaVA-1.5 and LLaVA-1.6 (with grid pinpoints): a two-layer MLP.
    Mlp,
    /// SmolVLM / Idefics3: pixel shuffle and one matrix.
    Idefics3,
    /// Qwen2.5-VL: 2x2 patch merger.
    Qwen25vl,
    /// Gemma 3: average pooling, RMS norm and one matrix.
    Gemma3,
}

const PROJECTORS: [(Projector, &str); 4] = [
    (Projector::Mlp, "mlp"),
    (Projector::Idefics3, "idefics3"),
    (Projector::Qwen25vl, "qwen2.5vl_merger"),
    (Projector::Gemma3, "gemma3"),
];

impl Projector {
    pub fn name(self) -> &'static str {
        PROJECTORS.iter().find(|(p, _)| *p == self).map(|(_, n)| *n).unwrap_or("?")
    }

    fn from_name(name: &str) -> Option<Projector> {
        PROJECTORS.iter().find(|(_, n)| *n == name).map(|(p, _)| *p)
    }
}

/// Every `clip.*` (and `general.*`) key the clip loader reads with a scalar getter, with
/// the type it reads: those getters go through `gguf_get_val_*`, which asserts the type
/// (`clip_model_loader::get_u32` and siblings), so one wrong type aborts the process.
const SCALAR_KEYS: [(&str, ValueType); 35] = [
    ("general.name", ValueType::Str),
    ("general.description", ValueType::Str),
    ("clip.projector_type", ValueType::Str),
    ("clip.vision.projector_type", ValueType::Str),
    ("clip.audio.projector_type", ValueType::Str),
    ("clip.vision.mm_patch_merge_type", ValueType::Str),
    ("clip.has_vision_encoder", ValueType::Bool),
    ("clip.has_audio_encoder", ValueType::Bool),
    ("clip.has_gen_audio_encoder", ValueType::Bool),
    ("clip.use_gelu", ValueType::Bool),
    ("clip.use_silu", ValueType::Bool),
    ("clip.minicpmv_version", ValueType::I32),
    ("clip.minicpmv_query_num", ValueType::U32),
    ("clip.vision.embedding_length", ValueType::U32),
    ("clip.vision.feed_forward_length", ValueType::U32),
    ("clip.vision.block_count", ValueType::U32),
    ("clip.vision.projection_dim", ValueType::U32),
    ("clip.vision.attention.head_count", ValueType::U32),
    ("clip.vision.attention.head_count_kv", ValueType::U32),
    ("clip.vision.attention.head_dim", ValueType::U32),
    ("clip.vision.attention.layer_norm_epsilon", ValueType::F32),
    ("clip.vision.image_size", ValueType::U32),
    ("clip.vision.patch_size", ValueType::U32),
    ("clip.vision.image_min_pixels", ValueType::U32),
    ("clip.vision.image_max_pixels", ValueType::U32),
    ("clip.vision.preproc_min_tiles", ValueType::U32),
    ("clip.vision.preproc_max_tiles", ValueType::U32),
    ("clip.vision.preproc_image_size", ValueType::U32),
    ("clip.vision.projector.scale_factor", ValueType::U32),
    ("clip.vision.spatial_merge_size", ValueType::U32),
    ("clip.vision.n_wa_pattern", ValueType::U32),
    ("clip.vision.window_size", ValueType::U32),
    ("clip.vision.expert_used_count", ValueType::U32),
    ("clip.vision.swiglu_clamp", ValueType::F32),
    ("clip.vision.projector.query_side", ValueType::U32),
];

/// Checks the mmproj in `file` for a language model whose input embeddings are
/// `text_width` wide (`llama_model_n_embd_inp`).
pub(super) fn check(file: &GgufFile, text_width: u64) -> Check {
    let meta = Meta(file);
    key_types(&meta)?;
    modalities(&meta)?;
    let proj = projector_type(&meta)?;
    let enc = vit::encoder(&meta, proj)?;
    image_statistics(&meta)?;
    geometry(&meta, proj, &enc)?;
    let tensors = Tensors::new(file);
    types_have_kernels(file)?;
    vectors_are_f32(file)?;
    vit::check_tensors(&tensors, proj, &enc)?;
    let width = projector_tensors(&meta, &tensors, proj, &enc)?;
    fits_text_model(proj, width, text_width)
}

fn key_types(meta: &Meta) -> Check {
    for (key, ty) in SCALAR_KEYS {
        match ty {
            ValueType::Str => meta.string(key).map(drop)?,
            ValueType::Bool => meta.bool(key).map(drop)?,
            ValueType::I32 => meta.i32(key).map(drop)?,
            ValueType::F32 => meta.f32(key).map(drop)?,
            _ => {
                // clip's get_u32 also refuses values above INT32_MAX (with an error).
                meta.u32(key).map(drop)?
            }
        }
    }
    Ok(())
}

/// vlmjudge reads images only. The clip loader asserts a vision encoder is present when
/// it loads one, and loads an audio encoder (with its own, unvalidated hyperparameters)
/// from the same file whenever the header announces one.
fn modalities(meta: &Meta) -> Check {
    if meta.bool("clip.has_vision_encoder")? != Some(true) {
        return Err("it has no vision encoder (clip.has_vision_encoder is not true)".into());
    }
    for key in ["clip.has_audio_encoder", "clip.has_gen_audio_encoder"] {
        if meta.bool(key)? == Some(true) {
            return Err(format!("{key} is set; vlmjudge runs vision-only projectors"));
        }
    }
    Ok(())
}

/// The projector type, from `clip.projector_type` or (for mixed-modality files)
/// `clip.vision.projector_type`, as clip's `load_hparams` reads it.
fn projector_type(meta: &Meta) -> Result<Projector, String> {
    let name = match meta.string("clip.projector_type")? {
        Some(name) if !name.is_empty() => name,
        _ => meta.string("clip.vision.projector_type")?.unwrap_or_default(),
    };
    Projector::from_name(&name).ok_or_else(|| {
        let supported: Vec<&str> = PROJECTORS.iter().map(|(_, n)| *n).collect();
        format!("projector type {name:?} is not supported; vlmjudge runs {}", supported.join(", "))
    })
}

/// Pixel normalisation per RGB channel; clip's loader refuses fewer than 3 values
/// (an error), checked here for a message that names the key.
fn image_statistics(meta: &Meta) -> Check {
    for key in ["clip.vision.image_mean", "clip.vision.image_std"] {
        let n = meta.array(key, &[ValueType::F32])?.map_or(0, <[_]>::len);
        if n < 3 {
            return Err(format!("{key} has {n} values; one per RGB channel (3) is needed"));
        }
    }
    Ok(())
}

/// How images are cut and merged, per projector.
fn geometry(meta: &Meta, proj: Projector, enc: &Encoder) -> Check {
    let n_side = enc.n_side();
    match proj {
        Projector::Mlp => pinpoints(meta, enc),
        // Gemma 3 average-pools the patch grid by `scale_factor` (default 4) per side
        // (`clip_graph_siglip::build`) while `clip_n_output_tokens` divides the patch count
        // by its square; a grid the factor does not divide gives a different count, and
        // mtmd aborts ("Invalid number of output tokens").
        Projector::Gemma3 => {
            let key = "clip.vision.projector.scale_factor";
            let pool = meta.u32(key)?.map_or(4, u64::from);
            if pool == 0 || n_side % pool != 0 {
                return Err(format!(
                    "{key} {pool} does not divide the {n_side}x{n_side} patch grid (clip.vision.image_size {} / \
                     clip.vision.patch_size {})",
                    enc.image_size, enc.patch_size
                ));
            }
            Ok(())
        }
        // Idefics3's pixel shuffle asserts a factor above 1 (`build_patch_merge_permute`),
        // pads the grid up to a multiple of it while the token count is rounded down,
        // and the token budget in pixels (tokens x (patch x factor)^2) must fit an int.
        Projector::Idefics3 => {
            let key = "clip.vision.projector.scale_factor";
            let scale = u64::from(meta.u32(key)?.unwrap_or(1));
            if scale < 2 || n_side % scale != 0 {
                return Err(format!(
                    "{key} {scale} must be at least 2 and divide the {n_side}x{n_side} patch grid \
                     (clip.vision.image_size {} / clip.vision.patch_size {})",
                    enc.image_size, enc.patch_size
                ));
            }
            pixel_budget_fits(enc.patch_size * scale)?;
            idefics3_tiles(meta, enc, (n_side / scale).pow(2))
        }
        // Qwen2.5-VL's graph merges 2x2 patches whatever the key says (its input asserts
        // images of whole 2-patch blocks, and `clip_n_output_tokens` counts 2x2 blocks);
        // its vision rope splits each head in quarters (ggml's rope asserts the rotated
        // half of the head and a positive first section).
        Projector::Qwen25vl => {
            let key = "clip.vision.spatial_merge_size";
            let merge = meta.u32(key)?.unwrap_or(2);
            if merge != 2 {
                return Err(format!("{key} is {merge}; llama.cpp's Qwen2.5-VL graph merges 2x2 patches"));
            }
            // With window attention every layer but each n-th is windowed; a period of 1
            // (or no layers) leaves the window mask unused, the scheduler prunes it, and
            // clip aborts setting it ("Failed to get tensor window_mask").
            let key = "clip.vision.n_wa_pattern";
            let period = meta.required_u32(key)?;
            if period == 1 || (period > 1 && enc.n_layer == 0) {
                return Err(format!(
                    "{key} is {period} with {} encoder layers, which leaves no windowed layer; llama.cpp needs 0 (no \
                     window attention) or a period of at least 2 over at least one layer",
                    enc.n_layer
                ));
            }
            if enc.d_head % 4 != 0 {
                return Err(format!(
                    "the encoder's head size {} is not a multiple of 4, which Qwen2.5-VL's rotary embedding needs",
                    enc.d_head
                ));
            }
            pixel_budget_fits(enc.patch_size * 2)
        }
    }
}

/// mtmd sizes its resize limits as tokens x (patch x merge)^2 pixels in a 32-bit int
/// (`clip_hparams::set_limit_image_tokens`); an overflow goes negative and the dynamic
/// preprocessor asserts positive limits (mtmd-image.cpp). vlmjudge allows up to
/// `MAX_IMAGE_MAX_TOKENS` tokens per image.
fn pixel_budget_fits(token_side: u64) -> Check {
    let pixels = u64::from(MAX_IMAGE_MAX_TOKENS) * token_side * token_side;
    if pixels > i32::MAX as u64 {
        return Err(format!(
            "image tokens of {token_side}x{token_side} pixels (patch size times merge) are too large: \
             {MAX_IMAGE_MAX_TOKENS} of them overflow llama.cpp's pixel limits"
        ));
    }
    Ok(())
}

/// Without a token budget from vlmjudge (`image_max_tokens` 0: the mmproj's own),
/// Idefics3 resizes an image so its longer side is `preproc_image_size` and encodes it
/// in `image_size` tiles (`mtmd_image_preprocessor_idefics3`); an edge of tens of
/// thousands of pixels means millions of tiles (an endless encode). The tiles of the
/// largest image, plus the overview, must stay within the most image tokens vlmjudge
/// allows.
fn idefics3_tiles(meta: &Meta, enc: &Encoder, tokens_per_tile: u64) -> Check {
    let key = "clip.vision.preproc_image_size";
    let edge = u64::from(meta.u32(key)?.unwrap_or(0));
    let per_side = edge.div_ceil(enc.image_size);
    let tokens = (per_side * per_side + 1) * tokens_per_tile;
    if tokens > u64::from(MAX_IMAGE_MAX_TOKENS) {
        return Err(format!(
            "{key} {edge} cuts an image into {per_side}x{per_side} tiles of clip.vision.image_size {}, {tokens} image \
             tokens; vlmjudge allows at most {MAX_IMAGE_MAX_TOKENS}",
            enc.image_size
        ));
    }
    Ok(())
}

/// LLaVA-1.6's candidate resolutions (`clip.vision.image_grid_pinpoints`, width/height
/// pairs). The image is resized to the best candidate and cut into `image_size` tiles;
/// mtmd counts the tile grid by rounding down and asserts it matches the tiles cut
/// (rounded up), so each size must be a whole number of tiles.
fn pinpoints(meta: &Meta, enc: &Encoder) -> Check {
    let key = "clip.vision.image_grid_pinpoints";
    let Some(items) = meta.array(key, &[ValueType::I32])? else { return Ok(()) };
    if items.len() % 2 != 0 {
        return Err(format!("{key} has {} values; width/height pairs are expected", items.len()));
    }
    let sizes: Vec<i32> = items.iter().map(as_i32_bits).collect();
    if let Some(v) = sizes.iter().find(|&&v| v <= 0 || v as u64 % enc.image_size != 0) {
        return Err(format!(
            "{key} contains {v}; every size must be a positive multiple of clip.vision.image_size {}",
            enc.image_size
        ));
    }
    // Each tile, plus the overview, is encoded into a full patch grid of tokens; a huge
    // candidate means an endless encode.
    let tokens_per_tile = enc.n_side().pow(2);
    for pair in sizes.chunks(2) {
        let tiles = (pair[0] as u64 / enc.image_size) * (pair[1] as u64 / enc.image_size);
        let tokens = (tiles + 1) * tokens_per_tile;
        if tokens > u64::from(MAX_IMAGE_MAX_TOKENS) {
            return Err(format!(
                "{key} contains {}x{}, {tiles} tiles of clip.vision.image_size {} and {tokens} image tokens; \
                 vlmjudge allows at most {MAX_IMAGE_MAX_TOKENS}",
                pair[0], pair[1], enc.image_size
            ));
        }
    }
    Ok(())
}

/// The projector's tensors; returns the width of the embeddings it produces, read from
/// the same tensor mtmd reads it from (`clip_n_mmproj_embd`).
fn projector_tensors(meta: &Meta, t: &Tensors, proj: Projector, enc: &Encoder) -> Result<u64, String> {
    let d = enc.n_embd;
    match proj {
        // LLaVA: mm.0 (features -> hidden), GELU, mm.2 (hidden -> text). The graph adds
        // both biases unconditionally, and `clip_n_mmproj_embd` reads mm.2's shape, so a
        // missing one is a null dereference. mm.3/mm.4 would switch to the Yi-style
        // variant (`PROJECTOR_TYPE_MLP_NORM`), which is not validated here.
        Projector::Mlp => {
            for name in ["mm.1.weight", "mm.3.weight", "mm.4.weight"] {
                if t.has(name) {
                    return Err(format!("tensor {name} belongs to a projector variant vlmjudge does not run"));
                }
            }
            let features = d * llava_feature_stack(meta, enc)?;
            let hidden = matrix_out(t, "mm.0.weight", features)?;
            t.expect("mm.0.bias", &[hidden])?;
            let width = matrix_out(t, "mm.2.weight", hidden)?;
            t.expect("mm.2.bias", &[width])?;
            Ok(width)
        }
        // Idefics3: the pixel shuffle concatenates scale^2 neighbours, then one matrix.
        Projector::Idefics3 => {
            let scale = u64::from(meta.u32("clip.vision.projector.scale_factor")?.unwrap_or(1));
            matrix_out(t, "mm.model.fc.weight", d * scale * scale)
        }
        // Qwen2.5-VL: 2x2 patch features concatenated, then mm.0 -> GELU -> mm.2 with
        // biases (added unconditionally). With window attention the graph reorders the
        // output by `projection_dim` (`clip_graph_qwen2vl::build`, a ggml_reshape that
        // asserts it is the output width), while mtmd reads the width from mm.2.bias.
        Projector::Qwen25vl => {
            let hidden = matrix_out(t, "mm.0.weight", 4 * d)?;
            t.expect("mm.0.bias", &[hidden])?;
            let width = matrix_out(t, "mm.2.weight", hidden)?;
            t.expect("mm.2.bias", &[width])?;
            let key = "clip.vision.projection_dim";
            let declared = u64::from(meta.required_u32(key)?);
            if declared != width {
                return Err(format!("{key} is {declared} but the projector's output (mm.2.weight) is {width} wide"));
            }
            Ok(width)
        }
        // Gemma 3: RMS norm over the encoder width, then mm.input_projection, stored as
        // [text width, encoder width] and transposed before the product.
        Projector::Gemma3 => {
            t.expect("mm.soft_emb_norm.weight", &[d])?;
            let proj_w = t.required("mm.input_projection.weight")?;
            if dim(proj_w, 1) != d || !is_matrix(proj_w) || dim(proj_w, 0) == 0 {
                return Err(format!(
                    "tensor mm.input_projection.weight has shape {} but [text width, {d}] is expected",
                    fmt_dims(&proj_w.dims)
                ));
            }
            Ok(dim(proj_w, 0))
        }
    }
}

/// A projection matrix taking `input` features: returns its output width.
fn matrix_out(t: &Tensors, name: &str, input: u64) -> Result<u64, String> {
    let w = t.required(name)?;
    if dim(w, 0) != input || !is_matrix(w) || dim(w, 1) == 0 {
        return Err(format!("tensor {name} has shape {} but [{input}, output width] is expected", fmt_dims(&w.dims)));
    }
    Ok(dim(w, 1))
}

/// How many encoder layers' features LLaVA's graph concatenates
/// (`clip_graph_llava::build`): none listed in `clip.vision.feature_layer` means the
/// last run layer's alone; otherwise each distinct listed layer up to the deepest one.
fn llava_feature_stack(meta: &Meta, enc: &Encoder) -> Result<u64, String> {
    let key = "clip.vision.feature_layer";
    let Some(items) = meta.array(key, &[ValueType::I32])? else { return Ok(1) };
    let mut layers: Vec<i32> = items.iter().map(as_i32_bits).filter(|&l| l >= 0).collect();
    if let Some(&bad) = layers.iter().find(|&&l| l as u64 > enc.n_layer) {
        return Err(format!("{key} lists layer {bad} but the encoder has {} layers", enc.n_layer));
    }
    layers.sort_unstable();
    layers.dedup();
    Ok(layers.len().max(1) as u64)
}

/// mtmd compares the projector's output width with the language model's input width
/// after it has created the clip context, and its constructor then throws without
/// freeing that context (about 170 MB per attempt for a real mmproj). Checking here,
/// before `mtmd_init_from_file`, turns a wrong mmproj into an error that leaks nothing.
fn fits_text_model(proj: Projector, width: u64, text_width: u64) -> Check {
    if width != text_width {
        return Err(format!(
            "width mismatch: the {} projector produces embeddings {width} wide but the language model's input \
             embeddings are {text_width} wide; is the mmproj for this model?",
            proj.name()
        ));
    }
    Ok(())
}
