//! The self-improvement loop on the real demo model: synth, filter, a 2-round
//! `improve` with tiny settings, resuming after a kill, and sharding.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{demo_model, demo_model_path};
use vlmjudge::data::{read_jsonl, read_pairs};
use vlmjudge::improve::{
    filter_file, skipped_path, synth_file, verdicts_path, write_synthetic_traces, FilterParams, Inject, KeepPolicy,
    Manifest, SkippedPrompt, Stage, SynthPair, SynthParams, TraceExample, TraceSource, Unanimous,
};
use vlmjudge::judge::{Choice, Judge, JudgeParams, Mode, SamplingParams, Template, Verdict};
use vlmjudge::progress::NoProgress;
use vlmjudge::shard::Shard;
use vlmjudge::synth::{check_edit, normalize_answer, QuestionKind};

const CLOSED: [&str; 4] = [
    "What is 2 + 2? Answer with a number.",
    "What colour is the sky on a clear day? Answer with one word.",
    "How many legs does a spider have? Answer with a number.",
    "Is water wet? Answer yes or no.",
];
const OPEN: [&str; 3] = [
    "Describe a red car parked next to three green trees.",
    "Describe a kitchen with two white cups on a wooden table.",
    "Write two sentences about a small dog playing on the left side of a park.",
];

fn write_pool(dir: &Path) -> PathBuf {
    write_prompts(dir, "pool.jsonl", &OPEN)
}

