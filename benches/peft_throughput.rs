//! LoRA training throughput side by side with PyTorch + PEFT, in one run: the same
//! model, the same examples tokenized once, the same LoRA and the same threads.
//!
//! - vlmjudge: `vlmjudge train` on the demo model (SmolLM2-135M-Instruct Q4_1,
//!   dequantized to f32), LoRA rank 16 (alpha 32, dropout 0.05) on q, k, v, o, gate, up
//!   and down, 4 examples per optimizer step, AdamW at 2e-4 with clipping at 1.0.
//! - the peer: `benches/peft_peer.py` with the python of `scripts/peft-peer.sh` (torch,
//!   transformers, peft and gguf, pinned, in a virtual environment of their own):
//!   transformers loads the same GGUF with `gguf_file=` (dequantized to f32), PEFT adds
//!   the same LoRA, and the same examples go in 4 per step.
//!
//! The examples are 64 judge-style SFT examples (the default judge prompt, two answers,
//! a short reasoning and the verdict as the target). The bench tokenizes them with the
//! trainer's own encoder and hands the peer the token ids and prompt lengths, so both
//! sides train on the same tokens with the loss on the same positions.
//!
//! vlmjudge runs twice: with `--batch 4` (the step's 4 examples in one padded
//! micro-batch, as the peer computes them) and with `--batch 1 --grad-accum 4` (the
//! same 4 examples per optimizer step, each its own micro-batch without padding, as
//! many side by side as there are cores: how the trainer uses several cores; the loss
//! and gradient are the same, see `train::step`).
//!
//! Each run is its own process. It prints each run's tokens/s (real tokens over the
//! steps' time, loading excluded: both sides time the same work), its peak resident
//! memory (the kernel's high-water mark for the process, from `wait4`), the ratios
//! and the final losses.
//!
//! `make bench-peft`; PEFT_PYTHON (the peer's python), VLMJUDGE_BENCH_THREADS (default:
//! physical cores), VLMJUDGE_BENCH_EPOCHS (default 2) and VLMJUDGE_BENCH_DIR (keep the
//! examples, tokens and outputs there) change the run.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use vlmjudge::engine::{default_threads, Model, ModelParams};
use vlmjudge::judge::{Template, DEFAULT_SYSTEM};
use vlmjudge::train::{Encoded, Encoder, Message, SftExample};

const EXAMPLES: usize = 64;
const BATCH: usize = 4;
const MAX_LEN: usize = 1024;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Judge-style examples of varied length: the default prompt in one order, and as the
/// target the reasoning the loop's filter writes followed by the verdict.
fn examples() -> Vec<SftExample> {
    let template = Template::default();
    let things = [("cat", 4), ("spider", 8), ("bird", 2), ("ant", 6), ("horse", 4), ("crab", 10), ("beetle", 6)];
    (0..EXAMPLES)
        .map(|i| {
            let (name, legs) = things[i % things.len()];
            let wrong = legs + 2 + i % 3;
            let detail = " It stands still on the ground, facing left, in bright light.".repeat(1 + i % 4);
            let right = format!("The {name} in the picture has {legs} legs.{detail}");
            let bad =
                format!("The {name} in the picture has {wrong} legs.{}", " Its body is clearly visible.".repeat(i % 3));
            let a_is_right = i % 2 == 0;
            let (a, b) = if a_is_right { (&right, &bad) } else { (&bad, &right) };
            let (good, poor) = if a_is_right { ("A", "B") } else { ("B", "A") };
            let target = format!(
                "Answer {good} says the {name} has {legs} legs, which is what the image shows. Answer {poor} says \
                 {wrong}, which contradicts the image.{}\n[[{good}]]",
                " The rest of both answers describes the scene and does not change this.".repeat(i % 3)
            );
            SftExample {
                id: format!("ex{i}"),
                image: None,
                messages: vec![
                    Message { role: "system".into(), content: DEFAULT_SYSTEM.into() },
                    Message {
                        role: "user".into(),
                        content: template.fill_user(&format!("How many legs does the {name} have? (item {i})"), a, b),
                    },
                ],
                target,
            }
        })
        .collect()
}

/// Writes the examples for `vlmjudge train` and their tokens for the peer; returns
/// (tokens, target tokens) over all examples.
fn write_examples(dir: &Path, model: &Path) -> (usize, usize) {
    let model = Model::load(model, None, &ModelParams::default()).expect("the demo model loads");
    let encoder = Encoder::new(&model).expect("an encoder");
    let data = dir.join("examples.jsonl");
    let (mut sft, mut tokens) = (Vec::new(), Vec::new());
    let (mut n, mut n_target) = (0, 0);
    for (line, ex) in examples().iter().enumerate() {
        let Encoded::Ok(enc) = encoder.encode(ex, &data, line + 1, MAX_LEN).expect("the example encodes") else {
            panic!("example {} does not fit {MAX_LEN} tokens", ex.id)
        };
        n += enc.len();
        n_target += enc.n_target();
        writeln!(sft, "{}", serde_json::to_string(ex).unwrap()).unwrap();
        writeln!(tokens, "{}", serde_json::json!({"tokens": enc.tokens, "n_prompt": enc.n_prompt})).unwrap();
    }
    std::fs::write(&data, sft).unwrap();
    std::fs::write(dir.join("tokens.jsonl"), tokens).unwrap();
    (n, n_target)
}

/// What one side's run printed and its peak resident memory.
struct Run {
    tokens_per_s: f64,
    peak_mib: f64,
    final_loss: String,
    trainable: String,
    wall_s: f64,
}

