//! The Hugging Face cache layout (huggingface_hub's, which `huggingface-cli download`,
//! transformers and llama.cpp's `-hf` use), so a file any of them fetched is reused and
//! what `pull` fetches is theirs too:
//!
//! ```text
//! {hub cache}/models--OWNER--NAME/
//!     blobs/{sha256 of an LFS file, or the git blob id of another}
//!     blobs/{...}.incomplete            a download in progress, resumed from
//!     snapshots/{commit}/{path}         a relative symlink to ../../blobs/{...}
//!     refs/{branch or tag}              the commit it pointed at when last pulled
//! ```
//!
//! Written here rather than with the `hf-hub` crate (0.4.3, read): its `Cache` does
//! not read `HF_HUB_CACHE`, panics without a home directory, and keeps its blob and
//! snapshot paths private unless its own HTTP clients (ureq 2, or reqwest with tokio) are
//! compiled in, a second HTTP and TLS stack beside this crate's ureq 3; its downloads
//! are not checked against the listed sha256, and it lists no file sizes or LFS ids,
//! which choosing the quant and verifying need.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::HubError;
use super::repo::{local_path, RepoId};

/// One repo's folder in the hub cache.
pub(crate) struct RepoCache {
    dir: PathBuf,
}

impl RepoCache {
    pub fn new(hub_cache: &Path, repo: &RepoId) -> RepoCache {
        RepoCache { dir: hub_cache.join(format!("models--{}--{}", repo.owner, repo.name)) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the content named `blob` (a sha256 or git blob id) is kept.
    pub fn blob(&self, blob: &str) -> PathBuf {
        self.dir.join("blobs").join(blob)
    }

    pub fn snapshot(&self, commit: &str) -> PathBuf {
        self.dir.join("snapshots").join(commit)
    }

    /// Where `repo_path` appears in the snapshot of `commit`, or None when the path
    /// could leave it.
    pub fn snapshot_path(&self, commit: &str, repo_path: &str) -> Option<PathBuf> {
        local_path(&self.snapshot(commit), repo_path)
    }

    /// Makes `link` (in a snapshot) point at `blob`: a relative symlink, as
    /// huggingface_hub makes, so the cache can be moved; where symlinks are not
    /// available, a copy. An existing entry that is not already that link is replaced.
    pub fn link(&self, link: &Path, blob: &Path) -> Result<(), HubError> {
        let parent = link.parent().expect("a snapshot path has a parent");
        fs::create_dir_all(parent).map_err(|e| HubError::io(parent, e))?;
        let depth = link.strip_prefix(&self.dir).map_or(0, |rel| rel.components().count() - 1);
        let relative: PathBuf = std::iter::repeat_n(Path::new(".."), depth)
            .collect::<PathBuf>()
            .join(blob.strip_prefix(&self.dir).unwrap_or(blob));
        if fs::read_link(link).is_ok_and(|target| target == relative) {
            return Ok(());
        }
        match fs::symlink_metadata(link) {
            Ok(_) => fs::remove_file(link).map_err(|e| HubError::io(link, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(HubError::io(link, e)),
        }
        #[cfg(unix)]
        let made = std::os::unix::fs::symlink(&relative, link);
        #[cfg(not(unix))]
        let made = fs::copy(blob, link).map(|_| ());
        made.map_err(|e| HubError::io(link, e))
    }

    /// Records that `revision` (a branch or tag) pointed at `commit`. A commit revision
    /// needs no ref.
    pub fn write_ref(&self, revision: &str, commit: &str) -> Result<(), HubError> {
        if revision == commit {
            return Ok(());
        }
        let path = local_path(&self.dir.join("refs"), revision)
            .ok_or_else(|| HubError::InvalidRevision { revision: revision.to_string() })?;
        let parent = path.parent().expect("a ref path has a parent");
        fs::create_dir_all(parent).map_err(|e| HubError::io(parent, e))?;
        // A ref is a hint for other tools (the snapshot is found by commit); a torn
        // write is repaired by the next pull, so no temporary file is needed.
        fs::write(&path, commit).map_err(|e| HubError::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_relative_links() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RepoCache::new(dir.path(), &RepoId::parse("o/n").unwrap());
        assert_eq!(cache.dir(), dir.path().join("models--o--n"));
        let blob = cache.blob("abc");
        fs::create_dir_all(blob.parent().unwrap()).unwrap();
        fs::write(&blob, b"content").unwrap();
        let link = cache.snapshot_path("c0mm1t", "sub/dir/file.gguf").unwrap();
        cache.link(&link, &blob).unwrap();
        cache.link(&link, &blob).unwrap(); // again: nothing to do
        assert_eq!(fs::read(&link).unwrap(), b"content");
        #[cfg(unix)]
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("../../../../blobs/abc"));
        assert!(cache.snapshot_path("c0mm1t", "../escape").is_none());
        cache.write_ref("refs/pr/1", "c0mm1t").unwrap();
        assert_eq!(fs::read_to_string(cache.dir().join("refs/refs/pr/1")).unwrap(), "c0mm1t");
    }
}
