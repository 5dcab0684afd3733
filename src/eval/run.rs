//! Judging a benchmark into a resumable verdicts file, and scoring verdicts files.

use std::collections::HashMap;
use std::path::Path;

use super::item::{BenchFormat, BenchItem};
use super::official::{official_score, OfficialScore};
use super::score::{EvalSummary, Outcome, Tally};
use crate::data::{read_jsonl, AppendLog};
use crate::judge::{judge_into_log, Judge, Pair, Verdict};
use crate::progress::Progress;
use crate::shard::Shard;
use crate::{Error, Result};

/// Judges the items of `shard` (by position in `items`) that `verdicts_out` does not
/// hold yet, appending one verdict line per item as it finishes (safe to kill and
/// rerun), then scores all the shard's items from that file.
pub fn evaluate(
    judge: &mut Judge<'_>,
    items: &[BenchItem],
    verdicts_out: &Path,
    shard: Shard,
    progress: &dyn Progress,
) -> Result<EvalSummary> {
    let mine: Vec<&BenchItem> = shard.select(items);
    let pairs: Vec<Pair> = mine.iter().map(|item| item.to_pair()).collect();
    judge_into_log(judge, &pairs, &mut AppendLog::open(verdicts_out)?, progress)?;
    score(mine, verdicts_out)
}

/// Scores `items` against the verdicts in `verdicts_path` (e.g. shards merged after a
/// job array), without a model. Every item needs a verdict; verdicts for other ids are
/// ignored.
pub fn score_verdicts(items: &[BenchItem], verdicts_path: &Path) -> Result<EvalSummary> {
    score(items.iter().collect(), verdicts_path)
}

/// The benchmark's official metrics (see [`official_score`]) of `items` from the
/// verdicts in `verdicts_path`; `None` for our pairs format, which has none.
pub fn score_official(format: BenchFormat, items: &[BenchItem], verdicts_path: &Path) -> Result<Option<OfficialScore>> {
    let verdicts = read_verdicts(verdicts_path)?;
    Ok(official_score(format, &items.iter().collect::<Vec<_>>(), &verdicts))
}

/// The verdicts of a file by id; the first line of an id wins, as when resuming.
fn read_verdicts(verdicts_path: &Path) -> Result<HashMap<String, Verdict>> {
    let mut verdicts: HashMap<String, Verdict> = HashMap::new();
    for (_, verdict) in read_jsonl::<Verdict>(verdicts_path)? {
        verdicts.entry(verdict.id.clone()).or_insert(verdict);
    }
    Ok(verdicts)
}

fn score(items: Vec<&BenchItem>, verdicts_path: &Path) -> Result<EvalSummary> {
    let verdicts = read_verdicts(verdicts_path)?;
    let mut tally = Tally::new();
    let mut missing = Vec::new();
    for item in items.iter().copied() {
        match verdicts.get(&item.id) {
            Some(v) => tally.add(&item.category, Outcome::of(item.label, v)),
            None => missing.push(item.id.as_str()),
        }
    }
    if let Some(first) = missing.first() {
        return Err(Error::InvalidInput {
            path: verdicts_path.into(),
            line: 0,
            reason: format!(
                "{} of {} items have no verdict (the first: {first:?}); judge them first, or score with the \
                 same --shard/--limit they were judged with",
                missing.len(),
                items.len()
            ),
        });
    }
    Ok(tally.summary())
}
