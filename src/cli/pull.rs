use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use vlmjudge::hub::{pull, HubConfig, PullParams, PulledFile};

use super::progress::Bar;

#[derive(Args)]
pub struct PullArgs {
    /// Model repo on the Hugging Face Hub, OWNER/NAME (e.g. ggml-org/SmolVLM-256M-Instruct-GGUF).
    repo: String,
    /// Quant of the model file (Q4_K_M, Q8_0, f16...), or the exact .gguf file name.
    #[arg(long, default_value = PullParams::DEFAULT_QUANT)]
    quant: String,
    /// Branch, tag or commit of the repo.
    #[arg(long, default_value = PullParams::DEFAULT_REVISION)]
    revision: String,
    /// The Hugging Face hub cache [default: $HF_HUB_CACHE, else $HF_HOME/hub, else
    /// ~/.cache/huggingface/hub], shared with huggingface-cli and llama.cpp's -hf.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// No progress bar or notes; print only the paths and the judge command.
    #[arg(long, short)]
    quiet: bool,
}

/// Pulls the model (and mmproj) and prints where they are and how to judge with them.
/// The Hub is `HF_ENDPOINT` (default https://huggingface.co), the token `HF_TOKEN`.
pub fn run(args: PullArgs) -> anyhow::Result<()> {
    let mut config = HubConfig::from_env();
    if let Some(dir) = args.cache_dir {
        config.hub_cache = dir;
    }
    let params = PullParams { repo: args.repo, quant: args.quant, revision: args.revision };
    if !args.quiet {
        eprintln!(
            "pulling {} ({}, revision {}) from {}",
            params.repo,
            params.quant,
            params.revision,
            config.endpoint.trim_end_matches('/')
        );
    }
    let bar = Bar::new(args.quiet);
    let pulled = pull(&config, &params, &bar).with_context(|| format!("cannot pull {}", params.repo))?;

    if !args.quiet {
        for file in pulled.model_parts.iter().chain(&pulled.mmproj) {
            eprintln!("{}: {}", file.repo_path, how_fetched(file));
        }
    }
    println!("model   {}", pulled.model.path.display());
    match &pulled.mmproj {
        Some(mmproj) => println!("mmproj  {}", mmproj.path.display()),
        None => println!("mmproj  none in the repo: a text-only model (image pairs will get per-pair errors)"),
    }
    println!();
    println!("judge with:");
    println!("  {}", judge_command(&pulled.model.path, pulled.mmproj.as_ref().map(|m| m.path.as_path())));
    Ok(())
}

fn how_fetched(file: &PulledFile) -> String {
    if file.reused {
        format!("already in the cache ({})", human_size(file.size))
    } else if file.resumed_from > 0 {
        format!("downloaded {} (resumed after {})", human_size(file.downloaded), human_size(file.resumed_from))
    } else {
        format!("downloaded {}", human_size(file.downloaded))
    }
}

/// `bytes` for people: 512 B, 3.4 kB, 98.2 MB, 2.50 GB.
fn human_size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", bytes as f64 / 1e6),
        _ => format!("{:.2} GB", bytes as f64 / 1e9),
    }
}

/// The `vlmjudge judge` command line for the pulled files, paths quoted for a POSIX shell.
fn judge_command(model: &Path, mmproj: Option<&Path>) -> String {
    let mut command = format!("vlmjudge judge --model {}", shell_quote(&model.to_string_lossy()));
    if let Some(mmproj) = mmproj {
        command.push_str(&format!(" --mmproj {}", shell_quote(&mmproj.to_string_lossy())));
    }
    command.push_str(" --pairs pairs.jsonl --out verdicts.jsonl");
    command
}

fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._+-=:,@%".contains(&b));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
