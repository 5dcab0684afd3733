use std::path::PathBuf;

use clap::Args;
use vlmjudge::data::{merge_files, MergeOptions};

#[derive(Args)]
pub struct MergeArgs {
    /// The shard outputs to join (JSON Lines, every line an object with a string "id").
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// The merged file (written atomically; may be one of the shards).
    #[arg(long)]
    out: PathBuf,
    /// Order lines as their ids appear in this input file (the one the shards were cut
    /// from) instead of by id. Derived ids such as `p7/AB` go with `p7`.
    #[arg(long, value_name = "INPUT.jsonl")]
    order: Option<PathBuf>,
    /// Drop a shard's unterminated last line (from a killed job) with a warning instead
    /// of failing.
    #[arg(long)]
    allow_partial: bool,
}

pub fn run(args: MergeArgs) -> anyhow::Result<()> {
    let options = MergeOptions { order: args.order.clone(), allow_partial: args.allow_partial };
    let summary = merge_files(&args.shards, &args.out, &options)?;
    for (path, line) in &summary.dropped_partial {
        eprintln!("warning: {}:{line}: dropped an unterminated last line (a cut-off write)", path.display());
    }
    let mut note =
        format!("merged {} lines from {} files into {}", summary.lines, args.shards.len(), args.out.display());
    if summary.duplicates > 0 {
        note += &format!(" ({} identical duplicates dropped)", summary.duplicates);
    }
    eprintln!("{note}");
    if let (Some(order), n @ 1..) = (&args.order, summary.unmatched_order_ids) {
        eprintln!("note: {n} ids of {} have no line (a missing shard, or records a stage skipped)", order.display());
    }
    Ok(())
}
