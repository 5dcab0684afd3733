//! Judging taught in text. The base model of the paper's loop is an instruction-tuned
//! VLM: it already follows a judge prompt, but judges images poorly. A base trained on
//! captions and answers alone has never seen a judge prompt, so its first verdicts are
//! noise and the loop has nothing to filter. These pretraining examples give it the
//! format without the skill the benchmark measures: the judge's own prompt, with the
//! image replaced by a written description of the scene ("Scene: ..."), and a short
//! reasoning that first says what the scene shows and then picks the matching answer.
//!
//! Matching an answer against text is copying; matching it against an image needs the
//! model's perception in the judge's context, which nothing in pretraining teaches.
//! That is left to the loop, which sees no labels.

use rand::Rng;

use super::scene::Scene;
use super::text::{any_closed_question, corrupt, describe, OPEN_QUESTIONS};
use crate::judge::{Template, DEFAULT_SYSTEM};

/// What a text-judging example stands in place of the image.
pub const SCENE_PREFIX: &str = "Scene: ";

/// How a judge trace opens for a closed question ("The answer is red.") and for an open
/// one ("The image shows: There are ...").
pub const CLOSED_TRACE: &str = "The answer is";
pub const OPEN_TRACE: &str = "The image shows:";

/// One text-judging example: system and user messages and the target trace.
#[derive(Debug, Clone, PartialEq)]
pub struct TextJudging {
    pub system: String,
    pub user: String,
    pub target: String,
}

/// A text-judging example about `scene`: an open question (a description against one
/// with one or two details changed) with probability `open`, otherwise a closed
/// question (the right answer against a wrong one of the same kind). The better answer
/// is A or B with equal chance.
pub fn text_judging(scene: &Scene, open: f64, rng: &mut impl Rng) -> TextJudging {
    let truth = describe(scene);
    let (question, good, bad, reasoning) = if rng.random_bool(open) {
        let question = OPEN_QUESTIONS[rng.random_range(0..OPEN_QUESTIONS.len())].to_string();
        let (wrong, _) = corrupt(scene, rng.random_range(1..=2), rng);
        (question, truth.clone(), wrong, format!("{OPEN_TRACE} {truth}"))
    } else {
        let q = any_closed_question(scene, rng);
        let wrong = q.wrong_answer(rng);
        let reasoning = format!("{CLOSED_TRACE} {}.", q.answer);
        (q.question, q.answer, wrong, reasoning)
    };
    let good_is_a = rng.random_bool(0.5);
    let (a, b) = if good_is_a { (&good, &bad) } else { (&bad, &good) };
    let verdict = if good_is_a { 'A' } else { 'B' };
    let user = format!("{SCENE_PREFIX}{truth}\n{}", Template::default().fill_user(&question, a, b));
    TextJudging { system: DEFAULT_SYSTEM.to_string(), user, target: format!("{reasoning} [[{verdict}]]") }
}

/// Texts for the world vocabulary: the trace openings and the scene prefix.
pub fn vocabulary_texts() -> Vec<String> {
    [SCENE_PREFIX, CLOSED_TRACE, OPEN_TRACE].iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn the_verdict_points_at_the_answer_the_reasoning_states() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut a, mut b) = (0, 0);
        for _ in 0..400 {
            let scene = Scene::sample(&mut rng);
            let ex = text_judging(&scene, 0.3, &mut rng);
            assert!(ex.user.starts_with(&format!("{SCENE_PREFIX}{}", describe(&scene))));
            let verdict = if ex.target.ends_with(" [[A]]") {
                'A'
            } else {
                assert!(ex.target.ends_with(" [[B]]"), "{}", ex.target);
                'B'
            };
            let slot = |name: &str| {
                let start = ex.user.find(&format!("[Answer {name}]\n")).unwrap() + 11;
                let end = ex.user.find(&format!("\n[End of Answer {name}]")).unwrap();
                ex.user[start..end].to_string()
            };
            let (answer_a, answer_b) = (slot("A"), slot("B"));
            assert_ne!(answer_a, answer_b);
            let stated = ex.target.rsplit_once(" [[").unwrap().0;
            let chosen = if verdict == 'A' { &answer_a } else { &answer_b };
            assert!(
                stated.ends_with(chosen.as_str()) || stated.ends_with(&format!("{chosen}.")),
                "{stated} / {chosen}"
            );
            if verdict == 'A' {
                a += 1
            } else {
                b += 1
            }
        }
        assert!((150..=250).contains(&a) && a + b == 400, "A {a} of 400");
    }
}
