//! One chat engine for every prompt: the trainer's and the generator's prompts are
//! rendered like the judge's (the GGUF's Jinja through minijinja, llama.cpp's
//! built-ins as the fallback), with one BOS and no line break of ours after the image,
//! on the generated family fixtures (real llama.cpp and mtmd).

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{demo_model, family_model as family, fixture, solid_png};
use llama_cpp_2::token::LlamaToken;
use vlmjudge::engine::chat::{ChatFormat, ChatTemplate, FormatOrigin};
use vlmjudge::engine::{ImagePiece, Model, ModelParams};
use vlmjudge::generate::{GenOutput, GenParams, GenRequest, Generator};
use vlmjudge::gguf::{GgufFile, GgufWriter};
use vlmjudge::judge::{ImageSource, SamplingParams};
use vlmjudge_lab::fixture::FixtureKind;

const SYSTEM: &str = "Be fair.";
const USER: &str = "How many legs does a spider have?";

/// Gemma 3's format for [`SYSTEM`] and `user`, with the system text folded into the
/// user turn (the fixture's template and llama.cpp's `gemma` built-in agree on it).
fn gemma(user: &str) -> String {
    format!("<start_of_turn>user\n{SYSTEM}\n\n{user}<end_of_turn>\n<start_of_turn>model\n")
}

fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// The `kind` fixture loaded from a copy of its language model without
/// `tokenizer.chat_template`, with its mmproj.
fn without_template(kind: FixtureKind) -> Model {
    let files = fixture(kind);
    let source = GgufFile::open(&files.model).unwrap();
    let mut writer = GgufWriter::new();
    for (key, value) in &source.metadata {
        if key != "tokenizer.chat_template" {
            writer.set(key, value.clone());
        }
    }
    for tensor in &source.tensors {
        writer.add_tensor(&tensor.name, &tensor.dims, tensor.ggml_type, source.read_tensor(tensor).unwrap()).unwrap();
    }
    let path = scratch().join(format!("{}-no-template.gguf", kind.name()));
    writer.write(&path).unwrap();
    Model::load(&path, Some(&files.mmproj), &ModelParams::default()).unwrap()
}

fn red_png() -> PathBuf {
    let path = scratch().join("red.png");
    if !path.exists() {
        std::fs::write(&path, solid_png(48, 40, [220, 30, 30])).unwrap();
    }
    path
}

fn decode(model: &Model, tokens: impl IntoIterator<Item = u32>) -> String {
    tokens.into_iter().map(|t| model.token_text(LlamaToken(t as i32))).collect()
}

/// The judge's rendering of a system and a user message (`chat.rs`, as the judge's
/// prompt builder calls it).
fn judge_text(model: &Model, system: &str, user: &str) -> String {
    ChatFormat::for_model(model, None).unwrap().render(model, system, user).unwrap().text
}

/// The text of an encoded image's framing tokens, in order, without its embeddings.
fn framing_text(model: &Model, image: &Path) -> String {
    let encoded = model.encode_image(&ImageSource::Path(image.into())).unwrap();
    encoded
        .pieces()
        .filter_map(|piece| match piece {
            ImagePiece::Tokens(tokens) => Some(tokens.iter().map(|&t| model.token_text(t)).collect::<String>()),
            ImagePiece::Embeddings { .. } => None,
        })
        .collect()
}

#[cfg(feature = "train")]
mod trainer {
    use super::*;
    use vlmjudge::judge::{Judge, JudgeParams, Mode, Pair, Template, DEFAULT_SYSTEM};
    use vlmjudge::train::{Encoded, EncodedExample, Encoder, Message, SftExample};

    fn example(system: &str, user: &str, image: Option<&Path>) -> SftExample {
        let message = |role: &str, content: &str| Message { role: role.into(), content: content.into() };
        SftExample {
            id: "e".into(),
            image: image.map(|p| p.to_string_lossy().into_owned()),
            messages: vec![message("system", system), message("user", user)],
            target: "Eight. [[A]]".into(),
        }
    }

    fn encode(model: &Model, ex: &SftExample) -> EncodedExample {
        let encoder = Encoder::new(model).unwrap();
        match encoder.encode(ex, &scratch().join("sft.jsonl"), 1, 4096).unwrap() {
            Encoded::Ok(encoded) => encoded,
            Encoded::TooLong { .. } => panic!("the example fits"),
        }
    }

    /// The prompt's text, image embedding rows left out (their positions hold 0).
    fn prompt_text(model: &Model, ex: &EncodedExample) -> String {
        let in_image = |i: usize| ex.images.iter().any(|s| (s.start..s.start + s.n_tokens).contains(&i));
        decode(model, ex.tokens[..ex.n_prompt].iter().enumerate().filter(|(i, _)| !in_image(*i)).map(|(_, &t)| t))
    }

