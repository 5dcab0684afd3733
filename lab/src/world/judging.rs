//! The judge's prompt taught in pretraining. The base model of the paper's loop is an instruction-tuned
//! VLM: it already follows a judge prompt, but judges images poorly. A base trained on
//! captions and answers alone has never seen a judge prompt, so its first verdicts are
//! noise and the loop has nothing to filter. These pretraining examples give it that
//! prompt, the world's ([`world_template`]), and a short reasoning that states what the
//! image shows, checks each answer against that, and gives the verdict the checks imply:
//!
//! ```text
//! The answer is blue. Answer A: red, wrong. Answer B: blue, right.
//! [[B]]
//! ```
//!
//! An example goes either with a pretraining image or with the blank image (the
//! background alone), so the prompt always has the layout it has in the loop.
//! - **On an image** (the world's default, `judging_on_images` 1.0): the trace states
//!   what the image shows, as a closed answer or a description would. The base then
//!   judges an image as well as it reads it inside the judge's prompt, and no better:
//!   it learns this reading from these examples, apart from its answering, so it reads
//!   worse here than when it answers (held-out traces state the truth 63% of the time;
//!   its answers are right 59%, its descriptions 80%, seed 0). The loop's work is to
//!   make the judge read better, with no labels.
//! - **On the blank image**: half of the examples add the scene's written description
//!   (`Scene: ...`) and state the truth; the other half show no scene and state one of
//!   the two answers at random, so the checks can only follow the stated answer. No
//!   image teaches anything there. Such a base does not carry its perception into the
//!   judge's prompt: its traces on held-out images stated the truth 29% of the time
//!   (the probe: 63.5%), half of it by picking one of the two answers at random, and
//!   its held-out accuracy was 0.51 before and after three rounds.
//!
//! Each step of the trace is one a 3-layer model learns, given enough examples (on
//! images, 4,800 of them gave traces that quoted both answers right 27% of the time
//! and 8,000 gave 79%): the quote repeats what followed the same words in the prompt
//! (`Answer A: red`), the check compares two nearby words, and the verdict follows "right" and "wrong" a few
//! tokens before it. Three earlier bases show why (held-out traces, seed 0):
//! - "The answer is blue. [[B]]": the verdict had to find the slot holding the stated
//!   answer; p(A) stayed 0.50 whatever the base had stated, so the filter kept luck.
//! - "Answer A (red) is wrong. Answer B (blue) is right." after a scene: the verdicts
//!   followed the checks, but on images the checks were positional ("A right, B wrong"
//!   in both orders for 485 of 500 pairs).
//! - Stated answer, quotes and checks under the paper's long prompt (answers between
//!   `[Answer A]` and `[End of Answer A]`): even on the blank image of its own
//!   pretraining only 36% of the traces quoted both slots right.

use rand::Rng;

use super::scene::Scene;
use super::text::{any_closed_question, corrupt, describe, OPEN_QUESTIONS};
use vlmjudge::judge::Template;
use vlmjudge::synth::QuestionKind;
use vlmjudge::synth::TracePattern;

/// The system line of the world's judge prompt.
pub const WORLD_SYSTEM: &str = "You judge two answers to a question about an image.";
/// The user turn of the world's judge prompt: each answer follows its name, as the
/// trace quotes it.
pub const WORLD_USER: &str = "Question: {question}\nAnswer A: {answer_a}\nAnswer B: {answer_b}\n\
Check each answer, then give your verdict on the last line: [[A]] or [[B]].";

/// The judge prompt of the world (written to `template.json`, passed to the loop with
/// `--template`). The paper's prompt is about 180 tokens of instructions that a
/// 1M-parameter model cannot read and that would triple the cost of each judging
/// example; this one is about 30.
pub fn world_template() -> Template {
    Template {
        system: WORLD_SYSTEM.into(),
        user: WORLD_USER.into(),
        chat_template: None,
        trace: Some(serde_json::to_value(world_trace()).expect("a TracePattern serialises")),
    }
}

/// What a blank-image judging example shows in place of the image (when it shows a scene).
pub const SCENE_PREFIX: &str = "Scene: ";

/// How a judge trace opens for a closed question ("The answer is red.") and for an open
/// one ("The image shows: Top left: ...").
pub const CLOSED_TRACE: &str = "The answer is";
pub const OPEN_TRACE: &str = "The image shows:";

/// The share of blank-image judging examples that show no scene (see the module doc).
pub const BLIND_SHARE: f64 = 0.5;

/// One judging example: system and user messages and the target trace.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgingExample {
    pub system: String,
    pub user: String,
    pub target: String,
}

/// The world's judge reasoning, written to `template.json` so that `--traces synthetic`
/// writes what pretraining taught: the stated answer, then each answer checked against
/// it, short answers quoted ("Answer A: red, right."), descriptions not (a copy would
/// only lengthen the trace).
pub fn world_trace() -> TracePattern {
    TracePattern {
        closed: format!(
            "{CLOSED_TRACE} {{better}}. Answer A: {{answer_a}}, {{mark_a}}. Answer B: {{answer_b}}, {{mark_b}}."
        ),
        open: format!("{OPEN_TRACE} {{better}} Answer A: {{mark_a}}. Answer B: {{mark_b}}."),
        ..TracePattern::default()
    }
}

