//! Chat formatting: a conversation as the text a model was trained on. One engine for
//! every prompt: the judge's (a system and a user message, ending where the
//! assistant's turn begins), generation prompts, and training examples (rendered with
//! or without the generation prompt), so training sees the text the judge reads.
//!
//! The format comes from, in this order: the template file's `chat_template` (Jinja
//! source when it contains `{%` or `{{`, otherwise the name of a llama.cpp built-in);
//! the GGUF's own `tokenizer.chat_template`; and for a GGUF without one, a llama.cpp
//! built-in picked by the special tokens of the vocabulary.
//!
//! Jinja is rendered with minijinja, set up the way Hugging Face's `transformers`
//! renders chat templates (`trim_blocks`, `lstrip_blocks`, loop controls, Python's
//! string and dict methods, `raise_exception`, `strftime_now`), so any template a
//! checkpoint ships works, not only the ones llama.cpp recognises by keyword. When
//! minijinja cannot parse or render a template, llama.cpp's keyword detection of the
//! same source is the fallback.
//!
//! Families without a system role (Gemma's template raises on one) get a leading
//! system message folded into the start of the first user message, separated by a
//! blank line, as Gemma's own template does with a system message.

use std::collections::BTreeMap;

use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate};
use llama_cpp_2::token::LlamaToken;
use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, ErrorKind, Value};

use crate::engine::Model;
use crate::{Error, Result};

/// How a model's prompts are formatted: the template and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatFormat {
    pub template: ChatTemplate,
    pub origin: FormatOrigin,
}

/// A chat template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatTemplate {
    /// Jinja source, rendered with minijinja; llama.cpp's built-in detection of the
    /// same source is the fallback.
    Jinja(String),
    /// A llama.cpp built-in template by name (`chatml`, `gemma`, ...).
    BuiltIn(String),
}

/// Where a chat format came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatOrigin {
    /// The template file's `chat_template`.
    TemplateFile,
    /// The GGUF's `tokenizer.chat_template`.
    Gguf,
    /// Chosen by the vocabulary's special tokens: the GGUF has no template.
    Vocabulary,
}

/// Which engine rendered a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renderer {
    MiniJinja,
    /// llama.cpp's `llama_chat_apply_template` (its built-in templates).
    LlamaCpp,
}

/// Where the system text ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemPlacement {
    /// The messages went to the template as given: a system message in a system turn
    /// (or wherever the template itself puts one); also when there is none.
    OwnTurn,
    /// The format has no system role: the leading system message's text opens the
    /// first user message, followed by a blank line.
    FoldedIntoUser,
}

/// A rendered prompt and how it was rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedChat {
    /// The conversation's turns, followed by the opening of the assistant's turn when
    /// the generation prompt was asked for.
    pub text: String,
    pub renderer: Renderer,
    pub system: SystemPlacement,
}

/// llama.cpp built-ins that a vocabulary's special tokens identify, most specific
/// first: a GGUF without a template whose vocabulary has all of a row's tokens gets
/// that row's built-in (names as in llama.cpp's `src/llama-chat.cpp`).
const BUILT_IN_BY_TOKENS: &[(&[&str], &str)] = &[
    // SmolVLM has `<|im_start|>` too, but only as BOS: its turns are not ChatML.
    (&["<end_of_utterance>"], "smolvlm"),
    (&["<|im_start|>", "<|im_sep|>"], "phi4"),
    (&["<|im_start|>", "<|im_end|>"], "chatml"),
    (&["<start_of_turn>", "<end_of_turn>"], "gemma"),
    (&["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"], "llama3"),
    (&["<|header_start|>", "<|header_end|>"], "llama4"),
    (&["<|START_OF_TURN_TOKEN|>", "<|USER_TOKEN|>"], "command-r"),
    (&["<|start_of_role|>", "<|end_of_role|>"], "granite"),
    (&["<|user|>", "<|assistant|>", "<|end|>"], "phi3"),
];

