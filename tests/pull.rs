//! `vlmjudge pull` against a fake Hugging Face Hub over real HTTP on loopback: file
//! choice, caching, resume, verification, tokens, errors, and the CLI's output.

#[path = "common/hub_server.rs"]
mod hub_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hub_server::{FakeFile, HubServer, Options, COMMIT};
use sha2::{Digest, Sha256};
use vlmjudge::hub::{pull, HubConfig, HubError, PullParams, Pulled};
use vlmjudge::progress::NoProgress;

const REPO: &str = "test-org/TinyVLM-GGUF";

/// `len` deterministic pseudo-random bytes after a GGUF magic.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut out = b"GGUF".to_vec();
    while out.len() < len {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        out.push((state >> 33) as u8);
    }
    out
}

/// Two quants of the model, two projectors (f16 is preferred although bigger), a README.
fn repo_files() -> Vec<FakeFile> {
    vec![
        FakeFile::plain("README.md", b"# TinyVLM\n"),
        FakeFile::lfs("TinyVLM-Q4_K_M.gguf", bytes(1, 6000)),
        FakeFile::lfs("TinyVLM-Q8_0.gguf", bytes(2, 9000)),
        FakeFile::lfs("mmproj-TinyVLM-Q8_0.gguf", bytes(3, 2000)),
        FakeFile::lfs("mmproj-TinyVLM-f16.gguf", bytes(4, 3000)),
    ]
}

fn content(path: &str) -> Vec<u8> {
    repo_files().into_iter().find(|f| f.path == path).unwrap().content
}

fn start_hub() -> HubServer {
    HubServer::start(Options {
        repo: REPO.into(),
        files: repo_files(),
        require_token: None,
        honour_range: true,
        page_size: 0,
        cut_after: None,
    })
}

struct Setup {
    server: HubServer,
    cache: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup { server: start_hub(), cache: tempfile::tempdir().unwrap() }
    }

    fn config(&self) -> HubConfig {
        HubConfig::new(&self.server.url, self.cache.path())
    }

    fn pull(&self, quant: &str) -> vlmjudge::Result<Pulled> {
        self.pull_with(&self.config(), quant)
    }

    fn pull_with(&self, config: &HubConfig, quant: &str) -> vlmjudge::Result<Pulled> {
        let params = PullParams { quant: quant.into(), ..PullParams::new(REPO) };
        pull(config, &params, &NoProgress)
    }

    /// The repo's folder in the hub cache.
    fn repo_dir(&self) -> PathBuf {
        self.cache.path().join("models--test-org--TinyVLM-GGUF")
    }

    /// Where a repo file appears: its link in the commit's snapshot.
    fn cached(&self, path: &str) -> PathBuf {
        self.repo_dir().join("snapshots").join(COMMIT).join(path)
    }

    /// The blob of an LFS file, named by its sha256.
    fn blob(&self, path: &str) -> PathBuf {
        self.repo_dir().join("blobs").join(hub_server::hex(&Sha256::digest(content(path))))
    }

    /// Its download in progress.
    fn part(&self, path: &str) -> PathBuf {
        let blob = self.blob(path);
        blob.with_file_name(format!("{}.incomplete", blob.file_name().unwrap().to_string_lossy()))
    }

    fn downloads_of(&self, path: &str) -> Vec<hub_server::Request> {
        let target = format!("/cdn/{path}?");
        self.server.requests().into_iter().filter(|r| r.is_download() && r.target.starts_with(&target)).collect()
    }
}

