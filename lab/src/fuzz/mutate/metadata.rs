//! Mutations of scalar metadata: values at the edges of their type, wrong types,
//! missing, repeated and extra keys.

use rand::Rng;

use super::values::{convert, float_as, float_of, int_as, int_of, show, typed, ALL_TYPES};
use super::{edited, pick, Edit, FuzzRng};
use crate::fuzz::document::Document;
use crate::fuzz::Role;
use vlmjudge::gguf::{Value, ValueType};

/// Keys whose value is a scalar satisfying `keep`.
fn keys_where(doc: &Document, keep: impl Fn(&Value) -> bool) -> Vec<String> {
    doc.metadata.iter().filter(|(_, v)| keep(v)).map(|(k, _)| k.clone()).collect()
}

/// An integer set to 0, 1, -1, off by one, or huge.
pub(super) fn int_value(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let key = pick(rng, &keys_where(doc, |v| int_of(v).is_some()))?.clone();
    let old = doc.get(&key)?;
    let n = int_of(old)?;
    let candidates = [0, 1, -1, n + 1, n - 1, n * 2, n / 2, 1 << 31, u32::MAX as i128, 1 << 40, i64::MAX as i128];
    let new = int_as(old.value_type(), *pick(rng, &candidates)?)?;
    let description = format!("{key}: {} -> {}", typed(old), show(&new));
    Some(edited(doc, description, |d| d.set(&key, new)))
}

/// A float set to 0, NaN, an infinity, negative, or extreme.
pub(super) fn float_value(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let key = pick(rng, &keys_where(doc, |v| float_of(v).is_some()))?.clone();
    let old = doc.get(&key)?;
    let x = float_of(old)?;
    let candidates = [0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -x, -1.0, 1e-38, 1e38, x * 1e6];
    let new = float_as(old.value_type(), *pick(rng, &candidates)?)?;
    let description = format!("{key}: {} -> {}", typed(old), show(&new));
    Some(edited(doc, description, |d| d.set(&key, new)))
}

/// Names a loader switches on: architectures, projector types, tokenizer models.
const NAMES: &[&str] = &[
    "llama",
    "gemma3",
    "qwen2vl",
    "qwen2",
    "clip",
    "bert",
    "mamba",
    "t5",
    "mlp",
    "ldp",
    "idefics3",
    "gemma3",
    "qwen2.5vl_merger",
    "qwen2vl_merger",
    "pixtral",
    "adapter",
    "lora",
    "spatial_unpad",
    "flat",
];

/// A string emptied, cut, extended, made invalid UTF-8 or replaced by another name.
pub(super) fn string_value(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let key = pick(rng, &keys_where(doc, |v| matches!(v, Value::Str(_))))?.clone();
    let Some(Value::Str(old)) = doc.get(&key) else { return None };
    let new: Vec<u8> = match rng.random_range(0..5) {
        0 => Vec::new(),
        1 => old[..old.len() / 2].to_vec(),
        2 => [old.as_slice(), b"_fuzz"].concat(),
        3 => [old.as_slice(), &[0xff, 0xc3, 0x28]].concat(),
        _ => pick(rng, NAMES)?.as_bytes().to_vec(),
    };
    let new = Value::Str(new);
    let description = format!("{key}: {} -> {}", show(&Value::Str(old.clone())), show(&new));
    Some(edited(doc, description, |d| d.set(&key, new)))
}

/// A value stored as another type (e.g. a u32 as a string, a float as a u32, a
/// scalar as a one-item array).
pub(super) fn swap_type(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    // Huge arrays (the vocabulary) are left to the array mutators: converting them
    // would only test that a missing vocabulary is refused.
    let small = |v: &Value| v.as_array().is_none_or(|items| items.len() <= 64);
    let key = pick(rng, &keys_where(doc, small))?.clone();
    let old = doc.get(&key)?;
    let ty = *pick(rng, &ALL_TYPES)?;
    if ty == old.value_type() {
        return None;
    }
    let new = convert(old, ty);
    let description = format!("{key}: {} -> {}", typed(old), typed(&new));
    Some(edited(doc, description, |d| d.set(&key, new)))
}

/// A key removed.
pub(super) fn remove_key(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let key = pick(rng, &keys_where(doc, |_| true))?.clone();
    let description = format!("{key} removed");
    Some(edited(doc, description, |d| d.metadata.retain(|(k, _)| *k != key)))
}

/// A key written twice (the second time with its value converted to another type
/// half the time), which a GGUF reader must refuse or resolve.
pub(super) fn duplicate_key(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let (key, value) = pick(rng, &doc.metadata)?.clone();
    let copy = if rng.random_bool(0.5) { value.clone() } else { convert(&value, *pick(rng, &ALL_TYPES)?) };
    let description = format!("{key} written twice, again as {}", typed(&copy));
    Some(edited(doc, description, |d| d.metadata.push((key, copy))))
}