impl ChatFormat {
    /// The format for `model`: `chat_template` (a template file's field) when given,
    /// else the GGUF's template, else a built-in chosen by the vocabulary's special
    /// tokens. [`Error::MissingChatTemplate`] when none applies.
    pub fn for_model(model: &Model, chat_template: Option<&str>) -> Result<ChatFormat> {
        let format = |text: String, origin| {
            let template = if is_jinja(&text) { ChatTemplate::Jinja(text) } else { ChatTemplate::BuiltIn(text) };
            ChatFormat { template, origin }
        };
        if let Some(given) = chat_template {
            return Ok(format(given.into(), FormatOrigin::TemplateFile));
        }
        match model.llama.chat_template(None) {
            Ok(own) => {
                let source = own
                    .to_string()
                    .map_err(|_| Error::Template("the GGUF's tokenizer.chat_template is not valid UTF-8".into()))?;
                Ok(format(source, FormatOrigin::Gguf))
            }
            Err(_) => built_in_from_vocab(model)
                .map(|name| ChatFormat {
                    template: ChatTemplate::BuiltIn(name.into()),
                    origin: FormatOrigin::Vocabulary,
                })
                .ok_or(Error::MissingChatTemplate),
        }
    }

    /// Renders a system and a user message (see [`ChatTemplate::render`]).
    pub fn render(&self, model: &Model, system: &str, user: &str) -> Result<RenderedChat> {
        self.template.render(model, system, user)
    }

    /// Renders `(role, content)` messages (see [`ChatTemplate::render_messages`]).
    pub fn render_messages(
        &self,
        model: &Model,
        messages: &[(&str, &str)],
        add_generation_prompt: bool,
    ) -> Result<RenderedChat> {
        self.template.render_messages(model, messages, add_generation_prompt)
    }

    /// One line on how prompts are formatted, for `vlmjudge inspect`: the template,
    /// where it came from, the engine that rendered `rendered`, and where the system
    /// text went.
    pub fn describe(&self, rendered: &RenderedChat) -> String {
        let how = match (&self.template, rendered.renderer) {
            (ChatTemplate::Jinja(_), Renderer::MiniJinja) => "Jinja rendered with minijinja".to_string(),
            (ChatTemplate::Jinja(_), Renderer::LlamaCpp) => {
                "Jinja that minijinja cannot render, applied as the llama.cpp built-in it matches".to_string()
            }
            (ChatTemplate::BuiltIn(name), _) => format!("llama.cpp built-in {name:?}"),
        };
        let origin = match self.origin {
            FormatOrigin::TemplateFile => "the template file's chat_template",
            FormatOrigin::Gguf => "the GGUF's chat template",
            FormatOrigin::Vocabulary => "the GGUF has no chat template; chosen by its special tokens",
        };
        let system = match rendered.system {
            SystemPlacement::OwnTurn => "",
            SystemPlacement::FoldedIntoUser => "; no system role: the system text opens the user message",
        };
        format!("{how} ({origin}){system}")
    }
}

impl ChatTemplate {
    /// Renders the judge's prompt: a system and a user message with the generation
    /// prompt appended.
    pub fn render(&self, model: &Model, system: &str, user: &str) -> Result<RenderedChat> {
        self.render_messages(model, &[("system", system), ("user", user)], true)
    }

    /// Renders `(role, content)` messages, with the opening of the assistant's turn
    /// appended when `add_generation_prompt`. Each engine first gets the messages as
    /// given; when the template fails with them (or leaves a message out) and they
    /// start with a system message, that text is folded into the first user message.
    /// Only a rendering that keeps every message's text is accepted.
    pub fn render_messages(
        &self,
        model: &Model,
        messages: &[(&str, &str)],
        add_generation_prompt: bool,
    ) -> Result<RenderedChat> {
        let chat = Chat { messages, add_generation_prompt };
        match self {
            ChatTemplate::BuiltIn(name) => render_built_in(model, name, &chat)
                .map_err(|e| Error::Template(format!("llama.cpp's built-in chat template {name:?}: {e}"))),
            ChatTemplate::Jinja(source) => {
                let jinja = match render_jinja(model, source, &chat) {
                    Ok(rendered) => return Ok(rendered),
                    Err(e) => e,
                };
                render_built_in(model, source, &chat).map_err(|built_in| {
                    Error::Template(format!(
                        "the chat template cannot be applied: minijinja: {jinja}; llama.cpp's built-in detection: {built_in}"
                    ))
                })
            }
        }
    }
}

