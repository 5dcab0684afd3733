//! What hostile inputs cost before they are refused: over-long text, huge images.
//! Run with `--test-threads 1`: the memory checks read this process's peak RSS, which
//! another test running beside them would raise.
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

mod common;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::{demo_model, fixture};
use vlmjudge::engine::{decode_image, ImageLimits, Model, ModelParams};
use vlmjudge::generate::{GenParams, GenRequest, Generator};
use vlmjudge::judge::{ImageSource, Judge, JudgeParams, Mode, Pair};
use vlmjudge_lab::fixture::FixtureKind;

const MEGABYTE: usize = 1 << 20;

/// A megabyte of random lower-case letters: no spaces, so the BPE tokenizer works on
/// long words, its slowest case (seconds per tokenization before the length check).
fn random_letters(len: usize) -> String {
    let mut state = 1u64;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (b'a' + ((state >> 33) % 26) as u8) as char
        })
        .collect()
}

/// Well under the seconds tokenizing took, and well over what a length check costs,
/// even on a loaded machine.
const QUICK: Duration = Duration::from_millis(500);

#[test]
fn a_megabyte_answer_is_refused_before_it_is_tokenized() {
    let mut judge = Judge::new(demo_model(), JudgeParams { parallel: 1, ..JudgeParams::default() }).unwrap();
    let pair = Pair::text("long", "Which is better?", random_letters(MEGABYTE), "Short answer.");
    let started = Instant::now();
    let verdict = judge.judge_pair(&pair).unwrap();
    let took = started.elapsed();
    let error = verdict.error.expect("a 1 MB answer cannot fit 1024 cells");
    eprintln!("judge, 1 MB answer: refused in {took:?}: {error}");
    assert!(error.contains("too long for the context"), "{error}");
    // It says how long the text is and what fits.
    assert!(error.contains("its text is 1048605 bytes") && error.contains("response_a 1048576"), "{error}");
    assert!(error.contains("room for 1024"), "{error}");
    assert!(took < QUICK, "refusing a 1 MB answer took {took:?}");
}

#[test]
fn reason_mode_counts_the_reasoning_room_in_the_length_check() {
    let params = JudgeParams { parallel: 1, mode: Mode::Reason, max_tokens: 200, ..JudgeParams::default() };
    let mut judge = Judge::new(demo_model(), params).unwrap();
    let pair = Pair::text("long", "Which is better?", "Short answer.", random_letters(MEGABYTE));
    let error = judge.judge_pair(&pair).unwrap().error.expect("too long");
    assert!(error.contains("response_b 1048576") && error.contains("less"), "{error}");
    assert!(error.contains("--max-tokens"), "{error}");
}

#[test]
fn a_megabyte_prompt_is_refused_before_it_is_tokenized() {
    let params = GenParams { parallel: 1, max_samples: 1, ..GenParams::default() };
    let mut generator = Generator::new(demo_model(), params).unwrap();
    let request = GenRequest { id: "g".into(), system: None, user: random_letters(MEGABYTE), image: None, n: 1 };
    let started = Instant::now();
    let mut error = None;
    generator
        .generate(std::slice::from_ref(&request), |_, output| {
            error = output.error;
            true
        })
        .unwrap();
    let took = started.elapsed();
    let error = error.expect("a 1 MB prompt cannot fit 1024 cells");
    eprintln!("generate, 1 MB prompt: refused in {took:?}: {error}");
    assert!(error.contains("too long for the context") && error.contains("1048576 bytes"), "{error}");
    assert!(took < QUICK, "refusing a 1 MB prompt took {took:?}");
}

#[test]
fn text_just_over_the_context_still_gets_the_exact_count() {
    // Short enough to pass the length check, too many tokens to fit: tokenized, and
    // refused with the exact count of cells.
    let mut judge =
        Judge::new(demo_model(), JudgeParams { parallel: 1, ctx_per_seq: 64, ..JudgeParams::default() }).unwrap();
    let pair = Pair::text("p", "Which is better?", "one two three four five six seven eight nine ten", "eleven twelve");
    let error = judge.judge_pair(&pair).unwrap().error.expect("over 64 cells");
    assert!(error.contains("it needs") && error.contains("KV cells"), "{error}");
}

