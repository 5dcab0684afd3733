//! The trainer on the generated tiny-vlm fixture (width 64, 2 layers, SmolLM2's
//! 49,152-token vocabulary and chat template): parity of the candle forward pass with
//! llama.cpp, loss masking, LoRA and full training, adapter and merged-model export
//! loaded back into llama.cpp, and exact resume.
#![cfg(feature = "train")]

mod common;
#[path = "common/training.rs"]
mod training;

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use llama_cpp_2::context::params::{KvCacheType, LlamaContextParams};
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaLoraAdapter, LlamaModel};
use llama_cpp_2::token::LlamaToken;
use vlmjudge::engine::{backend, LoraSpec, Model, ModelParams};
use vlmjudge::export::write_lora_adapter;
use vlmjudge::gguf::GgufFile;
use vlmjudge::judge::{Judge, JudgeParams};
use vlmjudge::progress::NoProgress;
use vlmjudge::train::batch::Batch;
use vlmjudge::train::checkpoint;
use vlmjudge::train::metrics::TrainLine;
use vlmjudge::train::{
    train, Encoded, EncodedExample, Encoder, LoraConfig, LoraTarget, Mode, SftExample, TrainConfig, TrainModel,
    TrainSummary,
};
use vlmjudge_lab::fixture::FixtureKind;

/// Largest logit difference accepted between candle (f32 everywhere) and llama.cpp
/// (f32 weights and KV cache, no flash attention) on the tiny model.
const PARITY_TOLERANCE: f32 = 1e-3;

fn tiny() -> vlmjudge_lab::fixture::FixtureFiles {
    common::fixture(FixtureKind::TinyVlm)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Tokens of a short chat prompt, as the trainer builds them.
fn prompt_tokens(model: &Model, text: &str) -> Vec<u32> {
    let rendered = model.chat_prompt(&[("system", "You are a careful judge."), ("user", text)], None, true).unwrap();
    let mut tokens: Vec<u32> = model.bos().iter().map(|t| t.0 as u32).collect();
    tokens.extend(model.tokenize(&rendered, true).iter().map(|t| t.0 as u32));
    tokens
}

fn load_llama(path: &Path) -> LlamaModel {
    LlamaModel::load_from_file(backend().unwrap(), path, &LlamaModelParams::default()).unwrap()
}

/// llama.cpp's logits after the last token, with f32 KV cache and no flash attention.
fn llama_logits(model: &LlamaModel, tokens: &[u32], adapter: Option<&mut LlamaLoraAdapter>) -> Vec<f32> {
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(512))
        .with_n_batch(512)
        .with_n_ubatch(512)
        .with_n_threads(2)
        .with_n_threads_batch(2)
        .with_type_k(KvCacheType::F32)
        .with_type_v(KvCacheType::F32)
        .with_flash_attention_policy(llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED);
    let mut ctx = model.new_context(backend().unwrap(), params).unwrap();
    if let Some(adapter) = adapter {
        ctx.lora_adapter_set(adapter, 1.0).unwrap();
    }
    let mut batch = LlamaBatch::new(tokens.len(), 1);
    for (i, &t) in tokens.iter().enumerate() {
        batch.add(LlamaToken(t as i32), i as i32, &[0], i + 1 == tokens.len()).unwrap();
    }
    ctx.decode(&mut batch).unwrap();
    ctx.get_logits_ith(tokens.len() as i32 - 1).to_vec()
}

/// `n` SFT examples; every third has an image when `images_dir` is given.
fn write_data(dir: &Path, n: usize, images_dir: Option<&Path>) -> PathBuf {
    let subjects = ["cat", "spider", "bird", "dog", "ant", "snake", "horse", "fish"];
    let legs = [4, 8, 2, 4, 6, 0, 4, 0];
    let mut lines = String::new();
    for i in 0..n {
        let k = i % subjects.len();
        let image = match images_dir {
            Some(d) if i % 3 == 0 => {
                let path = d.join(format!("img{i}.png"));
                std::fs::write(&path, common::solid_png(32, 32, [(i * 40) as u8, 90, 200])).unwrap();
                serde_json::Value::String(path.strip_prefix(dir).unwrap().to_string_lossy().into_owned())
            }
            _ => serde_json::Value::Null,
        };
        let (good, bad) = (legs[k], legs[k] + 1 + i % 3);
        let (a, b, verdict) = if i % 2 == 0 { (good, bad, "A") } else { (bad, good, "B") };
        let ex = serde_json::json!({
            "id": format!("e{i}"),
            "image": image,
            "messages": [
                {"role": "system", "content": "You are an impartial judge."},
                {"role": "user", "content": format!("How many legs does a {} have?\n[Answer A] {a}\n[Answer B] {b}", subjects[k])},
            ],
            "target": format!("A {} has {} legs, so answer {verdict} is right. [[{verdict}]]", subjects[k], legs[k]),
        });
        lines.push_str(&ex.to_string());
        lines.push('\n');
    }
    let path = dir.join("sft.jsonl");
    std::fs::write(&path, lines).unwrap();
    path
}

/// A data file with one SFT example whose image is a `width`x`height` picture of one
/// colour (wide images are tiled or gridded by the families' projectors).
fn write_image_example(dir: &Path, width: u32, height: u32) -> PathBuf {
    std::fs::write(dir.join("wide.png"), common::solid_png(width, height, [30, 120, 200])).unwrap();
    let example = serde_json::json!({
        "id": "wide",
        "image": "wide.png",
        "messages": [{"role": "user", "content": "What colour is the picture?\n[Answer A] Blue.\n[Answer B] Red."}],
        "target": "It is blue. [[A]]",
    });
    let data = dir.join("sft.jsonl");
    std::fs::write(&data, format!("{example}\n")).unwrap();
    data
}

/// The first example of `data`, encoded by `encoder` (it must fit 512 tokens).
fn encode_first(encoder: &Encoder, data: &Path) -> EncodedExample {
    let (line, raw) = &vlmjudge::train::read_sft_examples(data).unwrap()[0];
    let Encoded::Ok(ex) = encoder.encode(raw, data, *line, 512).unwrap() else { panic!("fits") };
    ex
}

/// candle's logits after the prompt of `ex`, on the frozen model at `path`.
fn candle_prompt_logits(path: &Path, ex: &EncodedExample) -> Vec<f32> {
    let model = TrainModel::load(path, Mode::Frozen, 0, &candle_core::Device::Cpu).unwrap();
    let last = ex.n_prompt as u32 - 1;
    model.logits_at(&Batch::from_examples(&[ex]), &[last], None).unwrap().squeeze(0).unwrap().to_vec1().unwrap()
}

fn lora(rank: usize, dropout: f32) -> LoraConfig {
    LoraConfig { rank, alpha: 2.0 * rank as f32, dropout, targets: LoraTarget::ALL.to_vec() }
}