    #[test]
    fn the_gemma3_trainer_prompt_is_the_judges_text_with_one_bos_and_ends_turns_with_end_of_turn() {
        let model = family(FixtureKind::Gemma3);
        let bos = model.bos().expect("Gemma's tokenizer adds BOS").0 as u32;
        assert_eq!(model.token_text(LlamaToken(bos as i32)), "<bos>");
        // The fixture's template writes {{ bos_token }} and folds the system turn itself.
        assert_eq!(judge_text(model, SYSTEM, USER), format!("<bos>{}", gemma(USER)));

        let encoder = Encoder::new(model).unwrap();
        let end_of_turn: Vec<String> = encoder.end_of_turn().iter().map(|&t| decode(model, [t])).collect();
        assert_eq!(end_of_turn, ["<end_of_turn>"]);

        let ex = encode(model, &example(SYSTEM, USER, None));
        assert_eq!(ex.tokens[0], bos);
        assert_eq!(ex.tokens.iter().filter(|&&t| t == bos).count(), 1, "{:?}", ex.tokens);
        assert_eq!(decode(model, ex.tokens[..ex.n_prompt].iter().copied()), format!("<bos>{}", gemma(USER)));
        assert_eq!(decode(model, ex.tokens[ex.n_prompt..].iter().copied()), "Eight. [[A]]<end_of_turn>");
        // The same prompt text through the public chat API: without the template's BOS.
        let rendered = model.chat_prompt(&[("system", SYSTEM), ("user", USER)], None, true).unwrap();
        assert_eq!(rendered, gemma(USER));
    }

    /// Every family's trainer prompt decodes to the judge's own prompt for the same
    /// system and user text, and with an image, to the judge's rendering with the
    /// image's framing text right before the user text.
    #[test]
    fn every_family_trains_on_the_text_the_judge_reads() {
        let pair = Pair::text("p", USER, "Eight.", "Six.");
        let user = Template::default().fill_user(&pair.question, &pair.response_a, &pair.response_b);
        let image = red_png();
        for kind in FixtureKind::FAMILIES {
            let model = family(kind);
            let params = JudgeParams { mode: Mode::Reason, swap: false, parallel: 1, ..JudgeParams::default() };
            let judged: Vec<u32> =
                Judge::new(model, params).unwrap().prompt_tokens(&pair).unwrap().iter().map(|t| t.0 as u32).collect();
            let trained = encode(model, &example(DEFAULT_SYSTEM, &user, None));
            assert_eq!(prompt_text(model, &trained), decode(model, judged.iter().copied()), "{}", kind.name());
            assert_eq!(trained.tokens[..trained.n_prompt], judged, "{}", kind.name());
            let bos_count =
                |ex: &EncodedExample| model.bos().map(|b| ex.tokens.iter().filter(|&&t| t == b.0 as u32).count());
            assert!(matches!(bos_count(&trained), None | Some(1)), "{}: {:?}", kind.name(), trained.tokens);

            let with_image = encode(model, &example(SYSTEM, USER, Some(&image)));
            assert!(!with_image.images.is_empty(), "{}", kind.name());
            let marker = "\u{F0FFF}";
            let expected =
                judge_text(model, SYSTEM, &format!("{marker}{USER}")).replace(marker, &framing_text(model, &image));
            let bos = model.bos().map_or(String::new(), |b| model.token_text(b));
            let expected = if expected.starts_with(&bos) { expected } else { format!("{bos}{expected}") };
            assert_eq!(prompt_text(model, &with_image), expected, "{}", kind.name());
        }
    }

    #[test]
    fn the_gemma3_image_is_followed_by_the_user_text_with_no_line_break() {
        let model = family(FixtureKind::Gemma3);
        let ex = encode(model, &example(SYSTEM, USER, Some(&red_png())));
        let span = &ex.images[0];
        let end = span.start + span.n_tokens;
        assert_eq!(decode(model, [ex.tokens[span.start - 1]]), "<start_of_image>");
        assert_eq!(decode(model, [ex.tokens[end]]), "<end_of_image>");
        let after = decode(model, ex.tokens[end + 1..ex.n_prompt].iter().copied());
        assert_eq!(after, format!("{USER}<end_of_turn>\n<start_of_turn>model\n"));
    }
}

fn request(id: &str, system: Option<&str>, image: Option<&Path>) -> GenRequest {
    GenRequest {
        id: id.into(),
        system: system.map(String::from),
        user: USER.into(),
        image: image.map(|p| ImageSource::Path(p.into())),
        n: 1,
    }
}

fn generate(model: &Model, requests: &[GenRequest]) -> Vec<GenOutput> {
    let params = GenParams {
        sampling: SamplingParams { temperature: 0.0, top_k: 1, top_p: 1.0 },
        max_tokens: 8,
        parallel: 2,
        max_samples: 1,
        ctx_per_seq: 512,
        threads: 2,
        ..GenParams::default()
    };
    let mut generator = Generator::new(model, params).unwrap();
    let mut out: Vec<Option<GenOutput>> = vec![None; requests.len()];
    generator
        .generate(requests, |i, o| {
            out[i] = Some(o);
            true
        })
        .unwrap();
    out.into_iter().map(|o| o.expect("every request answered")).collect()
}

