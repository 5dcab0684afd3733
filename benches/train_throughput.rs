//! CPU training throughput, as a ratio against a baseline measured in the same run: a
//! step's micro-batches computed side by side, one per core, each with single-threaded
//! matmuls (`vlmjudge train`'s default), against one micro-batch at a time with every
//! core on its matmuls (`--parallel-micro-batches 1`, how the trainer ran before).
//!
//! The model is the procedural world's base (`vlmjudge-lab fixture --kind world-base`: width 128,
//! 3 layers, a 16-token image encoder) and the data the loop's kind of judge examples
//! (`filter --traces synthetic` on a small world's held-out pairs), trained with the
//! loop's recipe (full fine-tuning, batch 4, grad-accum 2). Every run is its own
//! `vlmjudge train` process, because candle sizes its thread pools once per process;
//! the runs alternate, and each setting's median is reported. Both settings must write
//! byte-identical checkpoints.

use std::path::{Path, PathBuf};
use std::process::Command;

use vlmjudge_lab::fixture::{write_fixture, FixtureKind};
use vlmjudge_lab::world::{write_world, WorldConfig};

const STEPS: u32 = 60;
const REPEATS: usize = 3;

fn vlmjudge(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vlmjudge")).args(args).output().expect("vlmjudge runs");
    assert!(out.status.success(), "vlmjudge {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Trains `STEPS` steps into `out` and returns the tokens/s the CLI reports (the steps
/// alone: loading and tokenizing are not counted).
fn train(dir: &Path, out: &Path, extra: &[&str]) -> f64 {
    let _ = std::fs::remove_dir_all(out);
    let path = |p: &str| dir.join(p).to_string_lossy().into_owned();
    let mut args: Vec<String> = [
        "train",
        "--full",
        "--quiet",
        "--base",
        &path("fixture/model.gguf"),
        "--mmproj",
        &path("fixture/mmproj.gguf"),
        "--data",
        &path("examples.jsonl"),
        "--image-cache",
        &path("image-cache"),
        "--epochs",
        "6",
        "--lr",
        "1e-4",
        "--batch",
        "4",
        "--grad-accum",
        "2",
        "--warmup",
        "0.05",
        "--save-every",
        "0",
        "--stop-after",
        &STEPS.to_string(),
        "--out",
        &out.to_string_lossy(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stdout = vlmjudge(&args);
    let line = stdout.lines().find_map(|l| l.strip_prefix("throughput: ")).expect("a throughput line");
    line.trim_end_matches(" tokens/s").parse().expect("a number")
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn checkpoint(out: &Path) -> Vec<u8> {
    std::fs::read(out.join(format!("checkpoint/trainable-{STEPS:08}.safetensors"))).expect("a checkpoint")
}

fn main() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path();
    let path = |p: &str| dir.join(p).to_string_lossy().into_owned();
    let world = WorldConfig { seed: 0, pretrain: 100, pool: 10, heldout: 400, ..WorldConfig::default() };
    write_world(&dir.join("world"), &world).expect("the world is written");
    write_fixture(FixtureKind::WorldBase, &dir.join("fixture"), 0, &vlmjudge::demo_model_path())
        .expect("the world's base model is written");
    vlmjudge(&[
        "filter",
        "--pairs",
        &path("world/heldout.jsonl"),
        "--traces",
        "synthetic",
        "--policy",
        "all",
        "--template",
        &path("world/template.json"),
        "--out",
        &path("examples.jsonl"),
    ]);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("training {STEPS} steps of the world loop's recipe on {cores} cores, {REPEATS} runs each");

    let (serial_out, side_out): (PathBuf, PathBuf) = (dir.join("serial"), dir.join("side-by-side"));
    train(dir, &serial_out, &["--parallel-micro-batches", "1"]); // warm-up: encodes the images once
    let (mut serial, mut side) = (Vec::new(), Vec::new());
    for _ in 0..REPEATS {
        serial.push(train(dir, &serial_out, &["--parallel-micro-batches", "1"]));
        side.push(train(dir, &side_out, &[]));
    }
    assert!(checkpoint(&serial_out) == checkpoint(&side_out), "the two settings trained different weights");
    let (serial, side) = (median(serial), median(side));
    println!("one micro-batch at a time, matmuls on every core: {serial:>8.0} tokens/s (baseline)");
    println!("micro-batches side by side, one core each:        {side:>8.0} tokens/s ({:.2}x)", side / serial);
    println!("checkpoints byte-identical: yes");
}