/// What one rendering renders: the messages and whether the assistant's turn is opened.
struct Chat<'a> {
    messages: &'a [(&'a str, &'a str)],
    add_generation_prompt: bool,
}

/// Messages as one rendering attempt passes them to a template.
type Arranged<'a> = Vec<(&'a str, String)>;

impl<'a> Chat<'a> {
    /// The messages for `placement`: as given, or with a leading system message folded
    /// into the first user message after it (`None` when there is no such pair).
    fn arranged(&self, placement: SystemPlacement) -> Option<Arranged<'a>> {
        let as_given = || self.messages.iter().map(|&(role, content)| (role, content.to_string()));
        match placement {
            SystemPlacement::OwnTurn => Some(as_given().collect()),
            SystemPlacement::FoldedIntoUser => {
                let ((role, system), rest) = self.messages.split_first()?;
                let user = rest.iter().position(|(role, _)| *role == "user")?;
                (*role == "system").then(|| {
                    let mut folded: Arranged<'a> = as_given().skip(1).collect();
                    folded[user].1 = format!("{system}\n\n{}", folded[user].1);
                    folded
                })
            }
        }
    }

    /// Tries the messages as given, then with the system text folded; a rendering is
    /// accepted only if it kept every message's text. The first failure's reason is
    /// the one reported.
    fn first_accepted(
        &self,
        mut attempt: impl FnMut(&[(&str, String)]) -> std::result::Result<String, String>,
        renderer: Renderer,
    ) -> std::result::Result<RenderedChat, String> {
        let mut first_error = None;
        for placement in [SystemPlacement::OwnTurn, SystemPlacement::FoldedIntoUser] {
            let Some(messages) = self.arranged(placement) else { continue };
            match attempt(&messages).and_then(|text| check_kept(&text, &messages).map(|()| text)) {
                Ok(text) => return Ok(RenderedChat { text, renderer, system: placement }),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.expect("the messages as given are always tried"))
    }
}

/// A template text is Jinja when it has a statement or an expression; anything else
/// names a llama.cpp built-in.
fn is_jinja(template: &str) -> bool {
    template.contains("{%") || template.contains("{{")
}

/// The first built-in whose special tokens the vocabulary has, each as a single token.
fn built_in_from_vocab(model: &Model) -> Option<&'static str> {
    let vocab = model.llama.vocab();
    let has = |text: &str| vocab.tokenize(text.as_bytes(), false, true).len() == 1;
    BUILT_IN_BY_TOKENS.iter().find(|(tokens, _)| tokens.iter().all(|t| has(t))).map(|(_, name)| *name)
}

/// Accepts a rendering only if it kept the message texts (trimmed, as many templates
/// trim contents): a template may ignore a role instead of raising on it, and a
/// template written for list contents renders nothing from a string.
fn check_kept(rendered: &str, messages: &[(&str, String)]) -> std::result::Result<(), String> {
    for (role, content) in messages {
        if !rendered.contains(content.trim()) {
            return Err(format!("the {role} message is missing from the rendered prompt"));
        }
    }
    Ok(())
}

