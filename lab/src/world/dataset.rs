//! Writing a world directory from one seed:
//!
//! ```text
//! DIR/world.json          what was generated (seed, sizes, format version)
//! DIR/pretrain.jsonl      SFT examples for the base model: descriptions, closed answers,
//!                         and the judge's prompt (on pretraining images)
//! DIR/pool.jsonl          prompts without answers for `vlmjudge improve` (open + closed)
//! DIR/heldout.jsonl       labelled preference pairs with categories (the benchmark)
//! DIR/template.json       the world's judge prompt (`--template` of the loop)
//! DIR/images/*.png        every image, named by split and index, and `blank.png` for
//!                         judging examples without an image
//! DIR/truth/scenes.jsonl  the scene of every image
//! DIR/truth/pool.jsonl    the correct answer (closed) or description (open) of each prompt
//! DIR/truth/heldout.jsonl the correct answer and the changes made, per pair
//! ```
//!
//! The loop reads only `pool.jsonl` (and its images); `truth/` is for evaluation and
//! ablations. Every image is distinct from every other, across splits too (scenes
//! are compared with their pixel offsets). Each split draws from its own random stream,
//! so the same seed gives byte-identical files whatever the other splits' sizes are...
//! except that a later split skips images an earlier split already drew.
//!
//! The directory is assembled next to `DIR` and renamed into place.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::draw::render_png;
use super::judging::{judging_example, world_template};
use super::scene::Scene;
use super::text::{any_closed_question, closed_question, corrupt, describe, Category, OPEN_QUESTIONS};
use vlmjudge::data::{write_json, write_jsonl, PairRecord};
use vlmjudge::{Error, Result};

/// Version of the directory layout and of the texts' style.
pub const FORMAT_VERSION: u32 = 2;

/// The sizes of a world.
#[derive(Debug, Clone, Serialize)]
pub struct WorldConfig {
    pub seed: u64,
    /// SFT examples for the base model.
    pub pretrain: usize,
    /// Pretraining examples per image (different questions about one image): fewer
    /// images to encode for the same number of examples.
    pub pretrain_per_image: usize,
    /// Fraction of pretrain examples that are descriptions (the rest answer closed
    /// questions); also the share of open questions among the judging examples.
    pub pretrain_descriptions: f64,
    /// Judging examples added to pretraining, as a fraction of `pretrain`: the world's
    /// judge prompt with a reasoning that states what the image shows (see
    /// [`super::judging`]).
    pub pretrain_judging: f64,
    /// Share of the judging examples that go with a pretraining image and state what
    /// it shows, instead of the blank image: the base then judges images as well as it
    /// reads them in the judge's prompt, no better.
    pub judging_on_images: f64,
    /// Pool images; each gives one open prompt and `pool_closed` closed ones.
    pub pool: usize,
    /// Closed prompts per pool image, each a different question (every scene has at
    /// least ten): more closed questions for the loop to vote on at one image's cost.
    pub pool_closed: usize,
    /// Held-out pairs, each with its own image, categories in turn.
    pub heldout: usize,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            seed: 0,
            pretrain: 16000,
            pretrain_per_image: 1,
            pretrain_descriptions: 0.4,
            pretrain_judging: 0.5,
            judging_on_images: 1.0,
            pool: 500,
            pool_closed: 1,
            heldout: 500,
        }
    }
}

/// What [`write_world`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct WorldSummary {
    pub dir: PathBuf,
    pub pretrain_examples: usize,
    pub pool_prompts: usize,
    pub heldout_pairs: usize,
    pub images: usize,
}

/// A pool prompt (the prompts format).
#[derive(Debug, Clone, Serialize)]
struct PromptRecord {
    id: String,
    image: String,
    question: String,
    kind: &'static str,
}

/// A chat message of an SFT example.
#[derive(Debug, Clone, Serialize)]
struct Message {
    role: String,
    content: String,
}