fn config(data: &Path, out: &Path, mode: Mode) -> TrainConfig {
    let files = tiny();
    TrainConfig {
        base: files.model.clone(),
        mmproj: None,
        data: data.into(),
        out: out.into(),
        mode,
        epochs: 3,
        lr: 1e-2,
        warmup: 0.1,
        batch: 4,
        grad_accum: 1,
        max_len: 96,
        eval_split: 0.0,
        clip: 1.0,
        seed: 7,
        save_every: 0,
        ..TrainConfig::default()
    }
}

fn train_losses(out: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str::<TrainLine>(l).ok().filter(|t| t.kind == "train"))
        .map(|t| t.loss)
        .collect()
}

/// The candle model of a finished LoRA run, rebuilt from its checkpoint.
fn trained_lora_model(cfg: &TrainConfig) -> TrainModel {
    let model = TrainModel::load(&cfg.base, cfg.mode.clone(), cfg.seed, &candle_core::Device::Cpu).unwrap();
    let saved = checkpoint::load(&cfg.out.join("checkpoint"), &candle_core::Device::Cpu).unwrap().unwrap();
    model.set_trainable(&saved.trainable).unwrap();
    model
}

fn assert_decreased(losses: &[f64], what: &str) {
    let n = losses.len();
    assert!(n >= 6, "{what}: {losses:?}");
    let first = (losses[0] + losses[1]) / 2.0;
    let last = (losses[n - 1] + losses[n - 2]) / 2.0;
    assert!(last < first - 0.5, "{what}: the loss did not fall: {losses:?}");
}

#[test]
fn candle_forward_matches_llama_cpp_logits() {
    let files = tiny();
    let engine = Model::load(&files.model, None, &ModelParams::default()).unwrap();
    let tokens = prompt_tokens(&engine, "How many legs does a spider have? Answer A: 8. Answer B: 6.");
    let model = TrainModel::load(&files.model, Mode::Frozen, 0, &candle_core::Device::Cpu).unwrap();
    let ours = model.last_logits(&tokens).unwrap();
    let theirs = llama_logits(engine.llama_model(), &tokens, None);
    let diff = max_abs_diff(&ours, &theirs);
    let scale = theirs.iter().fold(0f32, |m, x| m.max(x.abs()));
    eprintln!("parity: max |candle - llama.cpp| = {diff:e} over {} tokens, logits up to {scale}", tokens.len());
    assert!(
        diff < PARITY_TOLERANCE,
        "max |candle - llama.cpp| = {diff} over {} tokens (logits up to {scale})",
        tokens.len()
    );
}

#[test]
fn the_loss_covers_target_tokens_only() {
    let files = tiny();
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path(), 2, None);
    let engine = Model::load(&files.model, None, &ModelParams::default()).unwrap();
    let encoder = Encoder::new(&engine).unwrap();
    // ChatML: the answer ends with <|im_end|>, which is end-of-generation.
    assert_eq!(encoder.end_of_turn().len(), 1);
    assert_eq!(engine.token_text(LlamaToken(encoder.end_of_turn()[0] as i32)), "<|im_end|>");
    let records = vlmjudge::train::read_sft_examples(&data).unwrap();
    let examples: Vec<_> = records
        .iter()
        .map(|(line, ex): &(usize, SftExample)| match encoder.encode(ex, &data, *line, 512).unwrap() {
            Encoded::Ok(e) => e,
            Encoded::TooLong { .. } => panic!("fits"),
        })
        .collect();
    let target = engine.tokenize(&records[0].1.target, false);
    assert_eq!(examples[0].n_target(), target.len() + 1);
    let model = TrainModel::load(&files.model, Mode::Frozen, 0, &candle_core::Device::Cpu).unwrap();
    let batch = Batch::from_examples(&[&examples[0], &examples[1]]);
    let loss = |b: &Batch| {
        let (sum, n) = model.loss_sum(b, None).unwrap();
        (sum.to_scalar::<f32>().unwrap(), n)
    };
    let (base, n) = loss(&batch);
    assert_eq!(n, examples[0].n_target() + examples[1].n_target());
    // Relabel every prompt (and padding) position: the loss does not move.
    let mut relabelled = batch.clone();
    for (i, m) in batch.loss_mask.iter().enumerate() {
        if !m {
            relabelled.next_tokens[i] = 42;
        }
    }
    assert_eq!(loss(&relabelled), (base, n));
    // Relabel one target position: it does.
    let first_target = batch.loss_mask.iter().position(|&m| m).unwrap();
    assert_eq!(first_target, examples[0].n_prompt - 1);
    let mut changed = batch.clone();
    changed.next_tokens[first_target] = 42;
    assert_ne!(loss(&changed).0, base);
}

#[test]
fn lora_training_lowers_the_loss_and_exports_an_adapter_llama_cpp_applies() {
    let files = tiny();
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    let data = write_data(dir.path(), 8, Some(&images));
    let out = dir.path().join("run");
    let cfg = TrainConfig {
        mmproj: Some(files.mmproj.clone()),
        merge: true,
        ..config(&data, &out, Mode::Lora(lora(8, 0.05)))
    };
    let summary: TrainSummary = train(&cfg, &NoProgress).unwrap();
    assert_eq!((summary.examples_train, summary.steps_done), (8, 6));
    assert_eq!((summary.images_encoded, summary.images_cached), (3, 0));
    assert_decreased(&train_losses(&out), "LoRA");
    let adapter_path = summary.outputs.adapter.clone().unwrap();
    let merged_path = summary.outputs.model.clone().unwrap();

    // The adapter GGUF as llama.cpp's loader expects it.
    let adapter = GgufFile::open(&adapter_path).unwrap();
    assert_eq!(adapter.get_str("general.type"), Some("adapter"));
    assert_eq!(adapter.get_str("adapter.type"), Some("lora"));
    assert_eq!(adapter.get_str("general.architecture"), Some("llama"));
    let a = adapter.tensor("blk.0.attn_k.weight.lora_a").unwrap();
    let b = adapter.tensor("blk.0.attn_k.weight.lora_b").unwrap();
    assert_eq!((a.dims.clone(), b.dims.clone()), (vec![64, 8], vec![8, 32]));

    // llama.cpp with the adapter computes what the trained candle model computes.
    let engine = Model::load(&files.model, None, &ModelParams::default()).unwrap();
    let tokens = prompt_tokens(&engine, "How many legs does a bird have?\n[Answer A] 2\n[Answer B] 3");
    let candle = trained_lora_model(&cfg).last_logits(&tokens).unwrap();
    let mut base = load_llama(&files.model);
    let plain = llama_logits(&base, &tokens, None);
    let mut lora_adapter = base.lora_adapter_init(&adapter_path).unwrap();
    let adapted = llama_logits(&base, &tokens, Some(&mut lora_adapter));
    assert!(max_abs_diff(&plain, &adapted) > 0.05, "the trained adapter changes nothing");
    let diff = max_abs_diff(&candle, &adapted);
    eprintln!(
        "LoRA: adapter moves logits by {:e}; candle vs llama.cpp+adapter {diff:e}",
        max_abs_diff(&plain, &adapted)
    );
    assert!(diff < PARITY_TOLERANCE, "candle LoRA vs llama.cpp base+adapter: {diff}");

    // The merged model loads, keeps the chat template, and equals base + adapter.
    let merged_engine = Model::load(&merged_path, None, &ModelParams::default()).unwrap();
    let turn = [("user", "Hi")];
    assert_eq!(merged_engine.chat_prompt(&turn, None, true).unwrap(), engine.chat_prompt(&turn, None, true).unwrap());
    assert!(merged_engine.chat_prompt(&turn, None, true).unwrap().contains("<|im_start|>"));
    let merged = llama_logits(merged_engine.llama_model(), &tokens, None);
    let diff = max_abs_diff(&merged, &adapted);
    eprintln!("merged vs base+adapter: {diff:e}; losses {:?}; {:.0} tok/s", train_losses(&out), summary.tokens_per_s);
    assert!(diff < PARITY_TOLERANCE, "merged vs base+adapter: {diff}");
}

