//! Shared helpers: the real demo model, loaded once per test binary.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use vlmjudge::engine::{Model, ModelParams};
use vlmjudge::judge::Pair;

/// The SmolLM2-135M-Instruct GGUF fetched by `scripts/fetch_demo_model.py`
/// (`make test` does that first and exports its path).
pub fn demo_model_path() -> PathBuf {
    let path = std::env::var_os("VLMJUDGE_DEMO_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("VLMJUDGE_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/vlmjudge"));
            cache.join("models/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    assert!(
        path.is_file(),
        "demo model missing at {}: run `make test` (or scripts/fetch_demo_model.py) first",
        path.display()
    );
    path
}

pub fn demo_model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::load(demo_model_path(), None, &ModelParams::default()).expect("demo model loads"))
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
