//! `vlmjudge train`: LoRA or full supervised fine-tuning on SFT JSON Lines.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use vlmjudge::export::MergedDtype;
use vlmjudge::train::{train, DeviceChoice, LoraConfig, LoraTarget, Mode, TrainConfig, TrainError, TrainSummary};

use super::progress::Bar;
use super::UserError;

#[derive(Args)]
pub struct TrainArgs {
    /// The base model (GGUF, architecture llama, qwen2, qwen2vl or gemma3; quantized
    /// weights are dequantized).
    #[arg(long)]
    base: PathBuf,
    /// The multimodal projector (GGUF), needed when examples have images.
    #[arg(long)]
    mmproj: Option<PathBuf>,
    /// SFT examples (JSON Lines: id, image, messages [{role, content}], target).
    #[arg(long)]
    data: PathBuf,
    /// Output directory: adapter.gguf or model-f32.gguf, metrics.jsonl, checkpoint/.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    opts: TrainOpts,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Continue from OUT/checkpoint (with the same arguments).
    #[arg(long)]
    resume: bool,
    /// LoRA: also write the merged model (base + adapter).
    #[arg(long)]
    merge: bool,
    /// Checkpoint every N optimizer steps (0 = only at epoch ends and at the end).
    #[arg(long, default_value_t = 50)]
    save_every: u64,
    /// Stop after N optimizer steps in total, with a checkpoint; --resume continues.
    #[arg(long)]
    stop_after: Option<u64>,
    /// Where image embeddings are kept between runs [default: OUT/image-cache].
    #[arg(long)]
    image_cache: Option<PathBuf>,
    /// Train the vision projector too (LLaVA-style `mlp` projectors: its last layer),
    /// e.g. to fit a new mmproj to a language model; writes OUT/mmproj.gguf.
    #[arg(long, requires = "mmproj")]
    train_projector: bool,
    /// Cores for the tensor math [default: RAYON_NUM_THREADS, else the physical cores],
    /// split between the micro-batches computed at once (--parallel-micro-batches) and
    /// their matmuls.
    #[arg(long)]
    threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Training hyperparameters, shared by `train` and `improve`.
#[derive(Args, Debug, Clone)]
pub(crate) struct TrainOpts {
    /// Train every weight instead of LoRA adapters.
    #[arg(long, conflicts_with_all = ["lora_rank", "lora_alpha", "lora_dropout", "targets"])]
    pub full: bool,
    #[arg(long, default_value_t = 16)]
    pub lora_rank: usize,
    #[arg(long, default_value_t = 32.0)]
    pub lora_alpha: f32,
    #[arg(long, default_value_t = 0.05)]
    pub lora_dropout: f32,
    /// Layers that get LoRA adapters.
    #[arg(long, default_value = "q,k,v,o,gate,up,down")]
    pub targets: String,
    #[arg(long, default_value_t = 1)]
    pub epochs: u32,
    /// Peak learning rate.
    #[arg(long, default_value_t = 2e-4)]
    pub lr: f64,
    /// Linear warmup, as a fraction of all steps (then cosine decay).
    #[arg(long, default_value_t = 0.03)]
    pub warmup: f64,
    /// Examples per micro-batch.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 4)]
    pub grad_accum: usize,
    /// Micro-batches of a step computed at once on CPU, each on its own thread [default:
    /// one per core, at most --grad-accum]. Each holds its own activations; the results
    /// are the same for any value.
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub parallel_micro_batches: usize,
    /// Longest example in tokens; prompts are cut from the left, targets never.
    #[arg(long, default_value_t = 1024)]
    pub max_len: usize,
    /// Fraction of examples held out for the per-epoch eval loss.
    #[arg(long, default_value_t = 0.05)]
    pub eval_split: f64,
    /// Global gradient-norm clip (0 = off).
    #[arg(long, default_value_t = 1.0)]
    pub clip: f64,
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// Write merged / full models as F16 (1-d tensors stay F32) instead of F32.
    #[arg(long)]
    pub f16: bool,
}

impl TrainOpts {
    /// The training config with these hyperparameters; paths, seed and resume are the
    /// caller's to fill.
    pub fn config(&self) -> anyhow::Result<TrainConfig> {
        let mode = if self.full {
            Mode::Full
        } else {
            let targets = LoraTarget::parse_list(&self.targets).map_err(user)?;
            Mode::Lora(LoraConfig { rank: self.lora_rank, alpha: self.lora_alpha, dropout: self.lora_dropout, targets })
        };
        Ok(TrainConfig {
            mode,
            epochs: self.epochs,
            lr: self.lr,
            warmup: self.warmup,
            batch: self.batch,
            grad_accum: self.grad_accum,
            parallel_micro_batches: self.parallel_micro_batches,
            max_len: self.max_len,
            eval_split: self.eval_split,
            clip: self.clip,
            weight_decay: self.weight_decay,
            device: match self.device {
                DeviceArg::Auto => DeviceChoice::Auto,
                DeviceArg::Cpu => DeviceChoice::Cpu,
                DeviceArg::Cuda => DeviceChoice::Cuda,
            },
            merged_dtype: if self.f16 { MergedDtype::F16 } else { MergedDtype::F32 },
            ..TrainConfig::default()
        })
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum DeviceArg {
    Auto,
    Cpu,
    Cuda,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let parallel_micro_batches = prepare_cpu_training(args.threads, &args.opts);
    if args.merge && args.opts.full {
        return Err(UserError("--merge is for LoRA; --full always writes the full model".into()).into());
    }
    let config = TrainConfig {
        base: args.base,
        mmproj: args.mmproj,
        data: args.data,
        out: args.out,
        seed: args.seed,
        resume: args.resume,
        merge: args.merge,
        stop_after: args.stop_after,
        save_every: args.save_every,
        image_cache: args.image_cache,
        train_projector: args.train_projector,
        parallel_micro_batches,
        ..args.opts.config()?
    };
    let bar = Bar::new(args.quiet);
    let summary = train(&config, &bar).map_err(user)?;
    print_summary(&summary);
    Ok(())
}

/// Training frees and reallocates its activations (gigabytes for a 135M model) every
/// micro-batch. glibc hands large freed blocks back to the kernel at once, so every
/// micro-batch would fault them in again and the kernel would zero every page (a quarter
/// of a SmolLM2-135M LoRA step). Keep freed memory in the process instead: blocks up
/// to 32 MiB (glibc's largest threshold) come from the heap, and the heap is never
/// trimmed. A trim threshold of -1 turns trimming off (mallopt(3)); any positive value
/// fits an `int`, so at most 2 GiB, which a step's freed activations exceed at once.
/// The peak is unchanged: it is a step's own high-water mark either way.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only changes allocator tuning parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, -1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

/// Splits `threads` cores (default: `RAYON_NUM_THREADS`, else the physical cores)
/// between the micro-batches a step computes at once and the threads of each of their
/// matmuls, which candle reads from `RAYON_NUM_THREADS` on every matmul; returns the
/// micro-batches in flight for [`TrainConfig::parallel_micro_batches`]. Call before any other thread
/// starts: it sets the environment.
pub(crate) fn prepare_cpu_training(threads: Option<usize>, opts: &TrainOpts) -> usize {
    let from_env = || std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok());
    let cores = threads.filter(|&n| n > 0).or_else(from_env).filter(|&n| n > 0).unwrap_or_else(num_cpus::get_physical);
    let in_flight = match opts.parallel_micro_batches {
        0 => cores,
        n => n,
    }
    .clamp(1, opts.grad_accum.max(1));
    let per_matmul = (cores / in_flight).max(1).to_string();
    std::env::set_var("RAYON_NUM_THREADS", &per_matmul);
    std::env::set_var("CANDLE_NUM_THREADS", &per_matmul);
    keep_freed_memory();
    in_flight
}

/// User errors keep exit code 1; internal ones (tensor failures) exit 2.
pub(crate) fn user(e: TrainError) -> anyhow::Error {
    if !e.is_user_error() {
        return e.into();
    }
    match e {
        TrainError::Lib(inner) => inner.into(),
        other => UserError(other.to_string()).into(),
    }
}

fn print_summary(s: &TrainSummary) {
    if let Some(note) = &s.device_note {
        println!("note: {note}");
    }
    println!(
        "examples: {} read, {} train, {} eval, {} dropped (target longer than --max-len), {} truncated",
        s.examples_read, s.examples_train, s.examples_eval, s.dropped_too_long, s.truncated
    );
    println!("trainable parameters: {}", s.trainable_params);
    if s.images_encoded + s.images_cached > 0 {
        println!("images: {} encoded, {} from the image cache", s.images_encoded, s.images_cached);
    }
    match s.resumed_from {
        Some(from) => println!("steps: {}/{} (resumed from step {from})", s.steps_done, s.total_steps),
        None => println!("steps: {}/{}", s.steps_done, s.total_steps),
    }
    let fmt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!("final train loss: {}  eval loss: {}", fmt(s.final_loss), fmt(s.final_eval_loss));
    println!("throughput: {:.0} tokens/s", s.tokens_per_s);
    if s.stopped_early {
        println!("stopped early (--stop-after); run again with --resume to continue");
    }
    if let Some(p) = &s.outputs.adapter {
        println!("adapter: {}", p.display());
    }
    if let Some(p) = &s.outputs.mmproj {
        println!("mmproj: {}", p.display());
    }
    if let Some(p) = &s.outputs.model {
        println!("model: {}", p.display());
    }
    println!("metrics: {}", s.outputs.metrics.display());
    println!("checkpoint: {}", s.outputs.checkpoint.display());
}
