//! Image pairs end to end on generated multimodal fixtures: a tiny random VLM, and a
//! random vision encoder feeding the real SmolLM2-135M.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use common::{demo_model_path, fixture, judge_all, solid_png};
use vlmjudge::engine::{Model, ModelParams};
use vlmjudge::judge::{ImageSource, Judge, JudgeParams, Mode, Pair, Verdict};
use vlmjudge::Error;
use vlmjudge_lab::fixture::FixtureKind;

fn load(kind: FixtureKind) -> Model {
    let files = fixture(kind);
    Model::load(&files.model, Some(&files.mmproj), &ModelParams::default()).expect("fixture loads")
}

fn shared(kind: FixtureKind) -> &'static Model {
    static TINY: OnceLock<Model> = OnceLock::new();
    static S2V: OnceLock<Model> = OnceLock::new();
    match kind {
        FixtureKind::TinyVlm => TINY.get_or_init(|| load(kind)),
        FixtureKind::Smollm2Vision => S2V.get_or_init(|| load(kind)),
        other => panic!("no shared model for {other:?}"),
    }
}

fn params(mode: Mode) -> JudgeParams {
    JudgeParams { mode, max_tokens: 16, ctx_per_seq: 384, ..JudgeParams::default() }
}

/// Image files in a temporary directory: a red and a blue square.
fn images() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let red = dir.path().join("red.png");
        let blue = dir.path().join("blue.png");
        std::fs::write(&red, solid_png(48, 40, [220, 30, 30])).unwrap();
        std::fs::write(&blue, solid_png(48, 40, [30, 30, 220])).unwrap();
        (dir, red, blue)
    })
}

fn image_pair(id: &str, image: ImageSource) -> Pair {
    Pair {
        id: id.into(),
        question: "What colour is the square?".into(),
        response_a: "The square is red.".into(),
        response_b: "The square is blue.".into(),
        image: Some(image),
    }
}

fn colour_pairs() -> Vec<Pair> {
    let (_, red, blue) = images();
    vec![image_pair("red", ImageSource::Path(red.clone())), image_pair("blue", ImageSource::Path(blue.clone()))]
}

fn assert_deterministic_and_image_conditioned(kind: FixtureKind, mode: Mode) -> Vec<Verdict> {
    let model = shared(kind);
    let first = judge_all(model, params(mode), &colour_pairs());
    let again = judge_all(model, params(mode), &colour_pairs());
    for (a, b) in first.iter().zip(&again) {
        assert_eq!(a.error, None, "{a:?}");
        assert!(a.p_a.is_some());
        assert_eq!(a.p_a, b.p_a, "greedy verdicts must repeat exactly");
        assert_eq!(a.orders, b.orders);
    }
    // Same text, different image: the image embeddings reach the language model.
    assert_ne!(first[0].p_a, first[1].p_a, "red and blue images gave the same p(A)");
    first
}

#[test]
fn tiny_vlm_gives_deterministic_image_conditioned_verdicts() {
    assert_deterministic_and_image_conditioned(FixtureKind::TinyVlm, Mode::Fast);
}

#[test]
fn smollm2_with_a_generated_mmproj_judges_images_and_still_writes_text() {
    assert_deterministic_and_image_conditioned(FixtureKind::Smollm2Vision, Mode::Fast);
    let reasoned = assert_deterministic_and_image_conditioned(FixtureKind::Smollm2Vision, Mode::Reason);
    for v in &reasoned {
        for o in &v.orders {
            let text = o.reasoning.as_deref().unwrap();
            assert!(text.split_whitespace().count() >= 3, "expected words, got {text:?}");
        }
    }
}

#[test]
fn an_image_used_by_10_pairs_is_encoded_once() {
    let model = load(FixtureKind::TinyVlm);
    let (_, red, _) = images();
    let pairs: Vec<Pair> = (0..10).map(|i| image_pair(&format!("p{i}"), ImageSource::Path(red.clone()))).collect();
    let verdicts = judge_all(&model, JudgeParams { parallel: 4, ..params(Mode::Fast) }, &pairs);
    assert!(verdicts.iter().all(|v| v.error.is_none()));
    let stats = model.image_stats();
    assert_eq!(stats.encoded, 1, "{stats:?}");
    assert_eq!(stats.cache_hits, 9, "{stats:?}");
    // The same bytes given in memory hit the same cache entry (it is keyed by content).
    let bytes: Arc<[u8]> = std::fs::read(red).unwrap().into();
    judge_all(&model, params(Mode::Fast), &[image_pair("mem", ImageSource::Bytes(bytes))]);
    assert_eq!(model.image_stats().encoded, 1);
    // Every pair's verdict equals the first: a cached image gives the same result.
    assert!(verdicts.iter().all(|v| v.p_a == verdicts[0].p_a));
}

#[test]
fn swap_decodes_the_image_once_per_pair_and_shares_it() {
    let model = shared(FixtureKind::TinyVlm);
    let (_, red, _) = images();
    let mut judge = Judge::new(model, params(Mode::Fast)).unwrap();
    let v = judge.judge_pair(&image_pair("s", ImageSource::Path(red.clone()))).unwrap();
    assert_eq!(v.error, None);
    // 32x32 input in 8x8 patches: 16 image tokens, decoded on one sequence and copied.
    assert_eq!(judge.stats().image_tokens, 16);
}

