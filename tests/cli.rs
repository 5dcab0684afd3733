//! The `vlmjudge` command: batch judging, resume after a kill, errors and exit codes.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::demo_model_path;
use vlmjudge_lab::fixture::{write_fixture_with, FixtureKind, Geometry};

fn vlmjudge() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vlmjudge"));
    cmd.stdin(Stdio::null());
    cmd
}

/// `vlmjudge judge` on a pairs file, fast mode, quiet.
fn judge_file(pairs: &Path, out: &Path) -> Command {
    let mut cmd = vlmjudge();
    cmd.args(["judge", "--quiet", "--model"]).arg(demo_model_path()).arg("--pairs").arg(pairs).arg("--out").arg(out);
    cmd
}

fn write_pairs(path: &Path, n: usize) {
    let mut f = std::fs::File::create(path).unwrap();
    for i in 0..n {
        let line = serde_json::json!({
            "id": format!("q{i}"),
            "image": null,
            "question": format!("Which number is larger, {i} or {}?", i + 7),
            "response_a": format!("{} is larger.", i + 7),
            "response_b": format!("{i} is larger."),
            "label": "A",
        });
        writeln!(f, "{line}").unwrap();
    }
}

/// Ids in a verdicts file, with how often each appears; every line must be valid JSON.
fn ids_in(path: &Path) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("every line is a whole JSON object");
        *ids.entry(v["id"].as_str().unwrap().to_string()).or_default() += 1;
    }
    ids
}

#[test]
fn killing_mid_run_and_rerunning_neither_loses_nor_duplicates_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let (pairs, out) = (dir.path().join("pairs.jsonl"), dir.path().join("verdicts.jsonl"));
    write_pairs(&pairs, 16);
    let args = |cmd: &mut Command| {
        cmd.args(["judge", "--mode", "reason", "--max-tokens", "16", "--parallel", "2", "--quiet", "--model"])
            .arg(demo_model_path())
            .arg("--pairs")
            .arg(&pairs)
            .arg("--out")
            .arg(&out);
    };
    let mut child = {
        let mut cmd = vlmjudge();
        args(&mut cmd);
        cmd.spawn().unwrap()
    };
    // Kill it once some, but not all, verdicts are written.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let lines = std::fs::read_to_string(&out).map(|s| s.lines().count()).unwrap_or(0);
        if lines >= 3 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = ids_in(&out).len();
    assert!((3..16).contains(&before), "killed after {before} verdicts");

    // Simulate a kill in the middle of a write: a partial last line.
    std::fs::OpenOptions::new().append(true).open(&out).unwrap().write_all(b"{\"id\": \"q2").unwrap();

    let mut cmd = vlmjudge();
    args(&mut cmd);
    let rerun = cmd.output().unwrap();
    assert!(rerun.status.success(), "{}", String::from_utf8_lossy(&rerun.stderr));
    let ids = ids_in(&out);
    assert_eq!(ids.len(), 16);
    assert!(ids.values().all(|&n| n == 1), "duplicates: {ids:?}");
}

#[test]
fn one_pair_form_prints_a_readable_verdict() {
    let out = vlmjudge()
        .args(["judge", "--question", "How many legs does a cat have?", "--a", "Four.", "--b", "Seven.", "--model"])
        .arg(demo_model_path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("verdict: "), "{text}");
    assert!(text.contains("order AB") && text.contains("order BA"), "{text}");
}

