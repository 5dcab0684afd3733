//! The procedural world (`vlmjudge-lab world`) and its base model fixture (`world-base`):
//! determinism, disjoint splits, correct and balanced held-out labels, a vocabulary
//! llama.cpp loads and tokenizes compactly, and (feature `train`) a base model trained
//! on a reduced world that answers closed questions above chance.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value as Json;
use vlmjudge::engine::{Model, ModelParams};
use vlmjudge::judge::{DEFAULT_SYSTEM, DEFAULT_USER};
use vlmjudge_lab::fixture::{write_world_base, write_world_base_with_layers, MAX_VOCAB, WORLD_SHAPE};
use vlmjudge_lab::world::text::{answer_question, Claims};
use vlmjudge_lab::world::{write_world, Scene, WorldConfig};

fn small(seed: u64) -> WorldConfig {
    WorldConfig { seed, pretrain: 120, pool: 40, heldout: 60, ..WorldConfig::default() }
}

fn lines(path: &Path) -> Vec<Json> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Every file under `dir` (relative path -> bytes).
fn tree(dir: &Path) -> HashMap<String, Vec<u8>> {
    let mut out = HashMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Scenes by image path, from `truth/scenes.jsonl`.
fn scenes(dir: &Path) -> HashMap<String, (String, Scene)> {
    lines(&dir.join("truth/scenes.jsonl"))
        .into_iter()
        .map(|l| {
            let image = l["image"].as_str().unwrap().to_string();
            let split = l["split"].as_str().unwrap().to_string();
            (image, (split, serde_json::from_value(l).unwrap()))
        })
        .collect()
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_another_world() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    write_world(&a, &small(7)).unwrap();
    write_world(&b, &small(7)).unwrap();
    write_world(&c, &small(8)).unwrap();
    let (ta, tb, tc) = (tree(&a), tree(&b), tree(&c));
    assert!(ta.len() > 200, "{} files", ta.len());
    assert_eq!(ta, tb);
    assert_ne!(ta.get("heldout.jsonl"), tc.get("heldout.jsonl"));
    // Rewriting over an earlier world replaces it; a foreign directory is refused.
    write_world(&a, &small(8)).unwrap();
    assert_eq!(tree(&a), tc);
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    assert!(write_world(&foreign, &small(1)).is_err());
    assert!(foreign.join("notes.txt").is_file());
}

#[test]
fn a_larger_pretraining_set_leaves_the_pool_and_the_benchmark_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    write_world(&a, &small(3)).unwrap();
    write_world(&b, &WorldConfig { pretrain: 300, ..small(3) }).unwrap();
    for f in ["pool.jsonl", "heldout.jsonl", "truth/pool.jsonl", "truth/heldout.jsonl"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f}");
    }
}

#[test]
fn pretrain_pool_and_heldout_images_are_disjoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    // Half the judging examples on the blank image, half on pretraining images.
    write_world(&dir, &WorldConfig { judging_on_images: 0.5, ..small(11) }).unwrap();
    let scenes = scenes(&dir);
    let mut pixels = HashSet::new();
    let mut distinct = HashSet::new();
    for (image, (_, scene)) in &scenes {
        assert!(pixels.insert(std::fs::read(dir.join(image)).unwrap()), "{image} repeats another image's pixels");
        assert!(distinct.insert(scene.clone()));
    }
    let split_of = |file: &str| -> HashSet<String> {
        lines(&dir.join(file)).iter().filter_map(|l| l["image"].as_str().map(String::from)).collect()
    };
    let (mut pre, pool, held) = (split_of("pretrain.jsonl"), split_of("pool.jsonl"), split_of("heldout.jsonl"));
    // The blank image is no scene's, and judging on images adds none.
    assert!(pre.remove(vlmjudge_lab::world::BLANK_IMAGE));
    assert!(pixels.insert(std::fs::read(dir.join(vlmjudge_lab::world::BLANK_IMAGE)).unwrap()));
    assert_eq!((pre.len(), pool.len(), held.len()), (120, 40, 60));
    assert!(pre.is_disjoint(&pool) && pre.is_disjoint(&held) && pool.is_disjoint(&held));
    for (set, split) in [(&pre, "pretrain"), (&pool, "pool"), (&held, "heldout")] {
        assert!(set.iter().all(|i| scenes[i].0 == split));
    }
}

