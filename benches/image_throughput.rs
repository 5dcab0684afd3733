//! Image judging throughput, as ratios against baselines measured in the same run.
//!
//! (a) image pairs/s in fast mode with swap debiasing (image decoded once per pair and
//!     shared by both orders, encodes cached) vs the naive way: each order judged on
//!     its own, the image encoded every time;
//! (b) the cost of an image that is in the cache vs a fresh encode.
//!
//! The language model is the real SmolLM2-135M; the vision encoders are generated
//! (random weights, so only their cost is meaningful): the `smollm2-vision` fixture
//! (32 px, 16 image tokens) and a larger ViT (224 px in 16 px patches, 196 tokens, 6
//! layers of width 384), closer to what a real VLM spends per image.
//!
//! Then, per VLM family (SmolVLM, Qwen2.5-VL, Gemma 3, LLaVA-1.6), on the generated
//! family fixtures (tiny random language models and encoders) and 1024x768 JPEG photos:
//! what one photo costs at the default image budget with the family's real image
//! geometry (image tokens, KV cells, positions, chunks; `vlmjudge-lab fixture --geometry real`),
//! and image pairs/s in fast mode with swap (default judge settings, 8 pairs in flight)
//! with the tiny and the real geometry. The models are tiny, so the pairs/s measure the
//! image path (decoding, resizing, tiling, encoding, decoding the embeddings) rather
//! than a real model's compute.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vlmjudge::engine::{Model, ModelParams, DEFAULT_IMAGE_MAX_TOKENS};
use vlmjudge::judge::{ImageSource, Judge, JudgeParams, Pair};
use vlmjudge_lab::fixture::{write_fixture_with, write_mmproj, FixtureKind, Geometry, VisionShape};

fn pair(i: usize, image: &Path, swapped: bool) -> Pair {
    let (a, b) =
        (format!("There are {} circles in the picture.", i % 5 + 1), format!("There are {} squares.", i % 4 + 2));
    let (a, b) = if swapped { (b, a) } else { (a, b) };
    Pair {
        id: format!("p{i}"),
        question: "How many shapes are in the picture, and what are they?".into(),
        response_a: a,
        response_b: b,
        image: Some(ImageSource::Path(image.to_path_buf())),
    }
}

fn load(mmproj: &Path, cache_entries: usize) -> Model {
    let params = ModelParams { image_cache_entries: cache_entries, ..ModelParams::default() };
    Model::load(vlmjudge::demo_model_path(), Some(mmproj), &params).expect("model loads")
}

fn timed(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

fn bench_shape(name: &str, mmproj: &Path, images: &[PathBuf]) {
    let params = JudgeParams { ctx_per_seq: 768, ..JudgeParams::default() };
    let pairs: Vec<Pair> = images.iter().enumerate().map(|(i, img)| pair(i, img, false)).collect();
    let n = pairs.len() as f64;

    // Ours: swap in one go, shared image prefix, cache on, 8 pairs in flight.
    let model = load(mmproj, 64);
    let mut judge = Judge::new(&model, params.clone()).unwrap();
    let ours = timed(|| judge.judge_batch(&pairs, |_, v| v.error.is_none()).unwrap());
    assert_eq!(model.image_stats().encoded, images.len() as u64);

    // Naive: each order as its own single-order pair, one at a time, no cache.
    let naive_model = load(mmproj, 0);
    let mut naive = Judge::new(&naive_model, JudgeParams { swap: false, parallel: 1, ..params.clone() }).unwrap();
    let baseline = timed(|| {
        for (i, img) in images.iter().enumerate() {
            for swapped in [false, true] {
                let v = naive.judge_pair(&pair(i, img, swapped)).unwrap();
                assert!(v.error.is_none(), "{v:?}");
            }
        }
    });
    assert_eq!(naive_model.image_stats().encoded, 2 * images.len() as u64);
    println!(
        "[{name}] (a) image pairs/s, fast mode with swap: {:.2} vs naive {:.2} -> {:.2}x",
        n / ours.as_secs_f64(),
        n / baseline.as_secs_f64(),
        baseline.as_secs_f64() / ours.as_secs_f64()
    );

    // Cache hit vs fresh encode of the same image file.
    let source = ImageSource::Path(images[0].clone());
    let reps = 20;
    let fresh = timed(|| {
        for _ in 0..reps {
            naive_model.encode_image(&source).unwrap();
        }
    });
    let hits_before = model.image_stats().cache_hits;
    let hit = timed(|| {
        for _ in 0..reps {
            model.encode_image(&source).unwrap();
        }
    });
    assert_eq!(model.image_stats().cache_hits, hits_before + reps);
    println!(
        "[{name}] (b) fresh encode {:.2} ms vs cache hit {:.3} ms -> a hit costs {:.1e} of an encode ({:.0}x cheaper)",
        fresh.as_secs_f64() * 1e3 / reps as f64,
        hit.as_secs_f64() * 1e3 / reps as f64,
        hit.as_secs_f64() / fresh.as_secs_f64(),
        fresh.as_secs_f64() / hit.as_secs_f64()
    );
}

/// Distinct photos per family and geometry: one to warm the judge up, the rest timed.
const TINY_PHOTOS: usize = 17;
const REAL_PHOTOS: usize = 9;

/// `n` distinct 1024x768 "photos" (smooth colour fields with a few hard edges) saved
/// as JPEG, as a camera would.
fn write_photos(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let path = dir.join(format!("photo{i}.jpg"));
            let k = i as u32 * 29;
            image::RgbImage::from_fn(1024, 768, |x, y| {
                let disc = (x as i32 - 300 - k as i32).pow(2) + (y as i32 - 380).pow(2) < 150 * 150;
                let stripe = (x / 128 + y / 96 + k) % 5 == 0;
                let base = [(x / 4 + k) as u8, (y / 3) as u8, ((x + y) / 7 + 3 * k) as u8];
                match (disc, stripe) {
                    (true, _) => image::Rgb([230, 40, (k * 5) as u8]),
                    (false, true) => image::Rgb([base[2], base[0], base[1]]),
                    (false, false) => image::Rgb(base),
                }
            })
            .save(&path)
            .unwrap();
            path
        })
        .collect()
}

