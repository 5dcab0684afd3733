//! Chat prompts for generation: the model's chat template around a system message and
//! a user turn, rendered by the engine that renders the judge's prompt
//! ([`Model::chat_prompt`]), with the image at the very start of the user turn and no
//! text of ours around it (mtmd adds each family's framing tokens around the image).
//!
//! As in the judge, user text is tokenized with special-token parsing off (a question
//! containing `<|im_end|>` cannot forge a turn); only the template's own text is
//! parsed for special tokens. Exactly one BOS leads when the tokenizer adds one.

use llama_cpp_2::token::LlamaToken;

use crate::engine::Model;
use crate::{Error, Result};

// Private-use code points stand in for the user text and the image while the chat
// template is applied; the rendered prompt is then split on them.
const USER_MARKER: char = '\u{F0201}';
const IMAGE_MARKER: char = '\u{F0202}';

/// A prompt's tokens on either side of the image (all in `after_image` without one).
pub(crate) struct ChatTokens {
    pub before_image: Vec<LlamaToken>,
    pub after_image: Vec<LlamaToken>,
}

/// Renders and tokenizes a generation prompt.
pub(crate) fn chat_tokens(model: &Model, system: Option<&str>, user: &str, with_image: bool) -> Result<ChatTokens> {
    let user_turn = if with_image { format!("{IMAGE_MARKER}{USER_MARKER}") } else { USER_MARKER.to_string() };
    let mut messages = Vec::new();
    if let Some(system) = system {
        messages.push(("system", system));
    }
    messages.push(("user", user_turn.as_str()));
    let rendered = model.chat_prompt(&messages, None, true)?;
    let (head, tail) = match rendered.split_once(IMAGE_MARKER) {
        Some((head, tail)) => (Some(head), tail),
        None if !with_image => (None, rendered.as_str()),
        None => return Err(Error::Template("the chat template dropped the image".into())),
    };
    let (before_user, after_user) = tail
        .split_once(USER_MARKER)
        .ok_or_else(|| Error::Template("the chat template dropped the user text".into()))?;
    let mut before_image: Vec<LlamaToken> = model.bos().into_iter().collect();
    let mut after_image = Vec::new();
    if let Some(head) = head {
        before_image.extend(model.tokenize(head, true));
    } else {
        after_image.append(&mut before_image);
    }
    // Keep a space before the user text with the user text, as in running text.
    let (before_user, user) = match before_user.strip_suffix(' ') {
        Some(stripped) => (stripped, format!(" {user}")),
        None => (before_user, user.to_string()),
    };
    after_image.extend(model.tokenize(before_user, true));
    after_image.extend(model.tokenize(&user, false));
    after_image.extend(model.tokenize(after_user, true));
    Ok(ChatTokens { before_image, after_image })
}
