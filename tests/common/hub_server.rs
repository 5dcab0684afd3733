//! A tiny Hugging Face Hub for the pull tests: real HTTP/1.1 on 127.0.0.1, one thread per
//! connection, every request logged. Two listeners: the "hub" (file listing and
//! `resolve` URLs, which redirect) and a "cdn" on another port that serves the bytes,
//! with `Range: bytes=N-` support, as the real Hub does with its CDN.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use sha2::{Digest, Sha256};

/// A file of the fake repo.
#[derive(Clone)]
pub struct FakeFile {
    pub path: String,
    /// The content the listing describes (its sha256 is the LFS oid).
    pub content: Vec<u8>,
    /// What the server sends; differs from `content` to simulate corruption.
    pub served: Vec<u8>,
    /// Listed with an `lfs` object (sha256), like GGUF files on the Hub.
    pub lfs: bool,
}

impl FakeFile {
    pub fn lfs(path: &str, content: Vec<u8>) -> FakeFile {
        FakeFile { path: path.into(), served: content.clone(), content, lfs: true }
    }

    pub fn plain(path: &str, content: &[u8]) -> FakeFile {
        FakeFile { lfs: false, ..FakeFile::lfs(path, content.to_vec()) }
    }
}

/// How the server behaves; change it between requests with [`HubServer::configure`].
#[derive(Clone)]
pub struct Options {
    /// `owner/name` of the one repo served.
    pub repo: String,
    pub files: Vec<FakeFile>,
    /// When set, hub requests without `Authorization: Bearer <token>` get 401.
    pub require_token: Option<String>,
    /// Answer `Range` requests with 206; when false, ignore them and send 200 + everything.
    pub honour_range: bool,
    /// Entries per listing page (0: all on one page); pages are chained with `Link` headers.
    pub page_size: usize,
    /// Close file downloads after this many body bytes (a dropped connection).
    pub cut_after: Option<usize>,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Request {
    /// "hub" or "cdn".
    pub server: &'static str,
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub status: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A page of a repo's file listing.
    pub fn is_listing(&self) -> bool {
        self.target.starts_with("/api/models/") && self.target.contains("/tree/")
    }

    /// A lookup of the commit a revision is at.
    pub fn is_revision(&self) -> bool {
        self.target.starts_with("/api/models/") && self.target.contains("/revision/")
    }

    /// A request for file bytes on the cdn.
    pub fn is_download(&self) -> bool {
        self.server == "cdn"
    }
}

struct State {
    options: Mutex<Options>,
    log: Mutex<Vec<Request>>,
    hub_url: String,
    cdn_url: String,
}

pub struct HubServer {
    /// `http://127.0.0.1:PORT`, to use as HF_ENDPOINT.
    pub url: String,
    state: Arc<State>,
}

impl HubServer {
    pub fn start(options: Options) -> HubServer {
        let hub = TcpListener::bind("127.0.0.1:0").unwrap();
        let cdn = TcpListener::bind("127.0.0.1:0").unwrap();
        let state = Arc::new(State {
            options: Mutex::new(options),
            log: Mutex::new(Vec::new()),
            hub_url: format!("http://{}", hub.local_addr().unwrap()),
            cdn_url: format!("http://{}", cdn.local_addr().unwrap()),
        });
        for (listener, server) in [(hub, "hub"), (cdn, "cdn")] {
            let state = Arc::clone(&state);
            thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let state = Arc::clone(&state);
                    thread::spawn(move || handle(&state, server, stream));
                }
            });
        }
        HubServer { url: state.hub_url.clone(), state }
    }

    pub fn configure(&self, change: impl FnOnce(&mut Options)) {
        change(&mut self.state.options.lock().unwrap());
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.log.lock().unwrap().clone()
    }

    pub fn count(&self, which: impl Fn(&Request) -> bool) -> usize {
        self.requests().iter().filter(|r| which(r)).count()
    }
}

fn handle(state: &State, server: &'static str, stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let mut request = Request { server, method, target, headers, status: 0 };
    let options = state.options.lock().unwrap().clone();
    let reply = if server == "hub" { hub_reply(state, &options, &request) } else { cdn_reply(&options, &request) };
    request.status = reply.status;
    state.log.lock().unwrap().push(request);
    reply.send(stream);
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send only this many body bytes, then close (Content-Length still says all).
    cut_after: Option<usize>,
}

