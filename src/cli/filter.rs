//! `vlmjudge filter`: the judge's reasoning traces that agree with the synthetic labels,
//! as SFT examples.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use vlmjudge::improve::{filter_file, verdicts_path, write_synthetic_traces, FilterParams, KeepPolicy, TraceSource};
use vlmjudge::judge::{Judge, JudgeParams, Mode};
use vlmjudge::shard::Shard;
use vlmjudge::synth::TracePattern;

use super::opts::{JudgeOpts, ModelOpts};
use super::progress::Bar;

#[derive(Args)]
// No judge is loaded for `--traces synthetic --policy all`; otherwise `load` asks for it.
#[command(mut_arg("model", |a| a.required(false)))]
pub struct FilterArgs {
    #[command(flatten)]
    model: ModelOpts,
    /// Labelled pairs (e.g. from `vlmjudge synth`).
    #[arg(long)]
    pairs: PathBuf,
    /// SFT examples out (rewritten whole; the judge's verdicts are kept, and resumed,
    /// in OUT.verdicts.jsonl).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    filter: FilterOpts,
    #[command(flatten)]
    judge: JudgeOpts,
    /// Work on shard K of N (0-based) of the pairs [default: from the job array's env].
    #[arg(long)]
    shard: Option<Shard>,
    #[arg(long, short)]
    quiet: bool,
}

/// Which traces are kept (shared by `filter` and `improve`).
#[derive(Args, Debug, Clone)]
pub(crate) struct FilterOpts {
    /// both-orders: keep a pair's traces only if both orders are right (the paper's
    /// default); one-order: keep every right order, then balance the A/B letters;
    /// combined: keep a pair when the swap-combined verdict is right (both orders
    /// written with it; for judges with a position bias, best with --mode fast);
    /// all: no filter (the ablation), every trace whatever its verdict.
    #[arg(long, value_enum, default_value_t = PolicyArg::BothOrders)]
    pub policy: PolicyArg,
    /// Also keep traces whose verdict was read after appending `[[` because the judge
    /// wrote none within --max-tokens.
    #[arg(long)]
    pub keep_forced: bool,
    /// judge: train on the judge's own reasoning (the paper); synthetic: on reasoning
    /// written from each kept pair's label with the template's `trace` patterns, which
    /// states the better answer (the model's own) and checks both against it. With
    /// --policy all nothing is judged.
    #[arg(long, value_enum, default_value_t = TracesArg::Judge)]
    pub traces: TracesArg,
    /// Keep at most N pairs of any one closed question (the same question asked of many
    /// images), chosen at random, so that the few questions a model is sure of do not
    /// make most of the training set.
    #[arg(long, value_name = "N")]
    pub max_per_question: Option<usize>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum TracesArg {
    Judge,
    Synthetic,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum PolicyArg {
    BothOrders,
    OneOrder,
    Combined,
    All,
}

impl FilterOpts {
    pub fn params(&self, seed: u64) -> FilterParams {
        FilterParams {
            policy: match self.policy {
                PolicyArg::BothOrders => KeepPolicy::BothOrders,
                PolicyArg::OneOrder => KeepPolicy::OneOrder,
                PolicyArg::Combined => KeepPolicy::Combined,
                PolicyArg::All => KeepPolicy::All,
            },
            keep_forced: self.keep_forced,
            seed,
            max_examples: None,
            max_per_question: self.max_per_question,
            traces: match self.traces {
                TracesArg::Judge => TraceSource::Judge,
                TracesArg::Synthetic => TraceSource::Synthetic,
            },
        }
    }
}

/// The filter's judge: reasoning, sampled at the paper's temperature, unless the
/// flags say otherwise.
pub(crate) fn filter_judge_params(judge: &JudgeOpts, threads: usize) -> anyhow::Result<JudgeParams> {
    let params = JudgeParams { threads, ..judge.judge_params_with(Mode::Reason, 0.6)? };
    // A typo in the template's trace patterns fails here, before any judging.
    TracePattern::of_template(&params.template)?;
    Ok(params)
}

pub fn run(args: FilterArgs) -> anyhow::Result<()> {
    let shard = Shard::resolve(args.shard)?;
    let params = filter_judge_params(&args.judge, args.model.threads())?;
    let filter = args.filter.params(params.seed);
    let counts = if filter.needs_judge() {
        let model = args.model.load()?;
        let mut judge = Judge::new(&model, params)?;
        let bar = Bar::new(args.quiet);
        filter_file(&mut judge, &args.pairs, &args.out, &filter, shard, &bar)?
    } else {
        write_synthetic_traces(&args.pairs, &args.out, &params.template, &filter, shard)?
    };
    println!(
        "kept {} of {} pairs ({:.1}%): {} examples{}; {} pairs failed",
        counts.kept_pairs,
        counts.pairs,
        100.0 * counts.kept_fraction,
        counts.examples,
        if shard.is_all() { String::new() } else { format!(" in shard {shard}") },
        counts.errors
    );
    println!("examples: {}", args.out.display());
    if filter.needs_judge() {
        println!("verdicts: {}", verdicts_path(&args.out).display());
    }
    Ok(())
}
