//! Pulling judge models from the Hugging Face Hub: a GGUF model of the chosen quant and
//! its multimodal projector (mmproj), downloaded into the vlmjudge cache.
//!
//! ```no_run
//! use vlmjudge::hub::{pull, HubConfig, PullParams};
//! use vlmjudge::progress::NoProgress;
//!
//! let config = HubConfig::from_env(); // HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE / HF_HOME
//! let pulled = pull(&config, &PullParams::new("ggml-org/SmolVLM-256M-Instruct-GGUF"), &NoProgress)?;
//! println!("model {}", pulled.model.path.display());
//! if let Some(mmproj) = &pulled.mmproj {
//!     println!("mmproj {}", mmproj.path.display());
//! }
//! # Ok::<(), vlmjudge::Error>(())
//! ```
//!
//! Files go to the Hugging Face cache in huggingface_hub's layout (`cache`): the content
//! in `blobs/`, named by its sha256 (or git blob id), and the repo's files as links in
//! `snapshots/{commit}/`, so a model that `huggingface-cli download` or llama.cpp's
//! `-hf` fetched is reused, and theirs see ours. A download is written to
//! `blobs/{name}.incomplete` and resumed from there after an interruption; it is checked
//! against the sha256 the Hub lists (the size, for files outside Git LFS) before it is
//! renamed into place, and a blob already there with the right content is not
//! downloaded again.

mod cache;
mod client;
mod config;
mod download;
mod error;
mod repo;
mod select;
mod tree;
mod url;

use std::path::PathBuf;

pub use config::HubConfig;
pub use error::HubError;
pub use repo::RepoId;
pub use tree::RepoFile;

use crate::progress::Progress;
use crate::Result;
use client::Client;

/// What to pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullParams {
    /// `OWNER/NAME`, e.g. `ggml-org/SmolVLM-256M-Instruct-GGUF`.
    pub repo: String,
    /// Quant tag of the model file, matched case-insensitively as a whole part of the
    /// file name (`Q4_K_M`, `Q8_0`, `f16`...), or a file name ending in `.gguf`.
    pub quant: String,
    /// Branch, tag or commit.
    pub revision: String,
}

impl PullParams {
    pub const DEFAULT_QUANT: &'static str = "Q4_K_M";
    pub const DEFAULT_REVISION: &'static str = "main";

    /// `repo` with the default quant (Q4_K_M) and revision (main).
    pub fn new(repo: impl Into<String>) -> PullParams {
        PullParams {
            repo: repo.into(),
            quant: Self::DEFAULT_QUANT.to_string(),
            revision: Self::DEFAULT_REVISION.to_string(),
        }
    }
}

/// One file of a pull, now in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledFile {
    /// Where it is: its link in the snapshot of the pulled commit.
    pub path: PathBuf,
    /// Its path in the repo.
    pub repo_path: String,
    pub size: u64,
    /// Its sha256, when the Hub lists one (Git LFS files).
    pub sha256: Option<String>,
    /// It was already in the cache with the right content; nothing was downloaded.
    pub reused: bool,
    /// Bytes downloaded by this pull.
    pub downloaded: u64,
    /// Bytes of an earlier interrupted download that this pull resumed from.
    pub resumed_from: u64,
}

/// The result of [`pull`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    pub repo: RepoId,
    pub revision: String,
    /// The commit the revision was at.
    pub commit: String,
    /// The snapshot of that commit in the cache.
    pub dir: PathBuf,
    /// The model file, or the first part of a split model (what llama.cpp is given).
    pub model: PulledFile,
    /// Every file of the model: `model` alone, or all the parts of a split one.
    pub model_parts: Vec<PulledFile>,
    /// The multimodal projector; None for a text-only model repo.
    pub mmproj: Option<PulledFile>,
}

/// Lists the files of `repo` (`OWNER/NAME`) at `revision`.
pub fn list_files(config: &HubConfig, repo: &str, revision: &str) -> Result<Vec<RepoFile>> {
    let repo = RepoId::parse(repo)?;
    repo::check_revision(revision)?;
    Ok(tree::list_files(&Client::new(config), &repo, revision)?)
}

/// Downloads the model of the requested quant and the repo's mmproj (if any) into the
/// cache, reporting bytes through `progress`, and says where they are.
pub fn pull(config: &HubConfig, params: &PullParams, progress: &dyn Progress) -> Result<Pulled> {
    let repo = RepoId::parse(&params.repo)?;
    let revision = params.revision.as_str();
    repo::check_revision(revision)?;
    let client = Client::new(config);
    let files = tree::list_files(&client, &repo, revision)?;
    let chosen = select::choose(&repo.to_string(), revision, &files, &params.quant)?;
    let commit = tree::commit(&client, &repo, revision)?;
    let cache = cache::RepoCache::new(&config.hub_cache, &repo);
    let fetch = |file: &RepoFile| -> Result<PulledFile> {
        let outside = |reason: String| HubError::BadResponse {
            url: download::resolve_url(client.base(), &repo, revision, &file.path),
            reason,
        };
        let path = cache
            .snapshot_path(&commit, &file.path)
            .ok_or_else(|| outside(format!("the listing names a file outside the repo: {:?}", file.path)))?;
        let blob_name = file.blob_name().ok_or_else(|| outside(format!("{}: no sha256 or git blob id", file.path)))?;
        let blob = cache.blob(blob_name);
        let fetched = download::fetch(&client, &repo, revision, file, &blob, progress)?;
        cache.link(&path, &blob)?;
        Ok(PulledFile {
            path,
            repo_path: file.path.clone(),
            size: file.size,
            sha256: file.sha256.clone(),
            reused: fetched.reused,
            downloaded: fetched.downloaded,
            resumed_from: fetched.resumed_from,
        })
    };
    // All parts of a split model go in one snapshot folder, where llama.cpp finds the
    // rest from the first.
    let model_parts = chosen.model.iter().map(|f| fetch(f)).collect::<Result<Vec<_>>>()?;
    let mmproj = chosen.mmproj.map(fetch).transpose()?;
    cache.write_ref(revision, &commit)?;
    Ok(Pulled {
        dir: cache.snapshot(&commit),
        repo,
        revision: revision.to_string(),
        commit,
        model: model_parts[0].clone(),
        model_parts,
        mmproj,
    })
}
