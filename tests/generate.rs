//! Batched sampling on the demo model and the generated tiny VLM.

mod common;

use common::{demo_model, fixture, solid_png};
use vlmjudge::engine::{Model, ModelParams};
use vlmjudge::generate::{GenOutput, GenParams, GenRequest, Generator};
use vlmjudge::judge::{ImageSource, SamplingParams};
use vlmjudge_lab::fixture::FixtureKind;

fn request(id: &str, user: &str, n: usize) -> GenRequest {
    GenRequest { id: id.into(), system: None, user: user.into(), image: None, n }
}

fn run(model: &Model, params: GenParams, requests: &[GenRequest]) -> Vec<GenOutput> {
    let mut generator = Generator::new(model, params).expect("generator");
    let mut out: Vec<Option<GenOutput>> = vec![None; requests.len()];
    generator
        .generate(requests, |i, o| {
            out[i] = Some(o);
            true
        })
        .expect("generates");
    out.into_iter().map(|o| o.expect("every request answered")).collect()
}

fn params(temperature: f32, parallel: usize) -> GenParams {
    GenParams {
        sampling: SamplingParams { temperature, top_k: 50, top_p: 0.9 },
        max_tokens: 24,
        parallel,
        max_samples: 8,
        ctx_per_seq: 256,
        threads: 2,
        ..GenParams::default()
    }
}

#[test]
fn greedy_samples_of_one_prompt_are_identical_and_nonempty() {
    let out = run(demo_model(), params(0.0, 2), &[request("q", "What is the capital of France?", 4)]);
    let samples = &out[0].samples;
    assert_eq!(samples.len(), 4);
    assert!(!samples[0].is_empty(), "no text generated");
    assert!(samples.iter().all(|s| s == &samples[0]), "greedy samples differ: {samples:?}");
    assert!(out[0].generated_tokens >= 4 && out[0].prompt_tokens > 5);
}

#[test]
fn sampled_answers_vary_and_do_not_depend_on_the_batch() {
    let questions = ["Name a colour.", "Name an animal.", "How many legs does a spider have?", "Say a number."];
    let requests: Vec<GenRequest> =
        questions.iter().enumerate().map(|(i, q)| request(&format!("q{i}"), q, 8)).collect();
    let together = run(demo_model(), params(1.0, 4), &requests);
    let alone = run(demo_model(), params(1.0, 1), &requests[2..3]);
    assert_eq!(together[2].samples, alone[0].samples, "a prompt's samples changed with the batch");
    let distinct: std::collections::HashSet<&String> = together.iter().flat_map(|o| &o.samples).collect();
    assert!(distinct.len() > 4, "sampling at T=1 gave almost no variety: {distinct:?}");
}

#[test]
fn bad_requests_get_their_own_errors() {
    let long = "word ".repeat(400);
    let requests = [
        request("too-many", "Hi", 9),
        request("empty", "  ", 1),
        request("long", &long, 1),
        GenRequest { image: Some(ImageSource::Path("/nonexistent.png".into())), ..request("img", "Describe.", 1) },
        request("ok", "Hello", 1),
    ];
    let out = run(demo_model(), params(0.0, 2), &requests);
    for o in &out[..4] {
        assert!(o.error.is_some() && o.samples.is_empty(), "{} should fail: {o:?}", o.id);
    }
    assert!(out[2].error.as_ref().unwrap().contains("too long"));
    assert!(out[4].error.is_none() && out[4].samples.len() == 1);
}

#[test]
fn image_prompts_generate_on_the_tiny_vlm_and_depend_on_the_image() {
    let files = fixture(FixtureKind::TinyVlm);
    let model = Model::load(&files.model, Some(&files.mmproj), &ModelParams::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let red = dir.path().join("red.png");
    let blue = dir.path().join("blue.png");
    std::fs::write(&red, solid_png(32, 32, [255, 0, 0])).unwrap();
    std::fs::write(&blue, solid_png(32, 32, [0, 0, 255])).unwrap();
    let with = |id: &str, path: &std::path::Path| GenRequest {
        image: Some(ImageSource::Path(path.into())),
        ..request(id, "Describe the image.", 2)
    };
    let out = run(&model, params(0.0, 2), &[with("r", &red), with("b", &blue), with("r2", &red)]);
    assert!(out.iter().all(|o| o.error.is_none()), "{out:?}");
    assert_eq!(out[0].samples, out[2].samples, "same image, same greedy text");
    assert_ne!(out[0].samples, out[1].samples, "a different image should change the random model's text");
}