#[test]
fn judging_in_text_goes_with_the_blank_image() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    write_world(&dir, &WorldConfig { pretrain_judging: 0.5, judging_on_images: 0.0, ..small(9) }).unwrap();
    let judging: Vec<Json> = lines(&dir.join("pretrain.jsonl"))
        .into_iter()
        .filter(|l| l["id"].as_str().unwrap().starts_with("judging-"))
        .collect();
    assert_eq!(judging.len(), 60, "half of 120");
    // The prompt they use is the world's, written for the loop's --template.
    let template = vlmjudge::judge::Template::from_file(&dir.join("template.json")).unwrap();
    assert_eq!(template, vlmjudge_lab::world::world_template());
    for ex in &judging {
        assert_eq!(ex["image"], vlmjudge_lab::world::BLANK_IMAGE);
        assert!(dir.join(vlmjudge_lab::world::BLANK_IMAGE).is_file());
        assert_eq!(ex["messages"][0]["role"], "system");
        let user = ex["messages"][1]["content"].as_str().unwrap();
        assert!(
            (user.starts_with("Scene: Top left: ") || user.starts_with("Question: ")) && user.contains("\nAnswer B: "),
            "{user}"
        );
        let target = ex["target"].as_str().unwrap();
        assert!(
            target.starts_with("The ") && target.contains(" Answer A: ") && target.contains(". Answer B: "),
            "{target}"
        );
        assert!(target.ends_with(".\n[[A]]") || target.ends_with(".\n[[B]]"), "{target}");
    }
    // Its share changes nothing else.
    let other = tmp.path().join("o");
    write_world(&other, &WorldConfig { pretrain_judging: 0.0, ..small(9) }).unwrap();
    let with_images = |d: &std::path::Path| -> Vec<Json> {
        lines(&d.join("pretrain.jsonl"))
            .into_iter()
            .filter(|l| !l["id"].as_str().unwrap().starts_with("judging-"))
            .collect()
    };
    assert_eq!(with_images(&dir), with_images(&other));
    assert_eq!(std::fs::read(dir.join("heldout.jsonl")).unwrap(), std::fs::read(other.join("heldout.jsonl")).unwrap());
}

#[test]
fn judging_on_images_shows_a_pretraining_image_and_states_what_it_shows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    write_world(&dir, &WorldConfig { pretrain_judging: 0.5, judging_on_images: 1.0, ..small(9) }).unwrap();
    let all = lines(&dir.join("pretrain.jsonl"));
    let truth = scenes(&dir);
    let pretrain_images: HashSet<&str> = all
        .iter()
        .filter(|l| l["id"].as_str().unwrap().starts_with("pretrain-"))
        .map(|l| l["image"].as_str().unwrap())
        .collect();
    let judging: Vec<&Json> = all.iter().filter(|l| l["id"].as_str().unwrap().starts_with("judging-")).collect();
    assert_eq!(judging.len(), 60);
    let mut closed = 0;
    for ex in judging {
        let image = ex["image"].as_str().unwrap();
        assert!(pretrain_images.contains(image), "{image} is not a pretraining image");
        let user = ex["messages"][1]["content"].as_str().unwrap();
        assert!(user.starts_with("Question: "), "no scene in words: {user}");
        let question = user.lines().next().unwrap().trim_start_matches("Question: ");
        let target = ex["target"].as_str().unwrap();
        // The stated answer is the image's own (closed questions; descriptions are
        // checked by the judging unit test).
        if let Some(rest) = target.strip_prefix("The answer is ") {
            let stated = rest.split(". Answer A: ").next().unwrap();
            let (_, scene) = &truth[image];
            assert_eq!(answer_question(scene, question).as_deref(), Some(stated), "{image}: {question}");
            closed += 1;
        }
    }
    assert!(closed > 20, "{closed} closed examples of 60");
}

#[test]
fn the_pool_has_open_and_closed_prompts_without_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    write_world(&dir, &small(5)).unwrap();
    let pool = lines(&dir.join("pool.jsonl"));
    assert_eq!(pool.len(), 80);
    for p in &pool {
        let keys: HashSet<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, HashSet::from(["id", "image", "question", "kind"]));
    }
    assert_eq!(pool.iter().filter(|p| p["kind"] == "open").count(), 40);
    // The pool's truth answers its closed questions as the oracle does.
    let scenes = scenes(&dir);
    let truth: HashMap<String, Json> =
        lines(&dir.join("truth/pool.jsonl")).into_iter().map(|t| (t["id"].as_str().unwrap().to_string(), t)).collect();
    for p in pool.iter().filter(|p| p["kind"] == "closed") {
        let scene = &scenes[p["image"].as_str().unwrap()].1;
        let expected = answer_question(scene, p["question"].as_str().unwrap()).expect("answerable");
        assert_eq!(truth[p["id"].as_str().unwrap()]["answer"], expected.as_str());
    }
}

