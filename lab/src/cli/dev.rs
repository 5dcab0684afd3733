//! `vlmjudge-lab fixture` and `vlmjudge-lab fuzz`: generated test models and the loader fuzzer.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use vlmjudge_lab::fixture::{write_fixture_with, write_world_base_with_layers, FixtureKind, Geometry};
use vlmjudge_lab::fuzz::{run_campaign, ChildSpec, FuzzConfig, Totals, DEFAULT_KINDS};

use super::UserError;

/// Fuzz the loaders: judge seeded mutants of the fixtures' model, mmproj and LoRA files
/// in child processes; exits nonzero on any abort, hang, sanitizer report or panic.
#[derive(Args)]
pub(crate) struct FuzzArgs {
    /// Seed of the mutations (the same seed gives the same mutants).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Mutants to run.
    #[arg(long, default_value_t = 200)]
    count: u64,
    /// Index of the first mutant (`--start I --count 1` replays mutant I).
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Child judges at once.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Seconds before a child counts as hung and is killed.
    #[arg(long, default_value_t = 20.0)]
    timeout_s: f64,
    /// Working directory: base files, the pairs and the running mutants.
    #[arg(long)]
    work: PathBuf,
    /// Copy every failing mutant here, with a description of its mutation and the child's stderr.
    #[arg(long)]
    keep_failures: Option<PathBuf>,
    /// The vlmjudge binary the children run, e.g. a sanitizer build [default: this one].
    #[arg(long)]
    child_bin: Option<PathBuf>,
    /// Address-space limit of each child in MiB (0 = none; use 0 for sanitizer builds).
    #[arg(long, default_value_t = 4096)]
    mem_limit_mib: u64,
    /// Fixtures to start from; repeat for several [default: tiny-vlm and the four families].
    #[arg(long, value_enum)]
    kind: Vec<FixtureKind>,
    /// The SmolLM2-135M-Instruct GGUF whose tokenizer the fixtures copy [default: the demo model in the cache].
    #[arg(long, env = "VLMJUDGE_DEMO_MODEL")]
    demo_model: Option<PathBuf>,
}

/// Generate a seeded random test model (never committed; cached like the demo model).
#[derive(Args)]
pub(crate) struct FixtureArgs {
    #[arg(long, value_enum)]
    kind: FixtureKind,
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
    #[arg(long, value_enum, default_value_t = Geometry::Tiny)]
    geometry: Geometry,
}

pub(crate) fn fuzz(args: FuzzArgs) -> anyhow::Result<()> {
    if args.jobs == 0 || args.count == 0 || !(args.timeout_s > 0.0 && args.timeout_s.is_finite()) {
        return Err(UserError("--jobs and --count must be at least 1, --timeout-s positive".into()).into());
    }
    let child_bin = match args.child_bin {
        Some(bin) => bin,
        None => product_binary()?,
    };
    let kinds = if args.kind.is_empty() { DEFAULT_KINDS.to_vec() } else { args.kind };
    let config = FuzzConfig {
        seed: args.seed,
        start: args.start,
        count: args.count,
        jobs: args.jobs,
        work: args.work,
        keep: args.keep_failures,
        child: ChildSpec {
            bin: child_bin,
            timeout: Duration::from_secs_f64(args.timeout_s),
            mem_limit_mib: args.mem_limit_mib,
        },
        demo_model: args.demo_model.unwrap_or_else(vlmjudge::demo_model_path),
        kinds,
    };
    let started = Instant::now();
    let every = (config.count / 20).max(1);
    let mut done = 0u64;
    let mut running = Totals::default();
    println!(
        "fuzzing {} mutants (seed {}, from {}) with {} jobs, timeout {} s, child {}",
        config.count,
        config.seed,
        config.start,
        config.jobs,
        args.timeout_s,
        config.child.bin.display()
    );
    let totals = run_campaign(&config, |r| {
        done += 1;
        running.add(r);
        // Every failure, and every mutant of a short run (a replay of one mutant).
        if r.outcome.class.is_failure() || config.count <= 10 {
            println!("  {} #{} {}: {} => {}", r.outcome.class, r.index, r.base, r.description, r.outcome.signature);
        }
        if done % every == 0 || done == config.count {
            println!("[{done:>6}/{}] {:>7.1} s  {}", config.count, started.elapsed().as_secs_f64(), running.summary());
        }
    })
    .context("the fuzzing campaign failed")?;
    print_fuzz_report(&totals, started.elapsed().as_secs_f64())
}

/// The table per base file and class, the time per mutant, and each distinct failure
/// with its first mutant; an error when there was any failure.
fn print_fuzz_report(totals: &Totals, elapsed: f64) -> anyhow::Result<()> {
    println!();
    print!("{}", totals.table());
    println!(
        "{} mutants in {elapsed:.1} s: {:.3} s per mutant wall, {:.3} s per child run",
        totals.mutants,
        elapsed / totals.mutants.max(1) as f64,
        totals.child_time.as_secs_f64() / totals.mutants.max(1) as f64
    );
    println!("totals: {}", totals.summary());
    if totals.findings.is_empty() {
        println!("no aborts, hangs, sanitizer reports or panics");
        return Ok(());
    }
    println!("{} distinct failures:", totals.findings.len());
    for f in totals.findings.values() {
        println!("  {} x{}: {}", f.class, f.count, f.signature);
        println!("      first: #{} {}: {}", f.first.index, f.first.base, f.first.description);
        if let Some(kept) = &f.first.kept {
            println!("      kept:  {}", kept.display());
        }
    }
    Err(anyhow::anyhow!("{} of {} mutants crashed, hung or panicked the child", totals.failures(), totals.mutants))
}

pub(crate) fn fixture(args: FixtureArgs) -> anyhow::Result<()> {
    let kind = args.kind;
    let geometry = args.geometry;
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

/// The `vlmjudge` binary beside this one (cargo builds both into one directory): the
/// children judge with the product, not with the lab.
fn product_binary() -> anyhow::Result<PathBuf> {
    let here = std::env::current_exe().context("cannot find this executable")?;
    let bin = here.with_file_name(format!("vlmjudge{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        return Err(UserError(format!(
            "{} is missing: build it with `cargo build --release --workspace`, or pass --child-bin",
            bin.display()
        ))
        .into());
    }
    Ok(bin)
}
