//! `vlmjudge eval`: benchmark readers (VL-RewardBench parquet in the official layout,
//! Multimodal RewardBench JSON, labelled pairs), and `evaluate` end to end on the demo
//! model and on a generated tiny VLM.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::{demo_model, fixture, solid_png};
use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedColumnWriter, SerializedFileWriter};
use parquet::schema::parser::parse_message_type;
use vlmjudge::engine::{Model, ModelParams};
use vlmjudge::eval::{evaluate, read_bench, score_verdicts, BenchFormat, BenchItem, EvalSummary, ReadOptions};
use vlmjudge::fixture::FixtureKind;
use vlmjudge::judge::{Choice, ImageSource, Judge, JudgeParams, Mode, Verdict};
use vlmjudge::progress::{NoProgress, Progress};
use vlmjudge::shard::Shard;

// ---------------------------------------------------------------------------------
// VL-RewardBench parquet, written as Hugging Face `datasets` writes it.

/// The file's schema: the dataset card's features, with `image` as the `datasets`
/// Image struct and the lists in parquet's standard three-level LIST layout. The
/// `rationale` column is there to be skipped by the reader's projection.
const VLRB_SCHEMA: &str = "
message schema {
  optional binary id (STRING);
  optional binary query (STRING);
  optional group response (LIST) {
    repeated group list {
      optional binary element (STRING);
    }
  }
  optional group image {
    optional binary bytes;
    optional binary path (STRING);
  }
  optional group human_ranking (LIST) {
    repeated group list {
      optional int64 element;
    }
  }
  optional binary rationale (STRING);
  optional binary query_source (STRING);
}";

struct VlrbRow {
    id: String,
    query: String,
    responses: [String; 2],
    image: Option<Vec<u8>>,
    ranking: [i64; 2],
    source: String,
}

/// Writes a parquet file with `schema`, one row group, zstd-compressed; `fill` writes
/// leaf column `i` (in schema order).
fn write_parquet(path: &Path, schema: &str, mut fill: impl FnMut(usize, &mut SerializedColumnWriter<'_>)) {
    let schema = Arc::new(parse_message_type(schema).unwrap());
    let props = Arc::new(WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default())).build());
    let mut writer = SerializedFileWriter::new(std::fs::File::create(path).unwrap(), schema, props).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let mut i = 0;
    while let Some(mut column) = group.next_column().unwrap() {
        fill(i, &mut column);
        column.close().unwrap();
        i += 1;
    }
    group.close().unwrap();
    writer.close().unwrap();
}

fn strings(column: &mut SerializedColumnWriter<'_>, values: &[&str]) {
    let data: Vec<ByteArray> = values.iter().map(|s| ByteArray::from(*s)).collect();
    column.typed::<ByteArrayType>().write_batch(&data, Some(&vec![1; values.len()]), None).unwrap();
}

fn write_vlrb(path: &Path, rows: &[VlrbRow]) {
    let n = rows.len();
    let pairs_rep: Vec<i16> = (0..n).flat_map(|_| [0, 1]).collect();
    write_parquet(path, VLRB_SCHEMA, |i, column| match i {
        0 => strings(column, &rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>()),
        1 => strings(column, &rows.iter().map(|r| r.query.as_str()).collect::<Vec<_>>()),
        2 => {
            let data: Vec<ByteArray> =
                rows.iter().flat_map(|r| r.responses.iter().map(|s| ByteArray::from(s.as_str()))).collect();
            column.typed::<ByteArrayType>().write_batch(&data, Some(&vec![3; 2 * n]), Some(&pairs_rep)).unwrap();
        }
        3 => {
            // image.bytes: defined (level 2) when there is an image, else image present
            // with null bytes (level 1).
            let data: Vec<ByteArray> = rows.iter().filter_map(|r| r.image.clone().map(ByteArray::from)).collect();
            let def: Vec<i16> = rows.iter().map(|r| if r.image.is_some() { 2 } else { 1 }).collect();
            column.typed::<ByteArrayType>().write_batch(&data, Some(&def), None).unwrap();
        }
        4 => {
            column.typed::<ByteArrayType>().write_batch(&[], Some(&vec![1; n]), None).unwrap();
        }
        5 => {
            let data: Vec<i64> = rows.iter().flat_map(|r| r.ranking).collect();
            column.typed::<Int64Type>().write_batch(&data, Some(&vec![3; 2 * n]), Some(&pairs_rep)).unwrap();
        }
        6 => strings(column, &vec!["a long rationale nobody reads"; n]),
        7 => strings(column, &rows.iter().map(|r| r.source.as_str()).collect::<Vec<_>>()),
        _ => unreachable!(),
    });
}

