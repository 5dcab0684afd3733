use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};
use vlmjudge::engine::{LoraSpec, Model, ModelParams};
use vlmjudge::judge::{judge_file, ImageSource, Judge, JudgeParams, Mode, Pair, SamplingParams, Template, Verdict};

use super::progress::Bar;
use super::UserError;

#[derive(Args)]
pub struct JudgeArgs {
    /// The judge model (GGUF).
    #[arg(long)]
    model: PathBuf,
    /// The multimodal projector (GGUF) for image pairs.
    #[arg(long)]
    mmproj: Option<PathBuf>,
    /// A LoRA adapter (GGUF, e.g. adapter.gguf from `vlmjudge train`) applied on top of
    /// the model; repeat for several.
    #[arg(long)]
    lora: Vec<PathBuf>,
    /// Layers to offload to the GPU in a CUDA build (0 = CPU only; 999 = all).
    #[arg(long, default_value_t = 0)]
    gpu_layers: u32,
    /// Scale of the LoRA adapters (1 = as trained).
    #[arg(long, default_value_t = 1.0, requires = "lora")]
    lora_scale: f32,
    /// Pairs to judge (JSON Lines: id, image, question, response_a, response_b).
    #[arg(long, requires = "out", conflicts_with_all = ["question", "a", "b", "image"])]
    pairs: Option<PathBuf>,
    /// Verdicts file (JSON Lines), appended to; ids already in it are skipped.
    #[arg(long, requires = "pairs")]
    out: Option<PathBuf>,
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
    /// fast: read the verdict from logits, no generation; reason: write reasoning first.
    #[arg(long, value_enum, default_value_t = ModeArg::Fast)]
    mode: ModeArg,
    /// Judge only the given order (no swap debiasing).
    #[arg(long)]
    no_swap: bool,
    /// Pairs in flight at once.
    #[arg(long, default_value_t = 8)]
    parallel: usize,
    /// llama.cpp threads [default: physical cores].
    #[arg(long)]
    threads: Option<usize>,
    /// Most reasoning tokens per order (reason mode).
    #[arg(long, default_value_t = 256)]
    max_tokens: u32,
    /// Sampling temperature for reasoning; 0 is greedy.
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    #[arg(long, default_value_t = 50)]
    top_k: usize,
    #[arg(long, default_value_t = 0.9)]
    top_p: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Context positions per sequence (one order of one pair: prompt plus reasoning).
    #[arg(long, default_value_t = 1024)]
    ctx_per_seq: u32,
    /// Prompt template (JSON: {"system": ..., "user": ... with {question}, {answer_a}, {answer_b}}).
    #[arg(long)]
    template: Option<PathBuf>,
    /// Print the one-pair verdict as a JSON line instead of text.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Fast,
    Reason,
}

pub fn run(args: JudgeArgs) -> anyhow::Result<()> {
    if args.pairs.is_none() && args.question.is_none() {
        return Err(UserError("give --pairs FILE --out FILE, or one pair with --question --a --b".into()).into());
    }
    let template = match &args.template {
        Some(path) => Template::from_file(path)?,
        None => Template::default(),
    };
    let params = JudgeParams {
        mode: match args.mode {
            ModeArg::Fast => Mode::Fast,
            ModeArg::Reason => Mode::Reason,
        },
        swap: !args.no_swap,
        max_tokens: args.max_tokens,
        sampling: SamplingParams { temperature: args.temperature, top_k: args.top_k, top_p: args.top_p },
        seed: args.seed,
        threads: args.threads.unwrap_or(0),
        parallel: args.parallel,
        ctx_per_seq: args.ctx_per_seq,
        template,
        ..JudgeParams::default()
    };
    let lora = args.lora.iter().map(|path| LoraSpec { path: path.clone(), scale: args.lora_scale }).collect();
    let model_params =
        ModelParams { threads: params.threads, gpu_layers: args.gpu_layers, lora, ..ModelParams::default() };
    let model = Model::load(&args.model, args.mmproj.as_deref(), &model_params).context("cannot load the judge")?;
    let mut judge = Judge::new(&model, params)?;

    if let (Some(pairs), Some(out)) = (&args.pairs, &args.out) {
        let started = Instant::now();
        let bar = Bar::new(args.quiet);
        let summary = judge_file(&mut judge, pairs, out, &bar)?;
        if summary.repaired {
            eprintln!("note: dropped a partial last line from {} (left by an interrupted run)", out.display());
        }
        if !args.quiet {
            eprintln!(
                "judged {} pairs ({} with errors), skipped {} already in {}, in {:.1} s",
                summary.judged,
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