/// A judging example about `scene`: an open question (a description against one with
/// one or two details changed) with probability `open`, otherwise a closed question
/// (the right answer against a wrong one of the same kind). The better answer is A or
/// B with equal chance. With `on_image` the example goes with the scene's own image and
/// states its truth; otherwise it goes with the blank image and [`BLIND_SHARE`] of the
/// examples show no scene.
pub fn judging_example(scene: &Scene, open: f64, on_image: bool, rng: &mut impl Rng) -> JudgingExample {
    let truth = describe(scene);
    let is_open = rng.random_bool(open);
    let (question, good, bad) = if is_open {
        let question = OPEN_QUESTIONS[rng.random_range(0..OPEN_QUESTIONS.len())].to_string();
        let (wrong, _) = corrupt(scene, rng.random_range(1..=2), rng);
        (question, truth.clone(), wrong)
    } else {
        let q = any_closed_question(scene, rng);
        let wrong = q.wrong_answer(rng);
        (q.question, q.answer, wrong)
    };
    let good_is_a = rng.random_bool(0.5);
    let (a, b) = if good_is_a { (good, bad) } else { (bad, good) };
    let blind = !on_image && rng.random_bool(BLIND_SHARE);
    // With the scene shown the stated answer is the truth; without, either answer.
    let a_is_stated = if blind { rng.random_bool(0.5) } else { good_is_a };
    let kind = if is_open { QuestionKind::Open } else { QuestionKind::Closed };
    let reasoning = world_trace().write(kind, &a, &b, a_is_stated);
    let verdict = if a_is_stated { 'A' } else { 'B' };
    let prompt = world_template().fill_user(&question, &a, &b);
    let user = if blind || on_image { prompt } else { format!("{SCENE_PREFIX}{truth}\n{prompt}") };
    // The verdict on its own last line, as the prompt asks and as the filter writes the
    // traces it keeps.
    JudgingExample { system: WORLD_SYSTEM.to_string(), user, target: format!("{reasoning}\n[[{verdict}]]") }
}

/// Texts for the world vocabulary: the world's prompt, the scene prefix, the trace
/// openings and the checks' wording.
pub fn vocabulary_texts() -> Vec<String> {
    let mut texts: Vec<String> =
        [WORLD_SYSTEM, WORLD_USER, SCENE_PREFIX, CLOSED_TRACE, OPEN_TRACE].iter().map(|s| s.to_string()).collect();
    for slot in ['A', 'B'] {
        for mark in ["right", "wrong"] {
            texts.push(format!("Answer {slot}: {mark}."));
        }
    }
    texts
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn the_verdict_follows_the_checks_and_the_checks_follow_the_stated_answer() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut a_wins, mut open, mut blind, mut blind_wrong) = (0, 0, 0, 0);
        for _ in 0..400 {
            let scene = Scene::sample(&mut rng);
            let ex = judging_example(&scene, 0.3, false, &mut rng);
            let truth = describe(&scene);
            let shows_scene = ex.user.starts_with(&format!("{SCENE_PREFIX}{truth}\n"));
            assert!(shows_scene || ex.user.starts_with("Question: "), "{}", ex.user);
            assert_eq!(ex.system, WORLD_SYSTEM);
            let slot = |name: char| {
                let line = ex.user.lines().find(|l| l.starts_with(&format!("Answer {name}: "))).unwrap();
                line[10..].to_string()
            };
            let (answer_a, answer_b) = (slot('A'), slot('B'));
            assert_ne!(answer_a, answer_b);
            let (reasoning, verdict) = ex.target.split_once("\n").unwrap();
            let a_wins_here = verdict == "[[A]]";
            assert!(a_wins_here || verdict == "[[B]]", "{}", ex.target);
            let is_open = answer_a.starts_with("Top left: ");
            let chosen = if a_wins_here { &answer_a } else { &answer_b };
            let statement =
                if is_open { format!("{OPEN_TRACE} {chosen}") } else { format!("{CLOSED_TRACE} {chosen}.") };
            let mark = |right: bool| if right { "right" } else { "wrong" };
            let checks = if is_open {
                format!("Answer A: {}. Answer B: {}.", mark(a_wins_here), mark(!a_wins_here))
            } else {
                format!("Answer A: {answer_a}, {}. Answer B: {answer_b}, {}.", mark(a_wins_here), mark(!a_wins_here))
            };
            assert_eq!(reasoning, format!("{statement} {checks}"));
            // The right answer to the scene is always one of the two; with the scene
            // shown it is the one chosen.
            let right = if is_open { truth.clone() } else { answer_of(&ex, &scene) };
            assert!(answer_a == right || answer_b == right);
            if shows_scene {
                assert_eq!(chosen, &right, "{}", ex.target);
            } else {
                blind += 1;
                blind_wrong += usize::from(chosen != &right);
            }
            a_wins += usize::from(a_wins_here);
            open += usize::from(is_open);
        }
        assert!((150..=250).contains(&a_wins), "A {a_wins} of 400");
        assert!((80..=160).contains(&open), "{open} open of 400");
        assert!((150..=250).contains(&blind), "{blind} blind of 400");
        assert!(
            (blind / 4..=blind * 3 / 4).contains(&blind_wrong),
            "{blind_wrong} of {blind} blind pick the wrong answer"
        );
    }

    /// The right answer of a closed example: the one of its two answers that the scene's
    /// questions give for its question.
    fn answer_of(ex: &JudgingExample, scene: &Scene) -> String {
        let question = ex.user.split("Question: ").nth(1).unwrap().split('\n').next().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for _ in 0..10_000 {
            let q = any_closed_question(scene, &mut rng);
            if q.question == question {
                return q.answer;
            }
        }
        panic!("no question {question:?} about the scene");
    }

    #[test]
    fn the_template_carries_the_trace_that_pretraining_teaches() {
        let template = world_template();
        assert!(template.validate().is_ok());
        assert_eq!(
            TracePattern::of_template(&template).unwrap().write(QuestionKind::Closed, "red", "blue", false),
            "The answer is blue. Answer A: red, wrong. Answer B: blue, right."
        );
    }
}