/// An SFT example (the trainer's format).
#[derive(Debug, Clone, Serialize)]
struct SftRecord {
    id: String,
    image: String,
    messages: Vec<Message>,
    target: String,
}

#[derive(Debug, Clone, Serialize)]
struct SceneRecord<'a> {
    image: &'a str,
    split: &'a str,
    #[serde(flatten)]
    scene: &'a Scene,
}

#[derive(Debug, Clone, Serialize)]
struct PoolTruth {
    id: String,
    kind: &'static str,
    category: &'static str,
    /// The correct answer (closed) or the correct description (open).
    answer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidates: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
struct HeldoutTruth {
    id: String,
    category: &'static str,
    answer: String,
    wrong: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    changes: Vec<super::text::Change>,
}

/// Draws scenes whose images differ from every image drawn before.
struct SceneSource {
    seen: HashSet<Scene>,
}

impl SceneSource {
    fn draw(&mut self, rng: &mut ChaCha8Rng) -> Scene {
        loop {
            let scene = Scene::sample(rng);
            if self.seen.insert(scene.clone()) {
                return scene;
            }
        }
    }
}

/// Writes the world of `config` into `dir`: built in a sibling directory, then renamed
/// into place. An existing `dir` is replaced only when it is empty or an earlier world
/// (it holds `world.json`).
pub fn write_world(dir: &Path, config: &WorldConfig) -> Result<WorldSummary> {
    for (what, fraction) in [
        ("description", config.pretrain_descriptions),
        ("judging", config.pretrain_judging),
        ("judging on images", config.judging_on_images),
    ] {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(Error::InvalidArgument(format!("the {what} fraction must be in [0, 1]")));
        }
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    if dir.exists() {
        let empty = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.next().is_none();
        if !empty && !dir.join("world.json").is_file() {
            return Err(Error::InvalidArgument(format!(
                "{} exists and is not a world directory (no world.json); choose another --out",
                dir.display()
            )));
        }
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "world".into());
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    let summary = match build(&tmp, config) {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if dir.exists() {
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        std::fs::rename(dir, &old).map_err(|e| Error::io(dir, e))?;
        std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    } else {
        std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(WorldSummary { dir: dir.to_path_buf(), ..summary })
}

fn stream(seed: u64, split: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(split);
    rng
}

/// The image of the judging examples that show none: the background alone.
pub const BLANK_IMAGE: &str = "images/blank.png";

fn build(dir: &Path, config: &WorldConfig) -> Result<WorldSummary> {
    let images_dir = dir.join("images");
    std::fs::create_dir_all(&images_dir).map_err(|e| Error::io(&images_dir, e))?;
    std::fs::create_dir_all(dir.join("truth")).map_err(|e| Error::io(dir, e))?;
    let mut source = SceneSource { seen: HashSet::new() };
    let mut scenes: Vec<(String, &'static str, Scene)> = Vec::new();
    let mut add_image = |split: &'static str, i: usize, scene: &Scene| -> Result<String> {
        let rel = format!("images/{split}-{i:05}.png");
        let path = dir.join(&rel);
        std::fs::write(&path, render_png(scene)).map_err(|e| Error::io(&path, e))?;
        scenes.push((rel.clone(), split, scene.clone()));
        Ok(rel)
    };
    let user = |q: &str| vec![Message { role: "user".into(), content: q.to_string() }];

    // Held-out first: its images are drawn before the others, so changing the pool or
    // pretrain size never changes the benchmark.
    let mut rng = stream(config.seed, 3);
    let mut heldout = Vec::new();
    let mut heldout_truth = Vec::new();
    let labels = balanced_labels(config.heldout, &mut rng);
    for (i, &label) in labels.iter().enumerate() {
        let category = Category::ALL[i % Category::ALL.len()];
        let (scene, question, answer, wrong, changes) = loop {
            let scene = source.draw(&mut rng);
            if category == Category::Description {
                let question = OPEN_QUESTIONS[rng.random_range(0..OPEN_QUESTIONS.len())].to_string();
                let n_changes = rng.random_range(1..=2);
                let (wrong, changes) = corrupt(&scene, n_changes, &mut rng);
                break (scene.clone(), question, describe(&scene), wrong, changes);
            }
            if let Some(q) = closed_question(&scene, category, &mut rng) {
                let wrong = q.wrong_answer(&mut rng);
                break (scene.clone(), q.question, q.answer, wrong, Vec::new());
            }
        };
        let image = add_image("heldout", i, &scene)?;
        let id = format!("heldout-{i:05}");
        let (a, b) = if label == 'A' { (answer.clone(), wrong.clone()) } else { (wrong.clone(), answer.clone()) };
        heldout.push(PairRecord {
            id: id.clone(),
            image: Some(image),
            question,
            response_a: a,
            response_b: b,
            label: Some(label.to_string()),
            category: Some(category.name().to_string()),
        });
        heldout_truth.push(HeldoutTruth { id, category: category.name(), answer, wrong, changes });
    }

    let mut rng = stream(config.seed, 2);
    let mut pool = Vec::new();
    let mut pool_truth = Vec::new();
    for i in 0..config.pool {
        let scene = source.draw(&mut rng);
        let image = add_image("pool", i, &scene)?;
        let open_q = OPEN_QUESTIONS[rng.random_range(0..OPEN_QUESTIONS.len())];
        let open_id = format!("pool-{i:05}-open");
        pool.push(PromptRecord { id: open_id.clone(), image: image.clone(), question: open_q.into(), kind: "open" });
        pool_truth.push(PoolTruth {
            id: open_id,
            kind: "open",
            category: Category::Description.name(),
            answer: describe(&scene),
            candidates: None,
        });
        let mut asked = HashSet::new();
        for k in 0..config.pool_closed.max(1) {
            // Categories are drawn as for one question; repeats are drawn again.
            let Some(closed) =
                (0..20).map(|_| any_closed_question(&scene, &mut rng)).find(|q| asked.insert(q.question.clone()))
            else {
                break;
            };
            // The first keeps the id it has in a pool of one closed prompt per image.
            let closed_id = if k == 0 { format!("pool-{i:05}-closed") } else { format!("pool-{i:05}-closed-{k}") };
            pool.push(PromptRecord {
                id: closed_id.clone(),
                image: image.clone(),
                question: closed.question.clone(),
                kind: "closed",
            });
            pool_truth.push(PoolTruth {
                id: closed_id,
                kind: "closed",
                category: closed.category.name(),
                answer: closed.answer,
                candidates: Some(closed.candidates),
            });
        }
    }

    let mut rng = stream(config.seed, 1);
    let mut pretrain = Vec::new();
    let per_image = config.pretrain_per_image.max(1);
    for i in 0..config.pretrain.div_ceil(per_image) {
        let scene = source.draw(&mut rng);
        let image = add_image("pretrain", i, &scene)?;
        let mut asked = HashSet::new();
        let n = per_image.min(config.pretrain - i * per_image);
        let (mut k, mut tries) = (0, 0);
        while k < n {
            tries += 1;
            let (question, target) = if rng.random_bool(config.pretrain_descriptions) {
                (OPEN_QUESTIONS[rng.random_range(0..OPEN_QUESTIONS.len())].to_string(), describe(&scene))
            } else {
                let q = any_closed_question(&scene, &mut rng);
                (q.question, q.answer)
            };
            // Different questions about one image (a description is asked once), as far
            // as the scene has them.
            let key =
                if OPEN_QUESTIONS.contains(&question.as_str()) { "describe".to_string() } else { question.clone() };
            if !asked.insert(key) && tries < 100 {
                continue;
            }
            let id = format!("pretrain-{i:05}-{k}");
            pretrain.push(SftRecord { id, image: image.clone(), messages: user(&question), target });
            k += 1;
        }
    }
    // Judging comes last and from its own stream, so the splits above do not change
    // with its share. An example shows a pretraining image, or the blank image and a
    // scene of its own, distinct from every image's.
    let mut rng = stream(config.seed, 4);
    let n_judging = (config.pretrain as f64 * config.pretrain_judging).round() as usize;
    if n_judging > 0 && config.judging_on_images < 1.0 {
        let path = dir.join(BLANK_IMAGE);
        std::fs::write(&path, render_png(&Scene { objects: Vec::new() })).map_err(|e| Error::io(&path, e))?;
    }
    let pretrain_images: Vec<&(String, &str, Scene)> =
        scenes.iter().filter(|(_, split, _)| *split == "pretrain").collect();
    for i in 0..n_judging {
        // Drawn only when asked for, so worlds without such examples stay as they were.
        let on_image = config.judging_on_images > 0.0 && rng.random_bool(config.judging_on_images);
        let (image, scene) = if on_image {
            let (image, _, scene) = pretrain_images[rng.random_range(0..pretrain_images.len())];
            (image.clone(), scene.clone())
        } else {
            (BLANK_IMAGE.to_string(), source.draw(&mut rng))
        };
        let ex = judging_example(&scene, config.pretrain_descriptions, on_image, &mut rng);
        let messages = vec![
            Message { role: "system".into(), content: ex.system },
            Message { role: "user".into(), content: ex.user },
        ];
        pretrain.push(SftRecord { id: format!("judging-{i:05}"), image, messages, target: ex.target });
    }

    write_jsonl(&dir.join("pretrain.jsonl"), &pretrain)?;
    write_jsonl(&dir.join("pool.jsonl"), &pool)?;
    write_jsonl(&dir.join("heldout.jsonl"), &heldout)?;
    let scene_records: Vec<SceneRecord> =
        scenes.iter().map(|(image, split, scene)| SceneRecord { image, split, scene }).collect();
    write_jsonl(&dir.join("truth/scenes.jsonl"), &scene_records)?;
    write_jsonl(&dir.join("truth/pool.jsonl"), &pool_truth)?;
    write_jsonl(&dir.join("truth/heldout.jsonl"), &heldout_truth)?;
    let manifest = serde_json::json!({
        "format_version": FORMAT_VERSION,
        "generator": "vlmjudge-lab world",
        "config": config,
        "image_size": super::scene::IMAGE_SIZE,
        "files": {
            "pretrain": "pretrain.jsonl",
            "pool": "pool.jsonl",
            "heldout": "heldout.jsonl",
            "template": "template.json",
            "truth": ["truth/scenes.jsonl", "truth/pool.jsonl", "truth/heldout.jsonl"],
        },
    });
    // The judge prompt the judging examples use, for the loop's --template.
    write_json(&dir.join("template.json"), &world_template())?;
    write_json(&dir.join("world.json"), &manifest)?;
    Ok(WorldSummary {
        dir: dir.to_path_buf(),
        pretrain_examples: pretrain.len(),
        pool_prompts: pool.len(),
        heldout_pairs: heldout.len(),
        images: scenes.len(),
    })
}

/// Labels for `n` pairs whose categories take turns: within each category half `A`
/// and half `B` (one more `A` when the category has an odd count), in random order.
fn balanced_labels(n: usize, rng: &mut ChaCha8Rng) -> Vec<char> {
    let k = Category::ALL.len();
    let mut labels = vec!['A'; n];
    for c in 0..k {
        let idx: Vec<usize> = (c..n).step_by(k).collect();
        let mut flags: Vec<char> = (0..idx.len()).map(|j| if j % 2 == 0 { 'A' } else { 'B' }).collect();
        for j in (1..flags.len()).rev() {
            let r = rng.random_range(0..=j);
            flags.swap(j, r);
        }
        for (i, f) in idx.into_iter().zip(flags) {
            labels[i] = f;
        }
    }
    labels
}