/// What one photo costs a sequence.
struct PhotoCost {
    image_tokens: usize,
    /// KV cells: image embeddings plus the framing text mtmd adds.
    cells: usize,
    positions: i32,
    chunks: usize,
    /// Reading and decoding the file, mtmd's resizing and tiling, and the encoder.
    encode: Duration,
}

fn photo_cost(model: &Model, photo: &Path) -> PhotoCost {
    let started = Instant::now();
    let image = model.encode_image(&ImageSource::Path(photo.to_path_buf())).expect("the photo encodes");
    PhotoCost {
        image_tokens: image.image_tokens(),
        cells: image.n_tokens,
        positions: image.n_pos,
        chunks: image.chunks(),
        encode: started.elapsed(),
    }
}

/// Image pairs/s of a judge with `params` on `photos[1..]` (one pair each), after one
/// pair on `photos[0]` to warm it up.
fn pairs_per_second(model: &Model, params: JudgeParams, photos: &[PathBuf]) -> f64 {
    let mut judge = Judge::new(model, params).unwrap();
    let warm = judge.judge_pair(&pair(0, &photos[0], false)).unwrap();
    assert!(warm.error.is_none(), "{warm:?}");
    let pairs: Vec<Pair> = photos[1..].iter().enumerate().map(|(i, photo)| pair(i, photo, false)).collect();
    let mut errors = Vec::new();
    let took = timed(|| {
        judge
            .judge_batch(&pairs, |_, v| {
                errors.extend(v.error);
                true
            })
            .unwrap()
    });
    assert!(errors.is_empty(), "{errors:?}");
    pairs.len() as f64 / took.as_secs_f64()
}

/// One family's row of the tables.
struct FamilyRow {
    name: &'static str,
    real: PhotoCost,
    /// Image tokens and KV cells with no budget (the mmproj's own maximum).
    unbudgeted: (usize, usize),
    /// Whether a pair with the photo fits the default 1,024 cells per sequence, or the
    /// judge's message.
    default_ctx: Result<(), String>,
    tiny_pairs_s: f64,
    real_pairs_s: f64,
    real_ctx: u32,
}

