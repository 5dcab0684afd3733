//! Judging taught in text. The base model of the paper's loop is an instruction-tuned
//! VLM: it already follows a judge prompt, but judges images poorly. A base trained on
//! captions and answers alone has never seen a judge prompt, so its first verdicts are
//! noise and the loop has nothing to filter. These pretraining examples give it the
//! format without the skill the benchmark measures: the judge's own prompt, with the
//! image replaced by a written description of the scene ("Scene: ..."), and a short
//! reasoning that checks each answer in turn before the verdict:
//!
//! ```text
//! Answer A (red) is wrong. Answer B (blue) is right.
//! [[B]]
//! ```
//!
//! Why a check per answer and not "The answer is blue. [[B]]": the second form makes
//! the verdict a search for the slot holding the stated answer, which a 3-layer model
//! did not learn from 1,500 examples (its verdicts stayed at p(A) = 0.50 and ignored
//! what it had just stated, so the loop's filter kept luck). Here the verdict follows
//! the two words "right" and "wrong" a few tokens before it, and the skill that is left
//! to learn is the one the benchmark measures: checking an answer against the scene.
//! In text that is a comparison with the description; against an image it needs the
//! model's perception in the judge's context, which nothing in pretraining teaches.
//! That is left to the loop, which sees no labels.

use rand::Rng;

use super::scene::Scene;
use super::text::{any_closed_question, corrupt, describe, OPEN_QUESTIONS};
use crate::judge::{Template, DEFAULT_SYSTEM};

/// What a text-judging example stands in place of the image.
pub const SCENE_PREFIX: &str = "Scene: ";

/// One text-judging example: system and user messages and the target trace.
#[derive(Debug, Clone, PartialEq)]
pub struct TextJudging {
    pub system: String,
    pub user: String,
    pub target: String,
}

/// The check of one answer: "Answer A (red) is right." for a short answer, without
/// the answer for a description (a copy of it would only lengthen the trace).
fn check(slot: char, answer: &str, right: bool, quote: bool) -> String {
    let verdict = if right { "right" } else { "wrong" };
    if quote {
        format!("Answer {slot} ({answer}) is {verdict}.")
    } else {
        format!("Answer {slot} is {verdict}.")
    }
}

/// A text-judging example about `scene`: an open question (a description against one
/// with one or two details changed) with probability `open`, otherwise a closed
/// question (the right answer against a wrong one of the same kind). The better answer
/// is A or B with equal chance.
pub fn text_judging(scene: &Scene, open: f64, rng: &mut impl Rng) -> TextJudging {
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
    let (a, b) = if good_is_a { (&good, &bad) } else { (&bad, &good) };
    let verdict = if good_is_a { 'A' } else { 'B' };
    let reasoning = format!("{} {}", check('A', a, good_is_a, !is_open), check('B', b, !good_is_a, !is_open));
    let user = format!("{SCENE_PREFIX}{truth}\n{}", Template::default().fill_user(&question, a, b));
    // The verdict on its own last line, as the prompt asks and as the filter writes the
    // traces it keeps.
    TextJudging { system: DEFAULT_SYSTEM.to_string(), user, target: format!("{reasoning}\n[[{verdict}]]") }
}

/// Texts for the world vocabulary: the scene prefix and the checks' wording.
pub fn vocabulary_texts() -> Vec<String> {
    let mut texts = vec![SCENE_PREFIX.to_string()];
    for slot in ['A', 'B'] {
        for right in [true, false] {
            texts.push(check(slot, "", right, false));
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
    fn the_verdict_follows_the_checks_and_the_checks_follow_the_scene() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut a, mut b, mut open) = (0, 0, 0);
        for _ in 0..400 {
            let scene = Scene::sample(&mut rng);
            let ex = text_judging(&scene, 0.3, &mut rng);
            let truth = describe(&scene);
            assert!(ex.user.starts_with(&format!("{SCENE_PREFIX}{truth}\n")));
            let slot = |name: char| {
                let start = ex.user.find(&format!("[Answer {name}]\n")).unwrap() + 11;
                let end = ex.user.find(&format!("\n[End of Answer {name}]")).unwrap();
                ex.user[start..end].to_string()
            };
            let (answer_a, answer_b) = (slot('A'), slot('B'));
            assert_ne!(answer_a, answer_b);
            let (reasoning, verdict) = ex.target.split_once("\n").unwrap();
            let a_is_right = verdict == "[[A]]";
            assert!(a_is_right || verdict == "[[B]]", "{}", ex.target);
            let is_open = answer_a.starts_with("There ");
            if is_open {
                open += 1;
                // The right description is the scene's.
                assert_eq!(a_is_right, answer_a == truth);
                assert_eq!(!a_is_right, answer_b == truth);
            }
            let expected = [check('A', &answer_a, a_is_right, !is_open), check('B', &answer_b, !a_is_right, !is_open)];
            assert_eq!(reasoning, expected.join(" "));
            if a_is_right {
                a += 1
            } else {
                b += 1
            }
        }
        assert!((150..=250).contains(&a) && a + b == 400, "A {a} of 400");
        assert!((80..=160).contains(&open), "{open} open of 400");
    }

    #[test]
    fn a_check_reads_as_a_sentence() {
        assert_eq!(check('A', "red", true, true), "Answer A (red) is right.");
        assert_eq!(check('B', "There is one shape.", false, false), "Answer B is wrong.");
    }
}
