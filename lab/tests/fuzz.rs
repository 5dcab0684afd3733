//! The loader fuzzer (`vlmjudge-lab fuzz`): a short seeded campaign through the real
//! binary finds no abort and no hang, its harness does catch a child that crashes or
//! hangs, and a seed replays the same mutants.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use common::demo_model_path;
use vlmjudge_lab::fixture::FixtureKind;
use vlmjudge_lab::fuzz::{make_mutant, prepare};

/// Mutants in the campaign `make test` runs: 65 s on 2 shared cores (0.2 s per mutant,
/// two children at a time, each judging a text and an image pair). `make fuzz` runs 5000.
const MUTANTS: u64 = 300;

fn fuzz(work: &Path, args: &[&str]) -> (Output, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vlmjudge-lab"));
    command.args(["fuzz", "--work"]).arg(work).args(args);
    // The children judge with this build's `vlmjudge`, unless a test gives its own.
    if !args.contains(&"--child-bin") {
        command.arg("--child-bin").arg(common::product_binary());
    }
    let output = command.env("VLMJUDGE_DEMO_MODEL", demo_model_path()).stdin(Stdio::null()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    (output, stdout)
}

/// The counts on the `totals:` line (`success 12  clean-error 3  abort 0 ...`).
fn totals(stdout: &str) -> HashMap<String, u64> {
    let line = stdout.lines().find_map(|l| l.strip_prefix("totals: ")).expect("a totals line");
    let words: Vec<&str> = line.split_whitespace().collect();
    words.chunks(2).map(|w| (w[0].to_string(), w[1].parse().unwrap())).collect()
}

fn kept_files(keep: &Path, ext: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(keep) else { return Vec::new() };
    entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == ext)).collect()
}

#[test]
fn a_short_campaign_over_every_family_finds_no_abort_and_no_hang() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("keep");
    let started = Instant::now();
    let count = MUTANTS.to_string();
    let keep_arg = keep.to_str().unwrap();
    let args = ["--seed", "7", "--count", &count, "--jobs", "2", "--timeout-s", "20", "--keep-failures", keep_arg];
    let (output, stdout) = fuzz(&dir.path().join("work"), &args);
    let t = totals(&stdout);
    println!("{MUTANTS} mutants in {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(t.values().sum::<u64>(), MUTANTS, "every mutant is counted once: {t:?}");
    let index = std::fs::read_to_string(keep.join("index.tsv")).unwrap_or_default();
    for class in ["abort", "hang", "sanitizer", "panic", "bad-exit", "bad-output"] {
        assert_eq!(t[class], 0, "{class}: the kept mutants and their descriptions:\n{index}");
    }
    assert!(output.status.success(), "the campaign failed: {}", String::from_utf8_lossy(&output.stderr));
    // The mutations must reach both sides of the loaders' checks: files that still load
    // and judge, and files that are refused.
    let loaded = t["success"] + t["pair-error"];
    assert!(loaded >= MUTANTS / 20, "only {loaded} mutants loaded: the mutations are too blunt");
    assert!(t["clean-error"] >= MUTANTS / 5, "only {} mutants were refused: they change too little", t["clean-error"]);
    assert!(stdout.contains("tiny-vlm/lora") && stdout.contains("gemma3/mmproj") && stdout.contains("qwen25vl/model"));
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_child_that_aborts_or_hangs_is_caught_kept_and_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let abort =
        script(dir.path(), "abort.sh", "echo '/x/ggml/src/fake.cpp:12: GGML_ASSERT(fuzz) failed' >&2\nkill -ABRT $$");
    let keep = dir.path().join("keep");
    let (output, stdout) = fuzz(
        &dir.path().join("work"),
        &[
            "--count",
            "3",
            "--kind",
            "tiny-vlm",
            "--mem-limit-mib",
            "0",
            "--child-bin",
            abort.to_str().unwrap(),
            "--keep-failures",
            keep.to_str().unwrap(),
        ],
    );
    assert!(!output.status.success(), "aborts must fail the run");
    assert_eq!(totals(&stdout)["abort"], 3);
    assert!(stdout.contains("SIGABRT: fake.cpp:12: GGML_ASSERT(fuzz) failed"), "the assertion names the abort");
    assert_eq!(kept_files(&keep, "gguf").len(), 3);
    let index = std::fs::read_to_string(keep.join("index.tsv")).unwrap();
    assert_eq!(index.lines().count(), 3, "{index}");
    let description = std::fs::read_to_string(&kept_files(&keep, "txt")[0]).unwrap();
    assert!(description.contains("GGML_ASSERT(fuzz)") && description.contains("--count 1"), "{description}");

    let hang = script(dir.path(), "hang.sh", "exec sleep 30");
    let started = Instant::now();
    let (output, stdout) = fuzz(
        &dir.path().join("work"),
        &["--count", "2", "--kind", "tiny-vlm", "--timeout-s", "0.5", "--child-bin", hang.to_str().unwrap()],
    );
    assert!(!output.status.success(), "hangs must fail the run");
    assert_eq!(totals(&stdout)["hang"], 2);
    assert!(started.elapsed().as_secs() < 20, "the hung children were not killed at the timeout");
}

#[test]
fn a_seed_gives_the_same_mutants_whatever_ran_before() {
    let dir = tempfile::tempdir().unwrap();
    let (_, files) = prepare(dir.path(), &[FixtureKind::TinyVlm], &demo_model_path()).unwrap();
    assert_eq!(files.len(), 3, "model, mmproj and adapter");
    for base in &files {
        let (pristine, _) = base.doc.serialize();
        let first: Vec<_> = (0..12).map(|i| make_mutant(3, i, base)).collect();
        // In reverse order: mutant i depends on the seed and i alone.
        for i in (0..12).rev() {
            let again = make_mutant(3, i, base);
            assert_eq!((&again.description, &again.bytes), (&first[i as usize].description, &first[i as usize].bytes));
        }
        let changed = first.iter().filter(|m| m.bytes != pristine).count();
        assert!(changed >= 10, "{}: only {changed} of 12 mutants differ from the base", base.label);
        let other = make_mutant(4, 0, base);
        assert!(other.bytes != first[0].bytes || other.description != first[0].description);
    }
}