fn bench_family(kind: FixtureKind, dir: &Path, photos: &[PathBuf]) -> FamilyRow {
    let demo = vlmjudge::demo_model_path();
    let files = |geometry: Geometry, name: &str| {
        write_fixture_with(kind, &dir.join(format!("{}-{name}", kind.name())), 0, &demo, geometry).unwrap()
    };
    let load = |files: &vlmjudge_lab::fixture::FixtureFiles, image_max_tokens: u32| {
        let params = ModelParams { image_max_tokens, ..ModelParams::default() };
        Model::load(&files.model, Some(&files.mmproj), &params).expect("the fixture loads")
    };

    let tiny = load(&files(Geometry::Tiny, "tiny"), DEFAULT_IMAGE_MAX_TOKENS);
    let tiny_pairs_s = pairs_per_second(&tiny, JudgeParams::default(), &photos[..TINY_PHOTOS]);

    let real_files = files(Geometry::Real, "real");
    let unbudgeted = photo_cost(&load(&real_files, 0), &photos[0]);
    let real = load(&real_files, DEFAULT_IMAGE_MAX_TOKENS);
    let cost = photo_cost(&real, &photos[0]);
    // Whether a pair with the photo fits the default context (the photo is cached now).
    let verdict = Judge::new(&real, JudgeParams::default()).unwrap().judge_pair(&pair(0, &photos[0], false)).unwrap();
    // Room for the image and the prompt's text.
    let real_ctx = (cost.cells as u32 + 256).next_multiple_of(256).max(JudgeParams::default().ctx_per_seq);
    let params = JudgeParams { ctx_per_seq: real_ctx, ..JudgeParams::default() };
    let real_pairs_s = pairs_per_second(&real, params, &photos[1..=REAL_PHOTOS]);
    FamilyRow {
        name: kind.name(),
        real: cost,
        unbudgeted: (unbudgeted.image_tokens, unbudgeted.cells),
        default_ctx: verdict.error.map_or(Ok(()), Err),
        tiny_pairs_s,
        real_pairs_s,
        real_ctx,
    }
}

fn bench_families(dir: &Path) {
    let started = Instant::now();
    let photos = write_photos(dir, TINY_PHOTOS.max(REAL_PHOTOS + 1));
    let rows: Vec<FamilyRow> = FixtureKind::FAMILIES.into_iter().map(|kind| bench_family(kind, dir, &photos)).collect();
    println!();
    println!(
        "Per family: one 1024x768 photo with the real image geometry at the default budget \
         (image_max_tokens {DEFAULT_IMAGE_MAX_TOKENS}); KV cells = image tokens + framing text"
    );
    println!(
        "{:<9} {:>12} {:>9} {:>10} {:>7} {:>10} {:>17} {:>16}",
        "family", "image tokens", "KV cells", "positions", "chunks", "encode ms", "no budget tok/KV", "fits 1024 cells"
    );
    let mut notes = Vec::new();
    for r in &rows {
        let fits = match &r.default_ctx {
            Ok(()) => "yes",
            Err(e) => {
                notes.push(format!("* {}: {e}", r.name));
                "no*"
            }
        };
        println!(
            "{:<9} {:>12} {:>9} {:>10} {:>7} {:>10.1} {:>17} {:>16}",
            r.name,
            r.real.image_tokens,
            r.real.cells,
            r.real.positions,
            r.real.chunks,
            r.real.encode.as_secs_f64() * 1e3,
            format!("{}/{}", r.unbudgeted.0, r.unbudgeted.1),
            fits,
        );
    }
    for note in notes {
        println!("{note}");
    }
    println!();
    println!(
        "Per family: image pairs/s, fast mode with swap, 8 in flight, distinct 1024x768 photos \
         ({} tiny, {} real, after one warm-up pair); qwen25vl's tiny geometry is its real one",
        TINY_PHOTOS - 1,
        REAL_PHOTOS - 1
    );
    println!("{:<9} {:>13} {:>13} {:>12}", "family", "tiny pairs/s", "real pairs/s", "real ctx/seq");
    for r in &rows {
        println!("{:<9} {:>13.2} {:>13.2} {:>12}", r.name, r.tiny_pairs_s, r.real_pairs_s, r.real_ctx);
    }
    println!("(per-family section: {:.0} s)", started.elapsed().as_secs_f64());
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let images = common::write_gradient_pngs(dir.path(), 12, 96);
    let tiny = dir.path().join("tiny.gguf");
    write_mmproj(&tiny, &VisionShape::tiny(576), 1).unwrap();
    let larger = dir.path().join("vit.gguf");
    write_mmproj(&larger, &VisionShape::vit_224(576), 1).unwrap();
    println!("threads: {}", vlmjudge::engine::default_threads());
    bench_shape("16-token encoder", &tiny, &images);
    bench_shape("196-token ViT", &larger, &images[..6]);
    bench_families(dir.path());
}
