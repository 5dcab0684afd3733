//! The tokenizer tables, as `llama_vocab::impl::load` (src/llama-vocab.cpp) reads them.

use std::borrow::Cow;
use std::collections::HashSet;

use super::keys::{Check, Meta};
use crate::gguf::{GgufFile, Value, ValueType};

/// The tokenizer models vlmjudge runs: SentencePiece (`llama`: Llama, Gemma) and
/// byte-level BPE (`gpt2`: SmolLM2, Qwen). They are the ones its architectures ship
/// with; a model without a vocabulary (`no_vocab`) would abort in every token function
/// (`GGML_ASSERT(type != LLAMA_VOCAB_TYPE_NONE)`).
const SUPPORTED_TOKENIZERS: [&str; 2] = ["llama", "gpt2"];

/// The special tokens vlmjudge builds prompts and stops generation with (BOS, EOS and
/// the end-of-generation set); see [`special_ids`].
const USED_SPECIAL_ID_KEYS: [&str; 4] = [
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.eot_token_id",
    "tokenizer.ggml.eom_token_id",
];

/// Checks the vocabulary of the language model in `file`.
pub(super) fn check(file: &GgufFile) -> Check {
    let meta = Meta(file);
    let model = tokenizer_model(&meta)?;
    let tokens = token_texts(&meta)?;
    unique_texts(tokens)?;
    if model == "llama" {
        byte_fallback(tokens)?;
    }
    per_token_table(&meta, "tokenizer.ggml.scores", &[ValueType::F32, ValueType::I32], tokens.len())?;
    per_token_table(&meta, "tokenizer.ggml.token_type", &[ValueType::I32], tokens.len())?;
    if model == "gpt2" {
        merges(&meta)?;
    }
    special_ids(&meta, tokens.len())?;
    added_specials_exist(&meta, &model, tokens.len())
}

fn tokenizer_model(meta: &Meta) -> Result<String, String> {
    let model = meta.string("tokenizer.ggml.model")?.ok_or("it has no tokenizer (tokenizer.ggml.model is missing)")?;
    if SUPPORTED_TOKENIZERS.contains(&model.as_str()) {
        Ok(model)
    } else {
        Err(format!(
            "tokenizer.ggml.model {model:?} is not supported; vlmjudge runs {} vocabularies",
            SUPPORTED_TOKENIZERS.join(", ")
        ))
    }
}

fn token_texts<'a>(meta: &Meta<'a>) -> Result<&'a [Value], String> {
    let tokens = meta
        .array("tokenizer.ggml.tokens", &[ValueType::Str])?
        .ok_or("it has no vocabulary (tokenizer.ggml.tokens is missing)")?;
    if tokens.is_empty() {
        return Err("tokenizer.ggml.tokens is empty".into());
    }
    if tokens.len() > i32::MAX as usize {
        return Err(format!("tokenizer.ggml.tokens has {} tokens, more than token ids can hold", tokens.len()));
    }
    Ok(tokens)
}

/// The loader maps each token's text to its id and asserts that the map ends up with
/// as many entries as there are tokens, so two tokens with the same text abort the
/// process. Texts are compared as llama.cpp stores them (see [`stored_text`]).
fn unique_texts(tokens: &[Value]) -> Check {
    let mut seen: HashSet<Cow<'_, [u8]>> = HashSet::with_capacity(tokens.len());
    for (id, token) in tokens.iter().enumerate() {
        let text = stored_text(id, token);
        if seen.contains(&text) {
            let first = tokens.iter().enumerate().position(|(i, t)| stored_text(i, t) == text).unwrap_or(id);
            return Err(format!(
                "tokenizer.ggml.tokens has the text {:?} at ids {first} and {id}; llama.cpp needs every token text \
                 to be unique",
                String::from_utf8_lossy(&text)
            ));
        }
        seen.insert(text);
    }
    Ok(())
}

/// A token's text as llama.cpp keys it: read as a C string (`gguf_get_arr_str`), so cut
/// at the first NUL byte, and `[EMPTY_<id>]` when that leaves nothing.
fn stored_text(id: usize, token: &Value) -> Cow<'_, [u8]> {
    let bytes = match token {
        Value::Str(bytes) => bytes.as_slice(),
        _ => &[],
    };
    let text = bytes.split(|&b| b == 0).next().unwrap_or(&[]);
    if text.is_empty() {
        Cow::Owned(format!("[EMPTY_{id}]").into_bytes())
    } else {
        Cow::Borrowed(text)
    }
}

