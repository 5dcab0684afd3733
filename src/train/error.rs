//! The trainer's error type.

use std::path::PathBuf;

/// What can go wrong while training. Converts into [`crate::Error`] at the crate
/// boundary when callers want one error type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// An error of the rest of the library (files, GGUF, the engine, bad input lines).
    #[error(transparent)]
    Lib(#[from] crate::Error),
    /// A tensor computation failed (a bug or an out-of-memory, not the user's input).
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("{path}: architecture {arch:?} is not supported for training (supported: {supported})")]
    UnsupportedArchitecture { path: PathBuf, arch: String, supported: &'static str },
    #[error("{path}: {reason}")]
    UnsupportedModel { path: PathBuf, reason: String },
    #[error("invalid training configuration: {0}")]
    Config(String),
    #[error("no usable training examples: {0}")]
    NoExamples(String),
    #[error("cannot resume from {path}: {reason}")]
    Resume { path: PathBuf, reason: String },
    #[error(
        "no CUDA device: this build has no CUDA support (build with --features cuda, see scripts/build-cuda.sh) \
         or no usable NVIDIA GPU was found; use --device cpu or auto"
    )]
    NoCuda,
}

impl TrainError {
    /// True when the user can fix it (arguments, files, input); false for internal
    /// failures. The CLI maps this to exit code 1 (else 2).
    pub fn is_user_error(&self) -> bool {
        match self {
            TrainError::Lib(e) => e.is_user_error(),
            TrainError::Candle(_) => false,
            _ => true,
        }
    }
}

impl From<TrainError> for crate::Error {
    fn from(e: TrainError) -> Self {
        match e {
            // The library's own errors stay what they were.
            TrainError::Lib(e) => e,
            other => crate::Error::Train(Box::new(other)),
        }
    }
}

pub type TrainResult<T> = std::result::Result<T, TrainError>;
