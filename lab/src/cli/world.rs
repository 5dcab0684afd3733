//! `vlmjudge-lab world`: write a procedural image world (pretraining set, prompt pool,
//! held-out benchmark, ground truth), or probe how well a model knows one.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use vlmjudge_lab::world::{write_world, WorldConfig};

use super::UserError;

#[derive(Args)]
pub struct WorldArgs {
    /// Directory to write the world into (replaced if it holds an earlier world).
    #[arg(long, required_unless_present_any = ["probe", "grade"])]
    out: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Pretraining SFT examples.
    #[arg(long, default_value_t = WorldConfig::default().pretrain)]
    pretrain: usize,
    /// Pretraining examples per image (different questions about one image).
    #[arg(long, default_value_t = WorldConfig::default().pretrain_per_image)]
    pretrain_per_image: usize,
    /// Fraction of the pretraining examples that are descriptions.
    #[arg(long, default_value_t = WorldConfig::default().pretrain_descriptions)]
    pretrain_descriptions: f64,
    /// Judging examples added to pretraining (the world's judge prompt, its reasoning
    /// stating what the image shows), as a fraction of --pretrain.
    #[arg(long, default_value_t = WorldConfig::default().pretrain_judging)]
    pretrain_judging: f64,
    /// Share of the judging examples that show a pretraining image instead of the blank
    /// image (with the scene in words or none).
    #[arg(long, default_value_t = WorldConfig::default().judging_on_images)]
    judging_on_images: f64,
    /// Pool images; each gives an open prompt and --pool-closed closed ones.
    #[arg(long, default_value_t = WorldConfig::default().pool)]
    pool: usize,
    /// Closed prompts per pool image (different questions, as far as the scene has them).
    #[arg(long, default_value_t = WorldConfig::default().pool_closed, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pool_closed: usize,
    /// Held-out preference pairs (each with its own image).
    #[arg(long, default_value_t = WorldConfig::default().heldout)]
    heldout: usize,
    /// Instead of writing a world: answer the pool prompts of --data with --model and
    /// grade the answers against the ground truth.
    #[arg(long, requires_all = ["model", "mmproj", "data"])]
    probe: bool,
    /// The model to probe (GGUF).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Its mmproj.
    #[arg(long)]
    mmproj: Option<PathBuf>,
    /// The world directory to probe on.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Closed and open prompts to answer (each).
    #[arg(long, default_value_t = 200)]
    limit: usize,
    /// Also write every graded answer here (JSON Lines).
    #[arg(long)]
    answers: Option<PathBuf>,
    /// Instead of writing a world: grade the labels of a loop round's pairs (a round
    /// directory of `vlmjudge improve`) against the truth of the world --data, for all
    /// pairs and for the pairs its filter kept.
    #[arg(long, requires = "data", conflicts_with = "probe")]
    grade: Option<PathBuf>,
}

pub fn run(args: WorldArgs) -> anyhow::Result<()> {
    if args.probe {
        return probe(args);
    }
    if let Some(round) = &args.grade {
        return grade(round, args.data.as_deref().expect("clap requires --data with --grade"));
    }
    let out = args.out.expect("clap requires --out without --probe");
    let config = WorldConfig {
        seed: args.seed,
        pretrain: args.pretrain,
        pretrain_per_image: args.pretrain_per_image,
        pretrain_descriptions: args.pretrain_descriptions,
        pretrain_judging: args.pretrain_judging,
        judging_on_images: args.judging_on_images,
        pool: args.pool,
        pool_closed: args.pool_closed,
        heldout: args.heldout,
    };
    let s = write_world(&out, &config).with_context(|| format!("cannot write the world into {}", out.display()))?;
    println!(
        "world: {} (seed {}): {} pretrain examples, {} pool prompts, {} held-out pairs, {} images",
        s.dir.display(),
        config.seed,
        s.pretrain_examples,
        s.pool_prompts,
        s.heldout_pairs,
        s.images
    );
    Ok(())
}

fn probe(args: WorldArgs) -> anyhow::Result<()> {
    let (model, mmproj, data) = (args.model.unwrap(), args.mmproj.unwrap(), args.data.unwrap());
    let report =
        vlmjudge_lab::world::probe::probe(&model, &mmproj, &data, args.limit).map_err(|e| UserError(e.to_string()))?;
    println!("{}", report.summary());
    if let Some(path) = args.answers {
        vlmjudge::data::write_jsonl(&path, &report.answers)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn grade(round: &std::path::Path, world: &std::path::Path) -> anyhow::Result<()> {
    use vlmjudge_lab::world::grade::{grade_labels, kept_pair_ids};
    let pairs = round.join("pairs.jsonl");
    let all = grade_labels(world, &pairs, None).map_err(|e| UserError(e.to_string()))?;
    println!("labels of all {} pairs:\n{}", all.closed.total() + all.open.total(), all.summary());
    let sft = round.join("sft.jsonl");
    if sft.is_file() {
        let kept = kept_pair_ids(&sft).map_err(|e| UserError(e.to_string()))?;
        let graded = grade_labels(world, &pairs, Some(&kept)).map_err(|e| UserError(e.to_string()))?;
        println!("labels of the {} pairs the filter kept:\n{}", kept.len(), graded.summary());
    }
    Ok(())
}