fn render_built_in(model: &Model, template: &str, chat: &Chat) -> std::result::Result<RenderedChat, String> {
    let built_in = LlamaChatTemplate::new(template).map_err(|_| "the template contains a NUL byte".to_string())?;
    let attempt = |messages: &[(&str, String)]| {
        let llama_messages = messages
            .iter()
            .map(|(role, content)| LlamaChatMessage::new(role.to_string(), content.clone()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        model.llama.apply_chat_template(&built_in, &llama_messages, chat.add_generation_prompt).map_err(|e| match e {
            llama_cpp_2::ApplyChatTemplateError::FfiError(code) => {
                format!("llama.cpp recognises no built-in template in it (error {code})")
            }
            other => other.to_string(),
        })
    };
    chat.first_accepted(attempt, Renderer::LlamaCpp)
}

fn render_jinja(model: &Model, source: &str, chat: &Chat) -> std::result::Result<RenderedChat, String> {
    let env = environment();
    let template = env.template_from_str(source).map_err(|e| jinja_reason(&e))?;
    let vocab = model.llama.vocab();
    let bos_token = special_text(model, vocab.bos());
    let eos_token = special_text(model, vocab.eos());
    // Message contents as plain strings first; templates written for multimodal
    // checkpoints (SmolVLM's) only read a list of typed parts, so that is tried next.
    let mut first_error = None;
    for parts in [false, true] {
        let attempt = |messages: &[(&str, String)]| {
            let context = minijinja::context! {
                messages => messages.iter().map(|(role, content)| message_value(role, content, parts)).collect::<Vec<_>>(),
                add_generation_prompt => chat.add_generation_prompt,
                bos_token => bos_token.clone(),
                eos_token => eos_token.clone(),
            };
            template.render(context).map_err(|e| jinja_reason(&e))
        };
        match chat.first_accepted(attempt, Renderer::MiniJinja) {
            Ok(rendered) => return Ok(rendered),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.expect("two attempts were made"))
}

/// An error's message with its cause (minijinja keeps the detail of `raise_exception`
/// and the template line there).
fn jinja_reason(error: &minijinja::Error) -> String {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    reason
}

/// One message as templates read it: `{role, content}`, the content a string or a
/// list holding one text part.
fn message_value(role: &str, content: &str, parts: bool) -> Value {
    let content = if parts {
        Value::from(vec![Value::from(BTreeMap::from([("type", Value::from("text")), ("text", Value::from(content))]))])
    } else {
        Value::from(content)
    };
    Value::from(BTreeMap::from([("role", Value::from(role)), ("content", content)]))
}

/// The text of a special token such as BOS, or "" when the vocabulary has none.
fn special_text(model: &Model, token: LlamaToken) -> String {
    if token.0 < 0 || token.0 >= model.llama.vocab().n_tokens() {
        return String::new();
    }
    model.token_text(token)
}

/// A minijinja environment that renders like `transformers`' chat-template renderer.
fn environment<'source>() -> Environment<'source> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", |message: String| -> std::result::Result<Value, minijinja::Error> {
        Err(minijinja::Error::new(ErrorKind::InvalidOperation, format!("the template raised: {message}")))
    });
    env.add_function("strftime_now", |format: String| strftime(&format, utc_now()));
    env
}

/// The text a rendered prompt is tokenized from: without a leading BOS when the
/// vocabulary adds BOS itself (templates such as Gemma's write `{{ bos_token }}`),
/// so exactly one BOS is decoded.
pub(crate) fn without_added_bos(model: &Model, text: String) -> String {
    let vocab = model.llama.vocab();
    if !vocab.should_add_bos() {
        return text;
    }
    let bos = special_text(model, vocab.bos());
    match text.strip_prefix(bos.as_str()) {
        Some(rest) if !bos.is_empty() => rest.to_string(),
        _ => text,
    }
}

/// A UTC time split into calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CivilTime {
    year: i64,
    /// 1 to 12.
    month: u32,
    /// 1 to 31.
    day: u32,
    /// 1 to 366.
    day_of_year: u32,
    /// 0 = Sunday.
    weekday: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