/// The closed questions, then `open` ones (their kind left to detection).
fn write_prompts(dir: &Path, name: &str, open: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut text = String::new();
    for (i, q) in CLOSED.iter().enumerate() {
        text += &format!(
            "{}\n",
            serde_json::json!({"id": format!("c{i}"), "image": null, "question": q, "kind": "closed"})
        );
    }
    for (i, q) in open.iter().enumerate() {
        text += &format!("{}\n", serde_json::json!({"id": format!("o{i}"), "image": null, "question": q}));
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn small_synth() -> SynthParams {
    SynthParams {
        samples: 6,
        threshold: 2,
        closed_max_tokens: 12,
        open_max_tokens: 48,
        inject: Inject::Auto,
        threads: 2,
        parallel: 2,
        ctx_per_seq: 256,
        ..SynthParams::default()
    }
}

fn reason_judge() -> JudgeParams {
    JudgeParams {
        mode: Mode::Reason,
        max_tokens: 24,
        sampling: SamplingParams { temperature: 0.6, top_k: 50, top_p: 0.9 },
        threads: 2,
        parallel: 4,
        ctx_per_seq: 512,
        ..JudgeParams::default()
    }
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[test]
fn synth_makes_distinct_labelled_pairs_records_skips_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let pool = write_pool(dir.path());
    let out = dir.path().join("pairs.jsonl");
    let counts = synth_file(demo_model(), &pool, &out, &small_synth(), Shard::ALL, &NoProgress).unwrap();
    assert_eq!((counts.prompts, counts.closed, counts.open), (7, 4, 3));
    let (pairs, skipped) = synth_output(&out);
    assert_eq!(pairs.len() + skipped.len(), 7, "every prompt ends as a pair or a recorded skip");
    assert_eq!(counts.pairs, pairs.len());
    assert!(!pairs.is_empty(), "the demo model made no pair at all; skips: {skipped:?}");
    for p in &pairs {
        let (a, b) = (&p.pair.response_a, &p.pair.response_b);
        assert_ne!(norm(a), norm(b), "{}: a pair of identical responses", p.pair.id);
        assert!(matches!(p.pair.label.as_deref(), Some("A" | "B")));
        if p.method != "majority" {
            let (better, worse) = if p.pair.label.as_deref() == Some("A") { (a, b) } else { (b, a) };
            check_edit(better, worse, 0.5)
                .unwrap_or_else(|e| panic!("{}: an edit that fails the check: {e}", p.pair.id));
        } else {
            let (votes, samples) = p.votes.unwrap();
            assert!(votes >= 2 && samples == 6, "{}: majority of {votes}/{samples}", p.pair.id);
        }
    }
    for s in &skipped {
        assert!(!s.reason.is_empty());
    }
    // A rerun finds everything done and writes nothing.
    let before = std::fs::read(&out).unwrap();
    let again = synth_file(demo_model(), &pool, &out, &small_synth(), Shard::ALL, &NoProgress).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert_eq!(again, counts);
}

#[test]
fn resample_pairs_each_unanimous_answer_with_the_models_hotter_runner_up() {
    let dir = tempfile::tempdir().unwrap();
    let pool = write_prompts(dir.path(), "closed.jsonl", &[]);
    let out = dir.path().join("pairs.jsonl");
    // Greedy votes are unanimous; a threshold of every sample pairs only those.
    let params = SynthParams {
        sampling: SamplingParams { temperature: 0.0, top_k: 50, top_p: 0.9 },
        threshold: 6,
        unanimous: Unanimous::Resample,
        resample_temperature: 1.5,
        ..small_synth()
    };
    let counts = synth_file(demo_model(), &pool, &out, &params, Shard::ALL, &NoProgress).unwrap();
    let (pairs, skipped) = synth_output(&out);
    assert_eq!(pairs.len() + skipped.len(), 4, "every prompt ends as a pair or a recorded skip");
    assert_eq!(counts.pairs, pairs.len());
    assert!(!pairs.is_empty(), "no hotter sample differed for any question: {skipped:?}");
    for p in &pairs {
        assert_eq!((p.method.as_str(), p.votes), ("resampled", Some((6, 6))), "{}", p.pair.id);
        let (a, b) = (&p.pair.response_a, &p.pair.response_b);
        assert_ne!(normalize_answer(a), normalize_answer(b), "{}: the runner-up is another answer", p.pair.id);
    }
    for s in &skipped {
        assert!(s.reason.contains("hotter samples"), "{}: {}", s.id, s.reason);
    }
}

/// The pairs a synth run wrote to `out`, and the prompts it skipped.
fn synth_output(out: &Path) -> (Vec<SynthPair>, Vec<SkippedPrompt>) {
    let pairs = read_jsonl(out).unwrap().into_iter().map(|(_, p)| p).collect();
    let skipped = read_jsonl(&skipped_path(out)).unwrap().into_iter().map(|(_, s)| s).collect();
    (pairs, skipped)
}

/// Labelled text pairs where the better answer is sometimes A and sometimes B.
fn labelled_pairs(dir: &Path) -> PathBuf {
    let path = dir.join("labelled.jsonl");
    let mut text = String::new();
    for (i, pair) in common::sample_pairs(8).into_iter().enumerate() {
        let (a, b, label) =
            if i % 2 == 0 { (pair.response_a, pair.response_b, "A") } else { (pair.response_b, pair.response_a, "B") };
        text += &format!(
            "{}\n",
            serde_json::json!({"id": pair.id, "image": null, "question": pair.question, "response_a": a, "response_b": b, "label": label})
        );
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// What the filter must keep, recomputed from its verdicts file.
fn expected_traces(pairs: &Path, verdicts: &Path, policy: KeepPolicy, keep_forced: bool) -> BTreeSet<String> {
    let labels: BTreeMap<String, Choice> = read_pairs(pairs)
        .unwrap()
        .into_iter()
        .map(|p| (p.id, if p.label.as_deref() == Some("A") { Choice::A } else { Choice::B }))
        .collect();
    let mut kept = BTreeSet::new();
    for (_, v) in read_jsonl::<Verdict>(verdicts).unwrap() {
        let usable = |o: &&vlmjudge::judge::OrderVerdict| {
            matches!(o.verdict, Choice::A | Choice::B) && (keep_forced || !o.forced)
        };
        let name = |o: &vlmjudge::judge::OrderVerdict| format!("{}/{:?}", v.id, o.order);
        let right: Vec<String> =
            v.orders.iter().filter(usable).filter(|o| o.verdict == labels[&v.id]).map(name).collect();
        match policy {
            KeepPolicy::All => kept.extend(v.orders.iter().filter(usable).map(name)),
            KeepPolicy::Combined if v.verdict == labels[&v.id] => kept.extend(v.orders.iter().map(name)),
            KeepPolicy::Combined => {}
            KeepPolicy::OneOrder => kept.extend(right),
            _ if right.len() == 2 => kept.extend(right),
            _ => {}
        }
    }
    kept
}

#[test]
fn filter_keeps_exactly_the_traces_whose_verdict_matches_the_label() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = labelled_pairs(dir.path());
    let policies = [
        (KeepPolicy::BothOrders, "both"),
        (KeepPolicy::OneOrder, "one"),
        (KeepPolicy::Combined, "combined"),
        (KeepPolicy::All, "all"),
    ];
    for (policy, name) in policies {
        let out = dir.path().join(format!("sft-{name}.jsonl"));
        let params = FilterParams { policy, keep_forced: true, seed: 1, ..FilterParams::default() };
        let mut judge = Judge::new(demo_model(), reason_judge()).unwrap();
        let counts = filter_file(&mut judge, &pairs, &out, &params, Shard::ALL, &NoProgress).unwrap();
        let expected = expected_traces(&pairs, &verdicts_path(&out), policy, true);
        let examples: Vec<TraceExample> = read_jsonl(&out).unwrap().into_iter().map(|(_, e)| e).collect();
        let got: BTreeSet<String> = examples.iter().map(|e| e.example.id.clone()).collect();
        assert_eq!(counts.pairs, 8);
        match policy {
            KeepPolicy::BothOrders | KeepPolicy::Combined | KeepPolicy::All => assert_eq!(got, expected),
            // One order: balancing may drop some of the right traces, never add others.
            KeepPolicy::OneOrder => {
                assert!(got.is_subset(&expected), "kept traces that were wrong: {:?}", got.difference(&expected));
                assert!(!got.is_empty() || expected.is_empty());
                let a = examples.iter().filter(|e| e.shown == "A").count();
                assert_eq!(a * 2, examples.len(), "shown letters are not balanced");
            }
        }
        let labels: BTreeMap<String, String> =
            read_pairs(&pairs).unwrap().into_iter().map(|p| (p.id, p.label.unwrap())).collect();
        for e in &examples {
            if policy != KeepPolicy::All {
                let swapped = if e.shown == "A" { "B" } else { "A" };
                let original = if e.order == vlmjudge::judge::Order::AB { e.shown.as_str() } else { swapped };
                assert_eq!(original, labels[&e.pair_id], "{}: a kept trace contradicts the label", e.example.id);
            }
            let letter = format!("[[{}]]", e.shown);
            assert!(e.example.target.ends_with(&letter), "target {:?} does not end with {letter}", e.example.target);
            assert_eq!(e.example.target.matches("[[").count(), 1, "one verdict per target");
            assert_eq!(e.example.messages.len(), 2);
        }
    }
}

const WORLD_TRACE: &str = r#"{"closed": "The answer is {better}. Answer A: {answer_a}, {mark_a}. Answer B: {answer_b}, {mark_b}.",
    "open": "The image shows: {better} Answer A: {mark_a}. Answer B: {mark_b}."}"#;

/// A template with the world's trace patterns.
fn trace_template() -> Template {
    Template { trace: Some(serde_json::from_str(WORLD_TRACE).unwrap()), ..Template::default() }
}

#[test]
fn synthetic_traces_state_the_labelled_answer_with_or_without_a_judge() {
    let dir = tempfile::tempdir().unwrap();
    // A closed pair whose kind synth recorded, and an open one whose kind is detected.
    let pairs = dir.path().join("pairs.jsonl");
    let lines = [
        serde_json::json!({"id": "c", "question": "How many?", "response_a": "five", "response_b": "four",
            "label": "B", "kind": "closed"}),
        serde_json::json!({"id": "o", "question": "Describe the image.", "response_a": "A red cup.",
            "response_b": "A blue cup.", "label": "A"}),
    ];
    std::fs::write(&pairs, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let params = FilterParams { policy: KeepPolicy::All, traces: TraceSource::Synthetic, ..FilterParams::default() };
    assert!(!params.needs_judge());
    let out = dir.path().join("sft.jsonl");
    let counts = write_synthetic_traces(&pairs, &out, &trace_template(), &params, Shard::ALL).unwrap();
    assert_eq!((counts.pairs, counts.kept_pairs, counts.examples), (2, 2, 4));
    let targets: BTreeMap<String, String> =
        read_jsonl::<TraceExample>(&out).unwrap().into_iter().map(|(_, e)| (e.example.id, e.example.target)).collect();
    let expected = [
        ("c/AB", "The answer is four. Answer A: five, wrong. Answer B: four, right.\n[[B]]"),
        ("c/BA", "The answer is four. Answer A: four, right. Answer B: five, wrong.\n[[A]]"),
        ("o/AB", "The image shows: A red cup. Answer A: right. Answer B: wrong.\n[[A]]"),
        ("o/BA", "The image shows: A red cup. Answer A: wrong. Answer B: right.\n[[B]]"),
    ];
    assert_eq!(targets, expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());

    // With a judge, the policy picks the pairs and the traces are written: the same
    // examples as with the judge's own traces, whose targets now state the label.
    let pairs = labelled_pairs(dir.path());
    let judged = dir.path().join("judged.jsonl");
    let params = FilterParams { policy: KeepPolicy::OneOrder, keep_forced: true, seed: 1, ..FilterParams::default() };
    let judge_params = JudgeParams { template: trace_template(), ..reason_judge() };
    let mut judge = Judge::new(demo_model(), judge_params).unwrap();
    filter_file(&mut judge, &pairs, &judged, &params, Shard::ALL, &NoProgress).unwrap();
    let written = dir.path().join("written.jsonl");
    std::fs::copy(verdicts_path(&judged), verdicts_path(&written)).unwrap();
    let synthetic = FilterParams { traces: TraceSource::Synthetic, ..params };
    filter_file(&mut judge, &pairs, &written, &synthetic, Shard::ALL, &NoProgress).unwrap();
    let examples =
        |path: &Path| -> Vec<TraceExample> { read_jsonl(path).unwrap().into_iter().map(|(_, e)| e).collect() };
    let (judged, written) = (examples(&judged), examples(&written));
    let ids = |e: &[TraceExample]| e.iter().map(|e| e.example.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&judged), ids(&written));
    let records: BTreeMap<String, _> = read_pairs(&pairs).unwrap().into_iter().map(|p| (p.id.clone(), p)).collect();
    for e in &written {
        let pair = &records[&e.pair_id];
        let better = if pair.label.as_deref() == Some("A") { &pair.response_a } else { &pair.response_b };
        // No kind recorded: "How many legs ...?" is detected as closed.
        assert_eq!(QuestionKind::detect(&pair.question), QuestionKind::Closed);
        let statement = format!("The answer is {better}. Answer A: ");
        assert!(e.example.target.starts_with(&statement), "{}: {:?}", e.example.id, e.example.target);
        assert!(e.example.target.ends_with(&format!("[[{}]]", e.shown)));
    }
}

#[test]
fn max_per_question_caps_each_closed_question_and_leaves_open_ones() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = dir.path().join("pairs.jsonl");
    let mut text = String::new();
    for i in 0..6 {
        for (kind, question) in [("closed", "How many?"), ("closed", "What colour?"), ("open", "Describe the image.")] {
            let line = serde_json::json!({"id": format!("{kind}-{question}-{i}"), "question": question,
                "response_a": format!("{i}"), "response_b": "x", "label": "A", "kind": kind});
            text += &format!("{line}\n");
        }
    }
    std::fs::write(&pairs, text).unwrap();
    let out = dir.path().join("sft.jsonl");
    let params = FilterParams {
        policy: KeepPolicy::All,
        traces: TraceSource::Synthetic,
        max_per_question: Some(2),
        ..FilterParams::default()
    };
    let counts = write_synthetic_traces(&pairs, &out, &trace_template(), &params, Shard::ALL).unwrap();
    assert_eq!((counts.pairs, counts.kept_pairs, counts.examples), (18, 10, 20));
    let examples: Vec<TraceExample> = read_jsonl(&out).unwrap().into_iter().map(|(_, e)| e).collect();
    let kept: BTreeSet<&str> = examples.iter().map(|e| e.pair_id.as_str()).collect();
    for prefix in ["closed-How many?", "closed-What colour?"] {
        assert_eq!(kept.iter().filter(|id| id.starts_with(prefix)).count(), 2, "{prefix}: {kept:?}");
    }
    assert_eq!(kept.iter().filter(|id| id.starts_with("open-")).count(), 6);
    // The draw depends on the seed alone: the same file again is byte-identical.
    let again = dir.path().join("again.jsonl");
    write_synthetic_traces(&pairs, &again, &trace_template(), &params, Shard::ALL).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
}

fn vlmjudge() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vlmjudge"));
    cmd.env("VLMJUDGE_CACHE", std::env::temp_dir().join("vlmjudge-improve-test-cache"));
    cmd
}

