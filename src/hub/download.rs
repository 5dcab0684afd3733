//! Downloading one repo file into its cache blob: into `BLOB.incomplete`, resumed with
//! `Range: bytes=N-` when a part is there, verified (sha256 of LFS files, else the size),
//! then renamed into place. A file already in place with the right content is kept.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};
use ureq::http::Response;
use ureq::Body;

use super::client::{header, Client, Target};
use super::config::with_suffix;
use super::error::HubError;
use super::repo::{revision_segment, RepoId};
use super::tree::RepoFile;
use super::url::encode_path;
use crate::progress::Progress;

const BUFFER: usize = 1 << 20;

/// What fetching one file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Fetched {
    /// The file was already in place with the right content: nothing was downloaded.
    pub reused: bool,
    /// Bytes received over the network.
    pub downloaded: u64,
    /// Bytes of an earlier partial download that were kept.
    pub resumed_from: u64,
}

/// The download URL of a repo file.
pub(crate) fn resolve_url(base: &str, repo: &RepoId, revision: &str, path: &str) -> String {
    format!("{base}/{repo}/resolve/{}/{}", revision_segment(revision), encode_path(path))
}

/// Makes `dest` hold `file` of `repo` at `revision`.
pub(crate) fn fetch(
    client: &Client,
    repo: &RepoId,
    revision: &str,
    file: &RepoFile,
    dest: &Path,
    progress: &dyn Progress,
) -> Result<Fetched, HubError> {
    let label = file.file_name();
    if dest.is_file() && matches_listing(dest, file, label, progress)? {
        return Ok(Fetched { reused: true, ..Fetched::default() });
    }
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).map_err(|e| HubError::io(dir, e))?;
    }
    let url = resolve_url(client.base(), repo, revision, &file.path);
    // huggingface_hub's name for a download in progress, so either tool resumes it.
    let part = with_suffix(dest, ".incomplete");

    // What an earlier, interrupted run left: keep it if it can be a prefix of the file.
    let mut have = match fs::metadata(&part) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == ErrorKind::NotFound => 0,
        Err(e) => return Err(HubError::io(&part, e)),
    };
    if have > file.size {
        remove(&part)?;
        have = 0;
    }
    let mut hasher = Sha256::new();
    if have > 0 {
        hash_into(&part, &mut hasher, &format!("checking {label}.part"), have, progress)?;
    }
    let resumed_from = have;

    let mut downloaded = 0;
    let mut attempts = 0;
    while have < file.size || (have == 0 && attempts == 0) {
        attempts += 1;
        if attempts > 3 {
            return Err(HubError::BadResponse {
                url,
                reason: "the server keeps refusing the byte range it was asked for".into(),
            });
        }
        let headers: Vec<(&str, String)> =
            if have > 0 { vec![("Range", format!("bytes={have}-"))] } else { Vec::new() };
        let (final_url, response) = client.get(&url, &headers)?;
        let status = response.status().as_u16();
        if status == 416 && have > 0 {
            // The range is not there (the file changed?): start over.
            remove(&part)?;
            have = 0;
            hasher = Sha256::new();
            continue;
        }
        let response = client.check(response, &final_url, &repo.to_string(), revision, Target::File)?;
        let append = match status {
            206 if have > 0 => {
                check_content_range(&response, have, &url)?;
                true
            }
            206 => {
                return Err(HubError::BadResponse {
                    url,
                    reason: "HTTP 206 Partial Content to a request without a Range".into(),
                })
            }
            _ => {
                // A server that ignores Range sends the whole file: start over.
                have = 0;
                hasher = Sha256::new();
                false
            }
        };
        let got = receive(response, &part, append, have, file.size, &mut hasher, label, &url, progress)?;
        downloaded += got - have;
        have = got;
        if have < file.size {
            return Err(HubError::Interrupted { url, partial: part, got: have, expected: file.size, source: None });
        }
    }

    if let Some(expected) = &file.sha256 {
        let actual = hex(&hasher.finalize());
        if &actual != expected {
            remove(&part)?;
            return Err(HubError::ChecksumMismatch { url, expected: expected.clone(), actual });
        }
    }
    fs::rename(&part, dest).map_err(|e| HubError::io(dest, e))?;
    Ok(Fetched { reused: false, downloaded, resumed_from })
}

/// Streams the body into `part` (appended to, or truncated first), hashing as it goes.
/// Returns the part's new length. A broken transfer keeps what arrived, for resuming.
#[allow(clippy::too_many_arguments)]
fn receive(
    response: Response<Body>,
    part: &Path,
    append: bool,
    have: u64,
    expected: u64,
    hasher: &mut Sha256,
    label: &str,
    url: &str,
    progress: &dyn Progress,
) -> Result<u64, HubError> {
    let mut out = OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(part)
        .map_err(|e| HubError::io(part, e))?;
    let mut reader = response.into_body().into_reader();
    let mut buffer = vec![0; BUFFER];
    let mut got = have;
    progress.start(label, expected, have);
    let result = loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break Ok(got),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                break Err(HubError::Interrupted {
                    url: url.to_string(),
                    partial: part.to_path_buf(),
                    got,
                    expected,
                    source: Some(e),
                })
            }
        };
        if got + n as u64 > expected {
            drop(out);
            progress.finish();
            remove(part)?;
            return Err(HubError::SizeMismatch { url: url.to_string(), expected, actual: got + n as u64 });
        }
        if let Err(e) = out.write_all(&buffer[..n]) {
            break Err(HubError::io(part, e));
        }
        hasher.update(&buffer[..n]);
        got += n as u64;
        progress.advance(n as u64);
    };
    progress.finish();
    out.sync_all().map_err(|e| HubError::io(part, e))?;
    result
}

/// Requires `Content-Range: bytes START-...` to start where the part ends.
fn check_content_range(response: &Response<Body>, have: u64, url: &str) -> Result<(), HubError> {
    let range = header(response, "content-range").unwrap_or_default();
    let start = range
        .strip_prefix("bytes ")
        .and_then(|r| r.split_once('-'))
        .and_then(|(start, _)| start.trim().parse::<u64>().ok());
    if start != Some(have) {
        return Err(HubError::BadResponse {
            url: url.to_string(),
            reason: format!("asked for bytes from {have}, got Content-Range {range:?}"),
        });
    }
    Ok(())
}

/// True when the file at `path` is `file` as listed: its sha256 when known, else its size.
fn matches_listing(path: &Path, file: &RepoFile, label: &str, progress: &dyn Progress) -> Result<bool, HubError> {
    let size = fs::metadata(path).map_err(|e| HubError::io(path, e))?.len();
    if size != file.size {
        return Ok(false);
    }
    let Some(expected) = &file.sha256 else {
        return Ok(true);
    };
    let mut hasher = Sha256::new();
    hash_into(path, &mut hasher, &format!("checking {label}"), size, progress)?;
    Ok(&hex(&hasher.finalize()) == expected)
}

fn hash_into(path: &Path, hasher: &mut Sha256, what: &str, size: u64, progress: &dyn Progress) -> Result<(), HubError> {
    let io = |e| HubError::io(path, e);
    let mut file = File::open(path).map_err(io)?;
    let mut buffer = vec![0; BUFFER];
    progress.start(what, size, 0);
    loop {
        let n = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                progress.finish();
                return Err(io(e));
            }
        };
        hasher.update(&buffer[..n]);
        progress.advance(n as u64);
    }
    progress.finish();
    Ok(())
}

fn remove(path: &Path) -> Result<(), HubError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(HubError::io(path, e)),
        _ => Ok(()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
