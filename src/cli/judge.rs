use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use vlmjudge::judge::{judge_file, ImageSource, Judge, JudgeParams, Pair, Verdict};
use vlmjudge::shard::Shard;

use super::opts::{JudgeOpts, ModelOpts};
use super::progress::Bar;
use super::UserError;

#[derive(Args)]
pub struct JudgeArgs {
    #[command(flatten)]
    model: ModelOpts,
    /// Pairs to judge (JSON Lines: id, image, question, response_a, response_b).
    #[arg(long, requires = "out", conflicts_with_all = ["question", "a", "b", "image"])]
    pairs: Option<PathBuf>,
    /// Verdicts file (JSON Lines), appended to; ids already in it are skipped.
    #[arg(long, requires = "pairs")]
    out: Option<PathBuf>,
    /// Judge only shard K of N (0-based): the pairs at positions K, K+N, K+2N, ... of
    /// the input [default: from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX with
    /// VLMJUDGE_SHARD_COUNT, else all].
    #[arg(long, value_name = "K/N", requires = "pairs")]
    shard: Option<Shard>,
    /// One pair: the question.
    #[arg(long, requires_all = ["a", "b"])]
    question: Option<String>,
    /// One pair: response A.
    #[arg(long)]
    a: Option<String>,
    /// One pair: response B.
    #[arg(long)]
    b: Option<String>,
    /// One pair: the image.
    #[arg(long)]
    image: Option<PathBuf>,
    #[command(flatten)]
    judge: JudgeOpts,
    /// Print the one-pair verdict as a JSON line instead of text.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: JudgeArgs) -> anyhow::Result<()> {
    if args.pairs.is_none() && args.question.is_none() {
        return Err(UserError("give --pairs FILE --out FILE, or one pair with --question --a --b".into()).into());
    }
    // Resolved before the model loads, so a bad job-array environment fails fast.
    let shard = if args.pairs.is_some() { Shard::resolve(args.shard)? } else { Shard::ALL };
    let params = JudgeParams { threads: args.model.threads(), ..args.judge.judge_params()? };
    let model = args.model.load()?;
    let mut judge = Judge::new(&model, params)?;

    if let (Some(pairs), Some(out)) = (&args.pairs, &args.out) {
        let started = Instant::now();
        let bar = Bar::new(args.quiet);
        let summary = judge_file(&mut judge, pairs, out, shard, &bar)?;
        if summary.repaired {
            eprintln!("note: dropped a partial last line from {} (left by an interrupted run)", out.display());
        }
        if !args.quiet {
            eprintln!(
                "judged {} pairs{} ({} with errors), skipped {} already in {}, in {:.1} s",
                summary.judged,
                if shard.is_all() { String::new() } else { format!(" of shard {shard}") },
                summary.errors,
                summary.skipped,
                out.display(),
                started.elapsed().as_secs_f64()
            );
        }
        return Ok(());
    }

    let pair = Pair {
        id: "pair".into(),
        question: args.question.unwrap_or_default(),
        response_a: args.a.unwrap_or_default(),
        response_b: args.b.unwrap_or_default(),
        image: args.image.map(ImageSource::Path),
    };
    let verdict = judge.judge_pair(&pair)?;
    if args.json {
        println!("{}", serde_json::to_string(&verdict)?);
    } else {
        print_verdict(&verdict);
    }
    match verdict.error {
        Some(error) => Err(UserError(error).into()),
        None => Ok(()),
    }
}

fn print_verdict(v: &Verdict) {
    if v.error.is_some() {
        return;
    }
    let p = v.p_a.map_or("-".to_string(), |p| format!("{p:.3}"));
    let consistent = match v.consistent {
        Some(true) => "yes",
        Some(false) => "no",
        None => "n/a (no swap)",
    };
    println!("verdict: {:?}   p(A better) = {p}   both orders agree: {consistent}", v.verdict);
    for o in &v.orders {
        let p = o.p_a.map_or("-".to_string(), |p| format!("{p:.3}"));
        let forced = if o.forced { "  (no written verdict; read after appending [[)" } else { "" };
        println!("  order {:?}: {:?}  p(A) = {p}{forced}", o.order, o.verdict);
        if let Some(r) = &o.reasoning {
            for line in r.trim().lines() {
                println!("    | {line}");
            }
        }
    }
}
