//! Multimodal RewardBench (facebookresearch/multimodal_rewardbench): one JSON list.
//!
//! Verified against the benchmark's own scripts (`scripts/1_run_model_as_judge_gpt4o.py`
//! and `scripts/2_get_accuracy.py` in facebookresearch/multimodal_rewardbench): each
//! object has `ID`, `Text` (the prompt), `Image` (a path relative to the image folder,
//! which defaults to the folder of `data/all_data.json`), `Output1`, `Output2`,
//! `Better` (`"Output2"` means B is better, otherwise A) and `Category`; the accuracy
//! script splits `safety` into `safety/bias` (IDs starting with `pairs`) and
//! `safety/toxicity`, and `reasoning` into `reasoning/math` (IDs starting with `math`)
//! and `reasoning/coding`, and so do we.
//! Assumed, not seen in a real file: `ID` may also be a number (we accept both, and
//! a lowercase `id`); an item without `Category` is scored under `all`. We are stricter
//! than the script about `Better`: anything other than `Output1`/`Output2` is an error
//! rather than silently "A". The order is fixed: Output1 is A, as the official
//! inference script (`1_run_model_as_judge_gpt4o.py`) presents it.
//!
//! The public `data/all_data.json` has 4,711 of the paper's 5,211 items: the Hateful
//! Memes part of `safety/toxicity` is not released. The repository's
//! `all_data_release.json` has an empty `Text` for some sources until
//! `scripts/0_download_data.py` fills them in; an empty `Text` is refused.

use std::path::Path;

use serde::Deserialize;

use super::item::{check_unique_ids, Bench, BenchItem, ReadOptions};
use crate::judge::{Choice, ImageSource};
use crate::{Error, Result};

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "ID", alias = "id")]
    id: Option<serde_json::Value>,
    #[serde(rename = "Text")]
    text: Option<String>,
    #[serde(rename = "Image")]
    image: Option<String>,
    #[serde(rename = "Output1")]
    output1: Option<String>,
    #[serde(rename = "Output2")]
    output2: Option<String>,
    #[serde(rename = "Better")]
    better: Option<String>,
    #[serde(rename = "Category")]
    category: Option<String>,
}

/// Items in the paper; the public file lacks the Hateful Memes ones.
const PAPER_ITEMS: usize = 5211;
/// Items in the public `data/all_data.json`.
const PUBLIC_ITEMS: usize = 4711;

/// Reads Multimodal RewardBench's JSON list (e.g. `data/all_data.json`).
pub fn read_mm_rewardbench(path: &Path, options: &ReadOptions) -> Result<Vec<BenchItem>> {
    Ok(read_mm_rewardbench_with_notes(path, options)?.items)
}

/// Reads Multimodal RewardBench's JSON list with its release and notes.
pub fn read_mm_rewardbench_with_notes(path: &Path, options: &ReadOptions) -> Result<Bench> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let invalid = |reason: String| Error::InvalidInput { path: path.into(), line: 0, reason };
    let records: Vec<serde_json::Value> = serde_json::from_slice(&bytes)
        .map_err(|e| invalid(format!("not a Multimodal RewardBench file (expected a JSON list of objects): {e}")))?;
    let mut items = Vec::with_capacity(records.len());
    for (i, value) in records.into_iter().enumerate() {
        let record: Record =
            serde_json::from_value(value).map_err(|e| invalid(format!("item {i}: unexpected field type: {e}")))?;
        let id = match &record.id {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(other) => return Err(invalid(format!("item {i}: ID must be a string or number, not {other}"))),
            None => return Err(invalid(format!("item {i}: no ID"))),
        };
        let field = |value: Option<String>, name: &str| {
            value.ok_or_else(|| invalid(format!("item {i} (ID {id:?}): no {name}")))
        };
        let label = match field(record.better, "Better")?.as_str() {
            "Output1" => Choice::A,
            "Output2" => Choice::B,
            other => {
                return Err(invalid(format!(
                    "item {i} (ID {id:?}): Better is {other:?}, expected \"Output1\" or \"Output2\""
                )))
            }
        };
        let category = match record.category.as_deref() {
            None | Some("") => "all".to_string(),
            Some(c) => subcategory(c, &id),
        };
        items.push(BenchItem {
            question: field(record.text, "Text")?,
            response_a: field(record.output1, "Output1")?,
            response_b: field(record.output2, "Output2")?,
            image: record.image.filter(|p| !p.is_empty()).map(|p| ImageSource::Path(options.resolve_image(path, &p))),
            label,
            category,
            id,
        });
    }
    check_unique_ids(path, &items)?;
    refuse_empty_prompts(path, &items)?;
    let release = match items.len() {
        PUBLIC_ITEMS => format!("public release ({PUBLIC_ITEMS} of the paper's {PAPER_ITEMS} items)"),
        n => format!("{n} items: not the public release ({PUBLIC_ITEMS}); not comparable with published numbers"),
    };
    let notes = vec![format!(
        "the Hateful Memes items of safety/toxicity are not released ({PUBLIC_ITEMS} of the paper's {PAPER_ITEMS} \
         items): safety/toxicity and overall are not directly comparable with the paper's"
    )];
    Ok(Bench { items, release: Some(release), notes })
}

/// Fails on items with an empty prompt, counting them: the repository's release file
/// lacks the `Text` of some sources until its download script fills them in, and judging
/// without the question would score a different benchmark.
fn refuse_empty_prompts(path: &Path, items: &[BenchItem]) -> Result<()> {
    let empty: Vec<&str> = items.iter().filter(|i| i.question.trim().is_empty()).map(|i| i.id.as_str()).collect();
    match empty.first() {
        None => Ok(()),
        Some(first) => Err(Error::InvalidInput {
            path: path.into(),
            line: 0,
            reason: format!(
                "{} of {} items have an empty Text (the first: ID {first:?}): the prompts of some sources are \
                 filled in by the benchmark's download step, `python scripts/0_download_data.py`; run it and pass \
                 the data/all_data.json it writes",
                empty.len(),
                items.len()
            ),
        }),
    }
}

/// The category as the benchmark's accuracy script reports it.
fn subcategory(category: &str, id: &str) -> String {
    let id = id.to_lowercase();
    match category {
        "safety" if id.starts_with("pairs") => "safety/bias".into(),
        "safety" => "safety/toxicity".into(),
        "reasoning" if id.starts_with("math") => "reasoning/math".into(),
        "reasoning" => "reasoning/coding".into(),
        other => other.into(),
    }
}
