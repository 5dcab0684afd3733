//! Judging on every real VLM family's layout (SmolVLM, Qwen2.5-VL, Gemma 3,
//! LLaVA-1.6), on the generated fixtures of `vlmjudge-lab fixture`: the code paths
//! those families take in llama.cpp (M-RoPE positions, non-causal image attention,
//! tiled images with framing text, anyres slices) run under the judge here.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::{family_model as model, fixture, judge_all, solid_png};
use vlmjudge::engine::{EncodedImage, ImagePiece, Model, ModelParams};
use vlmjudge::judge::{ImageSource, JudgeParams, Mode, Pair};
use vlmjudge_lab::fixture::FixtureKind;

fn params(mode: Mode, swap: bool) -> JudgeParams {
    JudgeParams { mode, swap, max_tokens: 12, ctx_per_seq: 1024, ..JudgeParams::default() }
}

/// A red and a blue PNG, and a larger gradient that tiled families split.
fn images() -> &'static (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf, PathBuf, PathBuf)> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let red = dir.path().join("red.png");
        let blue = dir.path().join("blue.png");
        let large = dir.path().join("large.png");
        std::fs::write(&red, solid_png(48, 40, [220, 30, 30])).unwrap();
        std::fs::write(&blue, solid_png(48, 40, [30, 30, 220])).unwrap();
        std::fs::write(&large, gradient_png(200, 150)).unwrap();
        (dir, red, blue, large)
    })
}

fn gradient_png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, ((x + y) % 256) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn image_pair(id: &str, image: &std::path::Path) -> Pair {
    Pair {
        id: id.into(),
        question: "What colour is the square?".into(),
        response_a: "The square is red.".into(),
        response_b: "The square is blue.".into(),
        image: Some(ImageSource::Path(image.to_path_buf())),
    }
}

fn mixed_pairs() -> Vec<Pair> {
    let (_, red, blue, large) = images();
    let mut pairs = vec![image_pair("red", red), image_pair("blue", blue), image_pair("large", large)];
    pairs.extend(common::sample_pairs(3));
    pairs
}

#[test]
fn every_family_judges_text_and_image_pairs_in_both_modes_with_and_without_swap() {
    for kind in FixtureKind::FAMILIES {
        let model = model(kind);
        for (mode, swap) in [(Mode::Fast, true), (Mode::Fast, false), (Mode::Reason, true), (Mode::Reason, false)] {
            let verdicts = judge_all(model, params(mode, swap), &mixed_pairs());
            for v in &verdicts {
                assert_eq!(v.error, None, "{}: {mode:?} swap {swap}: {v:?}", kind.name());
                assert_eq!(v.orders.len(), if swap { 2 } else { 1 }, "{}", kind.name());
                assert!(v.orders.iter().all(|o| o.p_a.is_some_and(f64::is_finite)), "{}: {v:?}", kind.name());
            }
            if mode == Mode::Fast {
                // Same text, different image: the image embeddings reach the model.
                assert_ne!(verdicts[0].p_a, verdicts[1].p_a, "{}: red and blue gave the same p(A)", kind.name());
            }
        }
    }
}

#[test]
fn a_pair_gets_the_same_verdict_alone_and_among_16_in_flight() {
    let (_, red, blue, large) = images();
    for kind in FixtureKind::FAMILIES {
        let model = model(kind);
        let mut crowd: Vec<Pair> = Vec::new();
        for i in 0..16 {
            let path = [red, blue, large][i % 3];
            crowd.push(Pair { id: format!("c{i}"), ..image_pair("", path) });
        }
        crowd.extend(common::sample_pairs(8));
        let in_crowd = judge_all(model, JudgeParams { parallel: 16, ..params(Mode::Fast, true) }, &crowd);
        for (i, pair) in crowd.iter().enumerate().step_by(5) {
            let alone =
                judge_all(model, JudgeParams { parallel: 1, ..params(Mode::Fast, true) }, std::slice::from_ref(pair));
            assert_eq!(alone[0].error, None, "{}: {:?}", kind.name(), alone[0]);
            assert_eq!(alone[0].orders, in_crowd[i].orders, "{}: pair {} alone vs among 16", kind.name(), pair.id);
        }
    }
}

