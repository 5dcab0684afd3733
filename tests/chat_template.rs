//! Chat formatting on the real llama.cpp: the GGUF's Jinja template rendered with
//! minijinja (including templates llama.cpp does not recognise), a GGUF without a
//! template, a template without a system role, a template that writes BOS itself, and
//! where the image goes.
//!
//! The models are copies of the tiny-vlm fixture (the demo model's tokenizer on a tiny
//! random llama) with the tokenizer metadata changed, so each loads in milliseconds.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{demo_model, fixture, sample_pairs, solid_png};
use llama_cpp_2::token::LlamaToken;
use vlmjudge::engine::chat::{ChatFormat, ChatTemplate, FormatOrigin, Renderer, SystemPlacement};
use vlmjudge::engine::{Model, ModelParams};
use vlmjudge::gguf::{GgufFile, GgufWriter, Value, ValueType};
use vlmjudge::judge::{ImageSource, Judge, JudgeParams, Mode, Pair, Template, DEFAULT_SYSTEM};
use vlmjudge::Error;
use vlmjudge_lab::fixture::FixtureKind;

const SYSTEM: &str = "Be fair.";
const USER: &str = "Which answer is better?";

/// A directory for this binary's model copies.
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// Copies the tiny-vlm language model to `name`, without the metadata keys in `drop`
/// and with the keys in `set` replaced or added.
fn tiny_copy(name: &str, drop: &[&str], set: Vec<(&str, Value)>) -> PathBuf {
    let source = GgufFile::open(fixture(FixtureKind::TinyVlm).model).unwrap();
    let mut writer = GgufWriter::new();
    for (key, value) in &source.metadata {
        if !drop.contains(&key.as_str()) {
            writer.set(key, value.clone());
        }
    }
    for (key, value) in set {
        writer.set(key, value);
    }
    for tensor in &source.tensors {
        writer.add_tensor(&tensor.name, &tensor.dims, tensor.ggml_type, source.read_tensor(tensor).unwrap()).unwrap();
    }
    let path = scratch().join(format!("{name}.gguf"));
    writer.write(&path).unwrap();
    path
}

fn load(path: &Path) -> Model {
    Model::load(path, None, &ModelParams::default()).expect("model copy loads")
}

/// A copy of tiny-vlm whose GGUF template is `template`.
fn with_template(name: &str, template: &str) -> Model {
    load(&tiny_copy(name, &[], vec![("tokenizer.chat_template", Value::str(template))]))
}

/// Reason mode: the prompt ends with the assistant's turn, no verdict prefix after it.
fn params(template: Template) -> JudgeParams {
    JudgeParams { mode: Mode::Reason, swap: false, parallel: 1, template, ..JudgeParams::default() }
}

fn prompt_tokens(model: &Model, template: Template, pair: &Pair) -> Vec<LlamaToken> {
    Judge::new(model, params(template)).unwrap().prompt_tokens(pair).unwrap()
}

fn decode(model: &Model, tokens: &[LlamaToken]) -> String {
    tokens.iter().map(|t| model.token_text(*t)).collect()
}

fn pair() -> Pair {
    Pair::text("p", "How many legs does a spider have?", "A spider has 8 legs.", "A spider has 6 legs.")
}

/// The default user text for [`pair`] in AB order.
fn filled_user() -> String {
    let pair = pair();
    Template::default().fill_user(&pair.question, &pair.response_a, &pair.response_b)
}