#[test]
fn pool_closed_asks_each_image_different_questions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    write_world(&dir, &WorldConfig { pool_closed: 4, ..small(5) }).unwrap();
    let pool = lines(&dir.join("pool.jsonl"));
    let ids: HashSet<&str> = pool.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), pool.len(), "ids are unique");
    let mut questions: HashMap<&str, HashSet<&str>> = HashMap::new();
    for p in pool.iter().filter(|p| p["kind"] == "closed") {
        let fresh = questions.entry(p["image"].as_str().unwrap()).or_default().insert(p["question"].as_str().unwrap());
        assert!(fresh, "asked twice: {p}");
    }
    // Every scene has at least ten closed questions, so each image gets its four.
    assert_eq!(questions.len(), 40);
    assert!(questions.values().all(|q| q.len() == 4));
    assert_eq!(pool.iter().filter(|p| p["kind"] == "open").count(), 40);
}

#[test]
fn descriptions_name_every_cell_in_order_and_read_back() {
    use rand::SeedableRng;
    use vlmjudge_lab::world::text::{corrupt, describe};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    for _ in 0..200 {
        let scene = Scene::sample(&mut rng);
        let text = describe(&scene);
        // The four cells in reading order, empty ones said to be, then the count.
        let headings: Vec<usize> = ["Top left: ", "Top right: ", "Bottom left: ", "Bottom right: "]
            .iter()
            .map(|h| text.find(h).unwrap())
            .collect();
        assert!(headings.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(text.matches(": nothing.").count(), 4 - scene.objects.len(), "{text}");
        assert!(text.ends_with(" shape.") || text.ends_with(" shapes."), "{text}");
        assert!(Claims::parse(&text).unwrap().same_as(&Claims::of(&scene)), "{text}");
        // A corrupted description is in the same style and reads back as something else,
        // a shape moved into an occupied cell included.
        let (wrong, changes) = corrupt(&scene, 2, &mut rng);
        let read = Claims::parse(&wrong).unwrap();
        assert!(!read.same_as(&Claims::of(&scene)), "{wrong} ({changes:?})");
        assert_eq!(read.render(), wrong);
    }
}

#[test]
fn heldout_labels_are_balanced_and_the_preferred_response_is_right() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    write_world(&dir, &WorldConfig { heldout: 200, ..small(2) }).unwrap();
    let scenes = scenes(&dir);
    let pairs = lines(&dir.join("heldout.jsonl"));
    assert_eq!(pairs.len(), 200);
    let mut per_category: HashMap<String, (usize, usize)> = HashMap::new();
    for p in &pairs {
        let label = p["label"].as_str().unwrap();
        let (chosen, rejected) = match label {
            "A" => (&p["response_a"], &p["response_b"]),
            "B" => (&p["response_b"], &p["response_a"]),
            other => panic!("label {other}"),
        };
        let (chosen, rejected) = (chosen.as_str().unwrap(), rejected.as_str().unwrap());
        let category = p["category"].as_str().unwrap().to_string();
        let counts = per_category.entry(category.clone()).or_default();
        if label == "A" {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
        let scene = &scenes[p["image"].as_str().unwrap()].1;
        let question = p["question"].as_str().unwrap();
        if category == "description" {
            let truth = Claims::of(scene);
            assert!(Claims::parse(chosen).unwrap().same_as(&truth), "{chosen}");
            let wrong = Claims::parse(rejected).unwrap();
            assert!(!wrong.same_as(&truth), "{rejected}");
            // The same style: the same sentence shapes, only details differ.
            assert!(rejected.starts_with("Top left: ") && rejected.ends_with('.'), "{rejected}");
            assert_eq!(wrong.count, wrong.shapes.len());
        } else {
            assert_eq!(answer_question(scene, question).as_deref(), Some(chosen), "{question}");
            assert_ne!(chosen, rejected);
        }
    }
    assert_eq!(per_category.len(), 5, "{per_category:?}");
    for (category, (a, b)) in &per_category {
        assert_eq!(a, b, "{category}: {a} A vs {b} B");
        assert_eq!(a + b, 40);
    }
}

fn world_base() -> &'static (tempfile::TempDir, vlmjudge_lab::fixture::FixtureFiles) {
    static BASE: std::sync::OnceLock<(tempfile::TempDir, vlmjudge_lab::fixture::FixtureFiles)> =
        std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let files = write_world_base(&tmp.path().join("base"), 0).unwrap();
        (tmp, files)
    })
}