/// The BA order reuses the AB order's prefix (system, image, question) through a KV
/// copy; decoded from scratch it must read the same logits. This is what shows the
/// copied cells and, for Qwen, the M-RoPE positions after the image right.
#[test]
fn the_swapped_order_matches_the_same_order_decoded_from_scratch() {
    let (_, red, _, large) = images();
    for kind in FixtureKind::FAMILIES {
        let model = model(kind);
        for path in [red, large] {
            let pair = image_pair("p", path);
            let shared = judge_all(model, params(Mode::Fast, true), std::slice::from_ref(&pair));
            let swapped =
                Pair { response_a: pair.response_b.clone(), response_b: pair.response_a.clone(), ..pair.clone() };
            let scratch = judge_all(model, params(Mode::Fast, false), std::slice::from_ref(&swapped));
            // BA's p(A) is p(the second shown answer); from scratch that answer is shown first.
            let via_copy = shared[0].orders[1].p_a.unwrap();
            let from_scratch = 1.0 - scratch[0].orders[0].p_a.unwrap();
            assert!(
                (via_copy - from_scratch).abs() < 1e-4,
                "{}: {}: BA via the shared prefix {via_copy} vs from scratch {from_scratch}",
                kind.name(),
                path.display()
            );
        }
    }
}

fn encode(model: &Model, path: &std::path::Path) -> std::sync::Arc<EncodedImage> {
    model.encode_image(&ImageSource::Path(path.to_path_buf())).expect("the image encodes")
}

/// The image's pieces as a compact string: `E<n>` for n embeddings, token texts as is.
fn layout(model: &Model, image: &EncodedImage) -> Vec<String> {
    image
        .pieces()
        .map(|piece| match piece {
            ImagePiece::Embeddings { n_tokens, .. } => format!("E{n_tokens}"),
            ImagePiece::Tokens(tokens) => tokens.iter().map(|&t| model.token_text(t)).collect::<String>(),
        })
        .collect()
}

/// SmolVLM scales every image to its longest edge and cuts tiles by aspect ratio;
/// LLaVA-1.6 picks the grid pinpoint that fits: a wide image gets a 2x1 (3x1) grid, a
/// 4:3 one 2x2, each followed by the global view.
#[test]
fn a_tiled_image_keeps_its_framing_text_in_order() {
    let (dir, _, _, large) = images();
    let wide = dir.path().join("wide.png");
    std::fs::write(&wide, gradient_png(200, 60)).unwrap();
    for kind in [FixtureKind::Smolvlm, FixtureKind::Llava16] {
        let model = model(kind);
        let wide = layout(model, &encode(model, &wide));
        let tiled = layout(model, &encode(model, large));
        let chunks = |l: &[String]| l.iter().filter(|p| p.starts_with('E')).count();
        assert!(chunks(&tiled) >= 2, "{}: a 200x150 image gave {tiled:?}", kind.name());
        assert!(chunks(&wide) < chunks(&tiled), "{}: wide {wide:?} vs 4:3 {tiled:?}", kind.name());
        if kind == FixtureKind::Smolvlm {
            // Each tile is introduced by its grid position, row by row, and the whole
            // image by <global-img>, each chunk framed by <fake_token_around_image>.
            let fake = "<fake_token_around_image>";
            let expected = [
                format!("{fake}<row_1_col_1>"),
                "E16".into(),
                format!("{fake}<row_1_col_2>"),
                "E16".into(),
                format!("\n{fake}<row_2_col_1>"),
                "E16".into(),
                format!("{fake}<row_2_col_2>"),
                "E16".into(),
                format!("\n\n{fake}<global-img>"),
                "E16".into(),
                fake.to_string(),
            ];
            assert_eq!(tiled, expected);
        }
    }
}

