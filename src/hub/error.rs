use std::path::PathBuf;

/// What can go wrong while pulling from the Hugging Face Hub. Messages name the repo,
/// URL or file concerned; the access token never appears in them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    #[error("invalid repo id {repo:?}: expected OWNER/NAME, e.g. ggml-org/SmolVLM-256M-Instruct-GGUF")]
    InvalidRepo { repo: String },
    #[error("invalid revision {revision:?}")]
    InvalidRevision { revision: String },
    #[error("repository {repo} not found: {url} answered {status}{}; check the name, and set HF_TOKEN if the repo is private or gated", detail_suffix(.detail))]
    RepoNotFound { repo: String, url: String, status: u16, detail: String },
    #[error("revision {revision} not found in {repo}: {url} answered 404{}", detail_suffix(.detail))]
    RevisionNotFound { repo: String, revision: String, url: String, detail: String },
    #[error("{url} answered 401 Unauthorized{}; {}", detail_suffix(.detail), unauthorized_hint(*.token_sent, .repo))]
    Unauthorized { repo: String, url: String, token_sent: bool, detail: String },
    #[error("{url} answered 403 Forbidden{}; if {repo} is gated, accept its terms on the model page and set HF_TOKEN to a token of that account", detail_suffix(.detail))]
    Forbidden { repo: String, url: String, detail: String },
    #[error("{url} answered HTTP {status}{}", detail_suffix(.detail))]
    HttpStatus { url: String, status: u16, detail: String },
    #[error("request to {url} failed")]
    Http {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("{url}: unexpected answer: {reason}")]
    BadResponse { url: String, reason: String },
    #[error("{repo} has no .gguf files at revision {revision}")]
    NoGguf { repo: String, revision: String },
    #[error("{repo} has no GGUF model file for quant {quant}; available: {}", list_or_none(.available))]
    NoMatchingQuant { repo: String, quant: String, available: Vec<String> },
    #[error("several model files in {repo} match quant {quant} ({}); give one file name as the quant instead", .files.join(", "))]
    AmbiguousQuant { repo: String, quant: String, files: Vec<String> },
    #[error("{repo}: {file} is split into parts and the listing lacks some of them (or this is a split mmproj); pick another quant")]
    SplitModel { repo: String, file: String },
    #[error("{url}: the download has sha256 {actual}, expected {expected}; the partial file was deleted, pull again to retry")]
    ChecksumMismatch { url: String, expected: String, actual: String },
    #[error("{url}: the download has {actual} bytes, expected {expected}; the partial file was deleted, pull again to retry")]
    SizeMismatch { url: String, expected: u64, actual: u64 },
    #[error("download of {url} stopped after {got} of {expected} bytes; {} is kept and the next pull resumes it", .partial.display())]
    Interrupted {
        url: String,
        partial: PathBuf,
        got: u64,
        expected: u64,
        #[source]
        source: Option<std::io::Error>,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl HubError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HubError::Io { path: path.into(), source }
    }

    /// True when the user can fix it (repo name, quant, token, cache directory); false
    /// for network failures, server errors and corrupt downloads.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            HubError::InvalidRepo { .. }
                | HubError::InvalidRevision { .. }
                | HubError::RepoNotFound { .. }
                | HubError::RevisionNotFound { .. }
                | HubError::Unauthorized { .. }
                | HubError::Forbidden { .. }
                | HubError::NoGguf { .. }
                | HubError::NoMatchingQuant { .. }
                | HubError::AmbiguousQuant { .. }
                | HubError::SplitModel { .. }
                | HubError::Io { .. }
        )
    }
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

fn unauthorized_hint(token_sent: bool, repo: &str) -> String {
    if token_sent {
        format!("the token in HF_TOKEN was refused or cannot read {repo} (expired, revoked, or without access)")
    } else {
        format!("{repo} is private or gated (or does not exist): set HF_TOKEN to a Hugging Face access token that can read it")
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}