#[test]
fn the_world_base_fixture_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let a = write_world_base(&tmp.path().join("a"), 4).unwrap();
    let b = write_world_base(&tmp.path().join("b"), 4).unwrap();
    assert_eq!(std::fs::read(&a.model).unwrap(), std::fs::read(&b.model).unwrap());
    assert_eq!(std::fs::read(&a.mmproj).unwrap(), std::fs::read(&b.mmproj).unwrap());
}

#[test]
fn a_deeper_world_base_differs_only_in_its_blocks_and_loads_in_llama_cpp() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, shallow) = world_base();
    let deep = write_world_base_with_layers(&tmp.path().join("deep"), 0, 5).unwrap();
    let blocks = |path: &Path| vlmjudge::gguf::GgufFile::open(path).unwrap().get_u64("llama.block_count");
    assert_eq!(blocks(&shallow.model), Some(WORLD_SHAPE.n_layer));
    assert_eq!(blocks(&deep.model), Some(5));
    // The vision encoder depends on the width alone, so it is the same file.
    assert_eq!(std::fs::read(&deep.mmproj).unwrap(), std::fs::read(&shallow.mmproj).unwrap());
    let model = Model::load(&deep.model, Some(&deep.mmproj), &ModelParams::default()).unwrap();
    let shallow_params = Model::load(&shallow.model, None, &ModelParams::default()).unwrap().info().n_params;
    assert!(model.info().n_params > shallow_params, "{} vs {shallow_params}", model.info().n_params);
    let none = write_world_base_with_layers(&tmp.path().join("none"), 0, 0).unwrap_err();
    assert!(none.to_string().contains("at least one layer"), "{none}");
}

/// `world-smollm2`: the world's encoder for the demo model. llama.cpp runs it on a world
/// image into 16 rows of SmolLM2's width, about as large as its token embeddings (std
/// 0.136), so the projector it starts from does not drown the words or vanish among them.
#[test]
fn the_world_smollm2_mmproj_gives_the_demo_model_16_rows_as_large_as_its_words() {
    use vlmjudge::engine::ImageSource;
    use vlmjudge_lab::fixture::{write_fixture, FixtureKind};
    let tmp = tempfile::tempdir().unwrap();
    let demo = vlmjudge::demo_model_path();
    let files = write_fixture(FixtureKind::WorldSmollm2, &tmp.path().join("fixture"), 0, &demo).unwrap();
    assert_eq!(files.model, demo, "the language model is the demo model itself");
    let world = write_world(&tmp.path().join("world"), &small(0)).unwrap();
    let image = world.dir.join("images/pool-00000.png");
    let model = Model::load(&files.model, Some(&files.mmproj), &ModelParams::default()).unwrap();
    let encoded = model.encode_image(&ImageSource::Path(image)).unwrap();
    let rows = encoded.embeddings();
    assert_eq!((encoded.image_tokens(), rows.len()), (16, 16 * 576));
    let std = (rows.iter().map(|x| x * x).sum::<f32>() / rows.len() as f32).sqrt();
    eprintln!("world-smollm2 image rows: rms {std:.3}");
    assert!((0.05..0.4).contains(&std), "image rows with rms {std}");
}

