//! Semantic GGUF validation (src/engine/validate/): files that parse but would make
//! llama.cpp abort the process are refused with an error naming the key or tensor, and
//! every valid fixture family and the real demo model still load.
//!
//! Each corrupt file is a valid fixture rewritten with one change through our own GGUF
//! reader and writer. Without the validation each of them aborts the test process
//! (checked by hand against the pinned llama.cpp while the rules were written; the
//! fuzzer in lab/src/fuzz/ keeps checking the same classes).

mod common;

use std::path::{Path, PathBuf};

use common::{demo_model_path, fixture};
use vlmjudge::engine::{LoraSpec, Model, ModelParams};
use vlmjudge::gguf::{GgmlType, GgufFile, GgufWriter, TensorInfo, Value, ValueType};
use vlmjudge::Error;
use vlmjudge_lab::fixture::{FixtureKind, Geometry};

/// A GGUF file held in memory to be rewritten with a change.
struct Gguf {
    metadata: Vec<(String, Value)>,
    tensors: Vec<(TensorInfo, Vec<u8>)>,
}

impl Gguf {
    fn read(path: &Path) -> Gguf {
        let file = GgufFile::open(path).unwrap();
        let tensors = file.tensors.iter().map(|t| (t.clone(), file.read_tensor(t).unwrap())).collect();
        Gguf { metadata: file.metadata.clone(), tensors }
    }

    fn get(&self, key: &str) -> &Value {
        &self.metadata.iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("no key {key}")).1
    }

    fn set(&mut self, key: &str, value: Value) {
        match self.metadata.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.metadata.push((key.into(), value)),
        }
    }

    fn remove_tensor(&mut self, name: &str) {
        let before = self.tensors.len();
        self.tensors.retain(|(t, _)| t.name != name);
        assert_eq!(self.tensors.len() + 1, before, "no tensor {name}");
    }

    /// Replaces tensor `name` by zeros of type `ty` and shape `dims`.
    fn replace_tensor(&mut self, name: &str, dims: &[u64], ty: GgmlType) {
        let slot = self.tensors.iter_mut().find(|(t, _)| t.name == name).unwrap_or_else(|| panic!("no tensor {name}"));
        let n: u64 = dims.iter().product();
        slot.0.dims = dims.to_vec();
        slot.0.ggml_type = ty;
        slot.1 = vec![0u8; ty.bytes_for(n).expect("a known type") as usize];
    }

    fn write(&self, path: &Path) -> PathBuf {
        let mut w = GgufWriter::new();
        for (k, v) in &self.metadata {
            w.set(k, v.clone());
        }
        for (t, data) in &self.tensors {
            w.add_tensor(&t.name, &t.dims, t.ggml_type, data.clone()).unwrap();
        }
        w.write(path).unwrap();
        path.to_path_buf()
    }
}

fn load(model: &Path, mmproj: Option<&Path>) -> Result<Model, Error> {
    Model::load(model, mmproj, &ModelParams::default())
}