impl Reply {
    fn new(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply { status, headers: Vec::new(), body: body.into(), cut_after: None }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn send(self, mut stream: TcpStream) {
        let reason = match self.status {
            200 => "OK",
            206 => "Partial Content",
            302 => "Found",
            401 => "Unauthorized",
            404 => "Not Found",
            416 => "Range Not Satisfiable",
            _ => "Whatever",
        };
        let mut head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.body.len()
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let body = match self.cut_after {
            Some(n) if n < self.body.len() => &self.body[..n],
            _ => &self.body[..],
        };
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
        let _ = stream.flush();
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
}

fn hub_reply(state: &State, options: &Options, request: &Request) -> Reply {
    if let Some(token) = &options.require_token {
        if request.header("authorization") != Some(&format!("Bearer {token}")) {
            return Reply::new(401, r#"{"error":"Invalid credentials in Authorization header"}"#);
        }
    }
    let (path, query) = request.target.split_once('?').unwrap_or((&request.target, ""));
    let path = percent_decode(path);
    if let Some(rest) = path.strip_prefix("/api/models/") {
        if let Some((repo, revision)) = rest.split_once("/revision/") {
            if let Some(reply) = check_repo(options, repo, revision) {
                return reply;
            }
            let body = serde_json::json!({ "id": repo, "sha": COMMIT });
            return Reply::new(200, serde_json::to_vec(&body).unwrap()).header("Content-Type", "application/json");
        }
        let Some((repo, revision)) = rest.split_once("/tree/") else {
            return Reply::new(404, "no such route");
        };
        if let Some(reply) = check_repo(options, repo, revision) {
            return reply;
        }
        return listing(state, options, repo, revision, query);
    }
    let Some((repo, rest)) = path.trim_start_matches('/').split_once("/resolve/") else {
        return Reply::new(404, "no such route");
    };
    let (revision, file) = rest.split_once('/').unwrap_or((rest, ""));
    if let Some(reply) = check_repo(options, repo, revision) {
        return reply;
    }
    if !options.files.iter().any(|f| f.path == file) {
        return Reply::new(404, "").header("X-Error-Code", "EntryNotFound");
    }
    Reply::new(302, "").header("Location", format!("{}/cdn/{file}?signature=abc", state.cdn_url))
}

/// The commit every revision of the fake repo is at.
pub const COMMIT: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_repo(options: &Options, repo: &str, revision: &str) -> Option<Reply> {
    if repo != options.repo {
        return Some(
            Reply::new(404, r#"{"error":"Repository not found"}"#)
                .header("X-Error-Code", "RepoNotFound")
                .header("X-Error-Message", "Repository not found"),
        );
    }
    if revision != "main" {
        return Some(
            Reply::new(404, "")
                .header("X-Error-Code", "RevisionNotFound")
                .header("X-Error-Message", "Invalid rev id: nope"),
        );
    }
    None
}

fn listing(state: &State, options: &Options, repo: &str, revision: &str, query: &str) -> Reply {
    let start: usize =
        query.split('&').find_map(|kv| kv.strip_prefix("cursor=")).and_then(|c| c.parse().ok()).unwrap_or(0);
    let size = if options.page_size == 0 { usize::MAX } else { options.page_size };
    let entries: Vec<serde_json::Value> = options
        .files
        .iter()
        .skip(start)
        .take(size)
        .map(|f| {
            let mut entry = serde_json::json!({
                "type": "file",
                // A stand-in for the git blob id: 40 hex digits, distinct per content.
                "oid": hex(&Sha256::digest(&f.content))[..40],
                "size": f.content.len(),
                "path": f.path,
            });
            if f.lfs {
                let oid = hex(&Sha256::digest(&f.content));
                entry["lfs"] = serde_json::json!({"oid": oid, "size": f.content.len(), "pointerSize": 134});
            }
            entry
        })
        .collect();
    let mut reply = Reply::new(200, serde_json::to_vec(&entries).unwrap()).header("Content-Type", "application/json");
    let next = start.saturating_add(size);
    if next < options.files.len() {
        reply = reply.header(
            "Link",
            format!("<{}/api/models/{repo}/tree/{revision}?recursive=true&cursor={next}>; rel=\"next\"", state.hub_url),
        );
    }
    reply
}

fn cdn_reply(options: &Options, request: &Request) -> Reply {
    let path = percent_decode(request.target.split('?').next().unwrap_or_default());
    let Some(file) = path.strip_prefix("/cdn/").and_then(|p| options.files.iter().find(|f| f.path == p)) else {
        return Reply::new(404, "no such object");
    };
    let data = &file.served;
    let range = request
        .header("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split('-').next())
        .and_then(|start| start.parse::<usize>().ok());
    let mut reply = match range {
        Some(start) if options.honour_range => {
            if start >= data.len() {
                return Reply::new(416, "").header("Content-Range", format!("bytes */{}", data.len()));
            }
            Reply::new(206, data[start..].to_vec())
                .header("Content-Range", format!("bytes {start}-{}/{}", data.len() - 1, data.len()))
        }
        _ => Reply::new(200, data.clone()),
    };
    reply.cut_after = options.cut_after;
    reply.header("Accept-Ranges", "bytes")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
