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

pub mod data;
pub mod engine;
mod error;
pub mod judge;
pub mod progress;

pub use error::{Error, Result};

/// The crate version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
