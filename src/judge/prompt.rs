//! The judge prompt: template text, chat formatting and tokenization.
//!
//! The system and user texts are put into the model's chat format by
//! [`ChatFormat`](crate::engine::chat::ChatFormat): the template file's `chat_template`, else
//! the GGUF's own Jinja template (rendered with minijinja, llama.cpp's built-in
//! detection as the fallback), else a llama.cpp built-in chosen by the vocabulary's
//! special tokens. A format without a system role gets the system text at the start of
//! the user message.
//!
//! The image goes at the very start of the user message, with no text of ours around
//! it: mtmd adds each family's own framing tokens around the image's embeddings.
//!
//! User-supplied text (question and answers) is tokenized with special-token parsing
//! off, so an answer containing `<|im_end|>` or similar cannot forge chat turns. Only
//! the template's own text is parsed for special tokens. Exactly one BOS starts the
//! prompt: a template that writes `{{ bos_token }}` for a vocabulary that adds BOS
//! itself has its copy dropped.

use std::path::Path;

use llama_cpp_2::token::LlamaToken;
use serde::{Deserialize, Serialize};

use crate::engine::chat::{without_added_bos, ChatFormat};
use crate::engine::Model;
use crate::{Error, Result};

/// The default system line: an impartial, image-grounded comparison.
pub const DEFAULT_SYSTEM: &str = "You are an impartial judge. You compare two answers to a question about an image. \
Judge only by what the image shows and what the question asks: prefer the answer that is correct, specific and complete. \
Ignore answer length, style and the order in which the answers appear.";

/// The default user turn. `{question}`, `{answer_a}` and `{answer_b}` are filled in; the
/// image (when there is one) is placed before the question.
pub const DEFAULT_USER: &str = "Question: {question}\n\n[Answer A]\n{answer_a}\n[End of Answer A]\n\n[Answer B]\n{answer_b}\n[End of Answer B]\n\n\
Explain briefly which answer is better. Then give your verdict on the last line: [[A]] if Answer A is better, [[B]] if Answer B is better.";

/// A judge prompt template, loadable from a JSON file
/// `{"system": "...", "user": "...", "chat_template": "chatml"}`.
///
/// `chat_template` is optional and overrides the GGUF's own chat template: Jinja
/// source in Hugging Face's chat-template format when it contains `{%` or `{{`
/// (rendered with `messages`, `add_generation_prompt`, `bos_token`, `eos_token`,
/// `raise_exception` and `strftime_now`), otherwise the name of a llama.cpp built-in
/// template (`chatml`, `gemma`, `llama3`, ...). Without it the GGUF's
/// `tokenizer.chat_template` is used, and a GGUF without one gets a built-in matching
/// its vocabulary's special tokens. An optional `trace` holds the patterns of the
/// reasoning that the training loop's `--traces synthetic` writes for this prompt.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub system: String,
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_template: Option<String>,
    /// The training loop's patterns for synthetic judge traces (`vlmjudge filter
    /// --traces synthetic`, read by `synth::TracePattern`): judging never reads them,
    /// so the runtime keeps them as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<serde_json::Value>,
}

impl Default for Template {
    fn default() -> Self {
        Template { system: DEFAULT_SYSTEM.into(), user: DEFAULT_USER.into(), chat_template: None, trace: None }
    }
}

const PLACEHOLDERS: [&str; 3] = ["{question}", "{answer_a}", "{answer_b}"];
// Private-use code points stand in for user text while the chat template is applied;
// the rendered prompt is then split on them.
const MARKERS: [char; 3] = ['\u{F0001}', '\u{F0002}', '\u{F0003}'];
/// Where the image goes: the start of the user message.
const IMAGE_MARKER: char = '\u{F0004}';

