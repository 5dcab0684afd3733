//! The loop's regression test: the procedural-world experiment (`make world-experiment`)
//! reduced to two rounds and no ablation. It builds the world and a base model from
//! scratch, runs `vlmjudge improve` on the pool (prompts without answers), and checks
//! that the last round's judge beats the base on the held-out pairs by a margin the full
//! experiment supports (docs/world-experiment.md, attempt 11). It runs the
//! experiment's own script, so the recipe it guards is the one the README reports.
//!
//! Two rounds, because the first one does not lift attempt 11's base (0.553 to 0.562,
//! z 0.8): that judge learns to check the answers against the one it states only over
//! the second and third (0.589, then 0.603).
//!
//! Not in `make test` (run it with `make world-test`): the run's outcome depends on the
//! CPU's floating-point path. On the Intel Xeon of attempts 10 and 11 round 2 gains 3.6
//! points and the test passes; on an AMD EPYC (attempt 12) the same script and seed
//! train another base, round 2 loses 3.6 points, and the test fails. A test in the
//! suite must not pass or fail by the machine it lands on; this one guards the loop
//! again once the recipe lifts every run of it. About 20 minutes on 2 cores.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;
use vlmjudge::data::read_jsonl;
use vlmjudge::eval::EvalSummary;
use vlmjudge::improve::Manifest;

/// The script's own run gains 3.6 points by round 2 (z 3.0; 1.8 on 1,600 further held-out
/// pairs, z 2.6) and 5.0 by round 3; the paired difference's standard error on 500 pairs
/// is about 1.2 points. A point leaves room for another machine's rounding to take the
/// run elsewhere, and still fails a loop that teaches nothing (round 1: +0.9).
const MARGIN: f64 = 0.01;
const ROUNDS: usize = 2;

/// Accuracy by category, for the log.
fn by_category(eval: &EvalSummary) -> String {
    eval.categories.iter().map(|(name, score)| format!("{name} {:.3}", score.accuracy)).collect::<Vec<_>>().join(", ")
}

#[test]
#[ignore = "the outcome depends on the CPU (docs/world-experiment.md, attempt 12); make world-test runs it"]
fn two_rounds_of_the_loop_lift_the_world_judge_above_its_base_without_labels() {
    // VLMJUDGE_WORLD_LOOP_OUT keeps the run for a look afterwards (and resumes it).
    let tmp = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("VLMJUDGE_WORLD_LOOP_OUT").map(std::path::PathBuf::from);
    let out = kept.as_deref().unwrap_or(tmp.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/world-experiment.sh");
    let lab = env!("CARGO_BIN_EXE_vlmjudge-lab");
    let status = Command::new("bash")
        .arg(&script)
        .arg(out)
        .env("BIN", common::product_binary())
        .env("LAB", lab)
        .env("ROUNDS", ROUNDS.to_string())
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
    assert_eq!(rounds.len(), ROUNDS + 1, "round 0 (the base) and {ROUNDS} rounds");
    let evals: Vec<&EvalSummary> = rounds.iter().map(|r| r.eval.as_ref().expect("every round is evaluated")).collect();
    for (k, eval) in evals.iter().enumerate() {
        eprintln!("round {k}: held-out accuracy {:.3} ({})", eval.overall, by_category(eval));
    }
    let (before, after) = (evals[0].overall, evals[ROUNDS].overall);
    assert!(after >= before + MARGIN, "round {ROUNDS} {after:.3} does not beat the base {before:.3} by {MARGIN}");
}