fn chatml(system: &str, user: &str) -> String {
    format!("<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
}

/// ChatML written as Jinja, optionally opening with `{{ bos_token }}`.
fn chatml_jinja(with_bos: bool) -> String {
    let bos = if with_bos { "{{ bos_token }}" } else { "" };
    format!(
        "{bos}{{% for message in messages %}}{{{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}}}\
         {{% endfor %}}{{% if add_generation_prompt %}}{{{{ '<|im_start|>assistant\\n' }}}}{{% endif %}}"
    )
}

#[test]
fn the_demo_models_template_renders_with_minijinja_exactly_as_llama_cpps_chatml() {
    let model = demo_model();
    let format = ChatFormat::for_model(model, None).unwrap();
    assert!(matches!(&format.template, ChatTemplate::Jinja(source) if source.contains("<|im_start|>")), "{format:?}");
    assert_eq!(format.origin, FormatOrigin::Gguf);
    let rendered = format.render(model, SYSTEM, USER).unwrap();
    assert_eq!(rendered.text, chatml(SYSTEM, USER));
    assert_eq!((rendered.renderer, rendered.system), (Renderer::MiniJinja, SystemPlacement::OwnTurn));
    // Before minijinja, llama.cpp detected this template as its ChatML built-in: the
    // judge's text prompts must not change.
    assert_eq!(format.describe(&rendered), "Jinja rendered with minijinja (the GGUF's chat template)");
    let built_in = ChatTemplate::BuiltIn("chatml".into()).render(model, SYSTEM, USER).unwrap();
    assert_eq!(built_in.text, rendered.text);
    assert_eq!(built_in.renderer, Renderer::LlamaCpp);
    let chatml_template = Template { chat_template: Some("chatml".into()), ..Template::default() };
    let judge = Judge::new(model, params(Template::default())).unwrap();
    let judge_built_in = Judge::new(model, params(chatml_template)).unwrap();
    for pair in sample_pairs(6).iter().chain([&pair()]) {
        assert_eq!(judge.prompt_tokens(pair).unwrap(), judge_built_in.prompt_tokens(pair).unwrap(), "{}", pair.id);
    }
    let tokens = judge.prompt_tokens(&pair()).unwrap();
    assert_eq!(decode(model, &tokens), chatml(DEFAULT_SYSTEM, &filled_user()));
    // The demo vocabulary adds no BOS, and its template writes none.
    assert_eq!(tokens[0], model.tokenize("<|im_start|>", true)[0]);
}

/// A format of its own: no keyword llama.cpp's detection knows, and Python string
/// methods (`startswith`, `strip`, `title`) that plain Jinja does not have.
const UNKNOWN_TO_LLAMA_CPP: &str = "{% for message in messages %}{% if message.role.startswith('sys') %}\
{{ '## Rules\\n' + message.content.strip() + '\\n\\n' }}{% else %}\
{{ '## ' + message['role'].title() + '\\n' + message['content'] + '\\n\\n' }}{% endif %}{% endfor %}\
{% if add_generation_prompt %}{{ '## Verdict\\n' }}{% endif %}";

#[test]
fn a_template_llama_cpp_does_not_recognise_is_rendered_by_minijinja() {
    let model = with_template("unknown", UNKNOWN_TO_LLAMA_CPP);
    let format = ChatFormat::for_model(&model, None).unwrap();
    assert_eq!(format.template, ChatTemplate::Jinja(UNKNOWN_TO_LLAMA_CPP.into()));
    let rendered = format.render(&model, &format!("  {SYSTEM}\n"), USER).unwrap();
    assert_eq!(rendered.text, format!("## Rules\n{SYSTEM}\n\n## User\n{USER}\n\n## Verdict\n"));
    assert_eq!((rendered.renderer, rendered.system), (Renderer::MiniJinja, SystemPlacement::OwnTurn));
    // llama.cpp alone (the judge's only engine before) cannot format it.
    let err = ChatTemplate::BuiltIn(UNKNOWN_TO_LLAMA_CPP.into()).render(&model, SYSTEM, USER).unwrap_err();
    assert!(err.to_string().contains("recognises no built-in template"), "{err}");

    let tokens = prompt_tokens(&model, Template::default(), &pair());
    let expected = format!("## Rules\n{DEFAULT_SYSTEM}\n\n## User\n{}\n\n## Verdict\n", filled_user());
    assert_eq!(decode(&model, &tokens), expected);
    // The same template given in a template file instead of the GGUF.
    let demo = demo_model();
    let from_file = Template { chat_template: Some(UNKNOWN_TO_LLAMA_CPP.into()), ..Template::default() };
    assert_eq!(decode(demo, &prompt_tokens(demo, from_file, &pair())), expected);
}

#[test]
fn a_gguf_without_a_template_gets_the_built_in_its_special_tokens_name() {
    let with = load(&fixture(FixtureKind::TinyVlm).model);
    let without = load(&tiny_copy("no-template", &["tokenizer.chat_template"], vec![]));
    let format = ChatFormat::for_model(&without, None).unwrap();
    assert_eq!(
        format,
        ChatFormat { template: ChatTemplate::BuiltIn("chatml".into()), origin: FormatOrigin::Vocabulary }
    );
    let rendered = format.render(&without, SYSTEM, USER).unwrap();
    assert_eq!(rendered.text, chatml(SYSTEM, USER));
    assert_eq!(
        format.describe(&rendered),
        "llama.cpp built-in \"chatml\" (the GGUF has no chat template; chosen by its special tokens)"
    );
    for pair in sample_pairs(4) {
        assert_eq!(
            prompt_tokens(&without, Template::default(), &pair),
            prompt_tokens(&with, Template::default(), &pair),
            "{}",
            pair.id
        );
    }
}

#[test]
fn a_gguf_without_a_template_or_known_special_tokens_asks_for_a_template_file() {
    // The demo vocabulary with its ChatML tokens renamed: nothing names a format.
    let source = GgufFile::open(fixture(FixtureKind::TinyVlm).model).unwrap();
    let Some(Value::Array(ValueType::Str, tokens)) = source.get("tokenizer.ggml.tokens") else { panic!("no tokens") };
    let mut tokens = tokens.clone();
    for token in tokens.iter_mut() {
        if let Value::Str(text) = token {
            if text == b"<|im_start|>" || text == b"<|im_end|>" {
                *text = text.iter().map(|b| if *b == b'|' { b'!' } else { *b }).collect();
            }
        }
    }
    let path = tiny_copy(
        "no-template-no-chatml",
        &["tokenizer.chat_template"],
        vec![("tokenizer.ggml.tokens", Value::Array(ValueType::Str, tokens))],
    );
    let model = load(&path);
    assert!(matches!(ChatFormat::for_model(&model, None), Err(Error::MissingChatTemplate)));
    let err = Judge::new(&model, params(Template::default())).unwrap_err();
    assert!(matches!(err, Error::MissingChatTemplate), "{err}");
    assert!(err.to_string().contains("template file"), "{err}");
    // A template file's chat_template makes it usable.
    let named = Template { chat_template: Some("chatml".into()), ..Template::default() };
    let tokens = prompt_tokens(&model, named, &pair());
    assert_eq!(decode(&model, &tokens), chatml(DEFAULT_SYSTEM, &filled_user()));
}

#[test]
fn a_template_without_a_system_role_gets_the_system_text_at_the_start_of_the_user_turn() {
    let template = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}\
                    {% for message in messages %}{{ '<<' + message['role'] + '>> ' + message['content'] | trim + '\\n' }}{% endfor %}\
                    {% if add_generation_prompt %}{{ '<<model>>\\n' }}{% endif %}";
    let model = with_template("no-system", template);
    let format = ChatFormat::for_model(&model, None).unwrap();
    let rendered = format.render(&model, SYSTEM, USER).unwrap();
    assert_eq!(rendered.text, format!("<<user>> {SYSTEM}\n\n{USER}\n<<model>>\n"));
    assert_eq!((rendered.renderer, rendered.system), (Renderer::MiniJinja, SystemPlacement::FoldedIntoUser));
    assert!(format.describe(&rendered).ends_with("; no system role: the system text opens the user message"));
    let tokens = prompt_tokens(&model, Template::default(), &pair());
    assert_eq!(decode(&model, &tokens), format!("<<user>> {DEFAULT_SYSTEM}\n\n{}\n<<model>>\n", filled_user()));

    // A template that silently drops the system message is treated the same way.
    let ignores =
        "{% for message in messages %}{% if message['role'] == 'user' %}{{ 'Q: ' + message['content'] + '\\n' }}\
                   {% endif %}{% endfor %}{{ 'A:' }}";
    let model = with_template("ignores-system", ignores);
    let rendered = ChatFormat::for_model(&model, None).unwrap().render(&model, SYSTEM, USER).unwrap();
    assert_eq!(rendered.text, format!("Q: {SYSTEM}\n\n{USER}\nA:"));
    assert_eq!(rendered.system, SystemPlacement::FoldedIntoUser);
}

