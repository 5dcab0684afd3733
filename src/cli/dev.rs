//! `vlmjudge dev`: developer tools (generated test models).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use vlmjudge::fixture::{write_fixture_with, write_world_base_with_layers, FixtureKind, Geometry};

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
    /// Image geometry of the family kinds (smolvlm, qwen25vl, gemma3, llava16).
    #[arg(long, value_enum, default_value_t = GeometryArg::Tiny)]
    geometry: GeometryArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum GeometryArg {
    /// Images of tens of pixels and a few tokens, for tests.
    Tiny,
    /// The released models' image size, patches, merging and tiling on the same tiny
    /// encoder: an image costs as many tokens and KV cells as in the real family.
    Real,
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    /// A tiny random llama LM with SmolLM2's tokenizer + a tiny vision encoder.
    TinyVlm,
    /// A vision encoder + projector sized for the real SmolLM2-135M demo model.
    Smollm2Vision,
    /// A random VLM for `vlmjudge world` (own ~700-token vocabulary), to train from scratch.
    WorldBase,
    /// SmolVLM's layout: llama LM + idefics3 projector with tiled images and framing tokens.
    Smolvlm,
    /// Qwen2.5-VL's layout: qwen2vl LM (M-RoPE) + qwen2.5vl_merger projector.
    Qwen25vl,
    /// Gemma 3's layout: gemma3 LM (sliding-window layers) + gemma3 projector (non-causal image).
    Gemma3,
    /// LLaVA-1.6's layout: llama LM + mlp projector with anyres grid pinpoints.
    Llava16,
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
        KindArg::Smolvlm => FixtureKind::Smolvlm,
        KindArg::Qwen25vl => FixtureKind::Qwen25vl,
        KindArg::Gemma3 => FixtureKind::Gemma3,
        KindArg::Llava16 => FixtureKind::Llava16,
    };
    let geometry = match args.geometry {
        GeometryArg::Tiny => Geometry::Tiny,
        GeometryArg::Real => Geometry::Real,
    };
    if geometry != Geometry::Tiny && !FixtureKind::FAMILIES.contains(&kind) {
        let families = FixtureKind::FAMILIES.map(FixtureKind::name).join(", ");
        return Err(UserError(format!("--geometry real applies to {families} only, not {}", kind.name())).into());
    }
    let files = match args.layers {
        Some(layers) if kind == FixtureKind::WorldBase => write_world_base_with_layers(&args.out, args.seed, layers)
            .with_context(|| format!("cannot build the {} fixture", kind.name()))?,
        Some(_) => return Err(UserError("--layers applies to --kind world-base only".into()).into()),
        None => {
            let demo = args.demo_model.unwrap_or_else(vlmjudge::demo_model_path);
            write_fixture_with(kind, &args.out, args.seed, &demo, geometry).with_context(|| {
                format!("cannot build the {} fixture (run `make model` for the demo model)", kind.name())
            })?
        }
    };
    println!("model:  {}", files.model.display());
    println!("mmproj: {}", files.mmproj.display());
    Ok(())
}
