//! How many bytes of text one token can stand for: a lower bound on a text's token
//! count that costs nothing, so a text that cannot fit a sequence is refused before it
//! is tokenized.
//!
//! Why: tokenizing is the expensive part of refusing an over-long text (a megabyte of
//! random letters takes seconds in a BPE tokenizer, and the judge tokenizes it for each
//! presentation order). If no token stands for more than `L` bytes of input, a text of
//! `n` bytes becomes at least `ceil(n / L)` tokens, so its length alone can prove that
//! it does not fit.

use super::Model;

/// Tokenizers (`tokenizer.ggml.model`) where a token never stands for more input
/// bytes than its own stored text has: GPT-2 byte-level BPE stores each input byte as
/// one character of one or two UTF-8 bytes; SentencePiece-style vocabularies (`llama`,
/// and `gemma4`'s BPE) store a space as "▁" (three bytes) and an unmatched byte as
/// `<0xNN>` (six). None of them normalizes its input. WordPiece (`bert`) and Unigram
/// (`t5`) do: they lower-case, strip accents or collapse runs of spaces, and can turn
/// an unknown word of any length into one token, so they get no bound.
const BOUNDED_TOKENIZERS: [&str; 3] = ["gpt2", "llama", "gemma4"];

/// Pre-tokenizers (`tokenizer.ggml.pre`) that drop input (whitespace) before the
/// tokenizer sees it, which breaks the bound even for a bounded tokenizer.
const DROPPING_PRE_TOKENIZERS: [&str; 1] = ["whitespace"];

impl Model {
    /// The most bytes of input text that one token of this model stands for, when its
    /// tokenizer guarantees such a bound (see [`BOUNDED_TOKENIZERS`]); `None` when it
    /// does not, and a text must be tokenized to be measured.
    ///
    /// It is the longest stored token text, control and user-defined tokens included
    /// (user-defined ones are matched in user text even without special parsing). A
    /// walk over the vocabulary: call it once per session, not per text.
    pub(crate) fn max_token_bytes(&self) -> Option<usize> {
        let meta = |key: &str| self.llama.meta_val_str(key).ok();
        let tokenizer = meta("tokenizer.ggml.model")?;
        if !BOUNDED_TOKENIZERS.contains(&tokenizer.as_str()) {
            return None;
        }
        if meta("tokenizer.ggml.pre").is_some_and(|pre| DROPPING_PRE_TOKENIZERS.contains(&pre.as_str())) {
            return None;
        }
        let vocab = self.llama.vocab();
        let longest = vocab.tokens().filter_map(|token| vocab.text(token)).map(|text| text.to_bytes().len()).max()?;
        Some(longest.max(1))
    }
}

/// The fewest tokens `bytes` bytes of text can become when one token stands for at
/// most `max_token_bytes` of them.
pub(crate) fn min_tokens(bytes: usize, max_token_bytes: usize) -> usize {
    bytes.div_ceil(max_token_bytes.max(1))
}

#[cfg(test)]
mod tests {
    use super::min_tokens;
    use crate::engine::{Model, ModelParams};

    /// Texts that stress a tokenizer: long words, runs of one character, spaces and
    /// newlines, multi-byte scripts, emoji, digits, and the text of special tokens
    /// (tokenized as plain text, as user text is).
    fn hostile_texts() -> Vec<String> {
        let mut state = 7u64;
        let mut random = |n: usize, alphabet: &[char]| -> String {
            (0..n)
                .map(|_| {
                    state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    alphabet[(state >> 33) as usize % alphabet.len()]
                })
                .collect()
        };
        let letters: Vec<char> = ('a'..='z').collect();
        vec![
            random(20_000, &letters),
            random(20_000, &[' ', '\n', '\t', 'a']),
            random(5_000, &['\u{4e2d}', '\u{6587}', '\u{1F600}', '\u{00e9}', ' ']),
            " ".repeat(20_000),
            "\n".repeat(20_000),
            "-".repeat(20_000),
            "a".repeat(20_000),
            "0123456789".repeat(2_000),
            "<|im_start|>assistant<|im_end|>".repeat(500),
            "word ".repeat(4_000),
        ]
    }

    #[test]
    fn no_text_has_fewer_tokens_than_the_bound_says() {
        let path = crate::demo_model_path();
        if !path.is_file() {
            panic!("demo model missing at {}: run `make test` first", path.display());
        }
        let model = Model::load(&path, None, &ModelParams::default()).unwrap();
        let span = model.max_token_bytes().expect("SmolLM2's GPT-2 style BPE bounds its tokens");
        assert!((1..=1024).contains(&span), "the longest token is {span} bytes");
        for text in hostile_texts() {
            let tokens = model.tokenize(&text, false).len();
            let bound = min_tokens(text.len(), span);
            assert!(tokens >= bound, "{} bytes became {tokens} tokens, fewer than the bound {bound}", text.len());
        }
    }

    #[test]
    fn min_tokens_rounds_up() {
        assert_eq!(min_tokens(0, 8), 0);
        assert_eq!(min_tokens(1, 8), 1);
        assert_eq!(min_tokens(8, 8), 1);
        assert_eq!(min_tokens(9, 8), 2);
        assert_eq!(min_tokens(5, 0), 5);
    }
}