impl Template {
    /// The user text with the question and answers filled in, as the chat template
    /// receives it (the judge itself tokenizes the user values separately; this is for
    /// writing SFT examples of the judge's own prompt).
    pub fn fill_user(&self, question: &str, answer_a: &str, answer_b: &str) -> String {
        // Placeholders are filled through markers so a value containing "{answer_b}"
        // is never filled again.
        let mut text = self.user.clone();
        for (p, m) in PLACEHOLDERS.iter().zip(MARKERS) {
            text = text.replace(p, &m.to_string());
        }
        for (m, value) in MARKERS.iter().zip([question, answer_a, answer_b]) {
            text = text.replace(*m, value);
        }
        text
    }

    pub fn from_file(path: &Path) -> Result<Template> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let template: Template =
            serde_json::from_str(&text).map_err(|e| Error::Template(format!("{}: {e}", path.display())))?;
        template.validate()?;
        Ok(template)
    }

    pub fn validate(&self) -> Result<()> {
        for p in PLACEHOLDERS {
            let n = self.user.matches(p).count();
            if n != 1 {
                return Err(Error::Template(format!("the user text must contain {p} exactly once (found {n})")));
            }
        }
        if PLACEHOLDERS.iter().any(|p| self.system.contains(p)) {
            return Err(Error::Template("placeholders belong in the user text, not the system text".into()));
        }
        Ok(())
    }
}

/// One piece of a rendered prompt: template text (may hold special tokens) or user
/// value `value` (0 question, 1 first answer, 2 second answer), with a space in front
/// when the template had one right before it.
#[derive(Debug)]
enum Piece<'a> {
    Template(&'a str),
    User { value: usize, space: bool },
}

/// A pair's user texts (question, response_a, response_b), each tokenized at most once
/// however many presentation orders show it: an answer's tokens do not depend on where
/// it is shown, except for a space the template may put before it.
pub(crate) struct UserTexts<'a> {
    texts: [&'a str; 3],
    /// Tokens of (text index, with a leading space).
    tokenized: Vec<((usize, bool), Vec<LlamaToken>)>,
}

impl<'a> UserTexts<'a> {
    pub(crate) fn new(question: &'a str, response_a: &'a str, response_b: &'a str) -> Self {
        UserTexts { texts: [question, response_a, response_b], tokenized: Vec::new() }
    }

    fn tokens(&mut self, model: &Model, text: usize, space: bool) -> &[LlamaToken] {
        let at = match self.tokenized.iter().position(|(key, _)| *key == (text, space)) {
            Some(at) => at,
            None => {
                let bytes = if space { format!(" {}", self.texts[text]) } else { self.texts[text].to_string() };
                // Special-token parsing off: user text cannot forge chat turns.
                let tokens = model.llama.vocab().tokenize(bytes.as_bytes(), false, false);
                self.tokenized.push(((text, space), tokens));
                self.tokenized.len() - 1
            }
        };
        &self.tokenized[at].1
    }
}

/// Which user text each placeholder shows in a presentation order: the question, then
/// the answer shown first and the one shown second.
pub(crate) const AB: [usize; 3] = [0, 1, 2];
pub(crate) const BA: [usize; 3] = [0, 2, 1];

/// A prompt's tokens on either side of the image (all in `after_image` when the pair
/// has none).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PromptTokens {
    pub before_image: Vec<LlamaToken>,
    pub after_image: Vec<LlamaToken>,
}

/// Renders and tokenizes judge prompts for one model.
pub(crate) struct PromptBuilder {
    /// The chat-formatted prompt with markers in place of the user text and the image.
    with_image: String,
    /// The same without the image marker, for text-only pairs.
    text_only: String,
    add_bos: bool,
    /// The most input bytes one token stands for, when the tokenizer bounds it.
    max_token_bytes: Option<usize>,
}

