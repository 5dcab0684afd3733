//! Judging a pairs file into an append-only, resumable verdicts file.

use std::path::Path;

use super::{Judge, Pair};
use crate::data::{read_pairs, AppendLog};
use crate::progress::Progress;
use crate::shard::Shard;
use crate::Result;

/// What [`judge_file`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileSummary {
    /// Pairs in the input (in the shard, when sharded).
    pub total: usize,
    /// Pairs already in the output from an earlier run, not judged again.
    pub skipped: usize,
    /// Pairs judged now (including those with an `error`).
    pub judged: usize,
    /// Pairs judged now whose verdict carries an `error`.
    pub errors: usize,
    /// A partial last line (from a killed run) was dropped from the output.
    pub repaired: bool,
}

/// Judges every pair of `pairs_path` in `shard` (by position in the file, see
/// [`Shard`]) not yet in `out_path`, appending a verdict line per pair as it finishes.
/// Safe to kill and rerun: nothing is lost or duplicated.
pub fn judge_file(
    judge: &mut Judge<'_>,
    pairs_path: &Path,
    out_path: &Path,
    shard: Shard,
    progress: &dyn Progress,
) -> Result<FileSummary> {
    let records = shard.select(read_pairs(pairs_path)?);
    let mut log = AppendLog::open(out_path)?;
    let base = pairs_path.parent().unwrap_or(Path::new("."));
    let pairs: Vec<Pair> = records.iter().map(|r| Pair::from_record(r, base)).collect();
    judge_into_log(judge, &pairs, &mut log, progress)
}

/// Judges the `pairs` whose ids `log` does not hold yet, appending each verdict as it
/// finishes; `pairs` already in the log count as skipped.
pub fn judge_into_log(
    judge: &mut Judge<'_>,
    pairs: &[Pair],
    log: &mut AppendLog,
    progress: &dyn Progress,
) -> Result<FileSummary> {
    let todo: Vec<Pair> = pairs.iter().filter(|p| !log.done().contains(&p.id)).cloned().collect();
    let mut summary = FileSummary {
        total: pairs.len(),
        skipped: pairs.len() - todo.len(),
        repaired: log.repaired(),
        ..FileSummary::default()
    };
    progress.start("judging", pairs.len() as u64, summary.skipped as u64);
    let mut write_error = None;
    let result = judge.judge_batch(&todo, |_, verdict| {
        summary.judged += 1;
        summary.errors += usize::from(verdict.error.is_some());
        if let Err(e) = log.append_record(&verdict.id, &verdict) {
            write_error = Some(e);
            return false;
        }
        progress.advance(1);
        true
    });
    progress.finish();
    if let Some(e) = write_error {
        return Err(e);
    }
    result.map(|()| summary)
}