/// M-RoPE: a Qwen image advances the position by its grid's longer side but fills a
/// KV cell per embedding. A pair whose positions fit the context but whose cells do
/// not is refused with its own error; the pairs beside it are judged.
#[test]
fn qwen_length_checks_count_kv_cells_not_positions() {
    let files = fixture(FixtureKind::Qwen25vl);
    // No image budget: a 640x480 photo keeps its ~390 embeddings.
    let no_budget = ModelParams { image_max_tokens: 0, ..ModelParams::default() };
    let unbudgeted = Model::load(&files.model, Some(&files.mmproj), &no_budget).unwrap();
    let (dir, red, _, _) = images();
    let photo = dir.path().join("photo.png");
    std::fs::write(&photo, gradient_png(640, 480)).unwrap();
    let image = encode(&unbudgeted, &photo);
    assert!(image.n_tokens > 300, "{} cells", image.n_tokens);
    assert!((image.n_pos as usize) < image.n_tokens / 10, "{} positions for {} cells", image.n_pos, image.n_tokens);
    let pairs = [image_pair("photo", &photo), image_pair("red", red), common::sample_pairs(1).remove(0)];
    let verdicts =
        judge_all(&unbudgeted, JudgeParams { ctx_per_seq: 384, parallel: 3, ..params(Mode::Fast, true) }, &pairs);
    let error = verdicts[0].error.as_deref().expect("the photo's cells exceed the context");
    assert!(error.contains("KV cells") && error.contains("for the image"), "{error}");
    assert_eq!(verdicts[1].error, None);
    assert_eq!(verdicts[2].error, None);
    // With the default budget the same photo is downscaled to fit, and judged.
    let verdict = judge_all(
        model(FixtureKind::Qwen25vl),
        JudgeParams { ctx_per_seq: 1024, ..params(Mode::Fast, true) },
        &pairs[..1],
    );
    assert_eq!(verdict[0].error, None);
}

/// Gemma 3's image embeddings attend to each other in both directions, so llama.cpp
/// needs each image chunk in one micro-batch; the judge sizes its micro-batches so.
#[test]
fn gemma3_images_are_decoded_non_causally_in_one_micro_batch() {
    let model = model(FixtureKind::Gemma3);
    let (_, red, _, large) = images();
    let image = encode(model, large);
    assert_eq!(image.chunks(), 1);
    let text = layout(model, &image);
    assert_eq!(text, ["<start_of_image>", "E16", "<end_of_image>"]);
    for ctx_per_seq in [256, 600] {
        let verdicts =
            judge_all(model, JudgeParams { ctx_per_seq, ..params(Mode::Fast, true) }, &[image_pair("r", red)]);
        assert_eq!(verdicts[0].error, None, "ctx_per_seq {ctx_per_seq}");
    }
}

/// An mmproj whose framing tokens the language model's vocabulary lacks (SmolVLM's
/// projector on a plain llama model): mtmd looks them up as -1, which would fail the
/// whole decode; each image pair gets a clear error and text pairs are judged.
#[test]
fn framing_tokens_missing_from_the_vocabulary_are_a_per_pair_error() {
    let smolvlm = fixture(FixtureKind::Smolvlm);
    let tiny = fixture(FixtureKind::TinyVlm);
    let model = Model::load(&tiny.model, Some(&smolvlm.mmproj), &ModelParams::default()).unwrap();
    let (_, red, _, _) = images();
    let pairs = [image_pair("red", red), common::sample_pairs(1).remove(0)];
    let verdicts = judge_all(&model, params(Mode::Fast, true), &pairs);
    let error = verdicts[0].error.as_deref().expect("an error for the image pair");
    assert!(error.contains("vocabulary lacks"), "{error}");
    assert_eq!(verdicts[1].error, None);
}