#[test]
fn a_fresh_adapter_leaves_llama_cpp_logits_unchanged() {
    let files = tiny();
    let dir = tempfile::tempdir().unwrap();
    let model = TrainModel::load(&files.model, Mode::Lora(lora(4, 0.0)), 3, &candle_core::Device::Cpu).unwrap();
    let path = dir.path().join("fresh.gguf");
    write_lora_adapter(&path, &GgufFile::open(&files.model).unwrap(), 8.0, &model.lora_pairs().unwrap()).unwrap();
    let engine = Model::load(&files.model, None, &ModelParams::default()).unwrap();
    let tokens = prompt_tokens(&engine, "Which answer is better?");
    let mut base = load_llama(&files.model);
    let plain = llama_logits(&base, &tokens, None);
    let mut adapter = base.lora_adapter_init(&path).unwrap();
    let adapted = llama_logits(&base, &tokens, Some(&mut adapter));
    assert_eq!(max_abs_diff(&plain, &adapted), 0.0);
}

#[test]
fn full_training_lowers_the_loss_and_writes_a_model_llama_cpp_loads() {
    let files = tiny();
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path(), 8, None);
    let out = dir.path().join("run");
    let cfg = TrainConfig { lr: 3e-3, ..config(&data, &out, Mode::Full) };
    let summary = train(&cfg, &NoProgress).unwrap();
    assert_decreased(&train_losses(&out), "full");
    let path = summary.outputs.model.unwrap();
    assert!(path.ends_with("model-f32.gguf"));
    // The trained model in llama.cpp matches the trained candle model.
    let engine = Model::load(&path, None, &ModelParams::default()).unwrap();
    let tokens = prompt_tokens(&engine, "How many legs does an ant have?");
    let trained = TrainModel::load(&path, Mode::Frozen, 0, &candle_core::Device::Cpu).unwrap();
    let diff = max_abs_diff(&trained.last_logits(&tokens).unwrap(), &llama_logits(engine.llama_model(), &tokens, None));
    assert!(diff < PARITY_TOLERANCE, "{diff}");
    let base = TrainModel::load(&files.model, Mode::Frozen, 0, &candle_core::Device::Cpu).unwrap();
    assert!(max_abs_diff(&base.last_logits(&tokens).unwrap(), &trained.last_logits(&tokens).unwrap()) > 0.05);
}

#[test]
fn resuming_repeats_the_uninterrupted_loss_curve() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path(), 10, None);
    let base_cfg = |out: &str| TrainConfig {
        epochs: 2,
        grad_accum: 2,
        batch: 2,
        eval_split: 0.2,
        ..config(&data, &dir.path().join(out), Mode::Lora(lora(4, 0.1)))
    };
    // 8 training examples, 4 per step: 2 steps per epoch, 4 in all.
    let straight = train(&base_cfg("straight"), &NoProgress).unwrap();
    assert_eq!(straight.total_steps, 4);
    let first = train(&TrainConfig { stop_after: Some(2), ..base_cfg("resumed") }, &NoProgress).unwrap();
    assert!(first.stopped_early && first.outputs.adapter.is_none());
    // Without --resume an existing run is refused.
    assert!(train(&base_cfg("resumed"), &NoProgress).is_err());
    let second = train(&TrainConfig { resume: true, ..base_cfg("resumed") }, &NoProgress).unwrap();
    assert_eq!(second.resumed_from, Some(2));
    let a = std::fs::read_to_string(dir.path().join("straight/metrics.jsonl")).unwrap();
    let b = std::fs::read_to_string(dir.path().join("resumed/metrics.jsonl")).unwrap();
    let values = |text: &str| -> Vec<(String, f64)> {
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let key = if v["type"] == "eval" { "eval_loss" } else { "loss" };
                (format!("{} {}", v["type"], v["step"]), v[key].as_f64().unwrap())
            })
            .collect()
    };
    let (a, b) = (values(&a), values(&b));
    assert_eq!(a.len(), 6, "4 train and 2 eval lines: {a:?}");
    assert_eq!(a.iter().map(|x| &x.0).collect::<Vec<_>>(), b.iter().map(|x| &x.0).collect::<Vec<_>>());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-6, "{name}: {x} vs {y}");
    }
    assert_eq!(straight.final_eval_loss, second.final_eval_loss);
    let adapter = |run: &str| std::fs::read(dir.path().join(run).join("adapter.gguf")).unwrap();
    assert_eq!(adapter("straight"), adapter("resumed"), "the adapters differ");
}

#[test]
fn micro_batches_computed_side_by_side_give_the_serial_run_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    let data = write_data(dir.path(), 12, Some(&images));
    let files = tiny();
    // Three micro-batches a step; LoRA dropout draws a mask per micro-batch.
    let run = |out: &str, mode: Mode, parallel: usize| {
        let cfg = TrainConfig {
            mmproj: Some(files.mmproj.clone()),
            epochs: 2,
            batch: 2,
            grad_accum: 3,
            parallel_micro_batches: parallel,
            image_cache: Some(dir.path().join("image-cache")),
            merge: matches!(mode, Mode::Lora(_)),
            ..config(&data, &dir.path().join(out), mode)
        };
        let summary = train(&cfg, &NoProgress).unwrap();
        let model = std::fs::read(summary.outputs.model.unwrap()).unwrap();
        let metrics = std::fs::read_to_string(dir.path().join(out).join("metrics.jsonl")).unwrap();
        // Everything but the timings.
        let losses: Vec<String> = metrics
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                format!("{} {} {} {}", v["step"], v["loss"], v["grad_norm"], v["tokens"])
            })
            .collect();
        (model, losses)
    };
    for (name, mode) in [("lora", Mode::Lora(lora(4, 0.1))), ("full", Mode::Full)] {
        let serial = run(&format!("{name}-serial"), mode.clone(), 1);
        let side_by_side = run(&format!("{name}-parallel"), mode, 3);
        assert_eq!(serial.1.len(), 4, "{name}: {:?}", serial.1);
        assert_eq!(serial.1, side_by_side.1, "{name}: the loss curves differ");
        assert!(serial.0 == side_by_side.0, "{name}: the models differ");
    }
}