#[test]
fn llama_cpp_loads_the_world_base_and_tokenizes_the_world_compactly() {
    let (_, files) = world_base();
    let model = Model::load(&files.model, Some(&files.mmproj), &ModelParams::default()).unwrap();
    let n_vocab = model.info().n_vocab as usize;
    assert!((300..=MAX_VOCAB).contains(&n_vocab), "vocabulary of {n_vocab}");
    eprintln!("world-base vocabulary: {n_vocab} tokens");
    // World texts: one token per word (and per punctuation mark).
    for text in [
        "Top left: a large red circle. Top right: nothing. Bottom left: nothing. Bottom right: a small blue triangle. There are two shapes.",
        "How many yellow shapes are there?",
        "What colour is the shape in the top right?",
        "Where is the green square?",
        "two",
        "bottom left",
    ] {
        let tokens: Vec<String> = model.tokenize(text, false).iter().map(|&t| model.token_text(t)).collect();
        let words = text.split_whitespace().count() + text.matches(['.', '?', ':']).count();
        assert!(tokens.len() <= words, "{text:?}: {} tokens for {words} words and marks: {tokens:?}", tokens.len());
        let back: String = model.tokenize(text, false).iter().map(|&t| model.token_text(t)).collect();
        assert_eq!(back, text);
    }
    // The judge prompt is compact too (every word one token; punctuation and line
    // breaks at most one each), and any text still tokenizes (byte fallback).
    for text in [DEFAULT_SYSTEM, DEFAULT_USER] {
        let n = model.tokenize(text, false).len();
        let words = text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).count();
        let marks = text.chars().filter(|c| !c.is_alphanumeric() && *c != ' ').count();
        let pieces: Vec<String> = model.tokenize(text, false).iter().map(|&t| model.token_text(t)).collect();
        assert!(n <= words + marks, "{n} tokens for {words} words and {marks} marks: {pieces:?}");
    }
    let odd = "Zebra 42 ünïcödé ✓";
    let vocab = model.llama_model().vocab();
    let back: Vec<u8> = model.tokenize(odd, false).iter().flat_map(|&t| vocab.token_to_piece(t, true, None)).collect();
    assert_eq!(back, odd.as_bytes());
    // The verdict: "[[A" and "[[B" share a prefix and differ in their last token.
    let ta = model.tokenize("[[A", false);
    let tb = model.tokenize("[[B", false);
    assert_eq!(ta.len(), tb.len());
    assert_eq!(ta[..ta.len() - 1], tb[..tb.len() - 1]);
    assert_ne!(ta.last(), tb.last());
    // ChatML: the template renders, and its markers are single control tokens.
    let prompt = model.chat_prompt(&[("system", "Be fair."), ("user", "Hi")], None, true).unwrap();
    assert!(prompt.starts_with("<|im_start|>system\nBe fair.<|im_end|>\n<|im_start|>user\n"), "{prompt}");
    assert!(prompt.ends_with("<|im_start|>assistant\n"));
    let tokens = model.tokenize("<|im_start|>user\ntwo<|im_end|>", true);
    assert_eq!(tokens.len(), 5, "{tokens:?}");
    assert!(model.llama_model().vocab().is_eog(*tokens.last().unwrap()));
    // The vision encoder takes the world's images: 16 embeddings of the LM's width.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    write_world(&dir, &WorldConfig { pretrain: 2, pool: 1, heldout: 1, ..small(0) }).unwrap();
    let encoded = model.encode_image(&vlmjudge::judge::ImageSource::Path(dir.join("images/pool-00000.png"))).unwrap();
    let rows: usize = encoded
        .pieces()
        .filter_map(|p| match p {
            vlmjudge::engine::ImagePiece::Embeddings { n_tokens, .. } => Some(n_tokens),
            _ => None,
        })
        .sum();
    assert_eq!(rows, 16);
}

/// The documented base recipe (lab/README.md, "The procedural world"): full training of
/// the world-base fixture on the default world's pretraining set, 2 epochs. It takes
/// about 14 minutes on the 2-core development machine, so it runs only on request:
/// `cargo test --release -p vlmjudge-lab --test world -- --ignored`.
#[test]
#[ignore = "about 14 minutes on 2 cores; run with --ignored"]
fn the_base_recipe_answers_closed_questions_above_chance_but_not_always() {
    use vlmjudge::progress::NoProgress;
    use vlmjudge::train::{train, Mode, TrainConfig};
    let tmp = tempfile::tempdir().unwrap();
    let world = tmp.path().join("world");
    write_world(&world, &WorldConfig::default()).unwrap();
    let files = write_world_base(&tmp.path().join("init"), 0).unwrap();
    let config = TrainConfig {
        base: files.model.clone(),
        mmproj: Some(files.mmproj.clone()),
        data: world.join("pretrain.jsonl"),
        out: tmp.path().join("base"),
        mode: Mode::Full,
        epochs: 2,
        lr: 3e-3,
        warmup: 0.05,
        batch: 16,
        grad_accum: 4,
        eval_split: 0.02,
        save_every: 0,
        ..TrainConfig::default()
    };
    let summary = train(&config, &NoProgress).unwrap();
    let model = summary.outputs.model.unwrap();
    let report = vlmjudge_lab::world::probe::probe(&model, &files.mmproj, &world, 100).unwrap();
    eprintln!("{}", report.summary());
    let (accuracy, chance) = (report.closed_all.accuracy(), report.closed_all.chance());
    assert!(accuracy > chance + 0.1, "closed accuracy {accuracy:.3}, chance {chance:.3}");
    assert!(accuracy < 0.95, "closed accuracy {accuracy:.3}: not a weak base");
    assert!(report.descriptions.accuracy() < 0.9, "descriptions are almost always right: not a weak base");
}
