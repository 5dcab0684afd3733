use std::fmt;
use std::path::{Path, PathBuf};

use super::cache::RepoCache;
use super::repo::RepoId;

/// Where the Hub is, how to authenticate, and where downloads go. Built explicitly (tests,
/// apps) or from the environment with [`HubConfig::from_env`].
#[derive(Clone)]
pub struct HubConfig {
    /// Base URL of the Hub, e.g. `https://huggingface.co` (no trailing slash needed).
    pub endpoint: String,
    /// Access token, sent as `Authorization: Bearer ...` to the endpoint's host only.
    pub token: Option<String>,
    /// The Hugging Face hub cache (`~/.cache/huggingface/hub` by default): repos go
    /// under `models--OWNER--NAME/` in huggingface_hub's layout (see `hub::cache`).
    pub hub_cache: PathBuf,
}

impl HubConfig {
    pub const DEFAULT_ENDPOINT: &'static str = "https://huggingface.co";

    /// A config without a token, downloading into the hub cache `hub_cache`.
    pub fn new(endpoint: impl Into<String>, hub_cache: impl Into<PathBuf>) -> HubConfig {
        HubConfig { endpoint: endpoint.into(), token: None, hub_cache: hub_cache.into() }
    }

    /// From the environment: `HF_ENDPOINT` (default `https://huggingface.co`), `HF_TOKEN`
    /// (else the token file `huggingface-cli login` writes: `$HF_TOKEN_PATH`, or `token`
    /// in `$HF_HOME`, default `~/.cache/huggingface`), and the hub cache as
    /// huggingface_hub finds it: `HF_HUB_CACHE`, else `hub` in `$HF_HOME`. Empty
    /// variables count as unset.
    pub fn from_env() -> HubConfig {
        let home = env_path("HOME").unwrap_or_default();
        let endpoint = env_string("HF_ENDPOINT").unwrap_or_else(|| Self::DEFAULT_ENDPOINT.to_string());
        let hf_home = env_path("HF_HOME").unwrap_or_else(|| home.join(".cache/huggingface"));
        let hub_cache = env_path("HF_HUB_CACHE").unwrap_or_else(|| hf_home.join("hub"));
        let token = env_string("HF_TOKEN").or_else(|| {
            let path = env_path("HF_TOKEN_PATH").unwrap_or_else(|| hf_home.join("token"));
            let token = std::fs::read_to_string(path).ok()?;
            Some(token.trim().to_string()).filter(|t| !t.is_empty())
        });
        HubConfig { endpoint, token, hub_cache }
    }

    pub fn with_token(mut self, token: impl Into<String>) -> HubConfig {
        self.token = Some(token.into());
        self
    }

    /// The endpoint without trailing slashes.
    pub(crate) fn base(&self) -> &str {
        self.endpoint.trim_end_matches('/')
    }

    /// `{hub_cache}/models--{owner}--{name}`.
    pub fn repo_dir(&self, repo: &RepoId) -> PathBuf {
        RepoCache::new(&self.hub_cache, repo).dir().to_path_buf()
    }
}

/// Shows everything but the token.
impl fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("hub_cache", &self.hub_cache)
            .finish()
    }
}

fn env_string(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// `path` with `suffix` appended to its file name (`x.gguf` becomes `x.gguf.part`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let config = HubConfig::new("https://hf.example/", "/c");
        assert_eq!(config.base(), "https://hf.example");
        let repo = RepoId::parse("o/n").unwrap();
        assert_eq!(config.repo_dir(&repo), Path::new("/c/models--o--n"));
        assert_eq!(with_suffix(Path::new("/c/x.gguf"), ".part"), Path::new("/c/x.gguf.part"));
    }

    #[test]
    fn debug_hides_the_token() {
        let config = HubConfig::new("https://hf.example", "/c").with_token("hf_secret");
        let shown = format!("{config:?}");
        assert!(!shown.contains("hf_secret") && shown.contains("redacted"), "{shown}");
    }
}
