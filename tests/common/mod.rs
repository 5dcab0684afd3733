//! Shared helpers: the real demo model, loaded once per test binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use vlmjudge::engine::{Model, ModelParams};
use vlmjudge::judge::{Judge, JudgeParams, Pair, Verdict};

/// The SmolLM2-135M-Instruct GGUF fetched by `scripts/fetch_demo_model.py`
/// (`make test` does that first and exports its path).
pub fn demo_model_path() -> PathBuf {
    let path = vlmjudge::demo_model_path();
    assert!(
        path.is_file(),
        "demo model missing at {}: run `make test` (or scripts/fetch_demo_model.py) first",
        path.display()
    );
    path
}

/// The `vlmjudge` binary of this build: cargo's own path in vlmjudge's tests, the one
/// beside the test binary's directory in the lab's (`cargo test --workspace` builds it).
pub fn product_binary() -> PathBuf {
    let bin = match option_env!("CARGO_BIN_EXE_vlmjudge") {
        Some(path) => PathBuf::from(path),
        None => {
            let test = std::env::current_exe().unwrap();
            test.parent().and_then(Path::parent).unwrap().join("vlmjudge")
        }
    };
    assert!(bin.is_file(), "{} missing: build it with `cargo build --release --workspace`", bin.display());
    bin
}

pub fn demo_model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::load(demo_model_path(), None, &ModelParams::default()).expect("demo model loads"))
}

/// Judges `pairs` in one batch on `model`; the verdicts in input order, each pair
/// reported exactly once.
pub fn judge_all(model: &Model, params: JudgeParams, pairs: &[Pair]) -> Vec<Verdict> {
    let mut judge = Judge::new(model, params).unwrap();
    let mut out: Vec<Option<Verdict>> = vec![None; pairs.len()];
    judge
        .judge_batch(pairs, |i, v| {
            assert!(out[i].is_none(), "pair {i} reported twice");
            out[i] = Some(v);
            true
        })
        .unwrap();
    out.into_iter().map(|v| v.expect("every pair gets a verdict")).collect()
}

/// `n` distinct text pairs with varied lengths.
pub fn sample_pairs(n: usize) -> Vec<Pair> {
    let subjects = ["cat", "spider", "bird", "dog", "ant", "snake", "horse", "fish"];
    let legs = [4, 8, 2, 4, 6, 0, 4, 0];
    (0..n)
        .map(|i| {
            let k = i % subjects.len();
            let padding = " Please answer carefully.".repeat(i % 4);
            Pair::text(
                format!("p{i}"),
                format!("How many legs does a {} have?{padding}", subjects[k]),
                format!("A {} has {} legs.", subjects[k], legs[k]),
                format!("A {} has {} legs.", subjects[k], legs[k] + 1 + i % 3),
            )
        })
        .collect()
}

/// A generated fixture (tiny-vlm or smollm2-vision, seed 0), written once per test
/// binary into a temporary directory: generating takes a fraction of a second, and a
/// fresh copy can never be stale.
pub fn fixture(kind: vlmjudge_lab::fixture::FixtureKind) -> vlmjudge_lab::fixture::FixtureFiles {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static BUILT: OnceLock<Mutex<HashMap<&'static str, vlmjudge_lab::fixture::FixtureFiles>>> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap();
    built
        .entry(kind.name())
        .or_insert_with(|| {
            vlmjudge_lab::fixture::write_fixture(kind, &dir.path().join(kind.name()), 0, &demo_model_path())
                .expect("fixture builds")
        })
        .clone()
}

/// Each family fixture (`FixtureKind::FAMILIES`) with its mmproj, loaded once per test
/// binary.
pub fn family_model(kind: vlmjudge_lab::fixture::FixtureKind) -> &'static Model {
    use vlmjudge_lab::fixture::FixtureKind;
    static MODELS: OnceLock<Vec<(FixtureKind, Model)>> = OnceLock::new();
    let models = MODELS.get_or_init(|| {
        FixtureKind::FAMILIES
            .into_iter()
            .map(|kind| {
                let files = fixture(kind);
                let model = Model::load(&files.model, Some(&files.mmproj), &ModelParams::default())
                    .unwrap_or_else(|e| panic!("the {} fixture loads: {e}", kind.name()));
                (kind, model)
            })
            .collect()
    });
    &models.iter().find(|(k, _)| *k == kind).expect("a family fixture").1
}

/// A solid-colour PNG of `width` x `height`.
pub fn solid_png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}
