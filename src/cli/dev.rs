//! `vlmjudge dev`: developer tools (generated test models).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use vlmjudge::fixture::{write_fixture, write_world_base_with_layers, FixtureKind};

use super::UserError;

#[derive(Args)]
pub struct DevArgs {
    #[command(subcommand)]
    command: DevCommand,
}

#[derive(Subcommand)]
enum DevCommand {
    /// Generate a seeded random test model (never committed; cached like the demo model).
    Fixture(FixtureArgs),
}

#[derive(Args)]
struct FixtureArgs {
    #[arg(long, value_enum)]
    kind: KindArg,
    /// Directory for model.gguf (kinds with their own language model) and mmproj.gguf.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The SmolLM2-135M-Instruct GGUF whose tokenizer is copied [default: the demo model in the cache].
    #[arg(long, env = "VLMJUDGE_DEMO_MODEL")]
    demo_model: Option<PathBuf>,
    /// Transformer blocks of the world-base language model [default: 3]; world-base only.
    #[arg(long)]
    layers: Option<u64>,
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    /// A tiny random llama LM with SmolLM2's tokenizer + a tiny vision encoder.
    TinyVlm,
    /// A vision encoder + projector sized for the real SmolLM2-135M demo model.
    Smollm2Vision,
    /// A random VLM for `vlmjudge world` (own ~700-token vocabulary), to train from scratch.
    WorldBase,
}

pub fn run(args: DevArgs) -> anyhow::Result<()> {
    match args.command {
        DevCommand::Fixture(args) => fixture(args),
    }
}

fn fixture(args: FixtureArgs) -> anyhow::Result<()> {
    let kind = match args.kind {
        KindArg::TinyVlm => FixtureKind::TinyVlm,
        KindArg::Smollm2Vision => FixtureKind::Smollm2Vision,
        KindArg::WorldBase => FixtureKind::WorldBase,
    };
    let files = match args.layers {
        Some(layers) if kind == FixtureKind::WorldBase => write_world_base_with_layers(&args.out, args.seed, layers)
            .with_context(|| format!("cannot build the {} fixture", kind.name()))?,
        Some(_) => return Err(UserError("--layers applies to --kind world-base only".into()).into()),
        None => {
            let demo = args.demo_model.unwrap_or_else(vlmjudge::demo_model_path);
            write_fixture(kind, &args.out, args.seed, &demo).with_context(|| {
                format!("cannot build the {} fixture (run `make model` for the demo model)", kind.name())
            })?
        }
    };
    println!("model:  {}", files.model.display());
    println!("mmproj: {}", files.mmproj.display());
    Ok(())
}