fn improve_command(run: &Path, pool: &Path, bench: &Path) -> Command {
    let mut cmd = vlmjudge();
    cmd.args(["improve", "--quiet", "--threads", "2", "--samples", "6", "--threshold", "2"])
        .args(["--closed-max-tokens", "12", "--open-max-tokens", "40", "--synth-ctx", "256"])
        .args(["--keep-forced", "--max-tokens", "16", "--ctx-per-seq", "512"])
        .args(["--lora-rank", "4", "--lora-alpha", "8", "--batch", "2", "--grad-accum", "1", "--max-len", "384"])
        .args(["--eval-split", "0", "--quant", "q8_0"])
        .arg("--base")
        .arg(demo_model_path())
        .arg("--prompts")
        .arg(pool)
        .arg("--bench")
        .arg(bench)
        .arg("--out")
        .arg(run);
    cmd
}

/// Two rounds that keep every judged pair (`--policy all`; the judge still writes its
/// traces): the demo model has no judging signal, so on a handful of pairs whether any
/// verdict agrees with the synthetic label is luck (it moved to none of 5 when the
/// synth prompts gained SmolLM2's default system turn), and this is a test of the
/// rounds and their resumption, not of the filter.
fn two_rounds_command(run: &Path, pool: &Path, bench: &Path) -> Command {
    let mut cmd = improve_command(run, pool, bench);
    cmd.args(["--rounds", "2", "--policy", "all"]);
    cmd
}