impl PromptBuilder {
    pub(crate) fn new(model: &Model, template: &Template) -> Result<Self> {
        template.validate()?;
        let format = ChatFormat::for_model(model, template.chat_template.as_deref())?;
        let mut user = template.user.clone();
        for (p, m) in PLACEHOLDERS.iter().zip(MARKERS) {
            user = user.replace(p, &m.to_string());
        }
        // The text-only prompt is rendered on its own rather than cut out of the image
        // one, so a template that looks at the content (trims it, for one) sees the
        // text a text pair really has.
        let with_image = format.render(model, &template.system, &format!("{IMAGE_MARKER}{user}"))?.text;
        let text_only = format.render(model, &template.system, &user)?.text;
        for (rendered, image) in [(&with_image, 1), (&text_only, 0)] {
            if MARKERS.iter().any(|m| rendered.matches(*m).count() != 1)
                || rendered.matches(IMAGE_MARKER).count() != image
            {
                return Err(Error::Template("the chat template dropped or repeated the user text".into()));
            }
        }
        Ok(PromptBuilder {
            with_image: without_added_bos(model, with_image),
            text_only: without_added_bos(model, text_only),
            add_bos: model.llama.vocab().should_add_bos(),
            max_token_bytes: model.max_token_bytes(),
        })
    }

    /// The most input bytes one token of the model stands for, when its tokenizer
    /// bounds it: a text of n bytes is then at least n / this many tokens.
    pub(crate) fn max_token_bytes(&self) -> Option<usize> {
        self.max_token_bytes
    }

    /// The tokens every judge prompt of this builder starts with, image or not: the
    /// BOS and the template text before the first user value or image (the system turn,
    /// mostly). Pair texts are tokenized apart from template text, so no pair can change
    /// how these tokens come out.
    pub(crate) fn head(&self, model: &Model) -> Vec<LlamaToken> {
        let vocab = model.llama.vocab();
        // Tokenized as `tokens` does: the image prompt's head as it is, the text prompt's
        // first template piece without a space that goes with the user text after it.
        let image = match self.with_image.split_once(IMAGE_MARKER) {
            Some((head, _)) => vocab.tokenize(head.as_bytes(), false, true),
            None => Vec::new(),
        };
        let at = MARKERS.iter().filter_map(|m| self.text_only.find(*m)).min().unwrap_or(0);
        let piece = &self.text_only[..at];
        let text = vocab.tokenize(piece.strip_suffix(' ').unwrap_or(piece).as_bytes(), false, true);
        let common = text.iter().zip(&image).take_while(|(a, b)| a == b).count();
        let mut head = Vec::new();
        if self.add_bos {
            head.push(vocab.bos());
        }
        head.extend_from_slice(&text[..common]);
        head
    }

    /// Tokens of the prompt for one presentation order: `shown` says which of `texts`
    /// each placeholder shows ([`AB`] or [`BA`]).
    pub(crate) fn tokens(
        &self,
        model: &Model,
        texts: &mut UserTexts<'_>,
        shown: [usize; 3],
        with_image: bool,
    ) -> PromptTokens {
        let vocab = model.llama.vocab();
        let mut before_image = Vec::new();
        if self.add_bos {
            before_image.push(vocab.bos());
        }
        let rendered = if with_image {
            let (head, tail) = self.with_image.split_once(IMAGE_MARKER).expect("checked in new");
            before_image.extend(vocab.tokenize(head.as_bytes(), false, true));
            tail
        } else {
            self.text_only.as_str()
        };
        let mut after_image = self.tokenize_filled(model, rendered, texts, shown);
        if !with_image {
            before_image.append(&mut after_image);
            std::mem::swap(&mut before_image, &mut after_image);
        }
        PromptTokens { before_image, after_image }
    }

    /// Tokenizes rendered template text with the user values put in for their markers.
    fn tokenize_filled(
        &self,
        model: &Model,
        rendered: &str,
        texts: &mut UserTexts<'_>,
        shown: [usize; 3],
    ) -> Vec<LlamaToken> {
        let mut pieces = Vec::new();
        let mut rest = rendered;
        loop {
            let next = MARKERS.iter().enumerate().filter_map(|(i, m)| rest.find(*m).map(|at| (at, i))).min();
            let Some((at, which)) = next else {
                pieces.push(Piece::Template(rest));
                break;
            };
            let (mut before, after) = rest.split_at(at);
            // Keep a space that precedes user text with the user text, so "Question: what"
            // tokenizes as it would in running text (" what" is one token in most BPEs).
            let space = match before.strip_suffix(' ') {
                Some(stripped) => {
                    before = stripped;
                    true
                }
                None => false,
            };
            pieces.push(Piece::Template(before));
            pieces.push(Piece::User { value: shown[which], space });
            rest = &after[MARKERS[which].len_utf8()..];
        }
        let vocab = model.llama.vocab();
        let mut tokens = Vec::new();
        for piece in &pieces {
            match piece {
                Piece::Template(t) if !t.is_empty() => tokens.extend(vocab.tokenize(t.as_bytes(), false, true)),
                Piece::User { value, space } => tokens.extend_from_slice(texts.tokens(model, *value, *space)),
                Piece::Template(_) => {}
            }
        }
        tokens
    }
}

