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
use vlmjudge::eval::{
    evaluate, read_bench, read_bench_with_notes, score_official, score_verdicts, BenchFormat, BenchItem, EvalSummary,
    Protocol, ReadOptions, UnparsedRule,
};
use vlmjudge::judge::{Choice, ImageSource, Judge, JudgeParams, Mode, Verdict};
use vlmjudge::progress::{NoProgress, Progress};
use vlmjudge::shard::Shard;
use vlmjudge_lab::fixture::FixtureKind;

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
fn vl_rewardbench_parquet_reads_back_with_images_and_a_label_that_follows_the_shuffle() {
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

    // These ids have no known prefix: all general, whatever query_source says.
    assert!(
        items.iter().all(|i| i.category == "general"),
        "{:?}",
        items.iter().map(|i| &i.category).collect::<Vec<_>>()
    );

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

// ---------------------------------------------------------------------------------
// Benchmark fidelity: official categories, releases, notes and metrics (issue 30).

/// Ten rows with ids as the real file spells them: one duplicate id, one unknown
/// prefix, one query_source that names another group, one source not on the card.
fn realistic_vlrb_rows() -> Vec<VlrbRow> {
    [
        ("RLAIF-V-Dataset_101", "RLAIF-V", [0, 1]),
        ("RLHF-V-Dataset_7", "RLHF-V", [1, 0]),
        ("hallucination_pair-1022", "POVID", [0, 1]),
        ("mathverse_3125", "MathVerse", [1, 0]),
        ("mmmu-pro_test_42", "MMMU-Pro", [0, 1]),
        ("wildvision-battle_11", "WildVision", [0, 1]),
        ("llava-wild_9", "WildVision", [1, 0]),
        ("RLAIF-V-Dataset_101", "RLAIF-V", [1, 0]),
        ("RLHF-V-Dataset_8", "WildVision", [0, 1]),
        ("wildvision-battle_12", "NewSource", [1, 0]),
    ]
    .into_iter()
    .map(|(id, source, ranking)| vlrb_row(id, source, ranking, None))
    .collect()
}

#[test]
fn vl_rewardbench_groups_come_from_the_id_prefix_and_duplicates_are_renamed_by_row_with_notes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test-00000-of-00001.parquet");
    write_vlrb(&path, &realistic_vlrb_rows());
    let bench = read_bench_with_notes(&path, BenchFormat::VlRewardBench, &ReadOptions::default()).unwrap();
    let got: Vec<(&str, &str)> = bench.items.iter().map(|i| (i.id.as_str(), i.category.as_str())).collect();
    assert_eq!(
        got,
        [
            ("RLAIF-V-Dataset_101#row0", "hallucination"),
            ("RLHF-V-Dataset_7", "hallucination"),
            ("hallucination_pair-1022", "hallucination"),
            ("mathverse_3125", "reasoning"),
            ("mmmu-pro_test_42", "reasoning"),
            ("wildvision-battle_11", "general"),
            ("llava-wild_9", "general"), // unknown prefix: general, as the official scoring
            ("RLAIF-V-Dataset_101#row7", "hallucination"),
            ("RLHF-V-Dataset_8", "hallucination"), // query_source says WildVision: the id wins
            ("wildvision-battle_12", "general"),
        ]
    );
    assert_eq!(
        bench.release.as_deref().unwrap(),
        "10 rows: not a full known release (1,250 in 2024, 1,247 now); not comparable with published numbers"
    );
    assert_eq!(bench.notes.len(), 3, "{:#?}", bench.notes);
    assert!(
        bench.notes[0].starts_with("warning: 1 row(s) have a query_source naming another group"),
        "{}",
        bench.notes[0]
    );
    assert!(bench.notes[0].contains("\"RLHF-V-Dataset_8\" (query_source \"WildVision\")"), "{}", bench.notes[0]);
    assert!(bench.notes[1].ends_with("not cross-checked: NewSource"), "{}", bench.notes[1]);
    assert!(bench.notes[2].starts_with("1 id(s) occur more than once"), "{}", bench.notes[2]);
    assert!(bench.notes[2].contains("their 2 rows were renamed"), "{}", bench.notes[2]);

    // The renaming is deterministic: the same ids on a second read.
    assert_eq!(read_bench(&path, BenchFormat::VlRewardBench, &ReadOptions::default()).unwrap(), bench.items);
}

