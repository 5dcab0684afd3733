//! Mutations of a language model's vocabulary: token texts and types, special token
//! ids, BPE merges, the tokenizer model and scores.

use rand::Rng;

use super::values::{int_as, int_of, show, typed};
use super::{edited, pick, Edit, FuzzRng};
use crate::fuzz::document::Document;
use crate::fuzz::Role;
use vlmjudge::gguf::{Value, ValueType};

const TOKENS: &str = "tokenizer.ggml.tokens";
const TOKEN_TYPES: &str = "tokenizer.ggml.token_type";
const MERGES: &str = "tokenizer.ggml.merges";

/// The keys that name special tokens by id.
const SPECIAL_ID_KEYS: &[&str] = &[
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.eot_token_id",
    "tokenizer.ggml.eom_token_id",
    "tokenizer.ggml.unknown_token_id",
    "tokenizer.ggml.seperator_token_id",
    "tokenizer.ggml.padding_token_id",
    "tokenizer.ggml.cls_token_id",
    "tokenizer.ggml.mask_token_id",
    "tokenizer.ggml.fim_pre_token_id",
    "tokenizer.ggml.fim_suf_token_id",
    "tokenizer.ggml.fim_mid_token_id",
    "tokenizer.ggml.fim_pad_token_id",
    "tokenizer.ggml.fim_rep_token_id",
    "tokenizer.ggml.fim_sep_token_id",
];

fn n_vocab(doc: &Document) -> Option<usize> {
    doc.get(TOKENS).and_then(Value::as_array).map(<[Value]>::len).filter(|&n| n > 0)
}

/// A token id worth mutating: a special token's, one of the first or last few (the
/// control and image tokens the fixtures add), or any.
fn interesting_id(doc: &Document, rng: &mut FuzzRng, n: usize) -> usize {
    let specials: Vec<usize> = SPECIAL_ID_KEYS
        .iter()
        .filter_map(|k| doc.get(k).and_then(int_of))
        .filter_map(|id| usize::try_from(id).ok())
        .filter(|&id| id < n)
        .collect();
    match rng.random_range(0..4) {
        0 if !specials.is_empty() => specials[rng.random_range(0..specials.len())],
        1 => rng.random_range(0..n.min(4)),
        2 => n - 1 - rng.random_range(0..n.min(12)),
        _ => rng.random_range(0..n),
    }
}

fn set_item(doc: &mut Document, key: &str, i: usize, value: Value) {
    if let Some(Value::Array(_, items)) = doc.get_mut(key) {
        items[i] = value;
    }
}

/// A token's text replaced by another token's, so two ids share one text.
pub(super) fn duplicate_token(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let n = n_vocab(doc)?;
    let (to, from) = (interesting_id(doc, rng, n), interesting_id(doc, rng, n));
    let tokens = doc.get(TOKENS)?.as_array()?;
    if to == from || tokens[to] == tokens[from] {
        return None;
    }
    let text = tokens[from].clone();
    let description = format!("token {to} {} -> the text of token {from}, {}", show(&tokens[to]), show(&text));
    Some(edited(doc, description, |d| set_item(d, TOKENS, to, text)))
}

/// A token's text emptied, made invalid UTF-8, given a NUL or made very long.
pub(super) fn token_text(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let n = n_vocab(doc)?;
    let id = interesting_id(doc, rng, n);
    let text: Vec<u8> = match rng.random_range(0..5) {
        0 => Vec::new(),
        1 => vec![0xff, 0xfe, 0x80],
        2 => b"<0xZZ>".to_vec(),
        3 => b"a\0b".to_vec(),
        _ => vec![b'x'; 4096],
    };
    let old = &doc.get(TOKENS)?.as_array()?[id];
    let new = Value::Str(text);
    let description = format!("token {id} {} -> {}", show(old), show(&new));
    Some(edited(doc, description, |d| set_item(d, TOKENS, id, new)))
}

/// A token's type set outside the enum, or to "byte" or "unused" on an ordinary text.
pub(super) fn token_type(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let n = n_vocab(doc)?;
    let types = doc.get(TOKEN_TYPES)?.as_array()?;
    if types.len() != n {
        return None;
    }
    let id = interesting_id(doc, rng, n);
    let old = &types[id];
    let new = int_as(old.value_type(), *pick(rng, &[-1, 0, 5, 6, 7, 99, i32::MAX as i128])?)?;
    let description = format!("token {id} type {} -> {}", show(old), show(&new));
    Some(edited(doc, description, |d| set_item(d, TOKEN_TYPES, id, new)))
}

/// A special token id set past the vocabulary, to -1, or to its last id; sometimes
/// for a special token the file did not name.
pub(super) fn special_id(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let n = n_vocab(doc)? as i128;
    let key = *pick(rng, SPECIAL_ID_KEYS)?;
    let id = *pick(rng, &[n, n + 1, n - 1, -1, i32::MAX as i128, u32::MAX as i128, 1 << 20])?;
    let ty = doc.get(key).map_or(ValueType::U32, Value::value_type);
    let new = int_as(ty, id).unwrap_or(Value::U32(id as u32));
    let was = doc.get(key).map_or("absent".to_string(), typed);
    let description = format!("{key}: {was} -> {} (n_vocab {n})", typed(&new));
    Some(edited(doc, description, |d| d.set(key, new)))
}

/// A BPE merge that has no space, is empty, has three parts, or names tokens that
/// are not in the vocabulary.
pub(super) fn merge_entry(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let merges = doc.get(MERGES)?.as_array()?;
    if merges.is_empty() {
        return None;
    }
    let any = rng.random_range(0..merges.len());
    let i = *pick(rng, &[0, merges.len() - 1, any])?;
    let text: &[u8] = pick(rng, &[&b"nospace"[..], b"", b" ", b"a b c", b"\xff\xfe \xfd", b"zzqq_not xyqq_tokens"])?;
    let new = Value::Str(text.to_vec());
    let description = format!("merge {i} {} -> {}", show(&merges[i]), show(&new));
    Some(edited(doc, description, |d| set_item(d, MERGES, i, new)))
}

/// The tokenizer model or pre-tokenizer switched to another (or an unknown) one.
pub(super) fn tokenizer_kind(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    doc.get(TOKENS)?;
    let (key, names): (&str, &[&str]) = if rng.random_bool(0.6) {
        ("tokenizer.ggml.model", &["llama", "bert", "t5", "rwkv", "ugm", "none", "no_vocab", "plamo2", "", "fuzz"])
    } else {
        ("tokenizer.ggml.pre", &["default", "llama3", "qwen2", "gpt-2", "tekken", "", "fuzz"])
    };
    let new = Value::str(pick(rng, names)?);
    let was = doc.get(key).map_or("absent".to_string(), show);
    let description = format!("{key}: {was} -> {}", show(&new));
    Some(edited(doc, description, |d| d.set(key, new)))
}

/// Token scores added (the fixtures have none) with a wrong length or NaNs.
pub(super) fn scores(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let n = n_vocab(doc)?;
    let (len, value) = *pick(rng, &[(n - 1, 0.0f32), (n + 1, 0.0), (0, 0.0), (n, f32::NAN), (n, f32::NEG_INFINITY)])?;
    let description = format!("tokenizer.ggml.scores: {len} scores of {value} for {n} tokens");
    Some(edited(doc, description, |d| {
        d.set("tokenizer.ggml.scores", Value::Array(ValueType::F32, vec![Value::F32(value); len]))
    }))
}