/// A prompt piece for [`llama_logits_raw`].
enum Piece<'a> {
    Tokens(&'a [u32]),
    /// Embedding rows (n_tokens * n_embd floats).
    Rows(&'a [f32]),
    /// Embedding rows decoded with non-causal attention, as mtmd decodes a Gemma 3 image.
    TwoWayRows(&'a [f32]),
    /// Embedding rows of an M-RoPE image on a (columns, rows) grid, at positions as
    /// mtmd gives them; the image advances the position by the grid's longer side.
    GridRows(&'a [f32], (usize, usize)),
}

/// llama.cpp's logits after the last piece, decoding token runs and embedding rows in
/// order on one sequence, through the C API (llama-cpp-2 has no embedding batches).
fn llama_logits_raw(model: &LlamaModel, pieces: &[Piece]) -> Vec<f32> {
    use llama_cpp_sys_2 as sys;
    // SAFETY: llama-cpp-2 =0.1.160's LlamaModel is repr(transparent) over a non-null
    // llama_model pointer (as src/engine/raw.rs relies on); every buffer below is sized
    // by llama_batch_init for the rows written into it.
    unsafe {
        let mptr = *(model as *const LlamaModel).cast::<*mut sys::llama_model>();
        let n_embd = sys::llama_model_n_embd(mptr) as usize;
        let n_vocab = model.n_vocab() as usize;
        let mut cp = sys::llama_context_default_params();
        cp.n_ctx = 512;
        cp.n_batch = 512;
        cp.n_ubatch = 512;
        cp.n_threads = 2;
        cp.n_threads_batch = 2;
        cp.type_k = sys::GGML_TYPE_F32;
        cp.type_v = sys::GGML_TYPE_F32;
        cp.flash_attn_type = sys::LLAMA_FLASH_ATTN_TYPE_DISABLED;
        let ctx = sys::llama_init_from_model(mptr, cp);
        assert!(!ctx.is_null());
        let mut pos = 0;
        let mut last_n = 0;
        for (k, piece) in pieces.iter().enumerate() {
            let (n, embd) = match piece {
                Piece::Tokens(t) => (t.len(), 0),
                Piece::Rows(r) | Piece::TwoWayRows(r) | Piece::GridRows(r, _) => (r.len() / n_embd, n_embd),
            };
            let batch = sys::llama_batch_init(n as i32, embd as i32, 1);
            for i in 0..n {
                match piece {
                    Piece::Tokens(t) => *batch.token.add(i) = t[i] as i32,
                    Piece::Rows(r) | Piece::TwoWayRows(r) | Piece::GridRows(r, _) => {
                        std::ptr::copy_nonoverlapping(r[i * n_embd..].as_ptr(), batch.embd.add(i * n_embd), n_embd)
                    }
                }
                *batch.pos.add(i) = pos + i as i32;
                *batch.n_seq_id.add(i) = 1;
                *(*batch.seq_id.add(i)) = 0;
                *batch.logits.add(i) = i8::from(k + 1 == pieces.len() && i + 1 == n);
            }
            let mut b = batch;
            b.n_tokens = n as i32;
            // M-RoPE embeddings take four position components each: time, row,
            // column, and an unused fourth (mtmd's layout).
            let mut grid_pos = Vec::new();
            if let Piece::GridRows(_, (columns, _)) = piece {
                grid_pos = [0, 1, 2, 3]
                    .iter()
                    .flat_map(|&c| {
                        (0..n).map(move |i| match c {
                            0 => pos,
                            1 => pos + (i / columns) as i32,
                            2 => pos + (i % columns) as i32,
                            _ => 0,
                        })
                    })
                    .collect();
                b.pos = grid_pos.as_mut_ptr();
            }
            let two_way = matches!(piece, Piece::TwoWayRows(_));
            sys::llama_set_causal_attn(ctx, !two_way);
            assert_eq!(sys::llama_decode(ctx, b), 0);
            sys::llama_set_causal_attn(ctx, true);
            drop(grid_pos);
            sys::llama_batch_free(batch);
            pos += match piece {
                Piece::GridRows(_, (columns, rows)) => (*columns).max(*rows) as i32,
                _ => n as i32,
            };
            last_n = n;
        }
        let logits = std::slice::from_raw_parts(sys::llama_get_logits_ith(ctx, last_n as i32 - 1), n_vocab).to_vec();
        sys::llama_free(ctx);
        logits
    }
}

#[test]
fn image_rows_are_spliced_where_llama_cpp_decodes_them() {
    let files = tiny();
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path(), 1, Some(dir.path()));
    let engine = Model::load(&files.model, Some(&files.mmproj), &ModelParams::default()).unwrap();
    let cache = dir.path().join("image-cache");
    let encoder = Encoder::new(&engine).unwrap().with_image_cache(&cache).unwrap();
    let ex = encode_first(&encoder, &data);
    assert_eq!(ex.images.len(), 1, "the tiny mmproj gives one run of image rows");
    assert_eq!(encoder.image_counts(), (1, 0));
    // A second encoder (a later run) reads the embeddings from the on-disk cache.
    let again = Encoder::new(&engine).unwrap().with_image_cache(&cache).unwrap();
    let cached = encode_first(&again, &data);
    assert_eq!(again.image_counts(), (0, 1));
    assert_eq!((&cached.tokens, cached.images[0].rows()), (&ex.tokens, ex.images[0].rows()));
    let span = &ex.images[0];
    assert_eq!(span.rows().len(), span.n_tokens * 64);
    // The image sits at the start of the user turn: after "<|im_start|>user\n".
    let before: String = ex.tokens[..span.start].iter().map(|&t| engine.token_text(LlamaToken(t as i32))).collect();
    assert!(before.ends_with("<|im_start|>user\n"), "{before:?}");
    // The user text follows the image directly, as in the judge's prompt.
    let end = span.start + span.n_tokens;
    assert_eq!(engine.token_text(LlamaToken(ex.tokens[end] as i32)), "How");
    let last = ex.n_prompt - 1;
    let pieces =
        [Piece::Tokens(&ex.tokens[..span.start]), Piece::Rows(span.rows()), Piece::Tokens(&ex.tokens[end..=last])];
    let theirs = llama_logits_raw(engine.llama_model(), &pieces);
    let diff = max_abs_diff(&candle_prompt_logits(&files.model, &ex), &theirs);
    eprintln!("image parity: {diff:e} over {} positions ({} image rows)", last + 1, span.n_tokens);
    assert!(diff < PARITY_TOLERANCE, "{diff}");
}

/// A qwen2 model made from the tiny llama fixture: the same weights plus random q/k/v
/// biases, read by llama.cpp's qwen2 graph (NEOX rotary layout).
fn write_qwen2(dir: &Path) -> PathBuf {
    use vlmjudge::gguf::{GgufWriter, Value};
    let src = GgufFile::open(&tiny().model).unwrap();
    let mut w = GgufWriter::new();
    for (key, value) in &src.metadata {
        let key = key.strip_prefix("llama.").map_or(key.clone(), |rest| format!("qwen2.{rest}"));
        let value = if key == "general.architecture" { Value::str("qwen2") } else { value.clone() };
        w.set(&key, value);
    }
    for info in &src.tensors {
        w.add_tensor(&info.name, &info.dims, info.ggml_type, src.read_tensor(info).unwrap()).unwrap();
    }
    for il in 0..2 {
        for (name, n) in [("attn_q", 64usize), ("attn_k", 32), ("attn_v", 32)] {
            let bias: Vec<f32> = (0..n).map(|i| ((i * 7 + il * 3) % 11) as f32 * 0.05 - 0.25).collect();
            w.add_f32(&format!("blk.{il}.{name}.bias"), &[n as u64], &bias).unwrap();
        }
    }
    let path = dir.join("qwen2.gguf");
    w.write(&path).unwrap();
    path
}

#[test]
fn qwen2_forward_matches_llama_cpp_logits() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_qwen2(dir.path());
    let engine = Model::load(&path, None, &ModelParams::default()).unwrap();
    let tokens = prompt_tokens(&engine, "Which answer is better, A or B?");
    let model = TrainModel::load(&path, Mode::Frozen, 0, &candle_core::Device::Cpu).unwrap();
    let diff = max_abs_diff(&model.last_logits(&tokens).unwrap(), &llama_logits(engine.llama_model(), &tokens, None));
    eprintln!("qwen2 parity: {diff:e}");
    assert!(diff < PARITY_TOLERANCE, "{diff}");
}

#[test]
fn other_architectures_are_refused_by_name() {
    use vlmjudge::gguf::{GgufWriter, Value};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phi3.gguf");
    let mut w = GgufWriter::new();
    w.set("general.architecture", Value::str("phi3"));
    w.add_f32("token_embd.weight", &[4, 4], &[0.0; 16]).unwrap();
    w.write(&path).unwrap();
    let err = TrainModel::load(&path, Mode::Frozen, 0, &candle_core::Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("\"phi3\"") && err.contains("llama, qwen2, qwen2vl, gemma3"), "{err}");
}

/// The real demo model (SmolLM2-135M, Q4_1): candle dequantizes to f32 while llama.cpp
/// multiplies Q4_1 weights by Q8_1-quantized activations, so the logits agree only to
/// quantization noise (0.75 measured; the F32 test below gets 2e-5); the check is that
/// the layouts (rope pairs, q/k permutation, GQA, tied output) are right, which would
/// show as errors of order 10.
#[test]
fn candle_forward_tracks_llama_cpp_on_the_quantized_demo_model() {
    let path = common::demo_model_path();
    let engine = common::demo_model();
    let tokens = prompt_tokens(engine, "How many legs does a spider have?");
    let model = TrainModel::load(&path, Mode::Frozen, 0, &candle_core::Device::Cpu).unwrap();
    let ours = model.last_logits(&tokens).unwrap();
    let theirs = llama_logits(engine.llama_model(), &tokens, None);
    let diff = max_abs_diff(&ours, &theirs);
    let argmax = |v: &[f32]| (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b });
    let best = argmax(&ours);
    let above = theirs.iter().filter(|&&x| x > theirs[best]).count();
    eprintln!("demo model: max diff {diff}, candle's top token is llama.cpp's number {}", above + 1);
    assert!(above < 3, "candle's top token is llama.cpp's number {}", above + 1);
    assert!(diff < 2.0, "{diff}");
}