/// Optional keys the loaders read for the fixtures' architectures and projectors;
/// `{arch}` is the file's architecture.
const OPTIONAL_MODEL_KEYS: &[&str] = &[
    "{arch}.expert_count",
    "{arch}.expert_used_count",
    "{arch}.attention.key_length",
    "{arch}.attention.value_length",
    "{arch}.attention.sliding_window",
    "{arch}.attention.sliding_window_pattern",
    "{arch}.attention.head_count",
    "{arch}.attention.head_count_kv",
    "{arch}.feed_forward_length",
    "{arch}.rope.dimension_count",
    "{arch}.rope.dimension_sections",
    "{arch}.rope.scaling.type",
    "{arch}.rope.scaling.factor",
    "{arch}.rope.freq_base_swa",
    "{arch}.vocab_size",
    "{arch}.context_length",
    "{arch}.embedding_length",
    "{arch}.block_count",
    "{arch}.attn_logit_softcapping",
    "{arch}.final_logit_softcapping",
    "{arch}.attention.layer_norm_rms_epsilon",
    "{arch}.leading_dense_block_count",
    "{arch}.n_deepstack_layers",
    "tokenizer.ggml.eot_token_id",
    "tokenizer.ggml.eom_token_id",
    "tokenizer.ggml.seperator_token_id",
    "tokenizer.ggml.cls_token_id",
    "tokenizer.ggml.mask_token_id",
    "tokenizer.ggml.add_sep_token",
    "tokenizer.ggml.token_type_count",
    "tokenizer.ggml.suppress_tokens",
];

const OPTIONAL_MMPROJ_KEYS: &[&str] = &[
    "clip.projector_type",
    "clip.vision.projector_type",
    "clip.has_vision_encoder",
    "clip.has_audio_encoder",
    "clip.use_gelu",
    "clip.use_silu",
    "clip.vision.image_size",
    "clip.vision.patch_size",
    "clip.vision.image_grid_pinpoints",
    "clip.vision.spatial_merge_size",
    "clip.vision.projector.scale_factor",
    "clip.vision.n_wa_pattern",
    "clip.vision.wa_layer_indexes",
    "clip.vision.window_size",
    "clip.vision.feature_layer",
    "clip.vision.image_min_pixels",
    "clip.vision.image_max_pixels",
    "clip.vision.preproc_image_size",
    "clip.vision.preproc_min_tiles",
    "clip.vision.preproc_max_tiles",
    "clip.vision.attention.head_count_kv",
    "clip.vision.attention.head_dim",
    "clip.vision.mm_patch_merge_type",
    "clip.vision.image_mean",
    "clip.vision.image_std",
    "clip.minicpmv_version",
    "clip.minicpmv_query_num",
];

const OPTIONAL_LORA_KEYS: &[&str] = &[
    "general.type",
    "general.architecture",
    "adapter.type",
    "adapter.lora.alpha",
    "adapter.lora.task_name",
    "adapter.lora.prompt_prefix",
    "adapter.alora.invocation_tokens",
];

/// A key the loader reads set (or added) with a value drawn for stress: 0, 1, huge,
/// -1, NaN, an empty or oversized array, or a string.
pub(super) fn add_key(doc: &Document, role: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let keys = match role {
        Role::Model => OPTIONAL_MODEL_KEYS,
        Role::Mmproj => OPTIONAL_MMPROJ_KEYS,
        Role::Lora => OPTIONAL_LORA_KEYS,
    };
    let key = pick(rng, keys)?.replace("{arch}", &doc.architecture());
    let n_layer = doc.metadata.iter().find(|(k, _)| k.ends_with(".block_count")).and_then(|(_, v)| int_of(v));
    let n_layer = n_layer.unwrap_or(2).clamp(0, 64) as usize;
    let value = match rng.random_range(0..9) {
        0 => Value::U32(0),
        1 => Value::U32(1),
        2 => Value::U32(*pick(rng, &[3, 7, 64, 1000, 65536])?),
        3 => Value::U32(u32::MAX),
        4 => Value::I32(-1),
        5 => Value::F32(*pick(rng, &[f32::NAN, 0.0, -1.0, f32::INFINITY])?),
        // Per-layer arrays one short, one long, or empty.
        6 => {
            let len = *pick(rng, &[0, n_layer.saturating_sub(1), n_layer + 1, n_layer])?;
            let item = *pick(rng, &[0u32, 1, 2, 7, u32::MAX])?;
            Value::Array(ValueType::U32, vec![Value::U32(item); len])
        }
        7 => Value::Array(ValueType::I32, (0..rng.random_range(1..9)).map(|i| Value::I32(i * 3 - 4)).collect()),
        _ => Value::str(pick(rng, &["", "none", "mlp", "yarn", "gelu", "0"])?),
    };
    let was = doc.get(&key).map_or("absent".to_string(), typed);
    let description = format!("{key}: {was} -> {}", typed(&value));
    Some(edited(doc, description, |d| d.set(&key, value)))
}

/// `general.alignment` set to a value that is 0, not a power of two, or absurd
/// (the data stays laid out at the default alignment), or to a sane power of two
/// that the data then follows.
pub(super) fn alignment(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let value = *pick(rng, &[0u32, 1, 3, 8, 24, 64, 1 << 30, u32::MAX])?;
    let was = doc.get("general.alignment").map_or("absent".to_string(), typed);
    let description = format!("general.alignment: {was} -> U32 {value}");
    Some(edited(doc, description, |d| d.set("general.alignment", Value::U32(value))))
}
