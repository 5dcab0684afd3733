//! What the loop's recipe guarantees on every machine, checked in `make test` on a
//! reduced procedural world: the experiment's own script (`make world-experiment`) on a
//! smaller pretraining set and pool, one round of the loop and of each arm.
//!
//! The loop gets prompts without answers; the world's truth grades what it made of
//! them afterwards (`vlmjudge-lab world --grade`):
//!
//! - its synthetic labels name the better response far more often than chance, for
//!   closed questions (unanimous majority votes) and for descriptions (error
//!   injection), and so do the labels of the pairs the judge filter keeps;
//! - the judge filter keeps a share of the pairs strictly between none and all, and
//!   the ablation trains on as many examples as the filter kept.
//!
//! The floors are below what every seed of the reduced run reached (lab/docs/
//! world-experiment.md, attempt 15). Not asserted, because the record does not support
//! it on every seed: that the kept pairs are right more often than all of them (seeds
//! 0, 1, 2: 78%, 79%, 80% against 81%, 73%, 70%). Whether the rounds lift the judge's
//! held-out accuracy depends on the machine's rounding (attempt 12), so that is
//! `make world-test`'s assertion, not this one's. About 5 minutes on 2 cores.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;
use vlmjudge::data::read_jsonl;
use vlmjudge::improve::Manifest;
use vlmjudge_lab::world::grade::{grade_labels, kept_pair_ids};

/// Closed pairs come from unanimous votes of 16 samples: a base that answers the
/// world's questions well above chance is rarely unanimous and wrong.
const CLOSED_FLOOR: f64 = 0.75;
/// An open pair's injected description is worse than the model's own unless the edit
/// happens to touch a detail the model already had wrong.
const OPEN_FLOOR: f64 = 0.5;
/// Fewer graded pairs than this would make the floors noise (the loop makes 48 to 105
/// closed and 150 open pairs here, the filter keeps 14 to 20 closed and 47 to 55 open).
const MIN_PAIRS: usize = 30;
const MIN_KEPT: usize = 10;

#[test]
fn the_loops_labels_name_the_better_response_without_labels_given() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/world-experiment.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg(out)
        .env("BIN", common::product_binary())
        .env("LAB", env!("CARGO_BIN_EXE_vlmjudge-lab"))
        .env("WORLD_PRETRAIN", "12000")
        .env("WORLD_POOL", "150")
        .env("WORLD_HELDOUT", "100")
        .env("ROUNDS", "1")
        .env("ABLATION_ROUNDS", "1")
        .env("LOOP_TRAIN_FLAGS", "--full --epochs 1 --lr 1e-4 --batch 4 --grad-accum 2 --warmup 0.05")
        .status()
        .unwrap();
    assert!(status.success(), "{} failed: {status}", script.display());

    // The loop saw prompts only: no answer, label or target reaches it.
    let world = out.join("world");
    for (line, prompt) in read_jsonl::<Json>(&world.join("pool.jsonl")).unwrap() {
        for key in ["answer", "label", "target", "chosen", "rejected", "response_a", "response_b"] {
            assert!(prompt.get(key).is_none(), "pool prompt on line {line} carries `{key}`: {prompt}");
        }
    }

    let round = out.join("loop/round-1");
    let all = grade_labels(&world, &round.join("pairs.jsonl"), None).unwrap();
    eprintln!("the loop's labels, graded against the truth:\n{}", all.summary());
    for (kind, tally, floor) in [("closed", all.closed, CLOSED_FLOOR), ("open", all.open, OPEN_FLOOR)] {
        assert!(tally.total() >= MIN_PAIRS, "only {} {kind} pairs: {}", tally.total(), all.summary());
        assert!(tally.accuracy() >= floor, "{kind} labels {:.3} right, below {floor}", tally.accuracy());
    }

    let filtered = out.join("judge-filter/round-1");
    let kept = kept_pair_ids(&filtered.join("sft.jsonl")).unwrap();
    let graded = grade_labels(&world, &filtered.join("pairs.jsonl"), Some(&kept)).unwrap();
    eprintln!("the {} pairs the judge filter kept:\n{}", kept.len(), graded.summary());
    for (kind, tally, floor) in [("closed", graded.closed, CLOSED_FLOOR), ("open", graded.open, OPEN_FLOOR)] {
        assert!(tally.total() >= MIN_KEPT, "the filter kept {} {kind} pairs: {}", tally.total(), graded.summary());
        assert!(tally.accuracy() >= floor, "kept {kind} labels {:.3} right, below {floor}", tally.accuracy());
    }
    let n_pairs = all.closed.total() + all.open.total();
    assert!(!kept.is_empty() && kept.len() < n_pairs, "the filter kept {} of {n_pairs} pairs", kept.len());

    let examples = |run: &str| {
        let rounds = Manifest::read_run(&out.join(run)).unwrap();
        rounds[1].filter.as_ref().expect("round 1 was filtered").examples
    };
    assert_eq!(examples("ablation"), examples("judge-filter"), "the ablation trains on as many examples");
}
