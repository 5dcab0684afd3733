//! `vlmjudge synth`: synthetic preference pairs from a prompt pool, no labels used.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use vlmjudge::improve::{skipped_path, synth_file, Inject, SynthParams, Unanimous};
use vlmjudge::judge::SamplingParams;
use vlmjudge::shard::Shard;

use super::opts::ModelOpts;
use super::progress::Bar;

#[derive(Args)]
pub struct SynthArgs {
    #[command(flatten)]
    model: ModelOpts,
    /// The prompt pool (JSON Lines: id, image, question, optional kind open|closed).
    #[arg(long)]
    prompts: PathBuf,
    /// Pairs out (JSON Lines, appended to; prompts already done are skipped).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    synth: SynthOpts,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Work on shard K of N (0-based) of the pool [default: from SLURM_ARRAY_TASK_ID /
    /// JOB_COMPLETION_INDEX, else all].
    #[arg(long)]
    shard: Option<Shard>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// How pairs are synthesised (shared by `synth` and `improve`); defaults follow the paper.
#[derive(Args, Debug, Clone)]
pub(crate) struct SynthOpts {
    /// Answers sampled per closed question.
    #[arg(long, default_value_t = 16)]
    pub samples: usize,
    /// Votes the majority answer needs (no pair below it).
    #[arg(long, default_value_t = 5)]
    pub threshold: usize,
    /// A closed question whose samples all agree: skip it (the paper), pair the answer
    /// with a copy that has one detail changed (inject), or with the other answer the
    /// model gives most often when sampled again hotter (resample). With --threshold
    /// equal to --samples, only such questions make pairs.
    #[arg(long, value_enum, default_value_t = UnanimousArg::Skip)]
    pub unanimous: UnanimousArg,
    /// Temperature of --unanimous resample's second draw (top-k as the vote's, no top-p).
    #[arg(long, default_value_t = 1.0)]
    pub resample_temperature: f32,
    #[arg(long, default_value_t = 0.6)]
    pub synth_temperature: f32,
    #[arg(long, default_value_t = 50)]
    pub synth_top_k: usize,
    #[arg(long, default_value_t = 0.9)]
    pub synth_top_p: f32,
    /// How open-ended responses are made worse: the model's own rewrite, rules, or
    /// the rewrite with the rules as fallback.
    #[arg(long, value_enum, default_value_t = InjectArg::Auto)]
    pub inject: InjectArg,
    /// Most details changed per injected error set.
    #[arg(long, default_value_t = 2)]
    pub max_edits: usize,
    /// Most tokens of a closed answer.
    #[arg(long, default_value_t = 32)]
    pub closed_max_tokens: u32,
    /// Most tokens of an open response (and of its rewrite).
    #[arg(long, default_value_t = 160)]
    pub open_max_tokens: u32,
    /// Prompts in flight (each with its samples on sequences of its own).
    #[arg(long, default_value_t = 2)]
    pub synth_parallel: usize,
    /// Context positions per sample: prompt plus answer.
    #[arg(long, default_value_t = 1024)]
    pub synth_ctx: u32,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum UnanimousArg {
    Skip,
    Inject,
    Resample,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum InjectArg {
    Auto,
    Model,
    Rules,
}

impl SynthOpts {
    pub fn params(&self, seed: u64, threads: usize) -> SynthParams {
        SynthParams {
            sampling: SamplingParams {
                temperature: self.synth_temperature,
                top_k: self.synth_top_k,
                top_p: self.synth_top_p,
            },
            samples: self.samples,
            threshold: self.threshold,
            unanimous: match self.unanimous {
                UnanimousArg::Skip => Unanimous::Skip,
                UnanimousArg::Inject => Unanimous::Inject,
                UnanimousArg::Resample => Unanimous::Resample,
            },
            resample_temperature: self.resample_temperature,
            closed_max_tokens: self.closed_max_tokens,
            open_max_tokens: self.open_max_tokens,
            inject: match self.inject {
                InjectArg::Auto => Inject::Auto,
                InjectArg::Model => Inject::Model,
                InjectArg::Rules => Inject::Rules,
            },
            max_edits: self.max_edits,
            seed,
            threads,
            parallel: self.synth_parallel,
            ctx_per_seq: self.synth_ctx,
            ..SynthParams::default()
        }
    }
}

pub fn run(args: SynthArgs) -> anyhow::Result<()> {
    let shard = Shard::resolve(args.shard)?;
    let params = args.synth.params(args.seed, args.model.threads());
    let model = args.model.load()?;
    let bar = Bar::new(args.quiet);
    let counts = synth_file(&model, &args.prompts, &args.out, &params, shard, &bar)?;
    println!(
        "{} pairs from {} prompts ({} closed, {} open){}: {} without a clear majority, {} edits rejected, {} failed",
        counts.pairs,
        counts.prompts,
        counts.closed,
        counts.open,
        if shard.is_all() { String::new() } else { format!(" in shard {shard}") },
        counts.no_majority,
        counts.rejected_edits,
        counts.errors
    );
    println!("pairs: {}\nskipped prompts and why: {}", args.out.display(), skipped_path(&args.out).display());
    Ok(())
}