/// Resets this process's peak RSS (VmHWM).
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("Linux lets a process reset its peak RSS");
}

fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap() / 1024.0
}

/// The peak RSS `work` adds over what the process holds when it starts, in MB.
fn peak_rss_of<T>(work: impl FnOnce() -> T) -> (T, f64) {
    let base = status_mb("VmRSS:");
    reset_peak_rss();
    let out = work();
    (out, status_mb("VmHWM:") - base)
}

/// A real JPEG of `width` x `height`: a smooth gradient, as a photo compresses.
fn jpeg(width: u32, height: u32) -> Arc<[u8]> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x / 32) as u8, (y / 32) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner().into()
}

fn tiny_vlm() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let files = fixture(FixtureKind::TinyVlm);
        Model::load(&files.model, Some(&files.mmproj), &ModelParams::default()).expect("fixture loads")
    })
}

#[test]
#[cfg(target_os = "linux")] // reads the peak RSS from /proc
fn a_7000x7000_jpeg_is_refused_from_its_header_at_no_cost() {
    let model = tiny_vlm();
    let bytes = jpeg(7000, 7000);
    let (result, peak) = peak_rss_of(|| model.encode_image(&ImageSource::Bytes(bytes.clone())).map(|_| ()));
    eprintln!("7000x7000 JPEG ({} bytes): {result:?}, peak +{peak:.0} MB", bytes.len());
    let error = result.expect_err("49 megapixels is over the limit");
    assert!(error.contains("7000x7000") && error.contains("limit"), "{error}");
    // Before the limit was lowered, encoding it peaked at +420 MB.
    assert!(peak < 32.0, "refusing it cost {peak:.0} MB");
}

#[test]
#[cfg(target_os = "linux")] // reads the peak RSS from /proc
fn a_6000x4000_photo_is_encoded_holding_at_most_two_full_copies() {
    let model = tiny_vlm();
    let bytes = jpeg(6000, 4000);
    let rgb_mb = 6000.0 * 4000.0 * 3.0 / 1e6 * (1e6 / 1048576.0);
    let (decoded, decode_peak) = peak_rss_of(|| decode_image(&bytes, None, &ImageLimits::default()).unwrap());
    assert_eq!((decoded.width, decoded.height, decoded.pixels.len()), (6000, 4000, 72_000_000));
    drop(decoded);
    let (encoded, peak) = peak_rss_of(|| model.encode_image(&ImageSource::Bytes(bytes.clone())));
    eprintln!(
        "6000x4000 JPEG: decode peak +{decode_peak:.0} MB, encode peak +{peak:.0} MB (one RGB copy {rgb_mb:.0} MB)"
    );
    assert!(encoded.expect("a 24 MP photo is within the limits").n_tokens > 0);
    // Decoding straight to RGB holds one copy; encoding holds mtmd's two (ours is
    // freed once mtmd has its own). Before, encoding peaked at three (+206 MB).
    assert!(decode_peak < 1.3 * rgb_mb, "decoding peaked at +{decode_peak:.0} MB");
    assert!(peak < 2.5 * rgb_mb, "encoding peaked at +{peak:.0} MB");
}

#[test]
#[cfg(target_os = "linux")] // reads the peak RSS from /proc
fn an_rgba_png_is_decoded_without_a_second_full_copy() {
    let (width, height) = (4000u32, 3000u32);
    let image = image::RgbaImage::from_fn(width, height, |x, y| image::Rgba([x as u8, y as u8, 7, (x ^ y) as u8]));
    let mut png = std::io::Cursor::new(Vec::new());
    image.write_to(&mut png, image::ImageFormat::Png).unwrap();
    drop(image);
    let png = png.into_inner();
    let rgba_mb = f64::from(width * height * 4) / 1048576.0;
    let (decoded, peak) = peak_rss_of(|| decode_image(&png, None, &ImageLimits::default()).unwrap());
    eprintln!("4000x3000 RGBA PNG: decode peak +{peak:.0} MB (the RGBA buffer {rgba_mb:.0} MB)");
    assert_eq!(decoded.pixels.len(), (width * height * 3) as usize);
    // The `image` crate's own conversion would hold RGBA and RGB at once (1.75x).
    assert!(peak < 1.3 * rgba_mb, "decoding peaked at +{peak:.0} MB");
}