#[test]
fn the_cli_trains_and_reports_user_errors() {
    let files = tiny();
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path(), 6, None);
    let out = dir.path().join("run");
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_vlmjudge"))
            .arg("train")
            .args(["--base".as_ref(), files.model.as_os_str()])
            .args(["--data".as_ref(), data.as_os_str()])
            .args(["--out".as_ref(), out.as_os_str()])
            .args(["--batch", "2", "--grad-accum", "1", "--max-len", "96", "--eval-split", "0.34", "--lora-rank", "4"])
            .args(extra)
            .output()
            .unwrap()
    };
    let ok = run(&["--quiet", "--merge"]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&ok.stderr));
    assert!(stdout.contains("examples: 6 read, 4 train, 2 eval, 0 dropped"), "{stdout}");
    assert!(
        stdout.contains("steps: 2/2") && stdout.contains("adapter: ") && stdout.contains("model-f32.gguf"),
        "{stdout}"
    );
    assert!(out.join("adapter.gguf").is_file() && out.join("model-f32.gguf").is_file());
    // The run exists: without --resume it is refused (exit 1), with it nothing is left to do.
    assert_eq!(run(&["--quiet"]).status.code(), Some(1));
    let again = run(&["--quiet", "--merge", "--resume"]);
    assert!(again.status.success() && String::from_utf8_lossy(&again.stdout).contains("resumed from step 2"));
    let cuda = run(&["--quiet", "--device", "cuda", "--resume"]);
    assert_eq!(cuda.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&cuda.stderr).contains("no CUDA support"));
}

/// The demo model dequantized to F32 (written with the merged-model exporter) runs in
/// llama.cpp with the same logits as candle: the quantized test's difference is
/// quantization, not layout. Writes ~540 MB, so it is opt-in (`--ignored`).
#[test]
#[ignore]
fn candle_matches_llama_cpp_on_the_demo_model_in_f32() {
    let path = common::demo_model_path();
    let dir = tempfile::tempdir().unwrap();
    let model = TrainModel::load(&path, Mode::Frozen, 0, &candle_core::Device::Cpu).unwrap();
    let f32_path = dir.path().join("smollm2-f32.gguf");
    vlmjudge::export::write_merged(
        &f32_path,
        &GgufFile::open(&path).unwrap(),
        &model.export_tensors(false).unwrap(),
        vlmjudge::export::MergedDtype::F32,
    )
    .unwrap();
    let engine = Model::load(&f32_path, None, &ModelParams::default()).unwrap();
    let tokens = prompt_tokens(&engine, "How many legs does a spider have?");
    let diff = max_abs_diff(&model.last_logits(&tokens).unwrap(), &llama_logits(engine.llama_model(), &tokens, None));
    eprintln!("demo model in f32: max diff {diff:e}");
    assert!(diff < 1e-2, "{diff}");
}

/// Backpropagation through the composed ops (rms norm, rope, GQA attention, SwiGLU,
/// LoRA, frozen matmuls, tied output, cross-entropy) agrees with central finite
/// differences of the loss, for LoRA and for full fine-tuning.
#[test]
fn gradients_match_finite_differences() {
    let picks = [
        "blk.0.attn_q.weight.lora_a",
        "blk.1.attn_k.weight.lora_b",
        "blk.1.ffn_down.weight.lora_b",
        "blk.0.attn_output.weight.lora_a",
        "token_embd.weight",
        "blk.0.attn_norm.weight",
        "blk.1.attn_v.weight",
        "output_norm.weight",
    ];
    assert_gradients_match_finite_differences(&tiny().model, &picks);
}