fn hub_error(result: vlmjudge::Result<Pulled>) -> HubError {
    match result {
        Err(vlmjudge::Error::Hub(e)) => e,
        Err(other) => panic!("expected a hub error, got {other:?}"),
        Ok(pulled) => panic!("expected a hub error, got {pulled:?}"),
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn pulls_the_requested_quant_and_the_preferred_mmproj() {
    let setup = Setup::new();
    setup.server.configure(|o| o.page_size = 2); // the listing comes in three pages
    let pulled = setup.pull("q8_0").unwrap();

    assert_eq!(pulled.model.path, setup.cached("TinyVLM-Q8_0.gguf"));
    assert_eq!(read(&pulled.model.path), content("TinyVLM-Q8_0.gguf"));
    let mmproj = pulled.mmproj.as_ref().expect("the repo has an mmproj");
    assert_eq!(mmproj.path, setup.cached("mmproj-TinyVLM-f16.gguf"));
    assert_eq!(read(&mmproj.path), content("mmproj-TinyVLM-f16.gguf"));
    assert_eq!(pulled.dir, setup.repo_dir().join("snapshots").join(COMMIT));
    assert_eq!(pulled.commit, COMMIT);
    // huggingface_hub's layout: the ref names the commit, the snapshot links to blobs.
    assert_eq!(std::fs::read_to_string(setup.repo_dir().join("refs/main")).unwrap(), COMMIT);
    #[cfg(unix)]
    assert_eq!(
        std::fs::read_link(&pulled.model.path).unwrap(),
        Path::new("../..").join(setup.blob("TinyVLM-Q8_0.gguf").strip_prefix(setup.repo_dir()).unwrap())
    );
    assert!(!pulled.model.reused && pulled.model.downloaded == 9000 && pulled.model.resumed_from == 0);
    assert_eq!(pulled.model.sha256.as_ref().map(String::len), Some(64));

    // Only the two chosen files were fetched, nothing else landed in the cache.
    assert_eq!(setup.server.count(|r| r.is_listing()), 3);
    assert_eq!(setup.server.count(|r| r.is_revision()), 1);
    assert_eq!(setup.server.count(|r| r.is_download()), 2);
    let mut names: Vec<String> = std::fs::read_dir(&pulled.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["TinyVLM-Q8_0.gguf", "mmproj-TinyVLM-f16.gguf"]);
    // No token configured: no Authorization header anywhere.
    assert!(setup.server.requests().iter().all(|r| r.header("authorization").is_none()));
}

#[test]
fn a_second_pull_downloads_nothing() {
    let setup = Setup::new();
    let first = setup.pull(PullParams::DEFAULT_QUANT).unwrap();
    assert_eq!(first.model.path, setup.cached("TinyVLM-Q4_K_M.gguf"));
    let downloads = setup.server.count(|r| r.is_download() || r.target.contains("/resolve/"));
    assert_eq!(downloads, 4, "two files, each a resolve redirect and a cdn download");

    let second = setup.pull("Q4_K_M").unwrap();
    assert_eq!(second.model.path, first.model.path);
    assert!(second.model.reused && second.model.downloaded == 0);
    assert!(second.mmproj.as_ref().unwrap().reused);
    assert_eq!(
        setup.server.count(|r| r.is_download() || r.target.contains("/resolve/")),
        downloads,
        "nothing more was downloaded"
    );
    assert_eq!(read(&second.model.path), content("TinyVLM-Q4_K_M.gguf"));
}

#[test]
fn a_model_another_tool_put_in_the_hugging_face_cache_is_not_downloaded_again() {
    let setup = Setup::new();
    // What `huggingface-cli download` of another revision leaves: the blobs.
    for path in ["TinyVLM-Q4_K_M.gguf", "mmproj-TinyVLM-f16.gguf"] {
        let blob = setup.blob(path);
        std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
        std::fs::write(&blob, content(path)).unwrap();
    }
    let pulled = setup.pull("Q4_K_M").unwrap();
    assert!(pulled.model.reused && pulled.mmproj.as_ref().unwrap().reused);
    assert_eq!(setup.server.count(|r| r.is_download()), 0, "nothing was downloaded");
    assert_eq!(read(&pulled.model.path), content("TinyVLM-Q4_K_M.gguf"));
}

#[test]
fn a_damaged_cached_file_is_downloaded_again() {
    let setup = Setup::new();
    let first = setup.pull("Q4_K_M").unwrap();
    let mut damaged = read(&first.model.path);
    damaged[100] ^= 0xff; // same size, wrong sha256
    std::fs::write(&first.model.path, damaged).unwrap();

    let second = setup.pull("Q4_K_M").unwrap();
    assert!(!second.model.reused && second.model.downloaded == 6000);
    assert!(second.mmproj.unwrap().reused);
    assert_eq!(read(&second.model.path), content("TinyVLM-Q4_K_M.gguf"));
}

#[test]
fn a_partial_download_resumes_with_a_range_request() {
    let setup = Setup::new();
    let full = content("TinyVLM-Q4_K_M.gguf");
    std::fs::create_dir_all(setup.repo_dir().join("blobs")).unwrap();
    std::fs::write(setup.part("TinyVLM-Q4_K_M.gguf"), &full[..3000]).unwrap();

    let pulled = setup.pull("Q4_K_M").unwrap();
    assert_eq!(read(&pulled.model.path), full);
    assert_eq!((pulled.model.resumed_from, pulled.model.downloaded), (3000, 3000));
    assert!(!setup.part("TinyVLM-Q4_K_M.gguf").exists());
    let downloads = setup.downloads_of("TinyVLM-Q4_K_M.gguf");
    assert_eq!(downloads.len(), 1);
    assert_eq!(downloads[0].header("range"), Some("bytes=3000-"));
    assert_eq!(downloads[0].status, 206);
    // The mmproj had no part: a plain request.
    assert_eq!(setup.downloads_of("mmproj-TinyVLM-f16.gguf")[0].header("range"), None);
}

#[test]
fn a_server_ignoring_range_restarts_the_download() {
    let setup = Setup::new();
    setup.server.configure(|o| o.honour_range = false);
    std::fs::create_dir_all(setup.repo_dir().join("blobs")).unwrap();
    // Garbage in the part: only a restart (not an append) gives the right file.
    std::fs::write(setup.part("TinyVLM-Q4_K_M.gguf"), vec![0u8; 3000]).unwrap();

    let pulled = setup.pull("Q4_K_M").unwrap();
    assert_eq!(read(&pulled.model.path), content("TinyVLM-Q4_K_M.gguf"));
    assert_eq!(pulled.model.downloaded, 6000);
    let downloads = setup.downloads_of("TinyVLM-Q4_K_M.gguf");
    assert_eq!(downloads.len(), 1);
    assert_eq!((downloads[0].header("range"), downloads[0].status), (Some("bytes=3000-"), 200));
}

#[test]
fn a_dropped_connection_keeps_the_part_and_the_next_pull_resumes() {
    let setup = Setup::new();
    setup.server.configure(|o| o.cut_after = Some(2500));
    let error = hub_error(setup.pull("Q4_K_M"));
    assert!(matches!(error, HubError::Interrupted { .. }), "{error:?}");
    assert!(!error.is_user_error());
    assert!(error.to_string().contains("resumes"), "{error}");
    assert_eq!(std::fs::metadata(setup.part("TinyVLM-Q4_K_M.gguf")).unwrap().len(), 2500);
    assert!(!setup.cached("TinyVLM-Q4_K_M.gguf").exists());

    setup.server.configure(|o| o.cut_after = None);
    let pulled = setup.pull("Q4_K_M").unwrap();
    assert_eq!(read(&pulled.model.path), content("TinyVLM-Q4_K_M.gguf"));
    assert_eq!(pulled.model.resumed_from, 2500);
    let last = setup.downloads_of("TinyVLM-Q4_K_M.gguf").pop().unwrap();
    assert_eq!((last.header("range"), last.status), (Some("bytes=2500-"), 206));
}

#[test]
fn a_corrupt_download_is_rejected_and_leaves_no_file() {
    let setup = Setup::new();
    setup.server.configure(|o| {
        let file = o.files.iter_mut().find(|f| f.path == "TinyVLM-Q4_K_M.gguf").unwrap();
        file.served[4000] ^= 0x01;
    });
    let result = setup.pull("Q4_K_M");
    let error = hub_error(result);
    let message = error.to_string();
    match &error {
        HubError::ChecksumMismatch { url, expected, actual } => {
            assert!(url.ends_with("/test-org/TinyVLM-GGUF/resolve/main/TinyVLM-Q4_K_M.gguf"), "{url}");
            assert_ne!(expected, actual);
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
    assert!(message.contains("sha256") && message.contains("TinyVLM-Q4_K_M.gguf"), "{message}");
    assert!(!error.is_user_error());
    assert!(!setup.cached("TinyVLM-Q4_K_M.gguf").exists());
    assert!(!setup.part("TinyVLM-Q4_K_M.gguf").exists());
}

#[test]
fn a_missing_quant_lists_the_available_ones() {
    let setup = Setup::new();
    let error = hub_error(setup.pull("Q5_K_M"));
    match &error {
        HubError::NoMatchingQuant { available, quant, .. } => {
            assert_eq!(quant, "Q5_K_M");
            assert_eq!(available, &["Q4_K_M", "Q8_0"]);
        }
        other => panic!("expected no matching quant, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains(REPO) && message.contains("Q5_K_M") && message.contains("Q4_K_M, Q8_0"), "{message}");
    assert!(error.is_user_error());
    assert_eq!(setup.server.count(|r| r.is_download()), 0);
}

#[test]
fn the_token_goes_to_the_hub_and_not_to_the_cdn() {
    let setup = Setup::new();
    setup.server.configure(|o| o.require_token = Some("hf_test_secret".into()));

    // Without a token: 401, and the message says what to do.
    let error = hub_error(setup.pull("Q8_0"));
    assert!(matches!(error, HubError::Unauthorized { token_sent: false, .. }), "{error:?}");
    assert!(error.to_string().contains("HF_TOKEN"), "{error}");
    assert!(vlmjudge::Error::from(error).is_user_error());

    // A wrong token: refused, and never printed.
    let wrong = setup.config().with_token("hf_wrong_token");
    let error = hub_error(setup.pull_with(&wrong, "Q8_0"));
    assert!(matches!(error, HubError::Unauthorized { token_sent: true, .. }), "{error:?}");
    assert!(!error.to_string().contains("hf_wrong_token") && !format!("{error:?}").contains("hf_wrong_token"));

    let config = setup.config().with_token("hf_test_secret");
    let pulled = setup.pull_with(&config, "Q8_0").unwrap();
    assert_eq!(read(&pulled.model.path), content("TinyVLM-Q8_0.gguf"));
    let requests = setup.server.requests();
    let authorized: Vec<_> = requests.iter().filter(|r| r.status != 401).collect();
    assert!(authorized.iter().any(|r| r.is_listing()));
    for r in authorized {
        let auth = r.header("authorization");
        if r.server == "hub" {
            assert_eq!(auth, Some("Bearer hf_test_secret"), "{r:?}");
        } else {
            assert_eq!(auth, None, "the token must not leave the hub's host: {r:?}");
        }
    }
}

#[test]
fn an_unknown_repo_is_a_clear_user_error() {
    let setup = Setup::new();
    let params = PullParams::new("test-org/NoSuchModel-GGUF");
    let error = hub_error(pull(&setup.config(), &params, &NoProgress));
    assert!(matches!(error, HubError::RepoNotFound { status: 404, .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("test-org/NoSuchModel-GGUF") && message.contains("not found"), "{message}");
    assert!(message.contains(&setup.server.url), "names the URL: {message}");
    assert!(vlmjudge::Error::from(error).is_user_error());

    let params = PullParams { revision: "nope".into(), ..PullParams::new(REPO) };
    let error = hub_error(pull(&setup.config(), &params, &NoProgress));
    assert!(matches!(error, HubError::RevisionNotFound { .. }), "{error:?}");
    assert!(error.to_string().contains("revision nope"), "{error}");

    // A malformed id is refused before any request.
    let before = setup.server.requests().len();
    let error = hub_error(pull(&setup.config(), &PullParams::new("no-owner"), &NoProgress));
    assert!(matches!(error, HubError::InvalidRepo { .. }) && error.is_user_error());
    assert_eq!(setup.server.requests().len(), before);
}

#[test]
fn a_split_model_pulls_every_part_into_one_snapshot() {
    let setup = Setup::new();
    let parts = ["TinyVLM-Q6_K-00001-of-00002.gguf", "TinyVLM-Q6_K-00002-of-00002.gguf"];
    setup.server.configure(|o| {
        o.files.push(FakeFile::lfs(parts[1], bytes(6, 1500)));
        o.files.push(FakeFile::lfs(parts[0], bytes(5, 2500)));
    });
    let pulled = setup.pull("Q6_K").unwrap();
    // llama.cpp gets the first part and finds the second beside it.
    assert_eq!(pulled.model.path, setup.cached(parts[0]));
    let paths: Vec<&PathBuf> = pulled.model_parts.iter().map(|p| &p.path).collect();
    assert_eq!(paths, [&setup.cached(parts[0]), &setup.cached(parts[1])]);
    assert_eq!(read(&setup.cached(parts[1])), bytes(6, 1500));
    // A listing that lacks a part is refused before anything is downloaded.
    let setup = Setup::new();
    setup.server.configure(|o| o.files.push(FakeFile::lfs(parts[0], bytes(5, 2500))));
    assert!(matches!(hub_error(setup.pull("Q6_K")), HubError::SplitModel { .. }));
    assert_eq!(setup.server.count(|r| r.is_download()), 0);
}

#[test]
fn a_text_only_repo_pulls_without_an_mmproj() {
    let setup = Setup::new();
    setup.server.configure(|o| o.files.retain(|f| !f.path.contains("mmproj")));
    let pulled = setup.pull("Q8_0").unwrap();
    assert!(pulled.mmproj.is_none());
    assert_eq!(read(&pulled.model.path), content("TinyVLM-Q8_0.gguf"));
}

fn vlmjudge_pull(server: &HubServer, cache: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vlmjudge"))
        .arg("pull")
        .args(args)
        .env("HF_ENDPOINT", &server.url)
        .env("HF_HUB_CACHE", cache)
        .env_remove("HF_TOKEN")
        .env("HF_TOKEN_PATH", cache.join("no-token"))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn cli_pull_prints_the_judge_command() {
    let setup = Setup::new();
    let out = vlmjudge_pull(&setup.server, setup.cache.path(), &[REPO, "--quant", "Q8_0"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let model = setup.cached("TinyVLM-Q8_0.gguf");
    let mmproj = setup.cached("mmproj-TinyVLM-f16.gguf");
    let command = format!(
        "vlmjudge judge --model {} --mmproj {} --pairs pairs.jsonl --out verdicts.jsonl",
        model.display(),
        mmproj.display()
    );
    assert!(stdout.lines().any(|l| l.trim() == command), "no `{command}` in:\n{stdout}");
    assert!(stdout.contains(&format!("model   {}", model.display())), "{stdout}");
    assert_eq!(read(&model), content("TinyVLM-Q8_0.gguf"));
    assert!(stderr.contains("downloaded"), "{stderr}");

    // Again: nothing downloaded, same command.
    let again = vlmjudge_pull(&setup.server, setup.cache.path(), &[REPO, "--quant", "Q8_0"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains(&command));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already in the cache"));
    assert_eq!(setup.server.count(|r| r.is_download()), 2);
}

#[test]
fn cli_pull_errors_exit_1_with_the_reason() {
    let setup = Setup::new();
    let out = vlmjudge_pull(&setup.server, setup.cache.path(), &["test-org/NoSuchModel-GGUF"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: cannot pull test-org/NoSuchModel-GGUF"), "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");

    let out = vlmjudge_pull(&setup.server, setup.cache.path(), &[REPO, "--quant", "IQ2_XXS"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("available: Q4_K_M, Q8_0"), "{stderr}");
}

#[test]
fn cli_pull_of_a_text_only_model_says_so() {
    let setup = Setup::new();
    setup.server.configure(|o| o.files.retain(|f| !f.path.contains("mmproj")));
    let out = vlmjudge_pull(&setup.server, setup.cache.path(), &[REPO, "--quant", "Q4_K_M", "--quiet"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("text-only"), "{stdout}");
    let command = format!(
        "vlmjudge judge --model {} --pairs pairs.jsonl --out verdicts.jsonl",
        setup.cached("TinyVLM-Q4_K_M.gguf").display()
    );
    assert!(stdout.lines().any(|l| l.trim() == command), "{stdout}");
}