#[test]
fn a_missing_model_exits_1_with_error_and_cause() {
    let out = vlmjudge()
        .args(["judge", "--model", "/nonexistent/m.gguf", "--question", "q", "--a", "x", "--b", "y"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: cannot load the judge"), "{err}");
    assert!(err.contains("caused by: /nonexistent/m.gguf"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_closed_stdout_ends_the_command_like_other_unix_tools_not_with_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    // `vlmjudge system-info | head -0`: the reader is gone before the first line.
    let mut child = vlmjudge().arg("system-info").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}: {stderr}", out.status);
}

#[test]
fn a_usage_error_exits_1() {
    let out = vlmjudge().args(["judge", "--model", "m.gguf", "--pairs", "p.jsonl"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn improve_and_train_accept_every_option_group_together() {
    // improve flattens the judge's, synth's and the trainer's options into one command
    // line: an id two groups share fails only when parsing it, so parse the lot.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let (out, data) = (out.to_str().unwrap(), "/nonexistent/data.jsonl");
    let improve = ["improve", "--base", "/nonexistent/b.gguf", "--prompts", data, "--rounds", "1", "--out", out];
    let train = ["train", "--base", "/nonexistent/b.gguf", "--data", data, "--out", out];
    let common = ["--parallel-micro-batches", "2", "--grad-accum", "2", "--threads", "1"];
    for args in [&improve[..], &train[..]] {
        let run = vlmjudge()
            .args(args)
            .args(common)
            .args(if args[0] == "improve" { &["--parallel", "2"][..] } else { &[] })
            .output()
            .unwrap();
        let err = String::from_utf8(run.stderr).unwrap();
        assert_eq!(run.status.code(), Some(1), "{args:?}: {err}");
        assert!(!err.contains("Usage:") && err.contains("/nonexistent/"), "{args:?}: {err}");
    }
}

#[test]
fn invalid_utf8_in_the_pairs_file_is_a_user_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = dir.path().join("pairs.jsonl");
    write_pairs(&pairs, 2);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&pairs)
        .unwrap()
        .write_all(b"{\"id\": \"bad\", \"question\": \"\xff\xfe\"}\n")
        .unwrap();
    let out = judge_file(&pairs, &dir.path().join("v.jsonl")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("pairs.jsonl:3: invalid UTF-8"), "{err}");
}

#[test]
fn a_bad_pair_gets_an_error_line_and_the_batch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = dir.path().join("pairs.jsonl");
    write_pairs(&pairs, 2);
    let extra = [
        serde_json::json!({"id": "no-image", "image": "missing.png", "question": "q", "response_a": "a", "response_b": "b"}),
        serde_json::json!({"id": "empty", "question": "q", "response_a": "", "response_b": "b"}),
    ];
    let mut f = std::fs::OpenOptions::new().append(true).open(&pairs).unwrap();
    for e in extra {
        writeln!(f, "{e}").unwrap();
    }
    let out_path = dir.path().join("v.jsonl");
    let out = judge_file(&pairs, &out_path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: HashMap<String, serde_json::Value> = std::fs::read_to_string(&out_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| (v["id"].as_str().unwrap().to_string(), v))
        .collect();
    assert_eq!(lines.len(), 4);
    assert!(lines["no-image"]["error"].as_str().unwrap().contains("image not found"));
    assert!(lines["empty"]["error"].as_str().unwrap().contains("response_a is empty"));
    assert!(lines["q0"]["error"].is_null());
    assert!(lines["q1"]["p_a"].is_f64());
}

#[test]
fn a_shard_judges_only_its_positions_and_reads_the_job_array_environment() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = dir.path().join("pairs.jsonl");
    write_pairs(&pairs, 7);
    let sorted_ids = |path: &Path| {
        let mut ids: Vec<String> = ids_in(path).into_keys().collect();
        ids.sort();
        ids
    };
    let explicit = dir.path().join("explicit.jsonl");
    let out = judge_file(&pairs, &explicit).args(["--shard", "1/3"]).env("JOB_COMPLETION_INDEX", "0").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(sorted_ids(&explicit), ["q1", "q4"], "--shard wins over the environment");

    let from_env = dir.path().join("env.jsonl");
    let out = judge_file(&pairs, &from_env)
        .env("JOB_COMPLETION_INDEX", "2")
        .env("VLMJUDGE_SHARD_COUNT", "3")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(sorted_ids(&from_env), ["q2", "q5"]);

    let out = judge_file(&pairs, &dir.path().join("bad.jsonl")).args(["--shard", "3/3"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shard"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn eval_prints_a_table_writes_a_report_and_score_only_needs_no_model() {
    let dir = tempfile::tempdir().unwrap();
    let (pairs, out, report) =
        (dir.path().join("bench.jsonl"), dir.path().join("v.jsonl"), dir.path().join("report.json"));
    write_pairs(&pairs, 4);
    let eval = |extra: &[&str]| {
        let mut cmd = vlmjudge();
        cmd.args(["eval", "--quiet", "--format", "pairs", "--bench"]).arg(&pairs).arg("--out").arg(&out);
        cmd.args(extra);
        cmd.output().unwrap()
    };
    let judged = {
        let mut cmd = vlmjudge();
        cmd.args(["eval", "--quiet", "--format", "pairs", "--model"]).arg(demo_model_path());
        cmd.arg("--bench").arg(&pairs).arg("--out").arg(&out).arg("--report").arg(&report);
        cmd.output().unwrap()
    };
    assert!(judged.status.success(), "{}", String::from_utf8_lossy(&judged.stderr));
    let table = String::from_utf8(judged.stdout).unwrap();
    assert!(table.contains("category") && table.contains("overall") && table.contains("macro"), "{table}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["n"], 4);
    assert_eq!(json["format"], "pairs");
    assert!(json["model"].as_str().unwrap().ends_with(".gguf"));
    assert_eq!(json["categories"]["all"]["n"], 4);

    // Scoring the same verdicts without a model prints the same table.
    let scored = eval(&["--score-only"]);
    assert!(scored.status.success(), "{}", String::from_utf8_lossy(&scored.stderr));
    assert_eq!(String::from_utf8(scored.stdout).unwrap(), table);

    // Without --model and --score-only: a user error.
    assert_eq!(eval(&[]).status.code(), Some(1));
}

/// `inspect` on a family fixture says what it is and that it can judge; on one whose
/// photo does not fit the context (LLaVA-1.6's real anyres geometry: 2,880 image cells)
/// it says why and exits 1.
#[test]
fn inspect_tells_the_family_and_whether_pairs_can_be_judged() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = |kind: &str, geometry: Geometry| {
        let out = dir.path().join(format!("{kind}-{geometry:?}"));
        let kind = FixtureKind::from_name(kind).unwrap();
        write_fixture_with(kind, &out, 0, &demo_model_path(), geometry).unwrap();
        out
    };
    let inspect = |dir: &Path| {
        vlmjudge()
            .arg("inspect")
            .arg(dir.join("model.gguf"))
            .arg("--mmproj")
            .arg(dir.join("mmproj.gguf"))
            .output()
            .unwrap()
    };

    let qwen = inspect(&fixture("qwen25vl", Geometry::Tiny));
    let text = String::from_utf8_lossy(&qwen.stdout);
    assert!(qwen.status.success(), "{text}{}", String::from_utf8_lossy(&qwen.stderr));
    for line in
        ["family:         Qwen2.5-VL", "projector:      qwen2.5vl_merger", "text pairs:     yes", "image pairs:    yes"]
    {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    // The photo's M-RoPE positions are far fewer than its KV cells.
    assert!(text.contains("494 image tokens in 1 chunk(s), 496 KV cells, 28 positions"), "{text}");
    assert!(text.contains("<|im_start|>system\nYou are an impartial judge."), "{text}");

    let llava = inspect(&fixture("llava16", Geometry::Real));
    let text = String::from_utf8_lossy(&llava.stdout);
    assert_eq!(llava.status.code(), Some(1), "{text}");
    assert!(text.contains("family:         LLaVA-1.6"), "{text}");
    assert!(text.contains("text pairs:     yes"), "{text}");
    assert!(text.contains("image pairs:    NO: the pair is too long for the context"), "{text}");
    assert!(String::from_utf8_lossy(&llava.stderr).contains("cannot judge every kind of pair"));
}
