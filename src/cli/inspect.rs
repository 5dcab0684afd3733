//! `vlmjudge inspect MODEL [--mmproj P]`: what a model is and whether it can judge.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use vlmjudge::engine::{Model, ModelParams};
use vlmjudge::judge::inspect::{inspect, PHOTO_SIZE};

use super::opts::JudgeOpts;
use super::UserError;

#[derive(Args)]
pub struct InspectArgs {
    /// The model (GGUF).
    model: PathBuf,
    /// The multimodal projector (GGUF).
    #[arg(long)]
    mmproj: Option<PathBuf>,
    /// Most image embeddings one image may take (see `judge --help`).
    #[arg(long, default_value_t = vlmjudge::engine::DEFAULT_IMAGE_MAX_TOKENS)]
    image_max_tokens: u32,
    /// llama.cpp threads [default: physical cores].
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    judge: JudgeOpts,
}

pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let params = ModelParams {
        threads: args.threads.unwrap_or(0),
        image_max_tokens: args.image_max_tokens,
        ..ModelParams::default()
    };
    let model = Model::load(&args.model, args.mmproj.as_deref(), &params)
        .with_context(|| format!("cannot load {}", args.model.display()))?;
    let judge_params = vlmjudge::judge::JudgeParams { threads: params.threads, ..args.judge.judge_params()? };
    let report = inspect(&model, &judge_params);
    let info = model.info();
    println!("model:          {}", args.model.display());
    println!("architecture:   {}", report.architecture);
    let family = match (report.family, &report.projector) {
        (Some(family), _) => family.to_string(),
        (None, None) if info.mmproj_path.is_none() => "a text model (no --mmproj)".into(),
        (None, projector) => format!(
            "none vlmjudge has tested (projector {}); llama.cpp's mtmd runs it as it would any",
            projector.as_deref().unwrap_or("unknown")
        ),
    };
    println!("family:         {family}");
    println!("parameters:     {:.1}M", report.n_params as f64 / 1e6);
    println!(
        "context length: {} (trained); the judge uses {} cells per sequence",
        report.n_ctx_train, judge_params.ctx_per_seq
    );
    match &report.chat_format {
        Ok(format) => println!("chat format:    {format}"),
        Err(e) => println!("chat format:    none usable: {e}"),
    }
    if let Some(mmproj) = &info.mmproj_path {
        println!("mmproj:         {}", mmproj.display());
        println!("projector:      {}", report.projector.as_deref().unwrap_or("(unknown)"));
    }
    match &report.photo {
        Some(Ok(cost)) => println!(
            "photo {}x{}: {} image tokens in {} chunk(s), {} KV cells, {} positions (image budget {} embeddings)",
            PHOTO_SIZE.0,
            PHOTO_SIZE.1,
            cost.image_tokens,
            cost.chunks,
            cost.kv_cells,
            cost.positions,
            args.image_max_tokens
        ),
        Some(Err(e)) => println!("photo {}x{}: cannot be encoded: {e}", PHOTO_SIZE.0, PHOTO_SIZE.1),
        None => {}
    }
    let verdict = |r: &Result<(), String>| match r {
        Ok(()) => "yes".to_string(),
        Err(e) => format!("NO: {e}"),
    };
    println!("text pairs:     {}", verdict(&report.text_pair));
    if let Some(image) = &report.image_pair {
        println!("image pairs:    {}", verdict(image));
    } else {
        println!("image pairs:    no (no --mmproj given)");
    }
    match &report.sample_prompt {
        Ok(prompt) => println!("\nThe judge prompt of a sample text pair, as the model reads it:\n{prompt}"),
        Err(e) => println!("\nno judge prompt: {e}"),
    }
    if report.text_pair.is_err() || report.image_pair.as_ref().is_some_and(Result::is_err) {
        return Err(UserError("this model cannot judge every kind of pair (see above)".into()).into());
    }
    Ok(())
}