fn vlrb_row(id: &str, source: &str, ranking: [i64; 2], image: Option<Vec<u8>>) -> VlrbRow {
    VlrbRow {
        id: id.into(),
        query: format!("What is in picture {id}?"),
        responses: [format!("{id}: first response"), format!("{id}: second response")],
        image,
        ranking,
        source: source.into(),
    }
}

/// Twenty rows over the benchmark's sources (and one unknown), alternating which
/// response humans preferred.
fn sample_vlrb_rows() -> Vec<VlrbRow> {
    let sources = ["WildVision", "POVID", "RLAIF-V", "RLHF-V", "MMMU-Pro", "MathVerse", "vlfeedback", "NewSource"];
    let png = solid_png(8, 8, [200, 10, 10]);
    (0..20)
        .map(|i| {
            let ranking = if i % 3 == 0 { [1, 0] } else { [0, 1] };
            vlrb_row(&format!("item-{i}"), sources[i % sources.len()], ranking, (i % 2 == 0).then(|| png.clone()))
        })
        .collect()
}

#[test]
fn vl_rewardbench_parquet_reads_back_with_categories_images_and_a_label_that_follows_the_shuffle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test-00000-of-00001.parquet");
    let rows = sample_vlrb_rows();
    write_vlrb(&path, &rows);
    let read = |seed| read_bench(&path, BenchFormat::VlRewardBench, &ReadOptions { seed, ..Default::default() });
    let items = read(7).unwrap();
    assert_eq!(items.len(), rows.len());

    let mut swapped = 0;
    for (row, item) in rows.iter().zip(&items) {
        assert_eq!(item.id, row.id);
        assert_eq!(item.question, row.query);
        // The label names the response humans ranked first (lower rank), whichever
        // side the shuffle put it on.
        let preferred = &row.responses[if row.ranking[0] < row.ranking[1] { 0 } else { 1 }];
        let labelled = if item.label == Choice::A { &item.response_a } else { &item.response_b };
        assert_eq!(labelled, preferred, "{}", row.id);
        let mut shown = [item.response_a.clone(), item.response_b.clone()];
        if shown[0] != row.responses[0] {
            swapped += 1;
            shown.swap(0, 1);
        }
        assert_eq!(shown, row.responses);
        match (&row.image, &item.image) {
            (Some(png), Some(ImageSource::Bytes(bytes))) => assert_eq!(&bytes[..], &png[..]),
            (None, None) => {}
            other => panic!("{}: image {other:?}", row.id),
        }
    }
    assert!((3..=17).contains(&swapped), "the A/B order should be shuffled per item, swapped {swapped} of 20");

    let category = |id: &str| items.iter().find(|i| i.id == id).unwrap().category.clone();
    assert_eq!(category("item-0"), "general"); // WildVision
    assert_eq!(category("item-1"), "hallucination"); // POVID
    assert_eq!(category("item-2"), "hallucination"); // RLAIF-V
    assert_eq!(category("item-3"), "hallucination"); // RLHF-V
    assert_eq!(category("item-4"), "reasoning"); // MMMU-Pro
    assert_eq!(category("item-5"), "reasoning"); // MathVerse
    assert_eq!(category("item-6"), "general"); // vlfeedback
    assert_eq!(category("item-7"), "NewSource"); // unknown sources keep their name

    // The shuffle is a function of seed and id: the same again, another with a new seed.
    assert_eq!(read(7).unwrap(), items);
    let other = read(8).unwrap();
    assert!(other.iter().zip(&items).any(|(a, b)| a.label != b.label), "seed 8 shuffled exactly like seed 7");
}