#[test]
fn a_template_that_always_raises_reports_its_message_and_llama_cpps_reason() {
    let model = with_template("raises", "{{ raise_exception('this model cannot judge') }}");
    let err = Judge::new(&model, params(Template::default())).unwrap_err();
    let Error::Template(message) = &err else { panic!("{err}") };
    assert!(message.contains("this model cannot judge"), "{message}");
    assert!(message.contains("llama.cpp"), "{message}");

    // Jinja minijinja cannot parse falls back to llama.cpp's detection of the source.
    let broken = format!("{{% generation %}}{}", chatml_jinja(false));
    let model = with_template("unparsable", &broken);
    let format = ChatFormat::for_model(&model, None).unwrap();
    let rendered = format.render(&model, SYSTEM, USER).unwrap();
    assert_eq!((rendered.text.as_str(), rendered.renderer), (chatml(SYSTEM, USER).as_str(), Renderer::LlamaCpp));
    assert!(format.describe(&rendered).starts_with("Jinja that minijinja cannot render"));
}

#[test]
fn a_template_that_writes_bos_is_decoded_with_exactly_one_bos() {
    // BOS moved to <|endoftext|> (id 0) so it is told apart from the turn markers.
    let bos = |add: bool| {
        vec![("tokenizer.ggml.bos_token_id", Value::U32(0)), ("tokenizer.ggml.add_bos_token", Value::Bool(add))]
    };
    let copy = |name: &str, add: bool, template_bos: bool| {
        let mut set = bos(add);
        set.push(("tokenizer.chat_template", Value::str(&chatml_jinja(template_bos))));
        load(&tiny_copy(name, &[], set))
    };
    let both = copy("bos-both", true, true);
    let vocab_only = copy("bos-vocab", true, false);
    let template_only = copy("bos-template", false, true);
    let rendered = ChatFormat::for_model(&both, None).unwrap().render(&both, SYSTEM, USER).unwrap();
    assert_eq!(rendered.text, format!("<|endoftext|>{}", chatml(SYSTEM, USER)));

    let bos_token = both.tokenize("<|endoftext|>", true);
    assert_eq!(bos_token.len(), 1);
    let tokens = prompt_tokens(&both, Template::default(), &pair());
    assert_eq!(tokens[0], bos_token[0]);
    assert_eq!(tokens.iter().filter(|t| **t == bos_token[0]).count(), 1, "{tokens:?}");
    assert_eq!(decode(&both, &tokens), format!("<|endoftext|>{}", chatml(DEFAULT_SYSTEM, &filled_user())));
    assert_eq!(prompt_tokens(&vocab_only, Template::default(), &pair()), tokens);
    assert_eq!(prompt_tokens(&template_only, Template::default(), &pair()), tokens);
}