fn utc_now() -> CivilTime {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    civil_from_unix(seconds)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn civil_from_unix(seconds: u64) -> CivilTime {
    let mut days = (seconds / 86_400) as i64;
    let in_day = (seconds % 86_400) as u32;
    // 1970-01-01 was a Thursday.
    let weekday = ((days + 4) % 7) as u32;
    let mut year = 1970;
    loop {
        let length = if is_leap(year) { 366 } else { 365 };
        if days < length {
            break;
        }
        days -= length;
        year += 1;
    }
    let day_of_year = days as u32 + 1;
    let february = if is_leap(year) { 29 } else { 28 };
    let lengths = [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 0;
    while days >= lengths[month] {
        days -= lengths[month];
        month += 1;
    }
    CivilTime {
        year,
        month: month as u32 + 1,
        day: days as u32 + 1,
        day_of_year,
        weekday,
        hour: in_day / 3600,
        minute: in_day / 60 % 60,
        second: in_day % 60,
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// Python's `strftime` for the directives chat templates use (dates in system
/// prompts); an unknown directive is kept as written.
fn strftime(format: &str, t: CivilTime) -> String {
    let month = MONTHS[t.month as usize - 1];
    let weekday = WEEKDAYS[t.weekday as usize];
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(directive) = chars.next() else {
            out.push('%');
            break;
        };
        let field = match directive {
            'Y' => t.year.to_string(),
            'y' => format!("{:02}", t.year.rem_euclid(100)),
            'm' => format!("{:02}", t.month),
            'd' => format!("{:02}", t.day),
            'e' => format!("{:>2}", t.day),
            'j' => format!("{:03}", t.day_of_year),
            'B' => month.to_string(),
            'b' | 'h' => month[..3].to_string(),
            'A' => weekday.to_string(),
            'a' => weekday[..3].to_string(),
            'H' => format!("{:02}", t.hour),
            'I' => format!("{:02}", (t.hour + 11) % 12 + 1),
            'p' => (if t.hour < 12 { "AM" } else { "PM" }).to_string(),
            'M' => format!("{:02}", t.minute),
            'S' => format!("{:02}", t.second),
            '%' => "%".to_string(),
            other => format!("%{other}"),
        };
        out.push_str(&field);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_days() {
        // 2000-02-29 12:34:56 UTC, a Tuesday (a leap day of a century leap year).
        let t = civil_from_unix(951_827_696);
        assert_eq!((t.year, t.month, t.day, t.weekday, t.day_of_year), (2000, 2, 29, 2, 60));
        assert_eq!((t.hour, t.minute, t.second), (12, 34, 56));
        // 2024-12-31 is the 366th day of a leap year, a Tuesday.
        let t = civil_from_unix(1_735_603_200);
        assert_eq!((t.year, t.month, t.day, t.weekday, t.day_of_year), (2024, 12, 31, 2, 366));
    }

    #[test]
    fn strftime_formats_the_directives_templates_use() {
        let t = civil_from_unix(951_827_696);
        assert_eq!(strftime("%d %b %Y", t), "29 Feb 2000");
        assert_eq!(strftime("%B %d, %Y", t), "February 29, 2000");
        assert_eq!(strftime("%A %y-%m-%d %I:%M:%S %p %j %% %Q", t), "Tuesday 00-02-29 12:34:56 PM 060 % %Q");
    }

    #[test]
    fn the_environment_runs_python_methods_loop_controls_and_raise_exception() {
        let env = environment();
        let source = "{% for w in text.strip().split(' ') %}{% if w.startswith('x') %}{% continue %}{% endif %}\
                      {{ w.upper() }}{% if loop.index >= 3 %}{% break %}{% endif %};{% endfor %}\
                      {% for k, v in d.items() %}{{ k }}={{ v | tojson }}{% endfor %}";
        let out = env
            .render_str(source, minijinja::context! { text => "  a xb c d e ", d => BTreeMap::from([("k", "v")]) })
            .unwrap();
        assert_eq!(out, "A;Ck=\"v\"");
        let err = env.render_str("{{ raise_exception('no system role') }}", minijinja::context! {}).unwrap_err();
        assert!(jinja_reason(&err).contains("no system role"), "{}", jinja_reason(&err));
        // trim_blocks and lstrip_blocks, as transformers renders.
        let out = env.render_str("  {% if true %}\nx\n  {% endif %}\ny", minijinja::context! {}).unwrap();
        assert_eq!(out, "x\ny");
    }
}
