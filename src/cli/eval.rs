use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use vlmjudge::eval::{
    evaluate, read_bench_with_notes, score_official, score_verdicts, BenchFormat, EvalReport, EvalSummary,
    OfficialScore, Protocol, ReadOptions, UnparsedRule,
};
use vlmjudge::judge::{Judge, JudgeParams};
use vlmjudge::shard::Shard;

use super::opts::{JudgeOpts, ModelOpts};
use super::progress::Bar;

#[derive(Args)]
#[command(mut_arg("model", |a| a.required(false).required_unless_present("score_only")))]
pub struct EvalArgs {
    /// The judge (not loaded with --score-only, only recorded in the report).
    #[command(flatten)]
    model: ModelOpts,
    /// The benchmark file.
    #[arg(long)]
    bench: PathBuf,
    /// pairs: JSON Lines with labels; vl-rewardbench: its parquet file;
    /// mm-rewardbench: Multimodal RewardBench's JSON list.
    #[arg(long, value_enum)]
    format: FormatArg,
    /// vlmjudge: both orders judged and combined (swap-debiased); official: one order
    /// per item as the benchmark's official script presents it. Both print the
    /// official-style metrics next to ours. Keep one --out per protocol.
    #[arg(long, value_enum, default_value = "vlmjudge")]
    protocol: ProtocolArg,
    /// Verdicts file (JSON Lines), appended to; ids already in it are not judged again.
    #[arg(long)]
    out: PathBuf,
    /// Also write the summary as JSON here (atomically).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Where relative image paths point [default: the benchmark file's directory].
    #[arg(long)]
    image_root: Option<PathBuf>,
    /// Only the first N items of the benchmark (before sharding).
    #[arg(long)]
    limit: Option<usize>,
    /// Only shard K of N (0-based: the items at positions K, K+N, ...) [default: from
    /// SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX with VLMJUDGE_SHARD_COUNT, else
    /// all].
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Score the verdicts already in --out; load no model.
    #[arg(long)]
    score_only: bool,
    #[command(flatten)]
    judge: JudgeOpts,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Pairs,
    VlRewardbench,
    MmRewardbench,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProtocolArg {
    Vlmjudge,
    Official,
}

impl From<ProtocolArg> for Protocol {
    fn from(p: ProtocolArg) -> Protocol {
        match p {
            ProtocolArg::Vlmjudge => Protocol::Vlmjudge,
            ProtocolArg::Official => Protocol::Official,
        }
    }
}

impl From<FormatArg> for BenchFormat {
    fn from(f: FormatArg) -> BenchFormat {
        match f {
            FormatArg::Pairs => BenchFormat::Pairs,
            FormatArg::VlRewardbench => BenchFormat::VlRewardBench,
            FormatArg::MmRewardbench => BenchFormat::MmRewardBench,
        }
    }
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let shard = Shard::resolve(args.shard)?;
    let format = BenchFormat::from(args.format);
    let protocol = Protocol::from(args.protocol);
    // The A/B shuffle of VL-RewardBench follows --seed: score with the seed you judged with.
    let options = ReadOptions { image_root: args.image_root.clone(), seed: args.judge.seed };
    let bench = read_bench_with_notes(&args.bench, format, &options)?;
    if let Some(release) = &bench.release {
        eprintln!("{format}: {release}");
    }
    for note in &bench.notes {
        // Warnings carry their own prefix; the rest are notes.
        let prefix = if note.starts_with("warning:") { "" } else { "note: " };
        eprintln!("{prefix}{note}");
    }
    let mut items = bench.items;
    if let Some(limit) = args.limit {
        items.truncate(limit);
    }
    let started = Instant::now();
    let summary = if args.score_only {
        score_verdicts(&shard.select(items.iter().cloned()), &args.out)?
    } else {
        let model_opts = &args.model;
        let params = protocol.judge_params(JudgeParams { threads: model_opts.threads(), ..args.judge.judge_params()? });
        let model = model_opts.load()?;
        let mut judge = Judge::new(&model, params)?;
        let bar = Bar::new(args.quiet);
        evaluate(&mut judge, &items, &args.out, shard, &bar)?
    };
    let official = score_official(format, &shard.select(items.iter().cloned()), &args.out)?;
    println!("protocol: {protocol}");
    if let Some(official) = &official {
        print_official(official);
        println!();
        println!("vlmjudge scoring (every item counted; no verdict, tie or failure = half credit):");
    }
    print_table(&summary);
    if !args.quiet {
        let part = if shard.is_all() { String::new() } else { format!(" (shard {shard})") };
        eprintln!(
            "scored {} items{part} from {} in {:.1} s",
            summary.n,
            args.out.display(),
            started.elapsed().as_secs_f64()
        );
    }
    if let Some(path) = &args.report {
        let report = EvalReport {
            model: args.model.model.clone(),
            mmproj: args.model.mmproj.clone(),
            lora: args.model.lora.clone(),
            bench: args.bench.clone(),
            format: format.name().into(),
            verdicts: args.out.clone(),
            shard: shard.to_string(),
            seed: args.judge.seed,
            protocol,
            release: bench.release,
            notes: bench.notes,
            official,
            summary,
        };
        report.write(path)?;
    }
    Ok(())
}

fn print_official(o: &OfficialScore) {
    println!("official metrics ({}):", o.script);
    let width = o.categories.keys().map(|k| k.chars().count()).max().unwrap_or(0).max("overall".len());
    println!("{:<width$}  {:>6}  {:>8}", "category", "n", "accuracy");
    for (name, c) in &o.categories {
        println!("{name:<width$}  {:>6}  {:>8.4}", c.n, c.accuracy);
    }
    println!("{:<width$}  {:>6}  {:>8.4}", "overall", o.scored, o.overall);
    if let Some(macro_avg) = o.macro_avg {
        println!("{:<width$}  {:>6}  {:>8.4}", "macro", o.categories.len(), macro_avg);
    }
    if o.unparsed > 0 {
        let how = match o.unparsed_rule {
            UnparsedRule::Dropped => "left out of the denominator",
            UnparsedRule::HalfCredit => "scored as a coin flip: half credit",
        };
        println!("({} of {} items without a parsed verdict, {how})", o.unparsed, o.n);
    }
}

fn print_table(s: &EvalSummary) {
    let width = s.categories.keys().map(|k| k.chars().count()).max().unwrap_or(0).max("overall".len());
    println!("{:<width$}  {:>6}  {:>8}", "category", "n", "accuracy");
    for (name, c) in &s.categories {
        println!("{name:<width$}  {:>6}  {:>8.4}", c.n, c.accuracy);
    }
    println!("{:<width$}  {:>6}  {:>8.4}", "overall", s.n, s.overall);
    println!("{:<width$}  {:>6}  {:>8.4}", "macro", s.categories.len(), s.macro_avg);
    if s.guesses + s.errors > 0 {
        println!(
            "({} without a verdict or tied and {} failed, each scored as a coin flip: half credit)",
            s.guesses, s.errors
        );
    }
}