/// SentencePiece spells text it has no token for byte by byte, with the tokens
/// `<0x00>` to `<0xFF>` (or the raw byte as a one-byte token). llama.cpp looks them up
/// with `token_to_id.at` (`llama_vocab::byte_to_token`), which throws when one is
/// missing, from inside `llama_tokenize`, where nothing catches it: the exception
/// reaches Rust, which cannot catch it, and the process aborts.
fn byte_fallback(tokens: &[Value]) -> Check {
    let texts: HashSet<Cow<'_, [u8]>> = tokens.iter().enumerate().map(|(id, t)| stored_text(id, t)).collect();
    for byte in 0..=255u8 {
        let hex = format!("<0x{byte:02X}>");
        if !texts.contains(hex.as_bytes()) && (byte == 0 || !texts.contains(&[byte][..])) {
            return Err(format!(
                "tokenizer.ggml.tokens has no byte token {hex}, which a SentencePiece (tokenizer.ggml.model \"llama\") \
                 vocabulary needs to spell any text"
            ));
        }
    }
    Ok(())
}

/// Scores and token types: one per token. llama.cpp refuses shorter tables and ignores
/// extra entries; a table of another length is a sign of a damaged vocabulary.
fn per_token_table(meta: &Meta, key: &str, item_types: &[ValueType], n_tokens: usize) -> Check {
    match meta.array(key, item_types)? {
        Some(items) if items.len() != n_tokens => Err(format!(
            "{key} has {} entries but tokenizer.ggml.tokens has {n_tokens}; one per token is expected",
            items.len()
        )),
        _ => Ok(()),
    }
}

/// BPE merges, each `left right` (llama.cpp splits at the first space after the first
/// byte). A merge without that space is silently read as an empty pair.
fn merges(meta: &Meta) -> Check {
    let key = "tokenizer.ggml.merges";
    let items = meta.array(key, &[ValueType::Str])?.ok_or_else(|| super::keys::missing(key))?;
    for (i, item) in items.iter().enumerate() {
        let Value::Str(bytes) = item else { unreachable!("a STRING array") };
        let split = bytes.iter().skip(1).position(|&b| b == b' ').map(|p| p + 1);
        if !matches!(split, Some(p) if p + 1 < bytes.len()) {
            return Err(format!(
                "{key} entry {i} ({:?}) is not two tokens separated by a space",
                String::from_utf8_lossy(bytes)
            ));
        }
    }
    Ok(())
}

/// llama.cpp replaces an out-of-range special token id with a default id, logging a
/// warning only (`bad special token`): a different token, or none. For the tokens
/// vlmjudge uses, the prompt it builds or where generation stops would then not be the
/// model's, so such a vocabulary is refused. Other ids (padding, unknown, separator,
/// mask, fill-in-the-middle) are not used by vlmjudge, and some released fine-tunes
/// point padding one past the vocabulary; llama.cpp's fallback is left to handle them.
fn special_ids(meta: &Meta, n_tokens: usize) -> Check {
    for key in USED_SPECIAL_ID_KEYS {
        if let Some(id) = meta.u32(key)? {
            if id as usize >= n_tokens {
                return Err(format!("{key} is {id} but the vocabulary has only {n_tokens} tokens"));
            }
        }
    }
    Ok(())
}

/// When BOS (or EOS) is added, llama.cpp's tokenizer asserts that the token exists
/// whenever it adds special tokens (`llama_vocab::impl::tokenize`,
/// `llm_tokenizer_bpe_session::append_bos`). Without an id in the file the tokenizer
/// model's default is used (SentencePiece: BOS 1, EOS 2; BPE: 11 for both), and only if
/// the vocabulary has it. BOS is added unless `add_bos_token` is false (SentencePiece
/// and several BPE pre-tokenizers add it by default), EOS only when `add_eos_token` is
/// true.
fn added_specials_exist(meta: &Meta, model: &str, n_tokens: usize) -> Check {
    let defaults = if model == "llama" { (1, 2) } else { (11, 11) };
    for (flag, key, default, added_by_default) in [
        ("tokenizer.ggml.add_bos_token", "tokenizer.ggml.bos_token_id", defaults.0, true),
        ("tokenizer.ggml.add_eos_token", "tokenizer.ggml.eos_token_id", defaults.1, false),
    ] {
        if !meta.bool(flag)?.unwrap_or(added_by_default) {
            continue;
        }
        let id = meta.u32(key)?.unwrap_or(default);
        if id as usize >= n_tokens {
            return Err(format!(
                "the tokenizer adds a token the vocabulary of {n_tokens} tokens lacks ({key} missing, default id \
                 {id}; {flag} is not false)"
            ));
        }
    }
    Ok(())
}
