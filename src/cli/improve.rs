//! `vlmjudge improve`: rounds of synth -> filter -> train -> quantize -> eval.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use vlmjudge::engine::ModelParams;
use vlmjudge::eval::BenchFormat;
use vlmjudge::improve::{improve, Bench, GeneratorChoice, ImproveConfig, Manifest};
use vlmjudge::judge::{JudgeParams, Mode};
use vlmjudge::train::TrainConfig;

use super::filter::{filter_judge_params, FilterOpts};
use super::opts::JudgeOpts;
use super::progress::Bar;
use super::synth::SynthOpts;
use super::train::{prepare_cpu_training, TrainOpts};

#[derive(Args)]
pub struct ImproveArgs {
    /// The base judge (GGUF; llama, qwen2, qwen2vl or gemma3 architecture, so it can be
    /// trained).
    #[arg(long)]
    base: PathBuf,
    /// The multimodal projector (GGUF) for image prompts.
    #[arg(long)]
    mmproj: Option<PathBuf>,
    /// The prompt pool (JSON Lines: id, image, question, optional kind).
    #[arg(long)]
    prompts: PathBuf,
    #[arg(long, default_value_t = 4)]
    rounds: u32,
    /// The run directory: round-K/ per round (rerun to resume).
    #[arg(long)]
    out: PathBuf,
    /// A labelled benchmark to evaluate the base and every round's judge on.
    #[arg(long)]
    bench: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = BenchFormatArg::Pairs, requires = "bench")]
    bench_format: BenchFormatArg,
    /// Prompts per round, each round taking the next ones (default: the whole pool every round).
    #[arg(long)]
    prompts_per_round: Option<usize>,
    /// Who writes the synthetic responses: the base model, or the current judge.
    #[arg(long, value_enum, default_value_t = GeneratorArg::Base)]
    generator: GeneratorArg,
    /// llama.cpp type of each round's judge (q8_0, q4_k_m, ...; none = the full checkpoint).
    #[arg(long, default_value = "q8_0")]
    quant: String,
    /// The ablation: train each round on as many examples as round K of this run kept
    /// (use with --policy all to skip the judge filter).
    #[arg(long)]
    match_examples_of: Option<PathBuf>,
    /// Take each round's pairs from this run instead of synthesizing them: arms of one
    /// experiment that differ only after synthesis (filter, traces, training) then train
    /// on the same pairs. It must have used the same base, prompts, mmproj, synth
    /// settings and seed, with --generator base.
    #[arg(long)]
    pairs_of: Option<PathBuf>,
    /// How the eval stage judges (fast: verdict from logits).
    #[arg(long, value_enum, default_value_t = EvalModeArg::Fast)]
    eval_mode: EvalModeArg,
    /// Layers to offload to the GPU in a CUDA build.
    #[arg(long, default_value_t = 0)]
    gpu_layers: u32,
    /// Threads for llama.cpp and the trainer's cores (see `train --threads`) [default:
    /// physical cores].
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten, next_help_heading = "Synth")]
    synth: SynthOpts,
    #[command(flatten, next_help_heading = "Filter")]
    filter: FilterOpts,
    #[command(flatten, next_help_heading = "Filter judge")]
    judge: JudgeOpts,
    #[command(flatten, next_help_heading = "Train")]
    train: TrainOpts,
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BenchFormatArg {
    Pairs,
    VlRewardbench,
    MmRewardbench,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum GeneratorArg {
    Base,
    Current,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum EvalModeArg {
    Fast,
    Reason,
}

pub fn run(args: ImproveArgs) -> anyhow::Result<()> {
    let parallel_micro_batches = prepare_cpu_training(args.threads, &args.train);
    let threads = args.threads.unwrap_or(0);
    let filter_judge = filter_judge_params(&args.judge, threads)?;
    let seed = filter_judge.seed;
    let eval_judge = JudgeParams {
        mode: match args.eval_mode {
            EvalModeArg::Fast => Mode::Fast,
            EvalModeArg::Reason => Mode::Reason,
        },
        threads,
        parallel: filter_judge.parallel,
        ctx_per_seq: filter_judge.ctx_per_seq,
        max_tokens: filter_judge.max_tokens,
        template: filter_judge.template.clone(),
        seed,
        ..JudgeParams::default()
    };
    let config = ImproveConfig {
        base: args.base,
        mmproj: args.mmproj,
        prompts: args.prompts,
        rounds: args.rounds,
        out: args.out.clone(),
        bench: args.bench.map(|path| Bench {
            path,
            format: match args.bench_format {
                BenchFormatArg::Pairs => BenchFormat::Pairs,
                BenchFormatArg::VlRewardbench => BenchFormat::VlRewardBench,
                BenchFormatArg::MmRewardbench => BenchFormat::MmRewardBench,
            },
        }),
        prompts_per_round: args.prompts_per_round,
        generator: match args.generator {
            GeneratorArg::Base => GeneratorChoice::Base,
            GeneratorArg::Current => GeneratorChoice::Current,
        },
        model: ModelParams { threads, gpu_layers: args.gpu_layers, ..ModelParams::default() },
        synth: args.synth.params(seed, threads),
        filter: args.filter.params(seed),
        match_examples_of: args.match_examples_of,
        pairs_of: args.pairs_of,
        filter_judge,
        eval_judge,
        train: TrainConfig { parallel_micro_batches, ..args.train.config()? },
        quantize: Some(args.quant).filter(|q| q != "none"),
        seed,
    };
    let bar = Bar::new(args.quiet);
    let manifests = improve(&config, &bar)?;
    print_rounds(&manifests);
    println!("run: {} (vlmjudge report {} draws the curves)", args.out.display(), args.out.display());
    Ok(())
}

fn print_rounds(manifests: &[Manifest]) {
    println!(
        "{:>5}  {:>6}  {:>6}  {:>8}  {:>10}  {:>8}",
        "round", "pairs", "kept", "examples", "final loss", "accuracy"
    );
    let dash = || "-".to_string();
    for m in manifests {
        println!(
            "{:>5}  {:>6}  {:>6}  {:>8}  {:>10}  {:>8}",
            m.round,
            m.synth.as_ref().map_or_else(dash, |s| s.pairs.to_string()),
            m.filter.as_ref().map_or_else(dash, |f| format!("{:.0}%", 100.0 * f.kept_fraction)),
            m.filter.as_ref().map_or_else(dash, |f| f.examples.to_string()),
            m.train.as_ref().and_then(|t| t.final_loss).map_or_else(dash, |l| format!("{l:.4}")),
            m.eval.as_ref().map_or_else(dash, |e| format!("{:.3}", e.overall)),
        );
    }
}
