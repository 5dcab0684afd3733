use std::path::PathBuf;

/// Errors at the library boundary. Each variant says what failed and, where llama.cpp
/// gave a reason, carries it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a usable GGUF file: {reason}")]
    InvalidGguf { path: PathBuf, reason: String },
    #[error("llama.cpp could not load the model {path}{}", detail_suffix(.detail))]
    ModelLoad { path: PathBuf, detail: String },
    #[error("cannot load the mmproj {path}{}", detail_suffix(.detail))]
    MmprojLoad { path: PathBuf, detail: String },
    #[error(
        "the model has no chat template and its special tokens match no known format; pass --template with a \
         template file whose \"chat_template\" gives one (Jinja, or a llama.cpp built-in name such as \"chatml\")"
    )]
    MissingChatTemplate,
    #[error("invalid template: {0}")]
    Template(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// `line` is 1-based; 0 when the problem is not tied to one line (the whole file,
    /// or a record of a non-line format, which `reason` then names).
    #[error("{path}{}: {reason}", line_suffix(*.line))]
    InvalidInput { path: PathBuf, line: usize, reason: String },
    /// A record that serde_json could not write (e.g. a map with non-string keys).
    #[error("cannot write {path} as JSON")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// llama.cpp failed (and only llama.cpp: an out-of-memory, a failed decode).
    #[error("llama.cpp failed: {0}")]
    Engine(String),
    #[error("cancelled")]
    Cancelled,
    #[cfg(feature = "hub")]
    #[error(transparent)]
    Hub(#[from] crate::hub::HubError),
    /// Training failed; the trainer's own error says how.
    #[cfg(feature = "train")]
    #[error(transparent)]
    Train(Box<crate::train::TrainError>),
    /// llama.cpp's quantizer failed on a checkpoint.
    #[cfg(feature = "train")]
    #[error("cannot quantize {path}")]
    Quantize {
        path: PathBuf,
        #[source]
        source: vlmjudge_quantize::QuantizeError,
    },
    /// A stage of a self-improvement round failed; `source` says why.
    #[cfg(feature = "loop")]
    #[error("round {round}: the {stage} stage failed")]
    Round {
        round: u32,
        stage: crate::improve::Stage,
        #[source]
        source: Box<Error>,
    },
    /// A finished round's directory lacks what the next round needs.
    #[cfg(feature = "loop")]
    #[error("round {round} cannot be continued: {reason}; delete its directory and rerun")]
    RoundState { round: u32, reason: String },
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// True when the error comes from what the user gave (files, arguments), not from a
    /// failure inside the engine. The CLI maps this to exit code 1 (else 2).
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Io { .. }
            | Error::InvalidGguf { .. }
            | Error::ModelLoad { .. }
            | Error::MmprojLoad { .. }
            | Error::MissingChatTemplate
            | Error::Template(_)
            | Error::InvalidArgument(_)
            | Error::InvalidInput { .. }
            | Error::Cancelled => true,
            Error::Json { .. } | Error::Engine(_) => false,
            #[cfg(feature = "hub")]
            Error::Hub(e) => e.is_user_error(),
            #[cfg(feature = "train")]
            Error::Train(e) => e.is_user_error(),
            #[cfg(feature = "train")]
            Error::Quantize { .. } => false,
            #[cfg(feature = "loop")]
            Error::Round { source, .. } => source.is_user_error(),
            #[cfg(feature = "loop")]
            Error::RoundState { .. } => true,
        }
    }

    /// This error as the failure of `stage` in round `round`.
    #[cfg(feature = "train")]
    pub(crate) fn in_round(self, round: u32, stage: crate::improve::Stage) -> Error {
        Error::Round { round, stage, source: Box::new(self) }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
