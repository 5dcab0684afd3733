//! Listing a repo's files: `GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true`,
//! following `Link: <...>; rel="next"` pages.

use serde::Deserialize;

use super::client::{header, Client, Target};
use super::error::HubError;
use super::repo::{revision_segment, RepoId};
use super::url::{join, next_link};

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
}

impl RepoFile {
    /// The last part of the path.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    size: Option<u64>,
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
        files.push(RepoFile { path: entry.path, size, sha256 });
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
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_PAGE_BYTES)
            .read_to_string()
            .map_err(|e| HubError::Http { url: final_url.clone(), source: Box::new(e) })?;
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
        let json = format!(
            r#"[{{"type":"directory","path":"sub","size":0,"oid":"x"}},
                {{"type":"file","path":"README.md","size":12,"oid":"1234"}},
                {{"type":"file","path":"sub/m-Q8_0.gguf","size":99,"oid":"x","lfs":{{"oid":"{oid}","size":100,"pointerSize":130}}}}]"#
        );
        let files = parse_page(&json).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0], RepoFile { path: "README.md".into(), size: 12, sha256: None });
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
