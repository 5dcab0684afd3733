//! `--train-projector`: the mmproj's last projector layer trained with the language
//! model, on the tiny-vlm fixture (LLaVA-style `mlp` projector into width 64). The
//! written mmproj, run by llama.cpp, gives the image rows the trained candle model read;
//! the map's gradient is the loss's; projectors it cannot fold are refused by name.
#![cfg(feature = "train")]

mod common;
#[path = "common/training.rs"]
mod training;

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use vlmjudge::engine::{ImageSource, Model, ModelParams};
use vlmjudge::progress::NoProgress;
use vlmjudge::train::batch::Batch;
use vlmjudge::train::projector::{BIAS_NAME, DELTA_NAME};
use vlmjudge::train::{checkpoint, train, LoraConfig, LoraTarget, Mode, TrainConfig, TrainModel};
use vlmjudge_lab::fixture::FixtureKind;

const COLOURS: [(&str, [u8; 3]); 4] =
    [("red", [220, 30, 30]), ("green", [30, 200, 40]), ("blue", [30, 60, 220]), ("yellow", [230, 220, 40])];

/// `n` examples asking the colour of a one-colour picture.
fn write_colour_data(dir: &Path, n: usize) -> PathBuf {
    let mut lines = String::new();
    for i in 0..n {
        let (name, rgb) = COLOURS[i % COLOURS.len()];
        let image = format!("img{i}.png");
        std::fs::write(dir.join(&image), common::solid_png(32, 32, rgb)).unwrap();
        let ex = serde_json::json!({
            "id": format!("c{i}"),
            "image": image,
            "messages": [{"role": "user", "content": "What colour is the picture?"}],
            "target": format!("It is {name}."),
        });
        lines.push_str(&format!("{ex}\n"));
    }
    let path = dir.join("sft.jsonl");
    std::fs::write(&path, lines).unwrap();
    path
}

fn config(base: &Path, mmproj: &Path, data: &Path, out: &Path) -> TrainConfig {
    TrainConfig {
        base: base.into(),
        mmproj: Some(mmproj.into()),
        data: data.into(),
        out: out.into(),
        mode: Mode::Lora(LoraConfig { rank: 4, alpha: 8.0, dropout: 0.0, targets: LoraTarget::ALL.to_vec() }),
        epochs: 3,
        lr: 1e-2,
        batch: 4,
        grad_accum: 1,
        max_len: 96,
        eval_split: 0.0,
        save_every: 0,
        train_projector: true,
        ..TrainConfig::default()
    }
}

/// The image rows llama.cpp gives `image` through `mmproj`, (n_tokens, n_embd).
fn image_rows(model: &Path, mmproj: &Path, image: &Path) -> Tensor {
    let engine = Model::load(model, Some(mmproj), &ModelParams::default()).unwrap();
    let encoded = engine.encode_image(&ImageSource::Path(image.into())).unwrap();
    Tensor::from_vec(encoded.embeddings(), (encoded.image_tokens(), 64), &Device::Cpu).unwrap()
}

fn max_abs(t: &Tensor) -> f32 {
    t.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

#[test]
fn the_trained_mmproj_gives_llama_cpp_the_rows_the_trainer_learned_on() {
    let files = common::fixture(FixtureKind::TinyVlm);
    let dir = tempfile::tempdir().unwrap();
    let data = write_colour_data(dir.path(), 8);
    let out = dir.path().join("run");
    let cfg = config(&files.model, &files.mmproj, &data, &out);
    let summary = train(&cfg, &NoProgress).unwrap();
    let trained = summary.outputs.mmproj.clone().expect("the trained mmproj is written");
    assert_eq!(trained, out.join("mmproj.gguf"));

    let saved = checkpoint::load(&out.join("checkpoint"), &Device::Cpu).unwrap().unwrap();
    let (delta, bias) = (&saved.trainable[DELTA_NAME], &saved.trainable[BIAS_NAME]);
    assert_eq!((delta.dims(), bias.dims()), (&[64, 64][..], &[64][..]));
    assert!(max_abs(delta) > 1e-3, "the map did not move: {}", max_abs(delta));

    // llama.cpp through the written mmproj = the map applied to the original rows.
    let image = dir.path().join("img2.png");
    let before = image_rows(&files.model, &files.mmproj, &image);
    let after = image_rows(&files.model, &trained, &image);
    let expected = (before.matmul(&delta.t().unwrap()).unwrap() + &before).unwrap().broadcast_add(bias).unwrap();
    let moved = max_abs(&(&after - &before).unwrap());
    let diff = max_abs(&(&after - &expected).unwrap());
    eprintln!("trained projector: rows moved by {moved:e}; llama.cpp vs the trainer's map {diff:e}");
    assert!(moved > 1e-2, "the written projector changes nothing");
    assert!(diff < 1e-4 * (1.0 + max_abs(&expected)), "llama.cpp vs the trainer's map: {diff}");

    // Resuming the finished run reads the map back from the checkpoint and writes the
    // same mmproj.
    let again = train(&TrainConfig { resume: true, ..cfg }, &NoProgress).unwrap();
    assert_eq!(again.steps_done, summary.steps_done);
    let rewritten = image_rows(&files.model, &again.outputs.mmproj.unwrap(), &image);
    assert_eq!(max_abs(&(&rewritten - &after).unwrap()), 0.0);
}

#[test]
fn the_maps_gradient_matches_finite_differences() {
    let files = common::fixture(FixtureKind::TinyVlm);
    let dir = tempfile::tempdir().unwrap();
    let data = write_colour_data(dir.path(), 2);
    let engine = Model::load(&files.model, Some(&files.mmproj), &ModelParams::default()).unwrap();
    let examples = training::encode_examples(&engine, &data);
    let batch = Batch::from_examples(&examples.iter().collect::<Vec<_>>());
    let mut model = TrainModel::load(&files.model, Mode::Full, 1, &Device::Cpu).unwrap();
    model.train_projector().unwrap();
    let vars = model.trainable();
    let loss = || {
        let (sum, n) = model.loss_sum(&batch, None).unwrap();
        f64::from(sum.to_scalar::<f32>().unwrap()) / n as f64
    };
    let (sum, n) = model.loss_sum(&batch, None).unwrap();
    let grads = (sum / n as f64).unwrap().backward().unwrap();
    for name in [DELTA_NAME, BIAS_NAME] {
        let var = &vars.iter().find(|(n, _)| n == name).expect("the map is trainable").1;
        let g = grads.get(var.as_tensor()).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(g > 1e-4, "{name}: no gradient reaches the map");
        training::assert_gradient_matches_finite_difference(name, var, &grads, loss);
    }
}

#[test]
fn projectors_it_cannot_fold_are_refused_by_name() {
    let files = common::fixture(FixtureKind::Gemma3);
    let dir = tempfile::tempdir().unwrap();
    let data = write_colour_data(dir.path(), 2);
    let out = dir.path().join("run");
    let err = train(&config(&files.model, &files.mmproj, &data, &out), &NoProgress).unwrap_err().to_string();
    assert!(err.contains("--train-projector") && err.contains("`gemma3`"), "{err}");

    // Without an mmproj there is nothing to train.
    let tiny = common::fixture(FixtureKind::TinyVlm);
    let cfg = TrainConfig { mmproj: None, ..config(&tiny.model, &tiny.mmproj, &data, &dir.path().join("run2")) };
    let err = train(&cfg, &NoProgress).unwrap_err().to_string();
    assert!(err.contains("--train-projector needs the --mmproj"), "{err}");
}
