//! Command-line parsing and dispatch. Each subcommand parses its arguments, calls the
//! library and prints; errors print as `error: ...` then `caused by: ...` lines, with
//! exit code 1 for user errors and 2 for internal ones.

mod eval;
#[cfg(feature = "train")]
mod filter;
#[cfg(feature = "train")]
mod improve;
mod inspect;
mod judge;
mod merge;
mod opts;
mod progress;
mod pull;
mod quantize;
mod report;
mod show;
#[cfg(feature = "train")]
mod synth;
#[cfg(feature = "train")]
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "vlmjudge", version, about = "Self-improving vision-language judges on local hardware")]
struct Cli {
    /// Show llama.cpp's log on stderr.
    #[arg(long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Judge preference pairs: a JSONL batch (--pairs/--out) or one pair (--question/--a/--b).
    Judge(judge::JudgeArgs),
    /// Accuracy of a judge on a benchmark (labelled pairs, VL-RewardBench, Multimodal
    /// RewardBench): resumable, shardable, or --score-only on existing verdicts.
    Eval(eval::EvalArgs),
    /// What a model is and whether it can judge: family, chat format, the judge prompt,
    /// what a photo costs, and a trial text and image pair.
    Inspect(inspect::InspectArgs),
    /// Print a verdicts file as a table (with accuracy when the pairs carry labels).
    Show(show::ShowArgs),
    /// Download a GGUF model and its mmproj from the Hugging Face Hub into the cache.
    Pull(pull::PullArgs),
    /// Print llama.cpp's build and CPU features (e.g. whether AVX-512 is compiled in).
    SystemInfo,
    /// Quantize a GGUF model (e.g. a merged checkpoint) or mmproj to q8_0, q4_k_m, ...
    Quantize(quantize::QuantizeArgs),
    /// Join the JSON Lines outputs of shard jobs (--shard K/N) into one file, deterministically.
    Merge(merge::MergeArgs),
    /// Print a table of a run's rounds and draw its curves as PNG.
    Report(report::ReportArgs),
    /// Fine-tune a judge (LoRA or full) on SFT examples; writes a GGUF adapter or model.
    #[cfg(feature = "train")]
    Train(train::TrainArgs),
    /// Synthesise preference pairs from a prompt pool: majority votes (closed questions) and injected errors (open).
    #[cfg(feature = "train")]
    Synth(synth::SynthArgs),
    /// Keep the judge's reasoning traces that agree with the synthetic labels, as SFT examples.
    #[cfg(feature = "train")]
    Filter(filter::FilterArgs),
    /// Run self-improvement rounds: synth -> filter -> train -> quantize -> eval (resumable).
    #[cfg(feature = "train")]
    Improve(improve::ImproveArgs),
}

pub use vlmjudge::exit::UserError;

pub fn main() -> ExitCode {
    vlmjudge::exit::end_quietly_on_closed_pipe();
    let cli: Cli = match vlmjudge::exit::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if cli.verbose {
        vlmjudge::engine::set_log_sink(Some(std::sync::Arc::new(|_, line: &str| eprintln!("{line}"))));
    }
    let result = match cli.command {
        Command::Judge(args) => judge::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Show(args) => show::run(args),
        Command::Pull(args) => pull::run(args),
        Command::Quantize(args) => quantize::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Report(args) => report::run(args),
        #[cfg(feature = "train")]
        Command::Train(args) => train::run(args),
        #[cfg(feature = "train")]
        Command::Synth(args) => synth::run(args),
        #[cfg(feature = "train")]
        Command::Filter(args) => filter::run(args),
        #[cfg(feature = "train")]
        Command::Improve(args) => improve::run(args),
        Command::SystemInfo => {
            println!("vlmjudge {}", vlmjudge::VERSION);
            println!("{}", vlmjudge::engine::system_info());
            Ok(())
        }
    };
    vlmjudge::exit::report(result)
}