/// For LoRA and full fine-tuning of the model at `path`, the gradient of each picked
/// variable (at its largest coordinate) agrees with a central difference of the loss
/// on two examples; every pick is checked in one of the modes.
fn assert_gradients_match_finite_differences(path: &Path, picks: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path(), 2, None);
    let engine = Model::load(path, None, &ModelParams::default()).unwrap();
    let examples = training::encode_examples(&engine, &data);
    let batch = Batch::from_examples(&examples.iter().collect::<Vec<_>>());
    let mut checked = 0;
    for mode in [Mode::Lora(lora(4, 0.0)), Mode::Full] {
        let model = TrainModel::load(path, mode.clone(), 1, &candle_core::Device::Cpu).unwrap();
        let vars = model.trainable();
        // LoRA B starts at zero, which would leave A without gradient: perturb it.
        for (name, var) in &vars {
            if name.ends_with(".lora_b") {
                var.set(&(candle_core::Tensor::randn(0f32, 0.05, var.shape(), var.device()).unwrap())).unwrap();
            }
        }
        let loss = || {
            let (sum, n) = model.loss_sum(&batch, None).unwrap();
            f64::from(sum.to_scalar::<f32>().unwrap()) / n as f64
        };
        let (sum, n) = model.loss_sum(&batch, None).unwrap();
        let grads = (sum / n as f64).unwrap().backward().unwrap();
        for (name, var) in vars.iter().filter(|(n, _)| picks.contains(&n.as_str())) {
            training::assert_gradient_matches_finite_difference(name, var, &grads, loss);
            checked += 1;
        }
    }
    assert_eq!(checked, picks.len(), "some picks are not trainable variables");
}

#[test]
fn an_f16_checkpoint_keeps_metadata_and_loads_in_llama_cpp() {
    use vlmjudge::export::{write_merged, MergedDtype};
    use vlmjudge::gguf::GgmlType;
    let files = tiny();
    let dir = tempfile::tempdir().unwrap();
    let model = TrainModel::load(&files.model, Mode::Frozen, 0, &candle_core::Device::Cpu).unwrap();
    let base = GgufFile::open(&files.model).unwrap();
    let path = dir.path().join("model-f16.gguf");
    write_merged(&path, &base, &model.export_tensors(false).unwrap(), MergedDtype::F16).unwrap();
    let written = GgufFile::open(&path).unwrap();
    for (key, value) in &base.metadata {
        if key != "general.file_type" {
            assert_eq!(written.get(key), Some(value), "{key}");
        }
    }
    assert_eq!(written.get_u64("general.file_type"), Some(1));
    assert_eq!(written.tensor("blk.0.ffn_up.weight").unwrap().ggml_type, GgmlType::F16);
    assert_eq!(written.tensor("blk.0.ffn_norm.weight").unwrap().ggml_type, GgmlType::F32);
    let engine = Model::load(&path, None, &ModelParams::default()).unwrap();
    let tokens = prompt_tokens(&engine, "Is the sky blue?");
    let f16 = llama_logits(engine.llama_model(), &tokens, None);
    let f32 = llama_logits(&load_llama(&files.model), &tokens, None);
    let diff = max_abs_diff(&f16, &f32);
    eprintln!("f16 vs f32 checkpoint: {diff:e}");
    assert!(diff < 0.1, "{diff}");
}

/// The Gemma 3 fixture: 3 layers (two sliding-window layers of 32 tokens, then a global
/// one with linear RoPE scaling x8), head width 32 with 4 query and 2 kv heads on a
/// width of 64, Gemma's special tokens and chat format.
fn gemma3() -> vlmjudge_lab::fixture::FixtureFiles {
    common::fixture(FixtureKind::Gemma3)
}

/// A judge-sized prompt: several times the fixture's 32-token sliding window.
const LONG_PROMPT: &str = "Look at the picture of the spider on the old garden wall, next to the gate, in the \
late afternoon light of a warm summer day. How many legs does it have, and what is it doing?\n[Answer A] The spider has eight legs and is spinning a web between two stones.\n\
[Answer B] The spider has six legs and is sleeping under a leaf.\nWhich answer is better?";

/// Largest logit difference accepted on the Gemma 3 fixture. Larger than
/// [`PARITY_TOLERANCE`] for one reason: llama.cpp's CPU GELU rounds its input to f16
/// and reads the result from a table of f16 values (`GGML_GELU_FP16`), an error of
/// about 1e-3 relative per activation that candle's exact tanh GELU does not make.
const GEMMA3_PARITY_TOLERANCE: f32 = 5e-3;

#[test]
fn gemma3_forward_matches_llama_cpp_across_the_sliding_window() {
    let files = gemma3();
    let engine = Model::load(&files.model, None, &ModelParams::default()).unwrap();
    let tokens = prompt_tokens(&engine, LONG_PROMPT);
    assert!(tokens.len() > 3 * 32, "{} tokens", tokens.len());
    let model = TrainModel::load(&files.model, Mode::Frozen, 0, &candle_core::Device::Cpu).unwrap();
    let ours = model.last_logits(&tokens).unwrap();
    let theirs = llama_logits(engine.llama_model(), &tokens, None);
    let diff = max_abs_diff(&ours, &theirs);
    let scale = theirs.iter().fold(0f32, |m, x| m.max(x.abs()));
    eprintln!("gemma3 parity: {diff:e} over {} tokens (logits up to {scale})", tokens.len());
    assert!(diff < GEMMA3_PARITY_TOLERANCE, "{diff}");
}

#[test]
fn gemma3_gradients_match_finite_differences() {
    let picks = [
        "blk.0.ffn_gate.weight.lora_a",
        "blk.2.attn_q.weight.lora_b",
        "blk.1.attn_k.weight.lora_a",
        "blk.0.attn_q_norm.weight",
        "blk.1.attn_k_norm.weight",
        "blk.2.post_attention_norm.weight",
        "blk.0.post_ffw_norm.weight",
        "token_embd.weight",
    ];
    assert_gradients_match_finite_differences(&gemma3().model, &picks);
}

#[test]
fn gemma3_lora_and_merged_model_load_in_llama_cpp_with_the_trained_logits() {
    let keys = ["gemma3.attention.sliding_window", "gemma3.rope.freq_base_swa", "gemma3.attention.key_length"];
    assert_family_lora_round_trip(&gemma3(), "gemma3", &keys, GEMMA3_PARITY_TOLERANCE);
}

#[test]
fn qwen2vl_lora_and_merged_model_load_in_llama_cpp_with_the_trained_logits() {
    let files = common::fixture(FixtureKind::Qwen25vl);
    assert_family_lora_round_trip(&files, "qwen2vl", &["qwen2vl.rope.dimension_sections"], PARITY_TOLERANCE);
}

#[test]
fn qwen2vl_forward_matches_llama_cpp_on_text() {
    let files = common::fixture(FixtureKind::Qwen25vl);
    let engine = Model::load(&files.model, None, &ModelParams::default()).unwrap();
    let tokens = prompt_tokens(&engine, LONG_PROMPT);
    let model = TrainModel::load(&files.model, Mode::Frozen, 0, &candle_core::Device::Cpu).unwrap();
    assert_eq!(model.config.arch.name(), "qwen2vl");
    let diff = max_abs_diff(&model.last_logits(&tokens).unwrap(), &llama_logits(engine.llama_model(), &tokens, None));
    eprintln!("qwen2vl parity: {diff:e} over {} tokens", tokens.len());
    assert!(diff < PARITY_TOLERANCE, "{diff}");
}

