//! `vlmjudge report` and `vlmjudge merge`: a run's table and charts from round
//! manifests, and deterministic joins of shard outputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use vlmjudge::eval::{CategoryScore, EvalSummary};
use vlmjudge::improve::{round_dir, FilterCounts, LossPoint, Manifest, SynthCounts, TrainRecord};

fn vlmjudge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vlmjudge"))
}

fn eval(overall: f64, cats: &[(&str, f64)]) -> EvalSummary {
    EvalSummary {
        n: 40,
        guesses: 1,
        errors: 0,
        overall,
        macro_avg: cats.iter().map(|c| c.1).sum::<f64>() / cats.len() as f64,
        categories: cats
            .iter()
            .map(|(n, a)| (n.to_string(), CategoryScore { n: 20, correct: a * 20.0, accuracy: *a }))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// A run of three rounds: the base (eval only) and two trained rounds, the second with
/// a category the others lack.
fn write_run(run: &Path) {
    Manifest { round: 0, eval: Some(eval(0.5, &[("math", 0.45), ("ocr", 0.55)])), ..Default::default() }
        .write(&round_dir(run, 0))
        .unwrap();
    for k in 1..=2u32 {
        let loss: Vec<LossPoint> =
            (1..=50).map(|s| LossPoint { step: s, loss: 2.0 / (1.0 + s as f64 * 0.1 * k as f64) }).collect();
        let mut cats = vec![("math", 0.45 + 0.05 * k as f64), ("ocr", 0.6)];
        if k == 2 {
            cats.push(("charts", 0.7));
        }
        Manifest {
            round: k,
            synth: Some(SynthCounts { prompts: 64, pairs: 60 + k as usize, ..Default::default() }),
            filter: Some(FilterCounts {
                pairs: 60,
                kept_pairs: 20 + 5 * k as usize,
                kept_fraction: (20.0 + 5.0 * k as f64) / 60.0,
                examples: 30 + k as usize,
                errors: 0,
            }),
            train: Some(TrainRecord {
                examples: 30 + k as usize,
                steps: 50,
                final_loss: loss.last().map(|p| p.loss),
                loss,
                ..Default::default()
            }),
            eval: Some(eval(0.5 + 0.04 * k as f64, &cats)),
            ..Default::default()
        }
        .write(&round_dir(run, k))
        .unwrap();
    }
}

#[test]
fn report_writes_table_json_and_decodable_charts() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path());
    let report = vlmjudge::report::report(dir.path()).unwrap();
    assert_eq!(report.categories, ["charts", "math", "ocr"]);
    let written = vlmjudge::report::write_report(dir.path(), &report).unwrap();
    let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(
        names,
        [
            "report.md",
            "report.json",
            "accuracy.svg",
            "accuracy.png",
            "kept_fraction.svg",
            "kept_fraction.png",
            "loss.svg",
            "loss.png",
            "report.html"
        ]
    );

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["kept_fraction"], serde_json::Value::Null);
    assert_eq!(rows[2]["synth_pairs"], 62);
    assert_eq!(rows[2]["categories"]["charts"], 0.7);

    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("| round | synth pairs |"), "{md}");
    for png in ["accuracy.png", "kept_fraction.png", "loss.png"] {
        let img = image::open(dir.path().join(png)).unwrap_or_else(|e| panic!("{png}: {e}"));
        assert!(img.width() >= 700 && img.height() >= 450, "{png} is {}x{}", img.width(), img.height());
    }
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 3, "one inline chart each");
    for category in ["charts", "math", "ocr"] {
        assert!(html.contains(&format!("<th>{category}</th>")), "{category} is not a column of the page");
    }
    // No temporary files left behind by the atomic writes.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    if let Some(keep) = std::env::var_os("VLMJUDGE_KEEP_REPORT") {
        for p in &written {
            std::fs::copy(p, PathBuf::from(&keep).join(p.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn report_of_a_single_base_round_still_draws() {
    let dir = tempfile::tempdir().unwrap();
    Manifest { round: 0, eval: Some(eval(0.5, &[("math", 0.5)])), ..Default::default() }
        .write(&round_dir(dir.path(), 0))
        .unwrap();
    let report = vlmjudge::report::report(dir.path()).unwrap();
    assert_eq!(report.rows.len(), 1);
    let written = vlmjudge::report::write_report(dir.path(), &report).unwrap();
    assert_eq!(written.len(), 9);
}

#[test]
fn report_command_prints_the_table_and_the_written_paths() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path());
    let out = vlmjudge().arg("report").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].trim_start().starts_with("round  synth pairs"), "{stdout}");
    assert!(lines[1].split_whitespace().collect::<Vec<_>>()[..3] == ["0", "-", "-"], "{stdout}");
    assert!(stdout.contains(&dir.path().join("accuracy.png").display().to_string()), "{stdout}");
}

