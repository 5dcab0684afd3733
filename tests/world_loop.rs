//! The loop's regression test: the procedural-world experiment (`make world-experiment`)
//! reduced to one round and no ablation. It builds the world and a base model from
//! scratch, runs `vlmjudge improve` on the pool (prompts without answers), and checks
//! that the round's judge beats the base on the held-out pairs by a margin the full
//! experiment supports (README, "A procedural world"). It runs the experiment's own
//! script, so the recipe it guards is the one the README reports.
//!
//! It takes about 25 minutes on 2 cores, most of it pretraining the base. It is not yet
//! part of `make test`: on the script's own world the round lifted the base from 0.553
//! to 0.562 only (z 0.8), short of the margin (README, attempt 10), so it would fail.
//! Run it with `cargo test --release --test world_loop -- --ignored`.

#![cfg(feature = "train")]

use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;
use vlmjudge::data::read_jsonl;
use vlmjudge::eval::EvalSummary;
use vlmjudge::improve::Manifest;

/// Round 1 gained 2.4 to 2.7 points on attempt 8's base (and three rounds 4.8); a point
/// tells a loop that learns from one that does not, at about one standard error of the
/// paired difference on 500 held-out pairs.
const MARGIN: f64 = 0.01;

/// Accuracy by category, for the log.
fn by_category(eval: &EvalSummary) -> String {
    eval.categories.iter().map(|(name, score)| format!("{name} {:.3}", score.accuracy)).collect::<Vec<_>>().join(", ")
}

#[test]
#[ignore = "fails on the script's own world for now (0.553 -> 0.562); about 25 minutes"]
fn one_round_of_the_loop_lifts_the_world_judge_above_its_base_without_labels() {
    // VLMJUDGE_WORLD_LOOP_OUT keeps the run for a look afterwards (and resumes it).
    let tmp = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("VLMJUDGE_WORLD_LOOP_OUT").map(std::path::PathBuf::from);
    let out = kept.as_deref().unwrap_or(tmp.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/world-experiment.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg(out)
        .env("BIN", env!("CARGO_BIN_EXE_vlmjudge"))
        .env("ROUNDS", "1")
        .env("ABLATION", "0")
        .status()
        .unwrap();
    assert!(status.success(), "{} failed: {status}", script.display());

    // The loop saw prompts only: no answer, label or target reaches it.
    for (line, prompt) in read_jsonl::<Json>(&out.join("world/pool.jsonl")).unwrap() {
        for key in ["answer", "label", "target", "chosen", "rejected", "response_a", "response_b"] {
            assert!(prompt.get(key).is_none(), "pool prompt on line {line} carries `{key}`: {prompt}");
        }
    }

    let rounds = Manifest::read_run(&out.join("loop")).unwrap();
    assert!(rounds.len() >= 2, "round 0 (the base) and round 1");
    let [base, round] = [0, 1].map(|k| rounds[k].eval.as_ref().expect("every round is evaluated"));
    let (before, after) = (base.overall, round.overall);
    eprintln!("held-out accuracy: base {before:.3}, round 1 {after:.3}");
    eprintln!("base by category: {}", by_category(base));
    eprintln!("round 1 by category: {}", by_category(round));
    assert!(after >= before + MARGIN, "round 1 {after:.3} does not beat the base {before:.3} by {MARGIN}");
}
