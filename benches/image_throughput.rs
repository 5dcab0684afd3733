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

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vlmjudge::engine::{Model, ModelParams};
use vlmjudge::fixture::{write_mmproj, VisionShape};
use vlmjudge::judge::{ImageSource, Judge, JudgeParams, Pair};

/// `n` distinct images (a colour gradient each) written as PNG files.
fn write_images(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let path = dir.join(format!("img{i}.png"));
            let k = (i * 37) as u32;
            image::RgbImage::from_fn(96, 96, |x, y| image::Rgb([(x + k) as u8, (y * 2 + k) as u8, (k * 3) as u8]))
                .save(&path)
                .unwrap();
            path
        })
        .collect()
}

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

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let images = write_images(dir.path(), 12);
    let tiny = dir.path().join("tiny.gguf");
    write_mmproj(&tiny, &VisionShape::tiny(576), 1).unwrap();
    let larger = dir.path().join("vit.gguf");
    let shape = VisionShape {
        image_size: 224,
        patch_size: 16,
        n_embd: 384,
        n_head: 6,
        n_ff: 1536,
        n_layer: 7,
        proj_hidden: 1024,
        n_embd_text: 576,
    };
    write_mmproj(&larger, &shape, 1).unwrap();
    println!("threads: {}", vlmjudge::engine::default_threads());
    bench_shape("16-token encoder", &tiny, &images);
    bench_shape("196-token ViT", &larger, &images[..6]);
}