#[test]
fn report_command_on_an_empty_directory_is_a_user_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = vlmjudge().arg("report").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no round manifests"), "{stderr}");
}

/// Writes `lines` (each followed by a newline) to `dir/name`.
fn write_lines(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    path
}

#[test]
fn merge_command_restores_input_order_from_shards() {
    let dir = tempfile::tempdir().unwrap();
    // Ids whose byte order differs from input order (q10 < q2 as bytes).
    let input: Vec<String> = (0..12).map(|i| format!("{{\"id\":\"q{}\",\"question\":\"?\"}}", 12 - i)).collect();
    let order = write_lines(dir.path(), "prompts.jsonl", &input);
    let mut shards = Vec::new();
    for k in 0..3 {
        let shard = vlmjudge::shard::Shard::new(k, 3).unwrap();
        // Each prompt yields two derived pair ids, written in reverse to prove sorting.
        let lines: Vec<String> = shard
            .select(0..input.len())
            .into_iter()
            .flat_map(|i| ["B", "A"].map(|s| format!("{{\"id\":\"q{}/{s}\", \"k\": {k}}}", 12 - i)))
            .collect();
        shards.push(write_lines(dir.path(), &format!("pairs.{k}.jsonl"), &lines));
    }
    let out = dir.path().join("pairs.jsonl");
    let status =
        vlmjudge().arg("merge").arg("--out").arg(&out).arg("--order").arg(&order).args(&shards).status().unwrap();
    assert!(status.success());
    let ids: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..12).flat_map(|i| ["A", "B"].map(|s| format!("q{}/{s}", 12 - i))).collect();
    assert_eq!(ids, expected);
    // Byte-for-byte: the odd spacing after the comma survives.
    assert!(std::fs::read_to_string(&out).unwrap().starts_with("{\"id\":\"q12/A\", \"k\": 0}\n"));
}

#[test]
fn merge_command_fails_on_conflicts_and_cut_off_shards() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_lines(dir.path(), "a.jsonl", &["{\"id\":\"x\",\"verdict\":\"A\"}".into()]);
    let b = write_lines(dir.path(), "b.jsonl", &["{\"id\":\"x\",\"verdict\":\"B\"}".into()]);
    let out = dir.path().join("out.jsonl");
    let run = |args: &[&Path]| vlmjudge().arg("merge").arg("--out").arg(&out).args(args).output().unwrap();
    let o = run(&[&a, &b]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("a.jsonl:1") && err.contains("b.jsonl:1") && err.contains("\"x\""), "{err}");
    assert!(!out.exists(), "no output after an error");

    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, "{\"id\":\"y\"}\n{\"id\":\"z\",\"verd").unwrap();
    let o = run(&[&a, &cut]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let o = vlmjudge().arg("merge").arg("--allow-partial").arg("--out").arg(&out).arg(&a).arg(&cut).output().unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning: "), "the dropped line is reported");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"id\":\"x\",\"verdict\":\"A\"}\n{\"id\":\"y\"}\n");
}