#[test]
fn gemma3_trains_fully_and_resumes_exactly() {
    assert_family_full_training_and_resume(&gemma3(), "gemma3", GEMMA3_PARITY_TOLERANCE);
}

#[test]
fn qwen2vl_trains_fully_and_resumes_exactly() {
    assert_family_full_training_and_resume(&common::fixture(FixtureKind::Qwen25vl), "qwen2vl", PARITY_TOLERANCE);
}

/// Full fine-tuning of a family fixture lowers the loss and writes a model of the
/// family that llama.cpp loads with the logits candle trained (within `tolerance`); a
/// run stopped half-way and resumed writes the same metrics and the same model bytes as
/// one that ran straight through.
fn assert_family_full_training_and_resume(files: &vlmjudge_lab::fixture::FixtureFiles, arch: &str, tolerance: f32) {
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path(), 8, None);
    let cfg = |out: &str| TrainConfig {
        base: files.model.clone(),
        lr: 3e-3,
        batch: 2,
        grad_accum: 2,
        ..config(&data, &dir.path().join(out), Mode::Full)
    };
    let straight = train(&cfg("straight"), &NoProgress).unwrap();
    assert_decreased(&train_losses(&dir.path().join("straight")), &format!("{arch} full"));
    let path = straight.outputs.model.clone().unwrap();
    assert_eq!(GgufFile::open(&path).unwrap().get_str("general.architecture"), Some(arch));
    let engine = Model::load(&path, None, &ModelParams::default()).unwrap();
    let tokens = prompt_tokens(&engine, LONG_PROMPT);
    let trained = TrainModel::load(&path, Mode::Frozen, 0, &candle_core::Device::Cpu).unwrap();
    let diff = max_abs_diff(&trained.last_logits(&tokens).unwrap(), &llama_logits(engine.llama_model(), &tokens, None));
    eprintln!("{arch} full: trained model, candle vs llama.cpp {diff:e}");
    assert!(diff < tolerance, "{diff}");

    let half = straight.total_steps / 2;
    let first = train(&TrainConfig { stop_after: Some(half), ..cfg("resumed") }, &NoProgress).unwrap();
    assert!(first.stopped_early && first.outputs.model.is_none());
    let second = train(&TrainConfig { resume: true, ..cfg("resumed") }, &NoProgress).unwrap();
    assert_eq!(second.resumed_from, Some(half));
    let read = |run: &str, file: &str| std::fs::read(dir.path().join(run).join(file)).unwrap();
    let losses = |run: &str| -> Vec<f64> { train_losses(&dir.path().join(run)) };
    assert_eq!(losses("straight"), losses("resumed"), "{arch}: the resumed loss curve differs");
    assert!(read("straight", "model-f32.gguf") == read("resumed", "model-f32.gguf"), "{arch}: the models differ");
}

/// LoRA training on a family fixture's text stack lowers the loss; its adapter carries
/// the family's architecture, llama.cpp applies it with the logits candle trained
/// (within `tolerance`), the judge applies it, and the merged model keeps `keys` and
/// equals base + adapter.
fn assert_family_lora_round_trip(
    files: &vlmjudge_lab::fixture::FixtureFiles,
    arch: &str,
    keys: &[&str],
    tolerance: f32,
) {
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path(), 8, None);
    let out = dir.path().join("run");
    let cfg = TrainConfig { base: files.model.clone(), merge: true, ..config(&data, &out, Mode::Lora(lora(8, 0.0))) };
    let summary: TrainSummary = train(&cfg, &NoProgress).unwrap();
    assert_decreased(&train_losses(&out), &format!("{arch} LoRA"));
    let adapter_path = summary.outputs.adapter.clone().unwrap();
    let adapter = GgufFile::open(&adapter_path).unwrap();
    assert_eq!(adapter.get_str("general.architecture"), Some(arch));

    let engine = Model::load(&files.model, None, &ModelParams::default()).unwrap();
    let tokens = prompt_tokens(&engine, LONG_PROMPT);
    let candle = trained_lora_model(&cfg).last_logits(&tokens).unwrap();
    let mut base = load_llama(&files.model);
    let plain = llama_logits(&base, &tokens, None);
    let mut lora_adapter = base.lora_adapter_init(&adapter_path).unwrap();
    let adapted = llama_logits(&base, &tokens, Some(&mut lora_adapter));
    let moved = max_abs_diff(&plain, &adapted);
    let diff = max_abs_diff(&candle, &adapted);
    eprintln!("{arch} LoRA: the adapter moves logits by {moved:e}; candle vs llama.cpp+adapter {diff:e}");
    assert!(moved > 0.05, "the trained adapter changes nothing");
    assert!(diff < tolerance, "{diff}");

    // The judge applies it (`vlmjudge judge --lora`): it passes the runtime's checks and
    // moves p(A).
    let pair = vlmjudge::judge::Pair::text("p", "How many legs does a spider have?", "Eight.", "Six.");
    let p_a = |lora: Vec<LoraSpec>| {
        let model = Model::load(&files.model, None, &ModelParams { lora, ..ModelParams::default() }).unwrap();
        let verdict = Judge::new(&model, JudgeParams::default()).unwrap().judge_pair(&pair).unwrap();
        assert_eq!(verdict.error, None);
        verdict.p_a.unwrap()
    };
    let (without, with) = (p_a(vec![]), p_a(vec![LoraSpec { path: adapter_path.clone(), scale: 1.0 }]));
    assert_ne!(without, with);

    // The merged model keeps the family's keys and equals base + adapter.
    let merged_path = summary.outputs.model.clone().unwrap();
    let merged = GgufFile::open(&merged_path).unwrap();
    for key in keys {
        let base = GgufFile::open(&files.model).unwrap();
        assert!(base.get(key).is_some(), "{key}");
        assert_eq!(merged.get(key), base.get(key), "{key}");
    }
    let merged_engine = Model::load(&merged_path, None, &ModelParams::default()).unwrap();
    let diff = max_abs_diff(&llama_logits(merged_engine.llama_model(), &tokens, None), &adapted);
    eprintln!("{arch} merged vs base+adapter: {diff:e}");
    assert!(diff < PARITY_TOLERANCE, "{diff}");
}