#[test]
fn the_image_opens_the_user_turn_with_no_line_break_of_ours() {
    let files = fixture(FixtureKind::TinyVlm);
    let model = Model::load(&files.model, Some(&files.mmproj), &ModelParams::default()).unwrap();
    let image = scratch().join("red.png");
    std::fs::write(&image, solid_png(48, 40, [220, 30, 30])).unwrap();
    let text = pair();
    let with_image = Pair { image: Some(ImageSource::Path(image.clone())), ..pair() };
    let stats_of = |pair: &Pair| {
        let fast = JudgeParams { mode: Mode::Fast, ctx_per_seq: 384, ..params(Template::default()) };
        let mut judge = Judge::new(&model, fast).unwrap();
        let verdict = judge.judge_pair(pair).unwrap();
        assert_eq!(verdict.error, None);
        judge.stats()
    };
    let framing: usize = model
        .encode_image(&ImageSource::Path(image))
        .unwrap()
        .pieces()
        .map(|piece| match piece {
            vlmjudge::engine::ImagePiece::Tokens(tokens) => tokens.len(),
            vlmjudge::engine::ImagePiece::Embeddings { .. } => 0,
        })
        .sum();
    let text_stats = stats_of(&text);
    let image_stats = stats_of(&with_image);
    assert!(image_stats.image_tokens > 0);
    // The same text tokens (plus mtmd's own framing): "<|im_start|>user\n", the image,
    // "Question: ..." with nothing added between them.
    assert_eq!(image_stats.prompt_tokens, text_stats.prompt_tokens + framing as u64);
}

#[test]
fn a_template_that_reads_content_parts_gets_the_text_as_a_part() {
    // Written for multimodal checkpoints: contents are lists of typed parts.
    let template = "{% for message in messages %}{{ message['role'] + ': ' }}{% for part in message['content'] %}\
                    {% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{{ '\\n' }}{% endfor %}\
                    {% if add_generation_prompt %}{{ 'assistant:' }}{% endif %}";
    let model = with_template("content-parts", template);
    let rendered = ChatFormat::for_model(&model, None).unwrap().render(&model, SYSTEM, USER).unwrap();
    assert_eq!(rendered.text, format!("system: {SYSTEM}\nuser: {USER}\nassistant:"));
    assert_eq!((rendered.renderer, rendered.system), (Renderer::MiniJinja, SystemPlacement::OwnTurn));
}