#[test]
fn a_file_that_is_not_a_vl_rewardbench_parquet_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let read =
        |path: &Path| read_bench(path, BenchFormat::VlRewardBench, &ReadOptions::default()).unwrap_err().to_string();

    let text = dir.path().join("bench.parquet");
    std::fs::write(&text, "id,query\n1,hello\n").unwrap();
    let err = read(&text);
    assert!(err.contains("bench.parquet") && err.contains("not a readable parquet file"), "{err}");

    let partial = dir.path().join("partial.parquet");
    write_parquet(
        &partial,
        "message schema { optional binary id (STRING); optional binary query (STRING); }",
        |_, c| strings(c, &["x"]),
    );
    let err = read(&partial);
    assert!(err.contains("missing column(s) response, human_ranking, image"), "{err}");

    let wrong = dir.path().join("wrong.parquet");
    let schema = "message schema { optional binary id (STRING); optional binary query (STRING);
        optional binary response (STRING); optional binary human_ranking (STRING); optional binary image; }";
    write_parquet(&wrong, schema, |_, c| strings(c, &["x"]));
    let err = read(&wrong);
    assert!(err.contains("row 0 (id \"x\"): column response must be a list of two strings, found a string"), "{err}");
}

// ---------------------------------------------------------------------------------
// Multimodal RewardBench JSON and labelled pairs.

#[test]
fn mm_rewardbench_json_keeps_output1_as_a_resolves_images_and_splits_categories_like_its_script() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("images/nocaps")).unwrap();
    std::fs::write(data.join("images/nocaps/1.png"), solid_png(4, 4, [0, 0, 0])).unwrap();
    let entry = |id: &str, category: &str, better: &str| {
        serde_json::json!({
            "ID": id, "Text": format!("question {id}"), "Image": "images/nocaps/1.png",
            "Output1": format!("{id} one"), "Output2": format!("{id} two"), "Better": better,
            "Category": category, "Meta": {"extra": true},
        })
    };
    let list = serde_json::json!([
        entry("nocaps_1", "general_correctness", "Output1"),
        entry("pairs_3", "safety", "Output2"),
        entry("hateful_9", "safety", "Output1"),
        entry("mathvista_2", "reasoning", "Output2"),
        entry("EMMA-Coding_4", "reasoning", "Output1"),
        {"ID": 77, "Text": "no category", "Image": "images/nocaps/1.png", "Output1": "x", "Output2": "y", "Better": "Output2"},
    ]);
    let path = data.join("all_data.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&list).unwrap()).unwrap();

    let items = read_bench(&path, BenchFormat::MmRewardBench, &ReadOptions::default()).unwrap();
    let summary: Vec<(&str, &str, Choice)> =
        items.iter().map(|i| (i.id.as_str(), i.category.as_str(), i.label)).collect();
    assert_eq!(
        summary,
        [
            ("nocaps_1", "general_correctness", Choice::A),
            ("pairs_3", "safety/bias", Choice::B),
            ("hateful_9", "safety/toxicity", Choice::A),
            ("mathvista_2", "reasoning/math", Choice::B),
            ("EMMA-Coding_4", "reasoning/coding", Choice::A),
            ("77", "all", Choice::B),
        ]
    );
    assert_eq!((items[1].response_a.as_str(), items[1].response_b.as_str()), ("pairs_3 one", "pairs_3 two"));
    assert_eq!(items[0].question, "question nocaps_1");
    assert_eq!(items[0].image, Some(ImageSource::Path(data.join("images/nocaps/1.png"))));

    // --image-root replaces the JSON file's directory.
    let root = ReadOptions { image_root: Some("/elsewhere".into()), ..Default::default() };
    let moved = read_bench(&path, BenchFormat::MmRewardBench, &root).unwrap();
    assert_eq!(moved[0].image, Some(ImageSource::Path("/elsewhere/images/nocaps/1.png".into())));

    std::fs::write(&path, serde_json::to_vec(&serde_json::json!([entry("a", "x", "Output3")])).unwrap()).unwrap();
    let err = read_bench(&path, BenchFormat::MmRewardBench, &ReadOptions::default()).unwrap_err().to_string();
    assert!(err.contains("item 0 (ID \"a\"): Better is \"Output3\""), "{err}");
}

