//! vlmjudge: self-improving vision-language judges on local hardware.
//!
//! A judge looks at an (optional) image, a question and two candidate responses and
//! says which response is better, with a calibrated probability. The runtime runs on
//! llama.cpp: load a [`engine::Model`] once, open a [`judge::Judge`] session on it and
//! judge one pair or a whole batch.
//!
//! ```no_run
//! use vlmjudge::engine::{Model, ModelParams};
//! use vlmjudge::judge::{Judge, JudgeParams, Pair};
//!
//! let model = Model::load("judge.gguf", None, &ModelParams::default())?;
//! let mut judge = Judge::new(&model, JudgeParams::default())?;
//! let verdict = judge.judge_pair(&Pair::text("q1", "What is 2+2?", "4", "5"))?;
//! println!("{:?} p(A)={:?}", verdict.verdict, verdict.p_a);
//! # Ok::<(), vlmjudge::Error>(())
//! ```

// The embeddable runtime: what the C library is built from (`--no-default-features`).
// Lower layers never import higher ones: gguf, data -> engine -> judge -> ffi
// (ARCHITECTURE.md; `tests/architecture.rs` checks it). Test models, the fuzzer and the
// procedural world are in the lab crate (`lab/`).
pub mod data;
pub mod engine;
mod error;
pub mod ffi;
pub mod fsutil;
pub mod gguf;
pub mod judge;
pub mod progress;
pub mod seed;
pub mod shard;

// The self-improvement loop, above the runtime: synthesis, generation, evaluation,
// export, training, the loop itself and its report.
#[cfg(feature = "loop")]
pub mod eval;
#[cfg(feature = "loop")]
pub mod export;
#[cfg(feature = "loop")]
pub mod generate;
#[cfg(feature = "loop")]
pub mod improve;
#[cfg(feature = "loop")]
pub mod report;
#[cfg(feature = "loop")]
pub mod synth;
#[cfg(feature = "train")]
pub mod train;

#[cfg(feature = "hub")]
pub mod hub;

// How the command-line tools end (error lines, exit codes).
#[cfg(feature = "cli")]
pub mod exit;

pub use error::{Error, Result};

/// The cache for downloaded and generated models: `$VLMJUDGE_CACHE`, default
/// `~/.cache/vlmjudge`.
pub fn cache_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("VLMJUDGE_CACHE").filter(|d| !d.is_empty()) {
        return dir.into();
    }
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_else(|| ".".into());
    home.join(".cache/vlmjudge")
}

/// The demo judge model, SmolLM2-135M-Instruct Q4_1 (`scripts/fetch_demo_model.py`
/// puts it there): `$VLMJUDGE_DEMO_MODEL`, else `models/` in [`cache_dir`]. It may not
/// exist yet.
pub fn demo_model_path() -> std::path::PathBuf {
    match std::env::var_os("VLMJUDGE_DEMO_MODEL").filter(|p| !p.is_empty()) {
        Some(path) => path.into(),
        None => cache_dir().join("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
    }
}

/// The crate version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