#[test]
fn two_rounds_complete_and_a_killed_run_resumes_without_redoing_stages() {
    let dir = tempfile::tempdir().unwrap();
    let pool = write_pool(dir.path());
    let bench = labelled_pairs(dir.path());
    let run = dir.path().join("run");
    // Start, and kill once round 1's filter is done (mid-round).
    let mut child = two_rounds_command(&run, &pool, &bench).spawn().unwrap();
    let started = Instant::now();
    loop {
        let done = Manifest::read(&run.join("round-1")).ok().flatten().is_some_and(|m| m.is_done(Stage::Filter));
        if done || started.elapsed() > Duration::from_secs(600) {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("improve exited early with {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = Manifest::read(&run.join("round-1")).unwrap().expect("round 1 manifest");
    assert!(killed.is_done(Stage::Synth) && killed.is_done(Stage::Filter));
    let pairs_before = std::fs::read(run.join("round-1/pairs.jsonl")).unwrap();
    let sft_before = std::fs::read(run.join("round-1/sft.jsonl")).unwrap();

    let output = two_rounds_command(&run, &pool, &bench).output().unwrap();
    assert!(output.status.success(), "rerun failed: {}", String::from_utf8_lossy(&output.stderr));
    let manifests = Manifest::read_run(&run).unwrap();
    assert_eq!(manifests.len(), 3, "round 0 (base) and two rounds");
    let round1 = &manifests[1];
    assert_eq!(
        round1.stage_seconds[&Stage::Synth],
        killed.stage_seconds[&Stage::Synth],
        "synth ran again after the kill"
    );
    assert_eq!(
        round1.stage_seconds[&Stage::Filter],
        killed.stage_seconds[&Stage::Filter],
        "filter ran again after the kill"
    );
    assert_eq!(std::fs::read(run.join("round-1/pairs.jsonl")).unwrap(), pairs_before);
    assert_eq!(std::fs::read(run.join("round-1/sft.jsonl")).unwrap(), sft_before);
    assert!(manifests[0].eval.is_some(), "the base judge is evaluated");
    for m in &manifests[1..] {
        for stage in Stage::ALL {
            assert!(m.is_done(stage), "round {} did not finish {stage}", m.round);
        }
        let judge = &m.checkpoints["judge"];
        assert!(judge.path.ends_with(format!("round-{}/judge-q8_0.gguf", m.round)));
        assert_eq!(vlmjudge::fsutil::sha256_file(&judge.path).unwrap().0, judge.sha256);
        assert!(m.checkpoints.contains_key("adapter") && m.checkpoints.contains_key("full"));
        let train = m.train.as_ref().unwrap();
        assert!(train.steps > 0 && !train.loss.is_empty());
        let eval = m.eval.as_ref().unwrap();
        assert_eq!(eval.n, 8);
        assert!((0.0..=1.0).contains(&eval.overall));
        assert!(m.filter.as_ref().unwrap().examples > 0);
    }
    // Round 2 filtered with round 1's judge.
    assert_eq!(manifests[2].judge.as_ref().unwrap().sha256, manifests[1].checkpoints["judge"].sha256);
    // Everything done: a third run changes nothing.
    let output = two_rounds_command(&run, &pool, &bench).output().unwrap();
    assert!(output.status.success(), "third run failed: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(Manifest::read_run(&run).unwrap(), manifests);

    // Another arm of the experiment takes these pairs instead of synthesizing them.
    let arm = dir.path().join("arm");
    let output = improve_command(&arm, &pool, &bench)
        .args(["--rounds", "1", "--policy", "all", "--traces", "synthetic", "--pairs-of"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(output.status.success(), "the arm failed: {}", String::from_utf8_lossy(&output.stderr));
    let round1 = Manifest::read(&arm.join("round-1")).unwrap().unwrap();
    assert_eq!(round1.synth, manifests[1].synth);
    let records = |path: PathBuf| read_jsonl::<serde_json::Value>(&path).unwrap();
    assert_eq!(records(arm.join("round-1/pairs.jsonl")), records(run.join("round-1/pairs.jsonl")));
    assert!(round1.is_done(Stage::Eval), "the arm trains and evaluates on the shared pairs");
    // One whose synthesis would differ is refused before it writes any pairs.
    let other = dir.path().join("other");
    let output = improve_command(&other, &pool, &bench)
        .args(["--rounds", "1", "--policy", "all", "--traces", "synthetic", "--synth-temperature", "0.9"])
        .arg("--pairs-of")
        .arg(&run)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("differs in its synth settings"), "{stderr}");
    assert!(!other.join("round-1/pairs.jsonl").exists());
}

/// Verdict lines without their timing, which differs between runs.
fn without_timing(bytes: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("ms");
            v
        })
        .collect()
}

#[test]
fn sharded_synth_and_filter_merged_equal_the_single_run() {
    use vlmjudge::data::{merge_jsonl, MergeOptions};
    let dir = tempfile::tempdir().unwrap();
    let pool = write_pool(dir.path());
    let order = MergeOptions { order: Some(pool.clone()), allow_partial: false };
    let synth = |shard: Shard, name: &str| {
        let out = dir.path().join(name);
        synth_file(demo_model(), &pool, &out, &small_synth(), shard, &NoProgress).unwrap();
        out
    };
    let whole = synth(Shard::ALL, "pairs.jsonl");
    let parts: Vec<PathBuf> = (0..3).map(|k| synth(Shard::new(k, 3).unwrap(), &format!("pairs.{k}.jsonl"))).collect();
    let (merged, _) = merge_jsonl(&parts, &order).unwrap();
    let (single, _) = merge_jsonl(std::slice::from_ref(&whole), &order).unwrap();
    assert!(!single.is_empty());
    assert_eq!(String::from_utf8(merged).unwrap(), String::from_utf8(single).unwrap());

    // The filter's verdicts, judged in two shards, equal one run's (sampled reasoning).
    let params = FilterParams { policy: KeepPolicy::OneOrder, keep_forced: true, seed: 3, ..FilterParams::default() };
    let filter = |shard: Shard, name: &str| {
        let out = dir.path().join(name);
        let mut judge = Judge::new(demo_model(), reason_judge()).unwrap();
        filter_file(&mut judge, &whole, &out, &params, shard, &NoProgress).unwrap();
        verdicts_path(&out)
    };
    let by_id = MergeOptions::default();
    let single = filter(Shard::ALL, "sft.jsonl");
    let parts: Vec<PathBuf> = (0..2).map(|k| filter(Shard::new(k, 2).unwrap(), &format!("sft.{k}.jsonl"))).collect();
    let (merged, _) = merge_jsonl(&parts, &by_id).unwrap();
    let (single, _) = merge_jsonl(&[single], &by_id).unwrap();
    assert_eq!(without_timing(&merged), without_timing(&single));
}
