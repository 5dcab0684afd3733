//! One benchmark item and the dispatch to the format readers.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::judge::{Choice, ImageSource, Pair};
use crate::{Error, Result};

/// A labelled preference pair of a benchmark, in the order the judge will see it.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchItem {
    pub id: String,
    pub question: String,
    pub response_a: String,
    pub response_b: String,
    pub image: Option<ImageSource>,
    /// The better response: always [`Choice::A`] or [`Choice::B`].
    pub label: Choice,
    /// The category the item is scored under (`all` when the source has none).
    pub category: String,
}

impl BenchItem {
    /// The pair the judge sees.
    pub fn to_pair(&self) -> Pair {
        Pair {
            id: self.id.clone(),
            question: self.question.clone(),
            response_a: self.response_a.clone(),
            response_b: self.response_b.clone(),
            image: self.image.clone(),
        }
    }
}

/// The benchmark file formats `vlmjudge eval` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchFormat {
    /// Our JSON Lines pairs format, with a `label` on every line.
    Pairs,
    /// VL-RewardBench (MMInstruction/VL-RewardBench): one parquet file.
    VlRewardBench,
    /// Multimodal RewardBench (facebookresearch/multimodal_rewardbench): a JSON list.
    MmRewardBench,
}

impl BenchFormat {
    pub fn name(self) -> &'static str {
        match self {
            BenchFormat::Pairs => "pairs",
            BenchFormat::VlRewardBench => "vl-rewardbench",
            BenchFormat::MmRewardBench => "mm-rewardbench",
        }
    }
}

impl fmt::Display for BenchFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BenchFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<BenchFormat> {
        match s {
            "pairs" => Ok(BenchFormat::Pairs),
            "vl-rewardbench" => Ok(BenchFormat::VlRewardBench),
            "mm-rewardbench" => Ok(BenchFormat::MmRewardBench),
            other => Err(Error::InvalidArgument(format!(
                "unknown benchmark format {other:?}: expected pairs, vl-rewardbench or mm-rewardbench"
            ))),
        }
    }
}

/// How to read a benchmark file.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Where relative image paths point [default: the benchmark file's directory].
    pub image_root: Option<PathBuf>,
    /// Seeds the per-item A/B shuffle of VL-RewardBench (with the item's id).
    pub seed: u64,
}

impl ReadOptions {
    pub(crate) fn resolve_image(&self, bench: &Path, image: &str) -> PathBuf {
        let image = Path::new(image);
        if image.is_absolute() {
            return image.to_path_buf();
        }
        match &self.image_root {
            Some(root) => root.join(image),
            None => bench.parent().unwrap_or(Path::new(".")).join(image),
        }
    }
}

/// A benchmark file as read: its items and what the reader noticed about it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bench {
    pub items: Vec<BenchItem>,
    /// Which release of the benchmark the file looks like (from its row count), if the
    /// format has known releases.
    pub release: Option<String>,
    /// Things a user comparing with published numbers should know (renamed duplicate
    /// ids, category cross-check disagreements, missing subsets).
    pub notes: Vec<String>,
}

/// Reads a benchmark file. Ids are unique in the result (resuming relies on them).
pub fn read_bench(path: &Path, format: BenchFormat, options: &ReadOptions) -> Result<Vec<BenchItem>> {
    Ok(read_bench_with_notes(path, format, options)?.items)
}

/// Reads a benchmark file with the release it looks like and the reader's notes.
pub fn read_bench_with_notes(path: &Path, format: BenchFormat, options: &ReadOptions) -> Result<Bench> {
    match format {
        BenchFormat::Pairs => Ok(Bench { items: super::read_labelled_pairs(path, options)?, ..Bench::default() }),
        BenchFormat::MmRewardBench => super::mm_rewardbench::read_mm_rewardbench_with_notes(path, options),
        #[cfg(feature = "parquet")]
        BenchFormat::VlRewardBench => super::vl_rewardbench::read_vl_rewardbench_with_notes(path, options),
        #[cfg(not(feature = "parquet"))]
        BenchFormat::VlRewardBench => Err(Error::InvalidArgument(
            "this build of vlmjudge cannot read parquet files (built without the `parquet` feature)".into(),
        )),
    }
}

/// Fails on the first id seen twice, naming it and its position (0-based).
pub(crate) fn check_unique_ids(path: &Path, items: &[BenchItem]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (i, item) in items.iter().enumerate() {
        if !seen.insert(item.id.as_str()) {
            return Err(Error::InvalidInput {
                path: path.into(),
                line: 0,
                reason: format!("item {i}: duplicate id {:?} (ids must be unique to resume and merge)", item.id),
            });
        }
    }
    Ok(())
}
