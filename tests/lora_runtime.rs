//! The judge runtime applies LoRA adapters (`ModelParams::lora`, `vlmjudge judge --lora`).

mod common;

use common::fixture;
use vlmjudge::engine::{LoraSpec, Model, ModelParams};
use vlmjudge::export::{write_lora_adapter, LoraPair};
use vlmjudge::gguf::GgufFile;
use vlmjudge::judge::{Judge, JudgeParams, Pair};
use vlmjudge::Error;
use vlmjudge_lab::fixture::FixtureKind;

fn p_a(model: &Model) -> f64 {
    let mut judge = Judge::new(model, JudgeParams { ctx_per_seq: 256, ..JudgeParams::default() }).unwrap();
    judge.judge_pair(&Pair::text("q", "How many legs does a cat have?", "Four.", "Seven.")).unwrap().p_a.unwrap()
}

/// An adapter on every layer's q and v projections; B = `b` everywhere.
fn adapter(dir: &std::path::Path, name: &str, b: f32) -> std::path::PathBuf {
    let tiny = fixture(FixtureKind::TinyVlm);
    let base = GgufFile::open(&tiny.model).unwrap();
    let (n, rank) = (64usize, 4usize);
    let pairs: Vec<LoraPair> = (0..2)
        .flat_map(|il| ["attn_q", "attn_v"].map(move |t| (il, t)))
        .map(|(il, t)| {
            let info = base.tensor(&format!("blk.{il}.{t}.weight")).unwrap();
            let n_out = info.dims[1] as usize;
            LoraPair {
                base_name: info.name.clone(),
                n_in: n,
                n_out,
                rank,
                a: (0..rank * n).map(|i| ((i % 7) as f32 - 3.0) * 0.05).collect(),
                b: vec![b; n_out * rank],
            }
        })
        .collect();
    let path = dir.join(name);
    write_lora_adapter(&path, &base, 8.0, &pairs).unwrap();
    path
}

fn load(lora: Vec<LoraSpec>) -> Model {
    let tiny = fixture(FixtureKind::TinyVlm);
    Model::load(&tiny.model, None, &ModelParams { lora, ..ModelParams::default() }).unwrap()
}

#[test]
fn a_zero_adapter_changes_nothing_and_a_trained_one_changes_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let base = p_a(&load(vec![]));
    let zero = adapter(dir.path(), "zero.gguf", 0.0);
    let moved = adapter(dir.path(), "moved.gguf", 0.5);
    assert_eq!(p_a(&load(vec![LoraSpec { path: zero, scale: 1.0 }])), base);
    let with = p_a(&load(vec![LoraSpec { path: moved.clone(), scale: 1.0 }]));
    assert!((with - base).abs() > 1e-4, "the adapter did not change p(A): {with} vs {base}");
    // Scale 0 switches it off again.
    assert_eq!(p_a(&load(vec![LoraSpec { path: moved, scale: 0.0 }])), base);
}

#[test]
fn a_file_that_is_not_an_adapter_is_refused() {
    let tiny = fixture(FixtureKind::TinyVlm);
    let params =
        ModelParams { lora: vec![LoraSpec { path: tiny.mmproj.clone(), scale: 1.0 }], ..ModelParams::default() };
    let err = Model::load(&tiny.model, None, &params).unwrap_err();
    assert!(matches!(err, Error::InvalidGguf { .. }) && err.to_string().contains("not a LoRA adapter"), "{err}");
}

#[test]
fn an_adapter_for_another_model_is_refused_with_llama_cpps_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = adapter(dir.path(), "tiny.gguf", 0.1);
    let params = ModelParams { lora: vec![LoraSpec { path, scale: 1.0 }], ..ModelParams::default() };
    let err = Model::load(common::demo_model_path(), None, &params).unwrap_err();
    assert!(matches!(err, Error::ModelLoad { .. }), "{err:?}");
}