/// Runs `cmd` to completion and reads its peak resident set from `wait4`'s rusage (the
/// kernel's own high-water mark for that process alone).
// wait4 below reaps the child, which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run(cmd: &mut Command) -> Run {
    let started = Instant::now();
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the command starts");
    let pid = child.id() as libc::pid_t;
    // Read the pipes on threads so the child never blocks on a full pipe.
    let (mut out, mut err) = (child.stdout.expect("piped"), child.stderr.expect("piped"));
    let out = std::thread::spawn(move || std::io::read_to_string(&mut out).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(&mut err).unwrap_or_default());
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: pid is our own child, not yet waited for (Child is consumed above and
    // never waits); status and usage are valid for writes.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall_s = started.elapsed().as_secs_f64();
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    assert!(
        waited == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed:\n{stdout}\n{stderr}"
    );
    let field = |prefix: &str| stdout.lines().find_map(|l| l.strip_prefix(prefix)).map(str::to_string);
    let tokens_per_s = field("throughput: ").expect("a throughput line");
    Run {
        tokens_per_s: tokens_per_s.trim_end_matches(" tokens/s").parse().expect("a number"),
        peak_mib: usage.ru_maxrss as f64 / 1024.0,
        final_loss: field("final train loss: ")
            .and_then(|l| l.split_whitespace().next().map(str::to_string))
            .unwrap_or_default(),
        trainable: field("trainable parameters: ").unwrap_or_default(),
        wall_s,
    }
}

fn main() {
    let python = std::env::var("PEFT_PYTHON").expect("PEFT_PYTHON: the peer's python (make bench-peft sets it)");
    let threads = env_or("VLMJUDGE_BENCH_THREADS", default_threads());
    let epochs: u32 = env_or("VLMJUDGE_BENCH_EPOCHS", 2);
    let model = vlmjudge::demo_model_path();
    let tmp = tempfile::tempdir().expect("a temporary directory");
    // VLMJUDGE_BENCH_DIR keeps the examples, their tokens and both runs' outputs.
    let kept = std::env::var_os("VLMJUDGE_BENCH_DIR").map(std::path::PathBuf::from);
    let dir = kept.as_deref().unwrap_or(tmp.path());
    std::fs::create_dir_all(dir).expect("the bench directory");
    let (n, n_target) = write_examples(dir, &model);
    let steps = EXAMPLES.div_ceil(BATCH) * epochs as usize;
    println!(
        "LoRA rank 16 on q,k,v,o,gate,up,down of {}; {EXAMPLES} examples ({n} tokens, {n_target} target), \
         {BATCH} per step, {steps} steps, {threads} threads",
        model.file_name().unwrap_or_default().to_string_lossy()
    );

    // `micro` examples per micro-batch, `accum` micro-batches per step, up to one per
    // core side by side:
    // the same 4 examples per optimizer step and the same loss either way (the step's
    // gradient is the sum over its micro-batches divided by its target tokens).
    let ours = |out: &str, micro: usize, accum: usize| {
        let in_flight = accum.min(threads).max(1);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vlmjudge"));
        cmd.args(["train", "--quiet", "--base"]).arg(&model).arg("--data").arg(dir.join("examples.jsonl"));
        cmd.arg("--out").arg(dir.join(out));
        cmd.args(["--lora-rank", "16", "--lora-alpha", "32", "--lora-dropout", "0.05"]);
        cmd.args(["--targets", "q,k,v,o,gate,up,down", "--lr", "2e-4", "--warmup", "0.03", "--clip", "1.0"]);
        cmd.args(["--batch", &micro.to_string(), "--grad-accum", &accum.to_string()]);
        cmd.args(["--parallel-micro-batches", &in_flight.to_string(), "--epochs", &epochs.to_string()]);
        cmd.args(["--eval-split", "0", "--max-len", &MAX_LEN.to_string(), "--save-every", "0"]);
        cmd.args(["--threads", &threads.to_string()]);
        cmd
    };
    let peer = || {
        let mut cmd = Command::new(&python);
        cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peft_peer.py"));
        cmd.arg("--gguf").arg(&model).arg("--tokens").arg(dir.join("tokens.jsonl"));
        cmd.args(["--epochs", &epochs.to_string(), "--batch", &BATCH.to_string(), "--threads", &threads.to_string()]);
        cmd.env("OMP_NUM_THREADS", threads.to_string());
        cmd
    };

    // The model file is in the page cache since tokenizing; each side times its steps
    // alone, so no warm-up run is needed.
    let peer_run = run(&mut peer());
    let whole = run(&mut ours("batch-4", BATCH, 1));
    let split = run(&mut ours("batch-1x4", 1, BATCH));
    println!(
        "{:<38} {:>9} {:>12} {:>8} {:>11} {:>10}",
        "", "tokens/s", "peak memory", "wall", "final loss", "trainable"
    );
    let rows = [
        ("PyTorch + PEFT, batch 4", &peer_run),
        ("vlmjudge train --batch 4", &whole),
        ("vlmjudge train --batch 1 --grad-accum 4", &split),
    ];
    for (name, r) in &rows {
        println!(
            "{name:<38} {:>9.1} {:>8.0} MiB {:>6.1} s {:>11} {:>10}",
            r.tokens_per_s, r.peak_mib, r.wall_s, r.final_loss, r.trainable
        );
    }
    for (name, r) in &rows[1..] {
        println!(
            "{name}: {:.2}x the peer's tokens/s, {:.2}x its peak memory",
            r.tokens_per_s / peer_run.tokens_per_s,
            r.peak_mib / peer_run.peak_mib
        );
    }
}
