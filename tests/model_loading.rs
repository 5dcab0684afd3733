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