#[test]
fn a_pairs_bench_needs_a_label_on_every_line_and_names_the_one_without() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.jsonl");
    let lines = [
        serde_json::json!({"id": "a", "question": "q", "response_a": "x", "response_b": "y", "label": "B", "category": "c"}),
        serde_json::json!({"id": "b", "image": "img/b.png", "question": "q", "response_a": "x", "response_b": "y", "label": "A"}),
        serde_json::json!({"id": "c", "question": "q", "response_a": "x", "response_b": "y"}),
    ];
    std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[1])).unwrap();
    let items = read_bench(&path, BenchFormat::Pairs, &ReadOptions::default()).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!((items[0].label, items[0].category.as_str()), (Choice::B, "c"));
    assert_eq!((items[1].label, items[1].category.as_str()), (Choice::A, "all"));
    assert_eq!(items[1].image, Some(ImageSource::Path(dir.path().join("img/b.png"))));

    // A blank line before the unlabelled pair: the error gives its real line, 4.
    std::fs::write(&path, format!("{}\n\n{}\n{}\n", lines[0], lines[1], lines[2])).unwrap();
    let err = read_bench(&path, BenchFormat::Pairs, &ReadOptions::default()).unwrap_err().to_string();
    assert!(err.contains("bench.jsonl:4: pair \"c\" has no label"), "{err}");
}

// ---------------------------------------------------------------------------------
// evaluate end to end.

/// Counts what `evaluate` reports.
#[derive(Default)]
struct Counting {
    started: Mutex<Vec<(u64, u64)>>,
    advanced: AtomicU64,
}

impl Progress for Counting {
    fn start(&self, _what: &str, total: u64, done: u64) {
        self.started.lock().unwrap().push((total, done));
    }
    fn advance(&self, n: u64) {
        self.advanced.fetch_add(n, Ordering::SeqCst);
    }
}

/// The summary recomputed by hand from the verdicts file: 1 per right verdict, 0.5 per
/// tie, missing verdict or error.
fn recount(items: &[BenchItem], verdicts: &Path) -> (usize, f64, BTreeMap<String, (usize, f64)>) {
    let lines: Vec<Verdict> =
        std::fs::read_to_string(verdicts).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut categories: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    for item in items {
        let v = lines.iter().find(|v| v.id == item.id).expect("every item has a verdict");
        let credit = match (&v.error, v.verdict) {
            (Some(_), _) | (None, Choice::Tie | Choice::None) => 0.5,
            (None, c) if c == item.label => 1.0,
            _ => 0.0,
        };
        let e = categories.entry(item.category.clone()).or_default();
        e.0 += 1;
        e.1 += credit;
    }
    let n = categories.values().map(|c| c.0).sum();
    let credit: f64 = categories.values().map(|c| c.1).sum();
    (n, credit, categories)
}

fn assert_matches_recount(summary: &EvalSummary, items: &[BenchItem], verdicts: &Path) {
    let (n, credit, categories) = recount(items, verdicts);
    assert_eq!(summary.n, n);
    assert!((summary.overall - credit / n as f64).abs() < 1e-12, "{summary:?}");
    assert_eq!(summary.categories.len(), categories.len());
    let mut macro_sum = 0.0;
    for (name, (n, credit)) in &categories {
        let c = &summary.categories[name];
        assert_eq!((c.n, c.correct), (*n, *credit), "{name}");
        macro_sum += credit / *n as f64;
    }
    assert!((summary.macro_avg - macro_sum / categories.len() as f64).abs() < 1e-12, "{summary:?}");
}

fn text_bench(dir: &Path) -> Vec<BenchItem> {
    let path = dir.join("bench.jsonl");
    let facts = [("cat", 4, 7), ("spider", 8, 3), ("bird", 2, 5), ("ant", 6, 1), ("dog", 4, 9)];
    let text: String = facts
        .iter()
        .enumerate()
        .map(|(i, (animal, right, wrong))| {
            let (a, b, label) = if i % 2 == 0 { (right, wrong, "A") } else { (wrong, right, "B") };
            let line = serde_json::json!({
                "id": format!("legs-{animal}"),
                "question": format!("How many legs does a {animal} have?"),
                "response_a": format!("A {animal} has {a} legs."),
                "response_b": format!("A {animal} has {b} legs."),
                "label": label,
                "category": if i < 3 { "mammals-ish" } else { "insects" },
            });
            format!("{line}\n")
        })
        .collect();
    std::fs::write(&path, text).unwrap();
    read_bench(&path, BenchFormat::Pairs, &ReadOptions::default()).unwrap()
}