/// A verdict line naming `choice`, or failed with `error`.
fn verdict(id: &str, choice: Choice, error: Option<&str>) -> Verdict {
    let mut v = Verdict::failed(id, "");
    v.error = error.map(String::from);
    v.verdict = choice;
    v
}

fn write_verdicts(path: &Path, verdicts: &[Verdict]) {
    let text: String = verdicts.iter().map(|v| format!("{}\n", serde_json::to_string(v).unwrap())).collect();
    std::fs::write(path, text).unwrap();
}

/// What the judge said about an item, relative to its label.
#[derive(Clone, Copy)]
enum Said {
    Right,
    Wrong,
    Nothing,
    Tie,
    Failed,
}

fn verdicts_for(items: &[BenchItem], said: &[Said]) -> Vec<Verdict> {
    assert_eq!(items.len(), said.len());
    items
        .iter()
        .zip(said)
        .map(|(item, said)| {
            let other = if item.label == Choice::A { Choice::B } else { Choice::A };
            match said {
                Said::Right => verdict(&item.id, item.label, None),
                Said::Wrong => verdict(&item.id, other, None),
                Said::Nothing => verdict(&item.id, Choice::None, None),
                Said::Tie => verdict(&item.id, Choice::Tie, None),
                Said::Failed => verdict(&item.id, Choice::None, Some("image: cannot decode")),
            }
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn vl_rewardbench_official_metrics_drop_unparsed_verdicts_and_ours_give_them_half_credit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vlrb.parquet");
    write_vlrb(&path, &realistic_vlrb_rows());
    let items = read_bench(&path, BenchFormat::VlRewardBench, &ReadOptions { seed: 3, ..Default::default() }).unwrap();
    use Said::*;
    // hallucination: rows 0 1 2 7 8; reasoning: 3 4; general: 5 6 9.
    let said = [Right, Wrong, Right, Right, Right, Wrong, Right, Nothing, Failed, Tie];
    let out = dir.path().join("verdicts.jsonl");
    write_verdicts(&out, &verdicts_for(&items, &said));

    // Ours, by hand: hallucination 1+0+1+0.5+0.5 = 3 of 5; reasoning 2 of 2; general
    // 0+1+0.5 = 1.5 of 3. Overall 6.5/10, macro (0.6+1+0.5)/3 = 0.7.
    let ours = score_verdicts(&items, &out).unwrap();
    assert_eq!((ours.n, ours.guesses, ours.errors), (10, 2, 1));
    assert!(close(ours.overall, 0.65), "{ours:?}");
    assert!(close(ours.macro_avg, 0.7), "{ours:?}");
    let acc = |name: &str| ours.categories[name].accuracy;
    assert!(close(acc("hallucination"), 0.6) && close(acc("reasoning"), 1.0) && close(acc("general"), 0.5));

    // Official (cal.py), by hand: the three unparsed are dropped. hallucination 2 of 3,
    // reasoning 2 of 2, general 1 of 2; overall 5/7, macro (2/3+1+1/2)/3 = 13/18.
    let official = score_official(BenchFormat::VlRewardBench, &items, &out).unwrap().unwrap();
    assert_eq!(official.unparsed_rule, UnparsedRule::Dropped);
    assert_eq!((official.n, official.unparsed, official.scored), (10, 3, 7));
    assert_eq!(official.categories.keys().collect::<Vec<_>>(), ["general", "hallucination", "reasoning"]);
    let n_acc = |name: &str| (official.categories[name].n, official.categories[name].accuracy);
    assert_eq!(n_acc("hallucination").0, 3);
    assert!(close(n_acc("hallucination").1, 2.0 / 3.0));
    assert_eq!(n_acc("reasoning"), (2, 1.0));
    assert_eq!(n_acc("general"), (2, 0.5));
    assert!(close(official.overall, 5.0 / 7.0), "{official:?}");
    assert!(close(official.macro_avg.unwrap(), 13.0 / 18.0), "{official:?}");

    // An item with no line at all is unparsed for the official metrics.
    write_verdicts(&out, &verdicts_for(&items[..9], &said[..9]));
    let official = score_official(BenchFormat::VlRewardBench, &items, &out).unwrap().unwrap();
    assert_eq!((official.unparsed, official.scored), (3, 7));
}

/// A Multimodal RewardBench list with the real file's category strings.
fn write_mmrb(path: &Path, texts: &[&str]) {
    let entries = [
        ("nocaps_12", "open_generation/correctness_task", "Output1"),
        ("pairs_occupation_3", "safety", "Output2"),
        ("hateful_memes_9", "safety", "Output1"),
        ("mathvista_221", "reasoning", "Output2"),
        ("EMMA-Coding_40", "reasoning", "Output1"),
    ];
    let list: Vec<serde_json::Value> = entries
        .iter()
        .zip(texts)
        .map(|((id, category, better), text)| {
            serde_json::json!({"ID": id, "Text": text, "Image": "images/x.png", "Output1": format!("{id} one"),
                "Output2": format!("{id} two"), "Better": better, "Category": category})
        })
        .collect();
    std::fs::write(path, serde_json::to_vec(&list).unwrap()).unwrap();
}

#[test]
fn mm_rewardbench_refuses_empty_prompts_and_scores_micro_with_half_credit_for_unparsed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all_data.json");
    write_mmrb(&path, &["q1", "q2", "", "q4", " "]);
    let err = read_bench(&path, BenchFormat::MmRewardBench, &ReadOptions::default()).unwrap_err().to_string();
    assert!(err.contains("2 of 5 items have an empty Text (the first: ID \"hateful_memes_9\")"), "{err}");
    assert!(err.contains("python scripts/0_download_data.py"), "{err}");

    write_mmrb(&path, &["q1", "q2", "q3", "q4", "q5"]);
    let bench = read_bench_with_notes(&path, BenchFormat::MmRewardBench, &ReadOptions::default()).unwrap();
    assert_eq!(
        bench.release.as_deref().unwrap(),
        "5 items: not the public release (4711); not comparable with published numbers"
    );
    assert!(
        bench.notes.iter().any(|n| n.contains("Hateful Memes") && n.contains("4711 of the paper's 5211")),
        "{:?}",
        bench.notes
    );
    let cats: Vec<&str> = bench.items.iter().map(|i| i.category.as_str()).collect();
    assert_eq!(
        cats,
        ["open_generation/correctness_task", "safety/bias", "safety/toxicity", "reasoning/math", "reasoning/coding"]
    );
    // The file's order: Output1 is A.
    assert_eq!(
        bench.items.iter().map(|i| i.label).collect::<Vec<_>>(),
        [Choice::A, Choice::B, Choice::A, Choice::B, Choice::A]
    );

    use Said::*;
    let out = dir.path().join("verdicts.jsonl");
    write_verdicts(&out, &verdicts_for(&bench.items, &[Right, Wrong, Nothing, Right, Failed]));
    // By hand: 1 + 0 + 0.5 + 1 + 0.5 = 3 of 5, every item counted; no official macro.
    let official = score_official(BenchFormat::MmRewardBench, &bench.items, &out).unwrap().unwrap();
    assert_eq!(official.unparsed_rule, UnparsedRule::HalfCredit);
    assert_eq!((official.n, official.unparsed, official.scored), (5, 2, 5));
    assert!(close(official.overall, 0.6), "{official:?}");
    assert_eq!(official.macro_avg, None);
    assert_eq!(official.categories["safety/toxicity"].accuracy, 0.5);
    assert_eq!(official.categories["safety/bias"].accuracy, 0.0);
    // Ours counts the same credit; its macro is over the five subcategories (not official).
    let ours = score_verdicts(&bench.items, &out).unwrap();
    assert!(close(ours.overall, 0.6) && close(ours.macro_avg, 0.6), "{ours:?}");

    // Our pairs format has no official script.
    assert_eq!(score_official(BenchFormat::Pairs, &bench.items, &out).unwrap(), None);
}

#[test]
fn the_official_protocol_judges_one_order_and_ours_both() {
    assert!(!Protocol::Official.judge_params(fast_params()).swap);
    assert!(Protocol::Vlmjudge.judge_params(fast_params()).swap);
    assert_eq!("official".parse::<Protocol>().unwrap(), Protocol::Official);
    assert!("cal.py".parse::<Protocol>().is_err());

    let dir = tempfile::tempdir().unwrap();
    let items = text_bench(dir.path());
    for (protocol, orders) in [(Protocol::Official, 1), (Protocol::Vlmjudge, 2)] {
        let out = dir.path().join(format!("{protocol}.jsonl"));
        let mut judge = Judge::new(demo_model(), protocol.judge_params(fast_params())).unwrap();
        let summary = evaluate(&mut judge, &items, &out, Shard::ALL, &NoProgress).unwrap();
        assert_eq!(summary.n, 5);
        let verdicts: Vec<Verdict> =
            std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert!(verdicts.iter().all(|v| v.orders.len() == orders), "{protocol}: {verdicts:?}");
    }
}
