//! Real weights on the gemma3 paths: Gemma-3-270M (Q4_K_M, text only, no chat template;
//! `scripts/fetch_gemma3.py`), with a generated gemma3 projector sized for it so its
//! real sliding-window graph also receives non-causal image embeddings. Opt-in, as it
//! needs a 250 MB download: `make test-gemma3`.

mod common;

use std::path::PathBuf;

use common::judge_all;
use vlmjudge::engine::{Model, ModelParams};
use vlmjudge::judge::{ImageSource, Judge, JudgeParams, Pair};

fn gemma3_path() -> PathBuf {
    let path = std::env::var_os("VLMJUDGE_GEMMA3_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| vlmjudge::cache_dir().join("models/gemma-3-270m.Q4_K_M.gguf"));
    assert!(path.is_file(), "Gemma-3-270M missing at {}: run scripts/fetch_gemma3.py", path.display());
    path
}

/// A pair longer than the model's 512-token sliding window, so the local layers mask.
fn long_pair() -> Pair {
    let context = "The museum's east wing holds paintings from the early modern period. ".repeat(40);
    Pair::text(
        "long",
        format!("{context}Which wing holds the early modern paintings?"),
        "The east wing.",
        "The west wing.",
    )
}

#[test]
#[ignore = "needs Gemma-3-270M (250 MB): make test-gemma3"]
fn gemma3_270m_judges_in_its_own_format_alone_and_in_a_batch() {
    let model = Model::load(gemma3_path(), None, &ModelParams::default()).unwrap();
    let params = JudgeParams { ctx_per_seq: 1024, ..JudgeParams::default() };
    let judge = Judge::new(&model, params.clone()).unwrap();
    let pair = common::sample_pairs(1).remove(0);
    let tokens = judge.prompt_tokens(&pair).unwrap();
    let text: String = tokens.iter().map(|&t| model.token_text(t)).collect();
    // One BOS; no system role: the system text opens the user turn.
    let bos = model.bos().expect("Gemma adds BOS");
    assert_eq!(tokens.iter().filter(|&&t| t == bos).count(), 1, "{text}");
    assert!(text.starts_with("<bos><start_of_turn>user\nYou are an impartial judge."), "{text}");
    assert!(text.ends_with("<end_of_turn>\n<start_of_turn>model\n[["), "{text}");
    drop(judge);

    let mut pairs = common::sample_pairs(8);
    pairs.push(long_pair());
    let batch = judge_all(&model, JudgeParams { parallel: 8, ..params.clone() }, &pairs);
    for (pair, in_batch) in pairs.iter().zip(&batch) {
        assert_eq!(in_batch.error, None, "{}", pair.id);
        let alone = judge_all(&model, JudgeParams { parallel: 1, ..params.clone() }, std::slice::from_ref(pair));
        assert_eq!(alone[0].orders, in_batch.orders, "{}: alone vs in a batch of 9", pair.id);
    }
    // The swapped order through the shared prefix matches that order from scratch,
    // across the sliding window. Not to the bit: from scratch the prompt is decoded in
    // other segments, and this Q4_K_M model's CPU kernels round by segment (measured:
    // p differs by 1e-3 to 2e-3 for prompts of 145 to 705 tokens, inside the window or
    // across it; the F32 fixtures of tests/families.rs agree to 1e-4).
    let long = long_pair();
    let swapped = Pair { response_a: long.response_b.clone(), response_b: long.response_a.clone(), ..long.clone() };
    let scratch = judge_all(&model, JudgeParams { swap: false, ..params }, &[swapped]);
    let via_copy = batch[8].orders[1].p_a.unwrap();
    let from_scratch = 1.0 - scratch[0].orders[0].p_a.unwrap();
    assert!((via_copy - from_scratch).abs() < 5e-3, "{via_copy} vs {from_scratch}");
}

#[test]
#[ignore = "needs Gemma-3-270M (250 MB): make test-gemma3"]
fn gemma3_270m_takes_non_causal_image_embeddings_from_a_gemma3_projector() {
    let dir = tempfile::tempdir().unwrap();
    let mmproj = dir.path().join("mmproj.gguf");
    vlmjudge_lab::fixture::write_gemma3_mmproj(&mmproj, 640, 0).unwrap();
    let model = Model::load(gemma3_path(), Some(&mmproj), &ModelParams::default()).unwrap();
    let image = |rgb: [u8; 3]| ImageSource::Bytes(common::solid_png(64, 48, rgb).into());
    let pair = |id: &str, rgb| Pair {
        image: Some(image(rgb)),
        ..Pair::text(id, "What colour is the picture?", "It is red.", "It is blue.")
    };
    let pairs = [pair("red", [220, 30, 30]), pair("blue", [30, 30, 220])];
    let verdicts = judge_all(&model, JudgeParams::default(), &pairs);
    for v in &verdicts {
        assert_eq!(v.error, None, "{v:?}");
    }
    assert_ne!(verdicts[0].p_a, verdicts[1].p_a, "the image reaches the model");
    let alone = judge_all(&model, JudgeParams { parallel: 1, ..JudgeParams::default() }, &pairs[1..]);
    assert_eq!(alone[0].orders, verdicts[1].orders);
}

/// The trainer's Gemma 3 stack on the real weights, across the 512-token sliding
/// window. candle dequantizes Q4_K_M to f32 while llama.cpp multiplies quantized
/// weights by Q8_K-quantized activations, so the logits agree only to quantization
/// noise; the check is that nothing in the graph is wrong, which would show as a
/// different top token and errors of the logits' own size.
#[cfg(feature = "train")]
#[test]
#[ignore = "needs Gemma-3-270M (250 MB): make test-gemma3"]
fn gemma3_270m_trainer_forward_tracks_llama_cpp_across_the_sliding_window() {
    use std::num::NonZeroU32;
    use vlmjudge::train::{Mode, TrainModel};
    let path = gemma3_path();
    let model = Model::load(&path, None, &ModelParams::default()).unwrap();
    let judge = Judge::new(&model, JudgeParams { ctx_per_seq: 2048, ..JudgeParams::default() }).unwrap();
    let tokens = judge.prompt_tokens(&long_pair()).unwrap();
    assert!(tokens.len() > 512, "{} tokens", tokens.len());
    let n = tokens.len() as u32;
    let params = model.base_context_params().with_n_ctx(NonZeroU32::new(n)).with_n_batch(n).with_n_ubatch(n);
    let mut ctx = model.llama_model().new_context(vlmjudge::engine::backend().unwrap(), params).unwrap();
    let mut batch = llama_cpp_2::llama_batch::LlamaBatch::new(tokens.len(), 1);
    batch.add_sequence(&tokens, 0, false).unwrap();
    ctx.decode(&mut batch).unwrap();
    let theirs = ctx.get_logits_ith(batch.n_tokens() - 1).to_vec();
    let ids: Vec<u32> = tokens.iter().map(|t| t.0 as u32).collect();
    let ours = TrainModel::load(&path, Mode::Frozen, 0, &candle_core::Device::Cpu).unwrap().last_logits(&ids).unwrap();
    let diff = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    let scale = theirs.iter().fold(0f32, |m, x| m.max(x.abs()));
    let argmax = |v: &[f32]| (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b });
    let above = theirs.iter().filter(|&&x| x > theirs[argmax(&ours)]).count();
    eprintln!(
        "Gemma-3-270M, {} tokens: max |candle - llama.cpp| {diff} (logits up to {scale}); candle's top token is \
         llama.cpp's number {}",
        tokens.len(),
        above + 1
    );
    assert!(above < 3, "candle's top token is llama.cpp's number {}", above + 1);
    assert!(diff < 0.1 * scale, "{diff} against logits up to {scale}");
}
