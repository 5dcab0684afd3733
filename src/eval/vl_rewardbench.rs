//! VL-RewardBench (Hugging Face dataset MMInstruction/VL-RewardBench): one parquet file.
//!
//! Columns read (names from the dataset card's `dataset_info`): `id` (string),
//! `query` (string), `response` (list of two strings), `human_ranking` (list of two
//! int64; the card: "[0, 1] denotes the first one is preferred; [1, 0] denotes the
//! second one is better", i.e. the lower rank wins), `image` (the `datasets` Image
//! feature: a struct of `bytes` (binary) and `path` (string); a plain binary column is
//! accepted too) and, optionally, `query_source`. Other columns are not decoded.
//!
//! Categories are the official scoring's three groups, derived from the **id prefix**
//! (case-insensitive): `RLAIF`, `RLHF` and `hallucination` ids are hallucination,
//! `mathverse` and `mmmu` ids are reasoning, `wildvision` and every other prefix are
//! general. `query_source` is only a cross-check: a source that names another group is
//! reported in a note, never used. The benchmark presents one random order per item;
//! we draw that order deterministically from `--seed` and the id.
//!
//! Releases: 1,250 rows (2024; some ids duplicated, later suffixed `-1`/`-2`) and
//! 1,247 rows (current, some labels fixed in 2025). Duplicate ids are made unique by
//! row index (see `unique_ids`) with a note instead of failing the file.

use std::path::Path;
use std::sync::Arc;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};
use parquet::schema::types::Type;
use sha2::{Digest, Sha256};

use super::item::{check_unique_ids, Bench, BenchItem, ReadOptions};
use super::unique_ids::make_ids_unique;
use crate::judge::{Choice, ImageSource};
use crate::{Error, Result};

const REQUIRED: [&str; 5] = ["id", "query", "response", "human_ranking", "image"];
const OPTIONAL: [&str; 1] = ["query_source"];

/// The three groups of the official scoring.
pub const VL_REWARDBENCH_GROUPS: [&str; 3] = ["general", "hallucination", "reasoning"];

/// The official group of an item, from its id's prefix (see the module notes).
pub fn vl_rewardbench_category(id: &str) -> &'static str {
    let id = id.to_ascii_lowercase();
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| id.starts_with(p));
    if starts(&["rlaif", "rlhf", "hallucination"]) {
        "hallucination"
    } else if starts(&["mathverse", "mmmu"]) {
        "reasoning"
    } else {
        "general"
    }
}

/// The group a `query_source` value names, if it is one of the dataset card's sources
/// (matching ignores case and punctuation); used only to cross-check the id prefix.
pub fn vl_rewardbench_source_group(source: &str) -> Option<&'static str> {
    let key: String = source.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
    match key.as_str() {
        "wildvision" | "wildvisionbattle" | "vlfeedback" => Some("general"),
        "povid" | "rlaifv" | "rlhfv" => Some("hallucination"),
        "mmmupro" | "mathverse" | "reasoningtasks" => Some("reasoning"),
        _ => None,
    }
}

/// The release a row count belongs to.
fn release_of(rows: usize) -> String {
    match rows {
        1250 => "2024 release (1,250 rows)".into(),
        1247 => "current release (1,247 rows, labels fixed in 2025)".into(),
        n => format!(
            "{n} rows: not a full known release (1,250 in 2024, 1,247 now); not comparable with published numbers"
        ),
    }
}

/// Whether the item's responses are shown swapped: a fixed function of seed and id.
fn shuffled(seed: u64, id: &str) -> bool {
    let digest = Sha256::new().chain_update(seed.to_le_bytes()).chain_update(id.as_bytes()).finalize();
    digest[0] & 1 == 1
}

/// Reads VL-RewardBench's parquet file, shuffling each item's A/B order.
pub fn read_vl_rewardbench(path: &Path, options: &ReadOptions) -> Result<Vec<BenchItem>> {
    Ok(read_vl_rewardbench_with_notes(path, options)?.items)
}