/// Loads `model` (+ `mmproj`) and returns the error, which must be an `InvalidGguf`
/// (model) or `MmprojLoad` (mmproj) whose text contains every string of `expect`.
fn refused(model: &Path, mmproj: Option<&Path>, expect: &[&str]) -> String {
    let err = load(model, mmproj).err().unwrap_or_else(|| panic!("{} loaded; expected {expect:?}", model.display()));
    match (&err, mmproj.is_some()) {
        (Error::InvalidGguf { .. }, false) | (Error::MmprojLoad { .. }, true) => {}
        _ => panic!("wrong error kind for {expect:?}: {err:?}"),
    }
    let text = err.to_string();
    for part in expect {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
    text
}

/// The tiny VLM's language model rewritten by `edit`, refused naming `expect`.
fn model_refused(edit: impl FnOnce(&mut Gguf), expect: &[&str]) -> String {
    family_model_refused(FixtureKind::TinyVlm, edit, expect)
}

/// Fixture `kind`'s language model rewritten by `edit`, refused naming `expect`.
fn family_model_refused(kind: FixtureKind, edit: impl FnOnce(&mut Gguf), expect: &[&str]) -> String {
    let files = fixture(kind);
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gguf::read(&files.model);
    edit(&mut g);
    let path = g.write(&dir.path().join("model.gguf"));
    refused(&path, None, expect)
}

/// Fixture `kind`'s mmproj rewritten by `edit`, loaded with its model and refused
/// naming `expect`.
fn mmproj_refused(kind: FixtureKind, edit: impl FnOnce(&mut Gguf), expect: &[&str]) -> String {
    let files = fixture(kind);
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gguf::read(&files.mmproj);
    edit(&mut g);
    let path = g.write(&dir.path().join("mmproj.gguf"));
    refused(&files.model, Some(&path), expect)
}

// --- the language model --------------------------------------------------------------

#[test]
fn a_layer_count_of_zero_or_above_512_is_refused() {
    model_refused(|g| g.set("llama.block_count", Value::U32(0)), &["llama.block_count is 0", "1 to 512"]);
    model_refused(|g| g.set("llama.block_count", Value::U32(100_000)), &["llama.block_count is 100000"]);
}

#[test]
fn an_unknown_architecture_is_refused_by_name() {
    let text = model_refused(
        |g| {
            let renamed: Vec<(String, Value)> =
                g.metadata.iter().map(|(k, v)| (k.replacen("llama.", "phi3.", 1), v.clone())).collect();
            g.metadata = renamed;
            g.set("general.architecture", Value::str("phi3"));
        },
        &["architecture \"phi3\" is not supported", "llama, qwen2, qwen2vl, gemma3"],
    );
    assert!(!text.contains("llama.cpp could not load"), "{text}");
}

#[test]
fn a_vocabulary_with_two_identical_token_texts_is_refused() {
    model_refused(
        |g| {
            let Value::Array(_, items) = g.get("tokenizer.ggml.tokens").clone() else { panic!() };
            let mut items = items;
            items[6] = items[5].clone();
            g.set("tokenizer.ggml.tokens", Value::Array(ValueType::Str, items));
        },
        &["tokenizer.ggml.tokens", "at ids 5 and 6"],
    );
    // llama.cpp reads token texts as C strings: "a\0b" is "a", which the vocabulary has.
    model_refused(
        |g| {
            let Value::Array(_, mut items) = g.get("tokenizer.ggml.tokens").clone() else { panic!() };
            items[2] = Value::Str(b"a\0b".to_vec());
            g.set("tokenizer.ggml.tokens", Value::Array(ValueType::Str, items));
        },
        &["tokenizer.ggml.tokens has the text \"a\""],
    );
}

#[test]
fn per_token_tables_of_the_wrong_length_are_refused() {
    let n_tokens = |g: &Gguf| g.get("tokenizer.ggml.tokens").as_array().unwrap().len();
    model_refused(
        |g| {
            let n = n_tokens(g) - 1;
            g.set("tokenizer.ggml.scores", Value::f32_array(&vec![0.0; n]));
        },
        &["tokenizer.ggml.scores has 49151 entries", "49152"],
    );
    model_refused(
        |g| {
            let n = n_tokens(g) + 3;
            g.set("tokenizer.ggml.token_type", Value::Array(ValueType::I32, vec![Value::I32(1); n]));
        },
        &["tokenizer.ggml.token_type has 49155 entries"],
    );
}

#[test]
fn an_out_of_range_special_token_id_is_refused() {
    model_refused(
        |g| g.set("tokenizer.ggml.bos_token_id", Value::U32(49_152)),
        &["tokenizer.ggml.bos_token_id is 49152", "49152 tokens"],
    );
}

#[test]
fn hyperparameters_llama_cpp_asserts_on_are_refused() {
    model_refused(
        |g| g.set("llama.attention.layer_norm_rms_epsilon", Value::F32(-1.0)),
        &["llama.attention.layer_norm_rms_epsilon is -1"],
    );
    model_refused(
        |g| g.set("llama.attention.layer_norm_rms_epsilon", Value::F32(f32::NAN)),
        &["llama.attention.layer_norm_rms_epsilon is NaN"],
    );
    model_refused(|g| g.set("llama.context_length", Value::U32(u32::MAX)), &["llama.context_length"]);
    model_refused(|g| g.set("llama.attention.head_count", Value::U32(0)), &["llama.attention.head_count is 0"]);
    model_refused(
        |g| g.set("llama.attention.head_count_kv", Value::Array(ValueType::U32, vec![Value::U32(2), Value::U32(4)])),
        &["llama.attention.head_count_kv varies by layer"],
    );
    model_refused(
        |g| g.set("llama.attention.head_count_kv", Value::Array(ValueType::U32, vec![Value::U32(2)])),
        &["llama.attention.head_count_kv has 1 entries but the model has 2 layers"],
    );
    model_refused(|g| g.set("llama.expert_used_count", Value::U32(2)), &["llama.expert_used_count is 2"]);
    model_refused(|g| g.set("llama.rope.scaling.type", Value::str("foo")), &["llama.rope.scaling.type \"foo\""]);
    // A key stored with another type than llama.cpp reads.
    model_refused(|g| g.set("llama.block_count", Value::U64(2)), &["llama.block_count is stored as UINT64", "UINT32"]);
}

/// llama.cpp memory-maps the weights and ggml asserts each buffer starts 32-byte aligned.
#[test]
fn tensor_data_that_is_not_32_byte_aligned_is_refused() {
    let tiny = fixture(FixtureKind::TinyVlm);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gguf");
    let mut g = Gguf::read(&tiny.model);
    g.set("general.alignment", Value::U32(8));
    // Pad the header until the data section (aligned to 8 only) is not 32-aligned.
    for pad in 0..4 {
        g.set("vlmjudge.test.padding", Value::str(&"x".repeat(8 * pad)));
        g.write(&path);
        if GgufFile::open(&path).unwrap().data_offset % 32 != 0 {
            refused(&path, None, &["not a multiple of 32", "general.alignment 8"]);
            return;
        }
    }
    panic!("no padding misaligned the data section");
}

/// A SentencePiece vocabulary spells unknown text with byte tokens; a missing one is a
/// C++ exception through llama_tokenize, which aborts the process.
#[test]
fn a_sentencepiece_vocabulary_without_byte_tokens_is_refused() {
    family_model_refused(
        FixtureKind::Gemma3,
        |g| g.set("tokenizer.ggml.model", Value::str("llama")),
        &["tokenizer.ggml.tokens has no byte token <0x00>"],
    );
}

#[test]
fn a_norm_weight_of_another_type_than_f32_is_refused() {
    model_refused(
        |g| g.replace_tensor("blk.1.attn_norm.weight", &[64], GgmlType::F16),
        &["tensor blk.1.attn_norm.weight is a vector of type F16"],
    );
}

/// Rewrites the type of F32 tensor `name` in the GGUF file at `path` to `ty`, a type
/// with 4-byte elements our writer does not know (e.g. I32), in place.
fn patch_tensor_type(path: &Path, name: &str, ty: u32) {
    let mut bytes = std::fs::read(path).unwrap();
    let mut needle = (name.len() as u64).to_le_bytes().to_vec();
    needle.extend_from_slice(name.as_bytes());
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("the tensor's name") + needle.len();
    let n_dims = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let type_at = at + 4 + 8 * n_dims;
    assert_eq!(&bytes[type_at..type_at + 4], &0u32.to_le_bytes(), "an F32 tensor");
    bytes[type_at..type_at + 4].copy_from_slice(&ty.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_weight_of_a_type_without_cpu_kernels_is_refused() {
    // I32 weights load, and the first product with them dereferences a missing kernel.
    let tiny = fixture(FixtureKind::TinyVlm);
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.gguf");
    std::fs::copy(&tiny.model, &model).unwrap();
    patch_tensor_type(&model, "blk.0.attn_q.weight", 26);
    refused(&model, None, &["tensor blk.0.attn_q.weight has type I32"]);
    let mmproj = dir.path().join("mmproj.gguf");
    std::fs::copy(&tiny.mmproj, &mmproj).unwrap();
    patch_tensor_type(&mmproj, "mm.0.weight", 26);
    refused(&tiny.model, Some(&mmproj), &["tensor mm.0.weight has type I32"]);
}

#[test]
fn architecture_specific_rules_hold_for_qwen2vl_and_gemma3() {
    // M-RoPE sections with no positive one among the first three (ggml asserts), and a
    // total of 0 (a division by zero in the rope cache).
    family_model_refused(
        FixtureKind::Qwen25vl,
        |g| {
            let sections = [0, 0, 0, 8].map(Value::I32).to_vec();
            g.set("qwen2vl.rope.dimension_sections", Value::Array(ValueType::I32, sections));
        },
        &["qwen2vl.rope.dimension_sections [0, 0, 0, 8]"],
    );
    family_model_refused(
        FixtureKind::Qwen25vl,
        |g| {
            let sections = [8, 8, 8, 0].map(Value::I32).to_vec();
            g.set("qwen2vl.rope.dimension_sections", Value::Array(ValueType::I32, sections));
        },
        &["add up to 24, more than the head size 16"],
    );
    // A sliding window with no sliding layer (llama.cpp asserts at least one).
    family_model_refused(
        FixtureKind::Gemma3,
        |g| g.set("gemma3.attention.sliding_window_pattern", Value::U32(1)),
        &["gemma3.attention.sliding_window_pattern makes no layer use the sliding window"],
    );
    family_model_refused(
        FixtureKind::Gemma3,
        |g| {
            let flags = vec![Value::Bool(false); 3];
            g.set("gemma3.attention.sliding_window_pattern", Value::Array(ValueType::Bool, flags));
        },
        &["makes no layer use the sliding window"],
    );
    // A window past i32::MAX turns negative inside llama.cpp (found by the fuzzer).
    family_model_refused(
        FixtureKind::Gemma3,
        |g| g.set("gemma3.attention.sliding_window", Value::U32(1 << 31)),
        &["gemma3.attention.sliding_window is 2147483648, longer than the training context"],
    );
}

// --- the mmproj ----------------------------------------------------------------------

#[test]
fn a_patch_size_that_does_not_tile_the_image_is_refused() {
    // The kernel still 8x8: the patch grid llama.cpp counts is not the convolution's.
    mmproj_refused(
        FixtureKind::TinyVlm,
        |g| g.set("clip.vision.patch_size", Value::U32(6)),
        &["clip.vision.patch_size is 6", "8x8"],
    );
    // A 6x6 kernel: 5x5 patches, but 16 learned positions (a ggml_add shape assertion).
    mmproj_refused(
        FixtureKind::TinyVlm,
        |g| {
            g.set("clip.vision.patch_size", Value::U32(6));
            g.replace_tensor("v.patch_embd.weight", &[6, 6, 3, 32], GgmlType::F32);
        },
        &["v.position_embd.weight", "clip.vision.image_size 32 / clip.vision.patch_size 6", "5x5"],
    );
}

#[test]
fn an_encoder_without_heads_or_with_heads_that_do_not_split_it_is_refused() {
    mmproj_refused(
        FixtureKind::TinyVlm,
        |g| g.set("clip.vision.attention.head_count", Value::U32(0)),
        &["clip.vision.attention.head_count is 0"],
    );
    mmproj_refused(
        FixtureKind::TinyVlm,
        |g| g.set("clip.vision.attention.head_count", Value::U32(3)),
        &["clip.vision.embedding_length 32 is not divisible by clip.vision.attention.head_count 3"],
    );
}

/// mtmd compares widths only after creating its clip context and then leaks it; the
/// check runs first, so the error is vlmjudge's own and mtmd never starts.
#[test]
fn an_mmproj_of_the_wrong_width_is_refused_before_mtmd_starts() {
    let tiny = fixture(FixtureKind::TinyVlm);
    let s2v = fixture(FixtureKind::Smollm2Vision);
    for (model, mmproj, widths) in [
        (demo_model_path(), tiny.mmproj.clone(), ["64", "576"]),
        (tiny.model.clone(), s2v.mmproj.clone(), ["576", "64"]),
    ] {
        let text = refused(&model, Some(&mmproj), &["width mismatch", widths[0], widths[1]]);
        assert!(!text.contains("mismatch between text model"), "mtmd ran: {text}");
    }
}

/// Resident memory of this process in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Refusing a wrong mmproj again and again costs no memory: mtmd, which leaked its clip
/// context on each such attempt, is never reached.
#[test]
fn refusing_a_wrong_width_mmproj_repeatedly_does_not_grow_memory() {
    let tiny = fixture(FixtureKind::TinyVlm);
    let s2v = fixture(FixtureKind::Smollm2Vision);
    let attempt = || assert!(load(&tiny.model, Some(&s2v.mmproj)).is_err());
    attempt();
    let before = rss_kib();
    for _ in 0..30 {
        attempt();
    }
    let grown = rss_kib().saturating_sub(before);
    eprintln!("RSS grew by {grown} KiB over 30 refused loads");
    assert!(grown < 16 * 1024, "RSS grew by {grown} KiB over 30 refused loads");
}

#[test]
fn unknown_projectors_and_audio_encoders_are_refused_by_name() {
    mmproj_refused(
        FixtureKind::TinyVlm,
        |g| g.set("clip.projector_type", Value::str("ldp")),
        &["projector type \"ldp\" is not supported", "mlp, idefics3, qwen2.5vl_merger, gemma3"],
    );
    mmproj_refused(
        FixtureKind::TinyVlm,
        |g| g.set("clip.has_audio_encoder", Value::Bool(true)),
        &["clip.has_audio_encoder is set"],
    );
}

#[test]
fn projector_rules_hold_for_each_family() {
    // A key type clip reads through an asserting getter.
    mmproj_refused(
        FixtureKind::TinyVlm,
        |g| g.set("clip.vision.patch_size", Value::U64(8)),
        &["clip.vision.patch_size is stored as UINT64"],
    );
    // LLaVA's output matrix, which mtmd dereferences for the width.
    mmproj_refused(FixtureKind::TinyVlm, |g| g.remove_tensor("mm.2.weight"), &["tensor mm.2.weight is missing"]);
    mmproj_refused(
        FixtureKind::TinyVlm,
        |g| g.set("clip.vision.attention.layer_norm_epsilon", Value::F32(-1e-6)),
        &["clip.vision.attention.layer_norm_epsilon is -0.000001"],
    );
    mmproj_refused(
        FixtureKind::TinyVlm,
        |g| g.replace_tensor("v.blk.0.attn_k.bias", &[32], GgmlType::F16),
        &["tensor v.blk.0.attn_k.bias is a vector of type F16"],
    );
    // Gemma 3: the pooling factor must divide the 16x16 patch grid.
    mmproj_refused(
        FixtureKind::Gemma3,
        |g| g.set("clip.vision.projector.scale_factor", Value::U32(3)),
        &["clip.vision.projector.scale_factor 3 does not divide the 16x16 patch grid"],
    );
    // SmolVLM: the pixel shuffle needs a factor of at least 2 that divides the grid.
    for factor in [1, 3] {
        mmproj_refused(
            FixtureKind::Smolvlm,
            |g| g.set("clip.vision.projector.scale_factor", Value::U32(factor)),
            &[&format!("clip.vision.projector.scale_factor {factor} must be at least 2")],
        );
    }
    // Qwen2.5-VL: 2x2 merges only; a window period of 1 leaves the window mask unused.
    mmproj_refused(
        FixtureKind::Qwen25vl,
        |g| g.set("clip.vision.spatial_merge_size", Value::U32(3)),
        &["clip.vision.spatial_merge_size is 3"],
    );
    mmproj_refused(
        FixtureKind::Qwen25vl,
        |g| g.set("clip.vision.n_wa_pattern", Value::U32(1)),
        &["clip.vision.n_wa_pattern is 1"],
    );
    mmproj_refused(
        FixtureKind::Qwen25vl,
        |g| g.set("clip.vision.projection_dim", Value::U32(32)),
        &["clip.vision.projection_dim is 32 but the projector's output (mm.2.weight) is 64 wide"],
    );
    // Tilings so large that an image would take millions of tokens (an endless encode).
    mmproj_refused(
        FixtureKind::Smolvlm,
        |g| g.set("clip.vision.preproc_image_size", Value::U32(60_000)),
        &["clip.vision.preproc_image_size 60000 cuts an image into 1875x1875 tiles"],
    );
    mmproj_refused(
        FixtureKind::Llava16,
        |g| g.set("clip.vision.image_grid_pinpoints", Value::Array(ValueType::I32, vec![Value::I32(32 * 400); 2])),
        &["clip.vision.image_grid_pinpoints contains 12800x12800"],
    );
    // LLaVA-1.6: pinpoints must be whole tiles.
    mmproj_refused(
        FixtureKind::Llava16,
        |g| g.set("clip.vision.image_grid_pinpoints", Value::Array(ValueType::I32, vec![Value::I32(10); 2])),
        &["clip.vision.image_grid_pinpoints contains 10", "clip.vision.image_size 32"],
    );
}

// --- LoRA adapters -------------------------------------------------------------------

/// A LoRA adapter for the tiny (llama) model with the given factors (name, ggml dims).
fn adapter(dir: &Path, name: &str, factors: &[(&str, &[u64])]) -> PathBuf {
    let mut w = GgufWriter::new();
    w.set("general.architecture", Value::str("llama"))
        .set("general.type", Value::str("adapter"))
        .set("adapter.type", Value::str("lora"))
        .set("adapter.lora.alpha", Value::F32(8.0));
    for (tensor, dims) in factors {
        w.add_f32(tensor, dims, &vec![0.01; dims.iter().product::<u64>() as usize]).unwrap();
    }
    let path = dir.join(name);
    w.write(&path).unwrap();
    path
}

fn load_with_adapter(path: PathBuf) -> Result<Model, Error> {
    let params = ModelParams { lora: vec![LoraSpec { path, scale: 1.0 }], ..ModelParams::default() };
    Model::load(fixture(FixtureKind::TinyVlm).model, None, &params)
}

fn adapter_refused(path: PathBuf, expect: &str) {
    let Err(err) = load_with_adapter(path) else { panic!("the adapter must be refused") };
    assert!(matches!(err, Error::InvalidGguf { .. }), "{err:?}");
    assert!(err.to_string().contains(expect), "{expect:?} missing from: {err}");
}

#[test]
fn adapters_llama_cpp_would_abort_on_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Token embeddings are adapted flipped (a [rank, n_vocab], b [rank, n_embd]); the
    // tiny model ties its output layer to them, so llama.cpp would also apply the
    // flipped factors to the output projection.
    let tied = [("token_embd.weight.lora_a", &[4u64, 49_152][..]), ("token_embd.weight.lora_b", &[4, 64][..])];
    adapter_refused(adapter(d, "tied.gguf", &tied), "also uses as its output layer");
    let ranks = [("token_embd.weight.lora_a", &[4u64, 49_152][..]), ("token_embd.weight.lora_b", &[3, 64][..])];
    adapter_refused(adapter(d, "ranks.gguf", &ranks), "has rank 4 but token_embd.weight.lora_b has rank 3");
    let cube = [("blk.0.attn_q.weight.lora_a", &[64u64, 4, 2][..]), ("blk.0.attn_q.weight.lora_b", &[4, 64][..])];
    adapter_refused(adapter(d, "cube.gguf", &cube), "a LoRA factor must be a matrix");
    let mut alpha_as_int = GgufFile::open(adapter(d, "ok.gguf", &[])).unwrap().metadata;
    alpha_as_int.retain(|(k, _)| k != "adapter.lora.alpha");
    let mut w = GgufWriter::new();
    for (k, v) in alpha_as_int {
        w.set(&k, v);
    }
    w.set("adapter.lora.alpha", Value::U32(8));
    w.add_f32("blk.0.attn_q.weight.lora_a", &[64, 4], &[0.0; 256]).unwrap();
    w.add_f32("blk.0.attn_q.weight.lora_b", &[4, 64], &[0.0; 256]).unwrap();
    w.write(&d.join("alpha.gguf")).unwrap();
    adapter_refused(d.join("alpha.gguf"), "adapter.lora.alpha is stored as UINT32");
    // A valid adapter on the same model still applies.
    let ok = [("blk.0.attn_q.weight.lora_a", &[64u64, 4][..]), ("blk.0.attn_q.weight.lora_b", &[4, 64][..])];
    load_with_adapter(adapter(d, "valid.gguf", &ok)).expect("a valid adapter loads");
}

// --- everything valid still loads -----------------------------------------------------

#[test]
fn every_valid_fixture_and_the_demo_model_load() {
    for kind in [
        FixtureKind::TinyVlm,
        FixtureKind::Smolvlm,
        FixtureKind::Qwen25vl,
        FixtureKind::Gemma3,
        FixtureKind::Llava16,
        FixtureKind::Smollm2Vision,
        FixtureKind::WorldBase,
    ] {
        let files = fixture(kind);
        let model = load(&files.model, Some(&files.mmproj))
            .unwrap_or_else(|e| panic!("the {} fixture must load: {e}", kind.name()));
        assert!(model.has_vision());
    }
    // The released models' image geometry on the same tiny encoders.
    let dir = tempfile::tempdir().unwrap();
    for kind in [FixtureKind::Smolvlm, FixtureKind::Gemma3, FixtureKind::Llava16] {
        let out = dir.path().join(kind.name());
        let files =
            vlmjudge_lab::fixture::write_fixture_with(kind, &out, 0, &demo_model_path(), Geometry::Real).unwrap();
        load(&files.model, Some(&files.mmproj))
            .unwrap_or_else(|e| panic!("the {} fixture in its real geometry must load: {e}", kind.name()));
    }
    let demo = load(&demo_model_path(), None).expect("the demo model loads");
    assert_eq!(demo.info().architecture.as_deref(), Some("llama"));
}

/// The rewriting helper itself must be faithful: an unchanged copy loads.
#[test]
fn an_unchanged_rewrite_loads() {
    let tiny = fixture(FixtureKind::TinyVlm);
    let dir = tempfile::tempdir().unwrap();
    let model = Gguf::read(&tiny.model).write(&dir.path().join("model.gguf"));
    let mmproj = Gguf::read(&tiny.mmproj).write(&dir.path().join("mmproj.gguf"));
    load(&model, Some(&mmproj)).expect("an unchanged rewrite loads");
}