fn fast_params() -> JudgeParams {
    JudgeParams { mode: Mode::Fast, parallel: 2, ctx_per_seq: 256, ..JudgeParams::default() }
}

#[test]
fn evaluate_on_the_demo_model_matches_a_recount_and_a_rerun_judges_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let items = text_bench(dir.path());
    let out = dir.path().join("verdicts.jsonl");
    let mut judge = Judge::new(demo_model(), fast_params()).unwrap();

    let first = Counting::default();
    let summary = evaluate(&mut judge, &items, &out, Shard::ALL, &first).unwrap();
    assert_eq!(*first.started.lock().unwrap(), [(5, 0)]);
    assert_eq!(first.advanced.load(Ordering::SeqCst), 5);
    assert_eq!(summary.n, 5);
    assert_eq!(summary.errors, 0);
    assert_matches_recount(&summary, &items, &out);
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written.lines().count(), 5);

    let again = Counting::default();
    let rerun = evaluate(&mut judge, &items, &out, Shard::ALL, &again).unwrap();
    assert_eq!(*again.started.lock().unwrap(), [(5, 5)], "all five are already done");
    assert_eq!(again.advanced.load(Ordering::SeqCst), 0);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), written, "the rerun appended nothing");
    assert_eq!(rerun, summary);
    assert_eq!(score_verdicts(&items, &out).unwrap(), summary);

    // Two shards into one file score like the whole; each shard alone scores its own.
    let sharded = dir.path().join("sharded.jsonl");
    let s1 = evaluate(&mut judge, &items, &sharded, Shard::new(1, 2).unwrap(), &NoProgress).unwrap();
    assert_eq!(s1.n, 2);
    let err = score_verdicts(&items, &sharded).unwrap_err().to_string();
    assert!(err.contains("3 of 5 items have no verdict"), "{err}");
    evaluate(&mut judge, &items, &sharded, Shard::new(0, 2).unwrap(), &NoProgress).unwrap();
    assert_eq!(score_verdicts(&items, &sharded).unwrap(), summary, "verdicts do not depend on the shard");
}

#[test]
fn a_parquet_image_item_is_judged_by_a_tiny_vlm_and_an_undecodable_image_fails_only_its_item() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.parquet");
    let rows = vec![
        vlrb_row("good", "RLHF-V", [0, 1], Some(solid_png(32, 32, [10, 200, 10]))),
        vlrb_row("broken", "WildVision", [1, 0], Some(b"\x89PNG but not really".to_vec())),
        vlrb_row("text-only", "MathVerse", [0, 1], None),
    ];
    write_vlrb(&path, &rows);
    let items = read_bench(&path, BenchFormat::VlRewardBench, &ReadOptions::default()).unwrap();
    let files = fixture(FixtureKind::TinyVlm);
    let model = Model::load(&files.model, Some(&files.mmproj), &ModelParams::default()).unwrap();
    let mut judge = Judge::new(&model, JudgeParams { ctx_per_seq: 384, ..fast_params() }).unwrap();
    let out = dir.path().join("verdicts.jsonl");
    let summary = evaluate(&mut judge, &items, &out, Shard::ALL, &NoProgress).unwrap();

    let verdicts: Vec<Verdict> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let get = |id: &str| verdicts.iter().find(|v| v.id == id).unwrap();
    assert_eq!(get("good").error, None, "{:?}", get("good"));
    assert!(get("good").p_a.is_some());
    assert!(get("broken").error.as_deref().unwrap().contains("image"), "{:?}", get("broken"));
    assert_eq!(get("text-only").error, None);
    assert_eq!((summary.n, summary.errors), (3, 1));
    assert_matches_recount(&summary, &items, &out);
}
