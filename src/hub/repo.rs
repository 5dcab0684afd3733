//! Repo ids and revisions: validation, and their place in URLs and in the cache.

use std::fmt;
use std::path::{Path, PathBuf};

use super::error::HubError;
use super::url::encode_segment;

/// A model repo on the Hub, `OWNER/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoId {
    pub owner: String,
    pub name: String,
}

impl RepoId {
    /// Parses `OWNER/NAME`; both parts are letters, digits, `-`, `_` and `.` (as on the Hub).
    pub fn parse(text: &str) -> Result<RepoId, HubError> {
        let invalid = || HubError::InvalidRepo { repo: text.to_string() };
        let (owner, name) = text.split_once('/').ok_or_else(invalid)?;
        let valid = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part.len() <= 96
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if !valid(owner) || !valid(name) {
            return Err(invalid());
        }
        Ok(RepoId { owner: owner.to_string(), name: name.to_string() })
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Checks a revision (branch, tag or commit): not empty, no control characters, and no
/// `.`/`..` parts, since it also names a cache directory.
pub(crate) fn check_revision(revision: &str) -> Result<(), HubError> {
    let bad = revision.is_empty()
        || revision.chars().any(char::is_control)
        || revision.contains('\\')
        || revision.split('/').any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(HubError::InvalidRevision { revision: revision.to_string() });
    }
    Ok(())
}

/// The revision as one URL path segment (`refs/pr/1` becomes `refs%2Fpr%2F1`, as the Hub expects).
pub(crate) fn revision_segment(revision: &str) -> String {
    encode_segment(revision)
}

/// Where a repo file goes under `dir`, or None when its path could leave `dir`
/// (absolute, `..`, backslashes): such an entry is never downloaded.
pub(crate) fn local_path(dir: &Path, repo_path: &str) -> Option<PathBuf> {
    let mut path = dir.to_path_buf();
    for part in repo_path.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\\') || part.contains(':') {
            return None;
        }
        path.push(part);
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids() {
        let id = RepoId::parse("ggml-org/SmolVLM-256M-Instruct-GGUF").unwrap();
        assert_eq!((id.owner.as_str(), id.name.as_str()), ("ggml-org", "SmolVLM-256M-Instruct-GGUF"));
        assert_eq!(id.to_string(), "ggml-org/SmolVLM-256M-Instruct-GGUF");
        for bad in ["", "gpt2", "a/b/c", "/b", "a/", "../b", "a/..", "a b/c", "a/b?x"] {
            assert!(matches!(RepoId::parse(bad), Err(HubError::InvalidRepo { .. })), "{bad}");
        }
    }

    #[test]
    fn revisions() {
        check_revision("main").unwrap();
        check_revision("refs/pr/1").unwrap();
        for bad in ["", "..", "a/../b", "a//b", "/main", "a\\b", "a\nb"] {
            assert!(check_revision(bad).is_err(), "{bad:?}");
        }
        assert_eq!(revision_segment("refs/pr/1"), "refs%2Fpr%2F1");
    }

    #[test]
    fn local_paths_stay_inside() {
        let dir = Path::new("/cache/x");
        assert_eq!(local_path(dir, "a.gguf").unwrap(), Path::new("/cache/x/a.gguf"));
        assert_eq!(local_path(dir, "q/a.gguf").unwrap(), Path::new("/cache/x/q/a.gguf"));
        for bad in ["", "/a.gguf", "../a.gguf", "q/../../a", "a\\..\\b", "C:a"] {
            assert!(local_path(dir, bad).is_none(), "{bad}");
        }
    }
}