/// Reads VL-RewardBench's parquet file with its release and notes: duplicate ids
/// renamed, rows whose `query_source` disagrees with the id prefix's group.
pub fn read_vl_rewardbench_with_notes(path: &Path, options: &ReadOptions) -> Result<Bench> {
    let invalid = |reason: String| Error::InvalidInput { path: path.into(), line: 0, reason };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| invalid(format!("not a readable parquet file: {e}")))?;
    let schema = reader.metadata().file_metadata().schema();
    let names: Vec<&str> = schema.get_fields().iter().map(|f| f.name()).collect();
    let missing: Vec<&str> = REQUIRED.iter().copied().filter(|c| !names.contains(c)).collect();
    if !missing.is_empty() {
        return Err(invalid(format!(
            "missing column(s) {} (a VL-RewardBench file has {}; this one has {})",
            missing.join(", "),
            REQUIRED.join(", "),
            names.join(", ")
        )));
    }
    // Decode only the columns used: the file also carries rationales and metadata.
    let wanted: Vec<_> = schema
        .get_fields()
        .iter()
        .filter(|f| REQUIRED.contains(&f.name()) || OPTIONAL.contains(&f.name()))
        .cloned()
        .collect();
    let projection = Type::group_type_builder(schema.name())
        .with_fields(wanted)
        .build()
        .map_err(|e| invalid(format!("cannot select the columns: {e}")))?;
    let rows = reader.get_row_iter(Some(projection)).map_err(|e| invalid(format!("cannot read rows: {e}")))?;
    let mut items = Vec::new();
    let mut disagreements = Vec::new();
    let mut unknown_sources = std::collections::BTreeSet::new();
    for (i, row) in rows.enumerate() {
        let row = row.map_err(|e| invalid(format!("row {i}: cannot decode: {e}")))?;
        let (item, source) = item_from_row(&row, i, path, options).map_err(invalid)?;
        match source.as_deref().map(|s| (s, vl_rewardbench_source_group(s))) {
            Some((_, Some(group))) if group != item.category => {
                disagreements.push(format!("{:?} (query_source {:?})", item.id, source.unwrap_or_default()))
            }
            Some((s, None)) => {
                unknown_sources.insert(s.to_string());
            }
            _ => {}
        }
        items.push(item);
    }
    let mut notes = Vec::new();
    if let Some(first) = disagreements.first() {
        notes.push(format!(
            "warning: {} row(s) have a query_source naming another group than their id prefix (scored by the id \
             prefix, as the official scoring does), e.g. {first}",
            disagreements.len()
        ));
    }
    if !unknown_sources.is_empty() {
        let list: Vec<String> = unknown_sources.into_iter().collect();
        notes.push(format!("query_source value(s) not on the dataset card, not cross-checked: {}", list.join(", ")));
    }
    notes.extend(make_ids_unique(&mut items));
    check_unique_ids(path, &items)?;
    Ok(Bench { release: Some(release_of(items.len())), items, notes })
}