#[test]
fn an_image_pair_gets_the_same_result_alone_and_among_others() {
    let model = shared(FixtureKind::TinyVlm);
    let (_, red, blue) = images();
    let target = image_pair("target", ImageSource::Path(red.clone()));
    let alone = judge_all(model, params(Mode::Fast), std::slice::from_ref(&target));
    let mut crowd: Vec<Pair> = (0..7)
        .map(|i| {
            let mut p =
                image_pair(&format!("c{i}"), ImageSource::Path(if i % 2 == 0 { blue.clone() } else { red.clone() }));
            p.question = format!("{} Look closely{}", p.question, "!".repeat(i));
            p
        })
        .collect();
    crowd.insert(3, target);
    let together = judge_all(model, JudgeParams { parallel: 8, ..params(Mode::Fast) }, &crowd);
    let (a, b) = (alone[0].p_a.unwrap(), together[3].p_a.unwrap());
    assert!((a - b).abs() < 1e-3, "alone {a} vs in a batch {b}");
}

fn error_of(model: &Model, image: ImageSource) -> String {
    let v = &judge_all(model, params(Mode::Fast), &[image_pair("bad", image)])[0];
    v.error.clone().unwrap_or_else(|| panic!("expected an error, got {v:?}"))
}

/// A PNG whose header claims `width` x `height` (with a valid checksum) and whose data
/// is a few bytes: what a decompression bomb or a degenerate file looks like.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut png = solid_png(1, 1, [0, 0, 0]);
    // IHDR data starts after the 8-byte signature, 4-byte length and 4-byte type.
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> ImageSource {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    ImageSource::Path(path)
}

#[test]
fn bad_images_get_clear_per_pair_errors() {
    let model = shared(FixtureKind::TinyVlm);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases = [
        (write(d, "noise.png", b"this is not an image at all"), "not a PNG, JPEG, WebP or GIF"),
        (write(d, "photo.jpg", &solid_png(8, 8, [1, 2, 3])), "extension says JPEG but the content is PNG"),
        (write(d, "picture.bmp", &solid_png(8, 8, [1, 2, 3])), "is not an image type vlmjudge reads"),
        (write(d, "empty.png", &png_header_only(0, 0)), "PNG"),
        (write(d, "bomb.png", &png_header_only(60_000, 60_000)), "60000x60000"),
        (write(d, "none.png", b""), "empty"),
        (ImageSource::Bytes(Arc::from(&b"\x89PNG\r\n\x1a\ntruncated"[..])), "PNG"),
        (ImageSource::Path(d.join("missing.png")), "image not found"),
    ];
    for (image, expected) in cases {
        let error = error_of(model, image);
        assert!(error.contains(expected), "expected {expected:?} in {error:?}");
    }
    // The 0x0 and 60000x60000 cases are refused from the header, before any decoding.
    assert!(error_of(model, write(d, "bomb2.png", &png_header_only(60_000, 60_000))).contains("limit"));
    // A bad image costs only its own pair.
    let (_, red, _) = images();
    let pairs =
        [image_pair("bad", write(d, "bad.png", b"garbage")), image_pair("good", ImageSource::Path(red.clone()))];
    let v = judge_all(model, params(Mode::Fast), &pairs);
    assert!(v[0].error.is_some() && v[1].error.is_none());
}

#[test]
fn an_mmproj_of_the_wrong_width_fails_to_load_with_a_clear_message() {
    let tiny = fixture(FixtureKind::TinyVlm);
    let err = Model::load(demo_model_path(), Some(&tiny.mmproj), &ModelParams::default()).unwrap_err();
    assert!(matches!(err, Error::MmprojLoad { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("mismatch") && text.contains("576") && text.contains("64"), "{text}");
}

#[test]
fn an_image_pair_without_an_mmproj_is_a_per_pair_error() {
    let (_, red, _) = images();
    let v = &judge_all(common::demo_model(), params(Mode::Fast), &[image_pair("x", ImageSource::Path(red.clone()))])[0];
    assert!(v.error.as_deref().unwrap().contains("no mmproj"), "{v:?}");
}

#[test]
fn jpeg_webp_and_gif_images_are_judged_too() {
    let model = shared(FixtureKind::TinyVlm);
    let dir = tempfile::tempdir().unwrap();
    let image = image::RgbImage::from_fn(40, 40, |x, y| image::Rgb([(x * 6) as u8, (y * 6) as u8, 90]));
    for (name, format) in
        [("a.jpg", image::ImageFormat::Jpeg), ("a.webp", image::ImageFormat::WebP), ("a.gif", image::ImageFormat::Gif)]
    {
        let path = dir.path().join(name);
        image.save_with_format(&path, format).unwrap();
        let v = &judge_all(model, params(Mode::Fast), &[image_pair(name, ImageSource::Path(path))])[0];
        assert_eq!(v.error, None, "{name}: {v:?}");
    }
}
