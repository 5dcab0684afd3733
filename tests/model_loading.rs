//! Loading errors: every bad file gets a clear error, never a crash.

mod common;

use std::io::Write;

use common::demo_model_path;
use vlmjudge::engine::{Model, ModelParams};
use vlmjudge::Error;

fn load(path: &std::path::Path) -> Error {
    Model::load(path, None, &ModelParams::default()).expect_err("must not load")
}

/// Writes `bytes` to a temporary file and tries to load it as a model.
fn load_bytes(bytes: &[u8]) -> Error {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    load(f.path())
}

#[test]
fn a_missing_model_file_is_an_io_error_naming_the_path() {
    let err = load(std::path::Path::new("/nonexistent/model.gguf"));
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/model.gguf"));
}

#[test]
fn a_non_gguf_file_is_rejected_by_its_magic() {
    let err = load_bytes(b"this is a text file, not a model\n");
    assert!(err.to_string().contains("GGUF magic"), "{err}");
}

#[test]
fn a_truncated_gguf_is_rejected_with_the_missing_size() {
    let bytes = std::fs::read(demo_model_path()).unwrap();
    let err = load_bytes(&bytes[..bytes.len() / 2]);
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn a_gguf_cut_inside_its_header_is_rejected() {
    let bytes = std::fs::read(demo_model_path()).unwrap();
    let err = load_bytes(&bytes[..4096]);
    assert!(matches!(err, Error::InvalidGguf { .. }), "{err:?}");
}

#[test]
fn a_gguf_with_corrupt_metadata_is_rejected() {
    let mut bytes = std::fs::read(demo_model_path()).unwrap();
    // Overwrite the key/value section right after the 24-byte header with garbage.
    for b in &mut bytes[24..4096] {
        *b = 0xff;
    }
    let err = load_bytes(&bytes);
    assert!(matches!(err, Error::InvalidGguf { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot be parsed"), "{err}");
}

#[test]
fn an_unsupported_gguf_version_is_rejected() {
    let err = load_bytes(b"GGUF\x09\x00\x00\x00");
    assert!(err.to_string().contains("version 9"), "{err}");
}

#[test]
fn a_language_model_given_as_mmproj_is_rejected() {
    let path = demo_model_path();
    let err = Model::load(&path, Some(&path), &ModelParams::default()).expect_err("must not load");
    assert!(matches!(err, Error::MmprojLoad { .. }), "{err:?}");
    assert!(err.to_string().contains("not an mmproj"), "{err}");
}

/// Parameters that would make llama.cpp or the image cache reserve memory without bound
/// are refused before anything is allocated.
#[test]
fn out_of_range_parameters_are_refused_before_allocating() {
    let model = demo_model_path();
    for params in [
        ModelParams { image_cache_entries: usize::MAX, ..ModelParams::default() },
        ModelParams { threads: 100_000, ..ModelParams::default() },
        ModelParams { image_max_tokens: 15, ..ModelParams::default() },
    ] {
        let err = Model::load(&model, None, &params).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{params:?}: {err}");
    }
    let loaded = common::demo_model();
    for params in [
        vlmjudge::judge::JudgeParams { ctx_per_seq: 1 << 27, ..Default::default() },
        vlmjudge::judge::JudgeParams { threads: usize::MAX, ..Default::default() },
    ] {
        let err = vlmjudge::judge::Judge::new(loaded, params).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    }
}

/// Writes `model` as `parts` files `{stem}-0000K-of-0000N.gguf` in `dir`, as
/// llama-gguf-split does: the first holds every metadata key, each holds its share of
/// the tensors and the `split.*` keys. Returns the paths, first part first.
fn write_split(model: &std::path::Path, parts: usize, dir: &std::path::Path, stem: &str) -> Vec<std::path::PathBuf> {
    use vlmjudge::gguf::{GgufFile, GgufWriter, Value};
    let file = GgufFile::open(model).unwrap();
    let per_part = file.tensors.len().div_ceil(parts);
    (0..parts)
        .map(|k| {
            let mut writer = GgufWriter::new();
            if k == 0 {
                for (key, value) in &file.metadata {
                    writer.set(key, value.clone());
                }
            }
            let tensors: Vec<_> = file.tensors.iter().skip(k * per_part).take(per_part).collect();
            writer.set("split.no", Value::U16(k as u16));
            writer.set("split.count", Value::U16(parts as u16));
            writer.set("split.tensors.count", Value::I32(file.tensors.len() as i32));
            for t in tensors {
                writer.add_tensor(&t.name, &t.dims, t.ggml_type, file.read_tensor(t).unwrap()).unwrap();
            }
            let path = dir.join(format!("{stem}-{:05}-of-{parts:05}.gguf", k + 1));
            writer.write(&path).unwrap();
            path
        })
        .collect()
}

#[test]
fn a_split_model_loads_from_its_first_part_and_a_missing_part_is_an_error() {
    use vlmjudge::judge::{Judge, JudgeParams, Pair};
    let dir = tempfile::tempdir().unwrap();
    let parts = write_split(&demo_model_path(), 3, dir.path(), "demo-Q4_1");
    let pair = Pair::text("p", "How many legs does a cat have?", "Four.", "Seven.");
    let p_a = |model: &Model| Judge::new(model, JudgeParams::default()).unwrap().judge_pair(&pair).unwrap().p_a;
    let split = Model::load(&parts[0], None, &ModelParams::default()).expect("the split model loads");
    assert_eq!(p_a(&split), p_a(common::demo_model()), "the split model judges as the whole one");
    drop(split);

    std::fs::remove_file(&parts[2]).unwrap();
    let err = load(&parts[0]);
    assert!(matches!(err, Error::ModelLoad { .. }), "{err:?}");
    assert!(err.to_string().contains("demo-Q4_1-00003-of-00003.gguf"), "the error names the missing part: {err}");
}