/// Token ids that carry the verdict: the prefix `[[` and the letters after it.
#[derive(Debug, Clone)]
pub(crate) struct VerdictTokens {
    /// Tokens of `[[` as it appears before the letter (may be empty if a BPE merges `[[A`).
    pub prefix: Vec<LlamaToken>,
    pub a: LlamaToken,
    pub b: LlamaToken,
    /// A line break and the prefix: appended when reasoning ends without a verdict.
    pub forced_tail: Vec<LlamaToken>,
}

impl VerdictTokens {
    pub(crate) fn find(model: &Model) -> Result<Self> {
        let vocab = model.llama.vocab();
        let ta = vocab.tokenize(b"[[A", false, false);
        let tb = vocab.tokenize(b"[[B", false, false);
        let common = ta.iter().zip(&tb).take_while(|(x, y)| x == y).count();
        if ta.len() != common + 1 || tb.len() != common + 1 {
            return Err(Error::Template(format!(
                "the tokenizer splits \"[[A\" and \"[[B\" differently ({ta:?} vs {tb:?}); the verdict cannot be read from one token"
            )));
        }
        let mut forced_tail = vocab.tokenize(b"\n", false, false);
        forced_tail.extend_from_slice(&ta[..common]);
        Ok(VerdictTokens { forced_tail, prefix: ta[..common].to_vec(), a: ta[common], b: tb[common] })
    }

    /// p(A) from the logits at the verdict position: softmax over the two letters only.
    pub(crate) fn p_first(&self, logits: &[f32]) -> f64 {
        let la = f64::from(logits[self.a.0 as usize]);
        let lb = f64::from(logits[self.b.0 as usize]);
        1.0 / (1.0 + (lb - la).exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ModelParams;

    #[test]
    fn both_orders_from_one_tokenization_match_each_order_tokenized_alone() {
        let model = Model::load(crate::demo_model_path(), None, &ModelParams::default()).expect("the demo model loads");
        // A space before the question and the first answer but not the second: the
        // first answer's tokens differ by where it is shown.
        let template = Template {
            user: "Question: {question} First: {answer_a}\nSecond:\n{answer_b}\nWhich?".into(),
            ..Template::default()
        };
        let builder = PromptBuilder::new(&model, &template).unwrap();
        let (q, a, b) = ("How many legs?", "Four legs.", "Eight legs, plainly.");
        let mut shared = UserTexts::new(q, a, b);
        let ab = builder.tokens(&model, &mut shared, AB, false);
        let ba = builder.tokens(&model, &mut shared, BA, false);
        // Each order alone, with the answers passed in the order shown.
        let ab_alone = builder.tokens(&model, &mut UserTexts::new(q, a, b), AB, false);
        let ba_alone = builder.tokens(&model, &mut UserTexts::new(q, b, a), AB, false);
        assert_eq!(ab, ab_alone);
        assert_eq!(ba, ba_alone);
        assert_ne!(ab.after_image, ba.after_image);
        // With a leading space, " Four" is one token: the value was not tokenized bare.
        let spaced = model.tokenize(" Four legs.", false);
        let window = |tokens: &[LlamaToken]| tokens.windows(spaced.len()).any(|w| w == spaced.as_slice());
        assert!(window(&ab.after_image) && !window(&ba.after_image));
    }
}
