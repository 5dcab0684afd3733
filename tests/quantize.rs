//! `vlmjudge quantize` / vlmjudge-quantize on generated and real models.

mod common;

use common::{demo_model_path, fixture};
use vlmjudge::engine::{Model, ModelParams};
use vlmjudge::judge::{Judge, JudgeParams, Pair};
use vlmjudge_lab::fixture::FixtureKind;
use vlmjudge_quantize::{quantize, QuantType, QuantizeError, QuantizeParams};

fn p_a(model_path: &std::path::Path) -> f64 {
    let model = Model::load(model_path, None, &ModelParams::default()).unwrap();
    let mut judge = Judge::new(&model, JudgeParams { ctx_per_seq: 256, ..JudgeParams::default() }).unwrap();
    let pair = Pair::text("q", "How many legs does a cat have?", "Four.", "Seven.");
    judge.judge_pair(&pair).unwrap().p_a.unwrap()
}

#[test]
fn an_f32_model_quantizes_to_smaller_files_that_judge_like_the_original() {
    vlmjudge::engine::backend().unwrap();
    // The llama layout and the families' own text stacks (their extra norms stay f32).
    for kind in [FixtureKind::TinyVlm, FixtureKind::Gemma3, FixtureKind::Qwen25vl] {
        let files = fixture(kind);
        let dir = tempfile::tempdir().unwrap();
        let reference = p_a(&files.model);
        let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len();
        for (name, tolerance) in [("q8_0", 0.02), ("q4_k_m", 0.1)] {
            let out = dir.path().join(format!("{name}.gguf"));
            quantize(&files.model, &out, &QuantizeParams::new(QuantType::parse(name).unwrap())).unwrap();
            assert!(size(&out) * 2 < size(&files.model), "{kind:?} {name} is not smaller");
            let p = p_a(&out);
            assert!((p - reference).abs() < tolerance, "{kind:?} {name}: p(A) {p} vs F32 {reference}");
            // The chat template and tokenizer survive (the judge above needed them).
        }
        // Nothing is left behind but the outputs.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }
}

#[test]
fn an_already_quantized_input_needs_allow_requantize() {
    vlmjudge::engine::backend().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("re.gguf");
    let err = quantize(&demo_model_path(), &out, &QuantizeParams::new(QuantType::Q4_0)).unwrap_err();
    assert!(matches!(err, QuantizeError::AlreadyQuantized { .. }), "{err}");
    assert!(err.to_string().contains("--allow-requantize") && err.to_string().contains("q4_1"), "{err}");
    assert!(!out.exists());
    let params = QuantizeParams { allow_requantize: true, ..QuantizeParams::new(QuantType::Q4_0) };
    quantize(&demo_model_path(), &out, &params).unwrap();
    assert!(out.exists());
}

#[test]
fn bad_inputs_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"not a gguf").unwrap();
    let params = QuantizeParams::new(QuantType::Q8_0);
    assert!(matches!(quantize(&junk, &dir.path().join("o.gguf"), &params), Err(QuantizeError::NotGguf { .. })));
    let missing = dir.path().join("missing.gguf");
    assert!(matches!(quantize(&missing, &dir.path().join("o.gguf"), &params), Err(QuantizeError::Io { .. })));
    let tiny = fixture(FixtureKind::TinyVlm);
    assert!(matches!(quantize(&tiny.model, &tiny.model, &params), Err(QuantizeError::SameFile(_))));
}

#[test]
fn an_mmproj_quantizes_too_and_still_encodes_images() {
    vlmjudge::engine::backend().unwrap();
    let tiny = fixture(FixtureKind::TinyVlm);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mmproj-q8_0.gguf");
    quantize(&tiny.mmproj, &out, &QuantizeParams::new(QuantType::Q8_0)).unwrap();
    assert!(std::fs::metadata(&out).unwrap().len() < std::fs::metadata(&tiny.mmproj).unwrap().len());
    let model = Model::load(&tiny.model, Some(&out), &ModelParams::default()).unwrap();
    let png = common::solid_png(40, 40, [200, 40, 40]);
    let mut judge = Judge::new(&model, JudgeParams { ctx_per_seq: 256, ..JudgeParams::default() }).unwrap();
    let pair = Pair {
        image: Some(vlmjudge::judge::ImageSource::Bytes(png.into())),
        ..Pair::text("img", "What colour?", "Red.", "Blue.")
    };
    let v = judge.judge_pair(&pair).unwrap();
    assert_eq!(v.error, None);
    assert_eq!(model.image_stats().encoded, 1);
}

#[test]
fn the_cli_rejects_an_unknown_type_with_the_supported_list() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vlmjudge"))
        .args(["quantize", "in.gguf", "out.gguf", "--type", "q9_z"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("q9_z") && stderr.contains("q4_k_m"), "{stderr}");
}
