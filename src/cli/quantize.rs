//! `vlmjudge quantize`: a GGUF model or mmproj to a smaller type on llama.cpp's quantizer.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use vlmjudge_quantize::{quantize, QuantType, QuantizeParams};

use super::UserError;

#[derive(Args)]
pub struct QuantizeArgs {
    /// The input GGUF (F32, F16 or BF16): a language model or an mmproj.
    input: PathBuf,
    /// The output GGUF (written atomically).
    output: PathBuf,
    /// Target type: q8_0, q6_k, q5_k_m, q5_k_s, q5_1, q5_0, q4_k_m, q4_k_s, q4_1, q4_0,
    /// q3_k_l, q3_k_m, q3_k_s, q2_k, f16, bf16.
    #[arg(long = "type", default_value = "q4_k_m")]
    qtype: String,
    /// Threads [default: all].
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Accept an input that is already quantized (loses more precision).
    #[arg(long)]
    allow_requantize: bool,
}

pub fn run(args: QuantizeArgs) -> anyhow::Result<()> {
    // Installs vlmjudge's log handler, so llama.cpp's per-tensor lines stay off stderr.
    vlmjudge::engine::backend()?;
    let qtype = QuantType::parse(&args.qtype).map_err(|e| UserError(e.to_string()))?;
    let params = QuantizeParams { qtype, threads: args.threads, allow_requantize: args.allow_requantize };
    let started = Instant::now();
    quantize(&args.input, &args.output, &params).map_err(|e| match e {
        vlmjudge_quantize::QuantizeError::Failed { .. } => anyhow::Error::new(e),
        other => anyhow::Error::new(UserError(other.to_string())),
    })?;
    let size = |p: &PathBuf| std::fs::metadata(p).map(|m| m.len() as f64 / 1e6).unwrap_or(f64::NAN);
    let (before, after) = (size(&args.input), size(&args.output));
    println!(
        "{} -> {} ({}): {before:.1} MB -> {after:.1} MB in {:.1} s",
        args.input.display(),
        args.output.display(),
        qtype.name(),
        started.elapsed().as_secs_f64()
    );
    std::fs::metadata(&args.output).with_context(|| format!("the output {} is missing", args.output.display()))?;
    Ok(())
}
