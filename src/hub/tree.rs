//! Listing a repo's files: `GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true`,
//! following `Link: <...>; rel="next"` pages.

use serde::Deserialize;

use super::client::{header, Client, Target};
use super::error::HubError;
use super::repo::{revision_segment, RepoId};
use super::url::{join, next_link};

/// The commit `revision` (a branch, tag or commit) of `repo` is at:
/// `GET {endpoint}/api/models/{repo}/revision/{revision}`, whose `sha` names it.
pub(crate) fn commit(client: &Client, repo: &RepoId, revision: &str) -> Result<String, HubError> {
    #[derive(Deserialize)]
    struct Info {
        sha: String,
    }
    let url = format!("{}/api/models/{repo}/revision/{}", client.base(), revision_segment(revision));
    let (final_url, response) = client.get(&url, &[])?;
    let mut response = client.check(response, &final_url, &repo.to_string(), revision, Target::Listing)?;
    let body = read_body(&mut response, &final_url)?;
    let info: Info = serde_json::from_str(&body)
        .map_err(|e| HubError::BadResponse { url: final_url.clone(), reason: format!("no commit sha: {e}") })?;
    hex_id(&info.sha, 40)
        .ok_or_else(|| HubError::BadResponse { url: final_url, reason: format!("{:?} is not a commit sha", info.sha) })
}

/// The body of an API answer as text, at most [`MAX_PAGE_BYTES`].
fn read_body(response: &mut ureq::http::Response<ureq::Body>, url: &str) -> Result<String, HubError> {
    response
        .body_mut()
        .with_config()
        .limit(MAX_PAGE_BYTES)
        .read_to_string()
        .map_err(|e| HubError::Http { url: url.to_string(), source: Box::new(e) })
}

/// Most pages followed; the Hub gives 1000 entries a page or more.
const MAX_PAGES: usize = 1000;
/// Most bytes of one listing page.
const MAX_PAGE_BYTES: u64 = 64 << 20;

/// A file in a repo, as the Hub lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFile {
    /// Path inside the repo, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// The sha256 of the content (lower-case hex) for files stored with Git LFS, which
    /// GGUF files on the Hub are.
    pub sha256: Option<String>,
    /// The git blob id (lower-case hex), which names a file outside Git LFS in the
    /// Hugging Face cache.
    pub git_oid: Option<String>,
}

impl RepoFile {
    /// The last part of the path.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The name of its blob in the Hugging Face cache: the sha256 of an LFS file, else
    /// the git blob id (what the Hub's ETag carries, and huggingface_hub names by).
    pub fn blob_name(&self) -> Option<&str> {
        self.sha256.as_deref().or(self.git_oid.as_deref())
    }
}

/// Lower-case hex of `len` digits, or None.
fn hex_id(text: &str, len: usize) -> Option<String> {
    let id = text.to_ascii_lowercase();
    (id.len() == len && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    oid: Option<String>,
    #[serde(default)]
    lfs: Option<Lfs>,
}

#[derive(Deserialize)]
struct Lfs {
    oid: String,
    size: u64,
}

/// Parses one page of the listing; directories are skipped.
pub(crate) fn parse_page(json: &str) -> Result<Vec<RepoFile>, String> {
    let entries: Vec<Entry> = serde_json::from_str(json).map_err(|e| format!("not a JSON list of entries: {e}"))?;
    let mut files = Vec::new();
    for entry in entries.into_iter().filter(|e| e.kind == "file") {
        let (size, sha256) = match entry.lfs {
            Some(lfs) => {
                let oid = lfs.oid.strip_prefix("sha256:").unwrap_or(&lfs.oid).to_ascii_lowercase();
                if oid.len() != 64 || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!("{}: LFS oid {:?} is not a sha256", entry.path, lfs.oid));
                }
                (lfs.size, Some(oid))
            }
            None => (entry.size.ok_or_else(|| format!("{}: no size", entry.path))?, None),
        };
        // Git blob ids are sha1 (40 digits), or sha256 in a repo converted to it.
        let git_oid = entry.oid.as_deref().and_then(|o| hex_id(o, 40).or_else(|| hex_id(o, 64)));
        files.push(RepoFile { path: entry.path, size, sha256, git_oid });
    }
    Ok(files)
}

/// Every file of `repo` at `revision`.
pub(crate) fn list_files(client: &Client, repo: &RepoId, revision: &str) -> Result<Vec<RepoFile>, HubError> {
    let mut url = format!("{}/api/models/{repo}/tree/{}?recursive=true", client.base(), revision_segment(revision));
    let mut files = Vec::new();
    for _ in 0..MAX_PAGES {
        let (final_url, response) = client.get(&url, &[])?;
        let mut response = client.check(response, &final_url, &repo.to_string(), revision, Target::Listing)?;
        let next = header(&response, "link").and_then(|h| next_link(&h));
        let body = read_body(&mut response, &final_url)?;
        files.extend(parse_page(&body).map_err(|reason| HubError::BadResponse { url: final_url.clone(), reason })?);
        match next {
            Some(next) => url = join(&final_url, &next),
            None => return Ok(files),
        }
    }
    Err(HubError::BadResponse { url, reason: format!("the listing has more than {MAX_PAGES} pages") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries() {
        let oid = "AB".repeat(32);
        let sha1 = "0123456789abcdef0123456789ABCDEF01234567";
        let json = format!(
            r#"[{{"type":"directory","path":"sub","size":0,"oid":"x"}},
                {{"type":"file","path":"README.md","size":12,"oid":"{sha1}"}},
                {{"type":"file","path":"sub/m-Q8_0.gguf","size":99,"oid":"x","lfs":{{"oid":"{oid}","size":100,"pointerSize":130}}}}]"#
        );
        let files = parse_page(&json).unwrap();
        assert_eq!(files.len(), 2);
        let readme = RepoFile { path: "README.md".into(), size: 12, sha256: None, git_oid: Some(sha1.to_lowercase()) };
        assert_eq!(files[0], readme);
        assert_eq!(files[0].blob_name(), Some(sha1.to_lowercase().as_str()));
        assert_eq!(files[1].blob_name(), Some("ab".repeat(32).as_str()));
        assert_eq!(files[1].size, 100);
        assert_eq!(files[1].sha256.as_deref(), Some("ab".repeat(32).as_str()));
        assert_eq!(files[1].file_name(), "m-Q8_0.gguf");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_page("{}").is_err());
        assert!(parse_page(r#"[{"type":"file","path":"a","lfs":{"oid":"zz","size":1}}]"#).is_err());
        assert!(parse_page(r#"[{"type":"file","path":"a"}]"#).is_err());
    }
}