fn assert_generated(outputs: &[GenOutput]) {
    for out in outputs {
        assert_eq!(out.error, None, "{}", out.id);
        assert_eq!(out.samples.len(), 1, "{}", out.id);
        assert!(out.generated_tokens > 0, "{}", out.id);
    }
}

fn chatml(system: &str) -> String {
    format!("<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{USER}<|im_end|>\n<|im_start|>assistant\n")
}

#[test]
fn a_gguf_without_a_template_generates_with_the_built_in_its_vocabulary_names() {
    let image = red_png();
    let requests = [request("text", Some(SYSTEM), None), request("image", Some(SYSTEM), Some(&image))];
    let messages = [("system", SYSTEM), ("user", USER)];
    let built_in =
        |name: &str| ChatFormat { template: ChatTemplate::BuiltIn(name.into()), origin: FormatOrigin::Vocabulary };

    // Qwen2.5-VL's vocabulary names ChatML, which with a system message is the text its
    // own Jinja renders: the same prompt tokens, so the same greedy answers.
    let qwen = without_template(FixtureKind::Qwen25vl);
    assert_eq!(ChatFormat::for_model(&qwen, None).unwrap(), built_in("chatml"));
    assert_eq!(qwen.chat_prompt(&messages, None, true).unwrap(), chatml(SYSTEM));
    let generated = generate(&qwen, &requests);
    assert_generated(&generated);
    let reference = generate(family(FixtureKind::Qwen25vl), &requests);
    for (a, b) in generated.iter().zip(&reference) {
        assert_eq!((a.prompt_tokens, &a.samples), (b.prompt_tokens, &b.samples), "{}", a.id);
    }

    // The Gemma 3 fixture's vocabulary is the demo model's plus Gemma's tokens, so it
    // has ChatML's markers too, and ChatML ranks first. Its tokenizer adds BOS.
    let gemma3 = without_template(FixtureKind::Gemma3);
    assert_eq!(ChatFormat::for_model(&gemma3, None).unwrap(), built_in("chatml"));
    let prompt = gemma3.chat_prompt(&messages, None, true).unwrap();
    assert_eq!(prompt, chatml(SYSTEM));
    let generated = generate(&gemma3, &requests);
    assert_generated(&generated);
    assert_eq!(generated[0].prompt_tokens, 1 + generation_tokens(&gemma3, &prompt));
}

/// Gemma 3's template writes `{{ bos_token }}` and its tokenizer adds BOS: the
/// generation prompt has one.
#[test]
fn a_gemma3_generation_prompt_starts_with_one_bos() {
    let model = family(FixtureKind::Gemma3);
    let prompt = model.chat_prompt(&[("system", SYSTEM), ("user", USER)], None, true).unwrap();
    assert_eq!(prompt, gemma(USER));
    let generated = generate(model, &[request("text", Some(SYSTEM), None)]);
    assert_generated(&generated);
    assert_eq!(generated[0].prompt_tokens, 1 + generation_tokens(model, &prompt));
}

/// How many tokens the generator makes of a rendered prompt: the user text is
/// tokenized on its own, without special-token parsing.
fn generation_tokens(model: &Model, prompt: &str) -> usize {
    let (head, tail) = prompt.split_once(USER).expect("the user text is in the prompt");
    model.tokenize(head, true).len() + model.tokenize(USER, false).len() + model.tokenize(tail, true).len()
}

/// The image opens the user turn with nothing of ours after it: an image prompt is
/// the text prompt plus the image's cells (its framing tokens and embeddings). Shown
/// on the families whose user turn opens after a line break (where a template writes
/// `User: `, the space is a token of its own before an image and joins the first word
/// without one).
#[test]
fn a_generation_prompts_image_adds_only_its_own_cells() {
    let image = red_png();
    for kind in [FixtureKind::Gemma3, FixtureKind::Qwen25vl] {
        let model = family(kind);
        let encoded = model.encode_image(&ImageSource::Path(image.clone())).unwrap();
        let out = generate(model, &[request("text", Some(SYSTEM), None), request("image", Some(SYSTEM), Some(&image))]);
        assert_generated(&out);
        assert_eq!(out[1].prompt_tokens, out[0].prompt_tokens + encoded.n_tokens, "{}", kind.name());
    }
}

/// The demo model's own template (ChatML written in Jinja) adds a default system turn
/// when the messages have none; with one, it is llama.cpp's ChatML exactly.
#[test]
fn the_demo_models_template_is_rendered_as_written() {
    let model = demo_model();
    assert_eq!(model.chat_prompt(&[("system", SYSTEM), ("user", USER)], None, true).unwrap(), chatml(SYSTEM));
    assert_eq!(model.chat_prompt(&[("system", SYSTEM), ("user", USER)], Some("chatml"), true).unwrap(), chatml(SYSTEM));
    let default_system = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
    assert_eq!(model.chat_prompt(&[("user", USER)], None, true).unwrap(), chatml(default_system));
    // An answered conversation, as the trainer renders it to find the end of a turn.
    let answered = model.chat_prompt(&[("user", USER), ("assistant", "Eight.")], None, false).unwrap();
    assert_eq!(answered, format!("{}Eight.<|im_end|>\n", chatml(default_system)));
}