/// The item of a row and its `query_source`, if any.
fn item_from_row(
    row: &Row,
    i: usize,
    path: &Path,
    options: &ReadOptions,
) -> std::result::Result<(BenchItem, Option<String>), String> {
    let get = |name: &str| row.get_column_iter().find(|(n, _)| n.as_str() == name).map(|(_, f)| f);
    let id = match get("id") {
        Some(Field::Str(s)) => s.clone(),
        Some(Field::Int(n)) => n.to_string(),
        Some(Field::Long(n)) => n.to_string(),
        other => return Err(format!("row {i}: column id must be a string, found {}", describe(other))),
    };
    let at = |what: String| format!("row {i} (id {id:?}): {what}");
    let question = match get("query") {
        Some(Field::Str(s)) => s.clone(),
        other => return Err(at(format!("column query must be a string, found {}", describe(other)))),
    };
    let responses: Vec<String> = match get("response") {
        Some(Field::ListInternal(list)) => list
            .elements()
            .iter()
            .map(|f| match f {
                Field::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect::<Option<_>>()
            .ok_or_else(|| at("column response must be a list of strings".into()))?,
        other => return Err(at(format!("column response must be a list of two strings, found {}", describe(other)))),
    };
    let ranks: Vec<i64> = match get("human_ranking") {
        Some(Field::ListInternal(list)) => list
            .elements()
            .iter()
            .map(|f| match f {
                Field::Long(n) => Some(*n),
                Field::Int(n) => Some(i64::from(*n)),
                _ => None,
            })
            .collect::<Option<_>>()
            .ok_or_else(|| at("column human_ranking must be a list of integers".into()))?,
        other => {
            return Err(at(format!("column human_ranking must be a list of two integers, found {}", describe(other))))
        }
    };
    let ([first, second], [rank0, rank1]) = (responses.as_slice(), ranks.as_slice()) else {
        return Err(at(format!("expected two responses and two ranks, found {} and {}", responses.len(), ranks.len())));
    };
    // The lower rank is preferred: [0, 1] means the first response.
    let first_better = match rank0.cmp(rank1) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => {
            return Err(at(format!("human_ranking [{rank0}, {rank1}] names no better response")))
        }
    };
    let image = image_of(get("image"), path, options).map_err(at)?;
    let source = match get("query_source") {
        Some(Field::Str(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let category = vl_rewardbench_category(&id).to_string();
    let swap = shuffled(options.seed, &id);
    let (response_a, response_b) = if swap { (second, first) } else { (first, second) };
    let label = if first_better != swap { Choice::A } else { Choice::B };
    let item = BenchItem {
        id,
        question,
        response_a: response_a.clone(),
        response_b: response_b.clone(),
        image,
        label,
        category,
    };
    Ok((item, source))
}

/// The image of a row: embedded bytes, else a path (relative to the image root or the
/// parquet file's directory), else none. Undecodable bytes are not checked here: the
/// judge reports them as that item's error.
fn image_of(
    field: Option<&Field>,
    path: &Path,
    options: &ReadOptions,
) -> std::result::Result<Option<ImageSource>, String> {
    let bytes = |b: &parquet::data_type::ByteArray| ImageSource::Bytes(Arc::from(b.data()));
    match field {
        None | Some(Field::Null) => Ok(None),
        Some(Field::Bytes(b)) if !b.data().is_empty() => Ok(Some(bytes(b))),
        Some(Field::Group(group)) => {
            let mut found_bytes = None;
            let mut found_path = None;
            for (name, value) in group.get_column_iter() {
                match (name.as_str(), value) {
                    ("bytes", Field::Bytes(b)) if !b.data().is_empty() => found_bytes = Some(bytes(b)),
                    ("path", Field::Str(p)) if !p.is_empty() => found_path = Some(p.clone()),
                    ("bytes" | "path", Field::Null | Field::Bytes(_) | Field::Str(_)) => {}
                    (name, other) => {
                        return Err(format!("image.{name} has an unexpected type ({})", describe(Some(other))))
                    }
                }
            }
            Ok(found_bytes.or_else(|| found_path.map(|p| ImageSource::Path(options.resolve_image(path, &p)))))
        }
        Some(other) => {
            Err(format!("column image must be a struct of bytes and path, or binary; found {}", describe(Some(other))))
        }
    }
}

fn describe(field: Option<&Field>) -> String {
    match field {
        None => "nothing".into(),
        Some(Field::Null) => "null".into(),
        Some(Field::Str(_)) => "a string".into(),
        Some(Field::Bytes(_)) => "binary".into(),
        Some(Field::ListInternal(_)) => "a list".into(),
        Some(Field::Group(_)) => "a struct".into(),
        Some(Field::MapInternal(_)) => "a map".into(),
        Some(other) => format!("{other:?}").chars().take(40).collect(),
    }
}