/// Gemma 3 (`gemma3` + `gemma3` projector): the image's rows sit between
/// `<start_of_image>` and `<end_of_image>` and attend to each other both ways, as mtmd
/// decodes them; candle's logits after the prompt match llama.cpp's.
#[test]
fn gemma3_image_rows_attend_both_ways_as_llama_cpp_decodes_them() {
    let files = gemma3();
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path(), 1, Some(dir.path()));
    let engine = Model::load(&files.model, Some(&files.mmproj), &ModelParams::default()).unwrap();
    let ex = encode_first(&Encoder::new(&engine).unwrap(), &data);
    assert_eq!(ex.images.len(), 1);
    let span = &ex.images[0];
    let end = span.start + span.n_tokens;
    let text = |range: std::ops::Range<usize>| -> String {
        ex.tokens[range].iter().map(|&t| engine.token_text(LlamaToken(t as i32))).collect()
    };
    assert!(text(0..span.start).ends_with("<start_of_image>"), "{}", text(0..span.start));
    assert!(text(end..end + 1) == "<end_of_image>", "{}", text(end..end + 1));
    let last = ex.n_prompt - 1;
    let ours = candle_prompt_logits(&files.model, &ex);
    let decode = |rows| {
        let pieces = [Piece::Tokens(&ex.tokens[..span.start]), rows, Piece::Tokens(&ex.tokens[end..=last])];
        llama_logits_raw(engine.llama_model(), &pieces)
    };
    let diff = max_abs_diff(&ours, &decode(Piece::TwoWayRows(span.rows())));
    // Decoded causally the image gives other logits: the two-way attention matters.
    let causal = max_abs_diff(&ours, &decode(Piece::Rows(span.rows())));
    eprintln!("gemma3 image parity: {diff:e} (against a causal decode: {causal:e}) over {} positions", last + 1);
    assert!(diff < GEMMA3_PARITY_TOLERANCE, "{diff}");
    assert!(causal > 10.0 * GEMMA3_PARITY_TOLERANCE, "{causal}");
}

/// Qwen2.5-VL (`qwen2vl` + `qwen2.5vl_merger`): an image's tokens take M-RoPE positions
/// on its grid (time, row, column) and the image advances the position by the grid's
/// longer side, so the text after it sits at fewer positions than cells. candle's
/// logits after the prompt match llama.cpp decoding the same pieces at mtmd's positions.
#[test]
fn qwen2vl_image_rows_take_mrope_grid_positions_as_llama_cpp_decodes_them() {
    let files = common::fixture(FixtureKind::Qwen25vl);
    let dir = tempfile::tempdir().unwrap();
    // Wider than tall, so the grid is not square and rows and columns differ.
    let data = write_image_example(dir.path(), 96, 48);
    let engine = Model::load(&files.model, Some(&files.mmproj), &ModelParams::default()).unwrap();
    let cache = dir.path().join("image-cache");
    let encoder = Encoder::new(&engine).unwrap().with_image_cache(&cache).unwrap();
    let ex = encode_first(&encoder, &data);
    assert_eq!(ex.images.len(), 1);
    let span = &ex.images[0];
    let (columns, rows) = span.grid.expect("an M-RoPE image has a grid");
    // The on-disk image cache keeps the grid.
    let again = Encoder::new(&engine).unwrap().with_image_cache(&cache).unwrap();
    let cached = encode_first(&again, &data);
    assert_eq!(again.image_counts(), (0, 1));
    assert_eq!((cached.images[0].grid, cached.images[0].rows()), (span.grid, span.rows()));
    assert!(columns != rows && columns * rows == span.n_tokens, "{columns}x{rows} for {}", span.n_tokens);
    let end = span.start + span.n_tokens;
    let last = ex.n_prompt - 1;
    let ours = candle_prompt_logits(&files.model, &ex);
    let decode = |rows_piece| {
        let pieces = [Piece::Tokens(&ex.tokens[..span.start]), rows_piece, Piece::Tokens(&ex.tokens[end..=last])];
        llama_logits_raw(engine.llama_model(), &pieces)
    };
    let diff = max_abs_diff(&ours, &decode(Piece::GridRows(span.rows(), (columns, rows))));
    // At sequential positions the logits differ: the grid positions matter.
    let sequential = max_abs_diff(&ours, &decode(Piece::Rows(span.rows())));
    eprintln!(
        "qwen2vl image parity: {diff:e} (sequential positions: {sequential:e}); {columns}x{rows} grid over {} positions",
        last + 1
    );
    assert!(diff < PARITY_TOLERANCE, "{diff}");
    assert!(sequential > 10.0 * PARITY_TOLERANCE, "{sequential}");
}

#[test]
fn qwen2vl_lora_trains_on_image_examples() {
    let files = common::fixture(FixtureKind::Qwen25vl);
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    let data = write_data(dir.path(), 8, Some(&images));
    let out = dir.path().join("run");
    let cfg = TrainConfig {
        base: files.model.clone(),
        mmproj: Some(files.mmproj.clone()),
        ..config(&data, &out, Mode::Lora(lora(8, 0.0)))
    };
    let summary = train(&cfg, &NoProgress).unwrap();
    assert_eq!(summary.images_encoded, 3);
    assert_decreased(&train_losses(&out), "qwen2vl LoRA with images");
}

/// SmolVLM (`llama` + `idefics3`): a wide image becomes a grid of tiles and a global
/// view, each framed by text tokens (`<fake_token_around_image>`, `<row_R_col_C>`,
/// `<global-img>`). The trainer splices every tile's rows and the framing text in the
/// order mtmd produces them, so candle's logits after the prompt match llama.cpp
/// decoding the same pieces in order.
#[test]
fn smolvlm_tiles_and_their_framing_text_are_spliced_as_llama_cpp_decodes_them() {
    let files = common::fixture(FixtureKind::Smolvlm);
    let dir = tempfile::tempdir().unwrap();
    let data = write_image_example(dir.path(), 200, 120);
    let engine = Model::load(&files.model, Some(&files.mmproj), &ModelParams::default()).unwrap();
    let ex = encode_first(&Encoder::new(&engine).unwrap(), &data);
    // 2x2 tiles and the global view (64 px longest edge, 32 px tiles).
    assert_eq!(ex.images.len(), 5, "tiles plus the global view");
    let last = ex.n_prompt - 1;
    let mut pieces = Vec::new();
    let mut at = 0;
    for span in &ex.images {
        // Framing text before every tile.
        assert!(span.start > at, "no framing text before the image rows at {}", span.start);
        pieces.push(Piece::Tokens(&ex.tokens[at..span.start]));
        pieces.push(Piece::Rows(span.rows()));
        at = span.start + span.n_tokens;
    }
    pieces.push(Piece::Tokens(&ex.tokens[at..=last]));
    let framing: String =
        ex.tokens[..ex.images[1].start].iter().map(|&t| engine.token_text(LlamaToken(t as i32))).collect();
    assert!(framing.contains("<row_1_col_1>") && framing.contains("<row_1_col_2>"), "{framing:?}");
    let theirs = llama_logits_raw(engine.llama_model(), &pieces);
    let diff = max_abs_diff(&candle_prompt_logits(&files.model, &ex), &theirs);
    let rows: usize = ex.images.iter().map(|s| s.n_tokens).sum();
    eprintln!(
        "smolvlm tile parity: {diff:e} over {} positions ({rows} image rows in {} spans)",
        last + 1,
        ex.images.len()
    );
    assert!(diff < PARITY_TOLERANCE, "{diff}");
}
