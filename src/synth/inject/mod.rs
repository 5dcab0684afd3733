//! Rule-based error injection for open-ended responses.
//!
//! [`inject_errors`] finds the concrete details of a response and alters a few of them,
//! so that the result reads like the original but is wrong about the image:
//!
//! | kind | words | replacement |
//! |---|---|---|
//! | [`Number`](EditKind::Number) | digits: `3`, `12`, `1,500`, `2.5`, `1998` | a plausible different value (small numbers by 1-2, larger ones by 10-50 %, years by 1-10 years), same format |
//! | [`Count`](EditKind::Count) | `two` .. `twenty` | another count 1-2 away, in `two` .. `twenty` |
//! | [`Colour`](EditKind::Colour) | red, blue, green, yellow, orange, purple, pink, brown, black, white, gray/grey, silver, gold, beige, turquoise, violet | another colour |
//! | [`Position`](EditKind::Position) | left/right, leftmost/rightmost, top/bottom, above/below, upper/lower, inside/outside, front -> back, beneath/underneath -> above, "in front of" <-> behind, "on top of" -> beneath | the opposite |
//! | [`Size`](EditKind::Size) | small/large/big/tiny/huge/giant/..., tall/short, wide/narrow, thick/thin and their comparatives and superlatives | the opposite |
//! | [`Object`](EditKind::Object) | a lexicon of shapes, people, animals, vehicles, furniture, tableware, food, plants and things | another word of the same group (cat -> dog, man -> woman, circle -> triangle) |
//!
//! Replacements keep the original's capitalisation ("Red" -> "Blue", "RED" -> "BLUE")
//! and number ("cats" -> "dogs", "men" -> "women"), and a preceding "a"/"an" is fixed
//! for the new word ("a circle" -> "an oval"). Words are matched whole and
//! case-insensitively. Counts and numbers joined by a hyphen ("twenty-one",
//! "3-4", "COVID-19") are left alone, as are "one" (also a pronoun) and "zero".
//!
//! - [`lexicon`]: the words of each class and what they may become.
//! - [`numbers`]: digits parsed, altered and written back in the same format.
//!
//! [`check_edit`](crate::synth::check_edit) guards both this and model-written
//! rewrites; it lives beside this module, as it judges edits from either source.

mod lexicon;
mod numbers;

use std::ops::Range;

use rand::seq::index;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::normalize::NUMBER_WORDS;
use lexicon::{
    colour_index, count_value, find_object, forms, COLOURS, OBJECT_GROUPS, POSITIONS, POSITION_PHRASES, SIZES,
};
use numbers::{new_number, parse_number};

/// The class of a detail that was altered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EditKind {
    Number,
    Count,
    Colour,
    Position,
    Object,
    Size,
}

/// One altered detail: the words as they were and as they are now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    pub kind: EditKind,
    pub from: String,
    pub to: String,
}

/// An error-injected response and what was changed, in text order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    pub text: String,
    pub edits: Vec<Edit>,
}

/// A word (or phrase) that can be altered.
#[derive(Debug, Clone)]
struct Candidate {
    span: Range<usize>,
    kind: EditKind,
}

/// A word: its byte span in the text.
#[derive(Debug, Clone)]
struct Token {
    span: Range<usize>,
}

/// Alters 1..=`max_edits` details of `text` (chosen uniformly at random among all
/// candidates), each to a different member of its class. `None` when `max_edits` is 0
/// or nothing in the text can be altered. The result always differs from `text`.
pub fn inject_errors(text: &str, max_edits: usize, rng: &mut impl Rng) -> Option<Injected> {
    let candidates = find_candidates(text);
    if candidates.is_empty() || max_edits == 0 {
        return None;
    }
    let k = rng.random_range(1..=max_edits.min(candidates.len()));
    let mut picked: Vec<usize> = index::sample(rng, candidates.len(), k).into_vec();
    picked.sort_unstable();

    // (span, replacement) in text order; an article fix is its own replacement.
    let mut replacements: Vec<(Range<usize>, String)> = Vec::new();
    let mut edits = Vec::new();
    for i in picked {
        let Candidate { span, kind } = &candidates[i];
        let from = &text[span.clone()];
        let to = replacement(*kind, from, rng);
        debug_assert!(!to.eq_ignore_ascii_case(from), "{from} -> {to}");
        if let Some(fix) = article_fix(text, span.start, &to) {
            replacements.push(fix);
        }
        replacements.push((span.clone(), to.clone()));
        edits.push(Edit { kind: *kind, from: from.to_string(), to });
    }
    let mut out = text.to_string();
    for (span, new) in replacements.iter().rev() {
        out.replace_range(span.clone(), new);
    }
    Some(Injected { text: out, edits })
}

/// Words of the text: alphanumeric runs; inside a number, `.` or `,` between digits
/// continues the word ("1,500", "2.5").
fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].1.is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < chars.len() {
            let c = chars[i].1;
            let joins_digits = matches!(c, '.' | ',')
                && chars[i - 1].1.is_ascii_digit()
                && chars.get(i + 1).is_some_and(|(_, n)| n.is_ascii_digit());
            if c.is_alphanumeric() || joins_digits {
                i += 1;
            } else {
                break;
            }
        }
        let end = chars.get(i).map_or(text.len(), |&(b, _)| b);
        tokens.push(Token { span: chars[start].0..end });
    }
    tokens
}

fn find_candidates(text: &str) -> Vec<Candidate> {
    let tokens = tokenize(text);
    let lower: Vec<String> = tokens.iter().map(|t| text[t.span.clone()].to_lowercase()).collect();
    let mut out = Vec::new();
    let mut i = 0;
    'tokens: while i < tokens.len() {
        for (phrase, _) in POSITION_PHRASES {
            let n = phrase.len();
            if i + n <= tokens.len()
                && (0..n).all(|j| lower[i + j] == phrase[j])
                && (1..n).all(|j| &text[tokens[i + j - 1].span.end..tokens[i + j].span.start] == " ")
            {
                out.push(Candidate {
                    span: tokens[i].span.start..tokens[i + n - 1].span.end,
                    kind: EditKind::Position,
                });
                i += n;
                continue 'tokens;
            }
        }
        let span = tokens[i].span.clone();
        let word = lower[i].as_str();
        let hyphenated = text[..span.start].ends_with('-') || text[span.end..].starts_with('-');
        let kind = if word.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b',') {
            (!hyphenated && parse_number(word).is_some()).then_some(EditKind::Number)
        } else if count_value(word).is_some() {
            (!hyphenated).then_some(EditKind::Count)
        } else if colour_index(word).is_some() {
            Some(EditKind::Colour)
        } else if POSITIONS.iter().any(|(w, _)| *w == word) {
            Some(EditKind::Position)
        } else if SIZES.iter().any(|(w, _)| *w == word) {
            Some(EditKind::Size)
        } else if find_object(word).is_some() {
            Some(EditKind::Object)
        } else {
            None
        };
        if let Some(kind) = kind {
            out.push(Candidate { span, kind });
        }
        i += 1;
    }
    out
}

/// The replacement for `from` (as written in the text), with its capitalisation.
fn replacement(kind: EditKind, from: &str, rng: &mut impl Rng) -> String {
    let lower = from.to_lowercase();
    let new = match kind {
        EditKind::Number => return new_number(from, rng),
        EditKind::Count => {
            let v = count_value(&lower).expect("a count word") as i64;
            let mut options: Vec<i64> = [-2, -1, 1, 2].iter().map(|d| v + d).filter(|n| (2..=20).contains(n)).collect();
            options.retain(|&n| n != v);
            NUMBER_WORDS[options[rng.random_range(0..options.len())] as usize].to_string()
        }
        EditKind::Colour => {
            let own = colour_index(&lower).expect("a colour");
            let others: Vec<&str> = (0..COLOURS.len()).filter(|&i| i != own).map(|i| COLOURS[i]).collect();
            others[rng.random_range(0..others.len())].to_string()
        }
        EditKind::Position => match POSITION_PHRASES.iter().find(|(p, _)| p.join(" ") == lower) {
            Some((_, opposite)) => opposite.to_string(),
            None => POSITIONS.iter().find(|(w, _)| *w == lower).expect("a position").1.to_string(),
        },
        EditKind::Size => {
            let options = SIZES.iter().find(|(w, _)| *w == lower).expect("a size").1;
            options[rng.random_range(0..options.len())].to_string()
        }
        EditKind::Object => {
            let (group, own, plural) = find_object(&lower).expect("an object");
            let entries = OBJECT_GROUPS[group];
            let others: Vec<usize> = (0..entries.len()).filter(|&i| i != own).collect();
            let (singular, plural_form) = forms(entries[others[rng.random_range(0..others.len())]]);
            if plural {
                plural_form
            } else {
                singular.to_string()
            }
        }
    };
    match_case(from, &new)
}

/// "Xyz" -> "New", "XYZ" -> "NEW" (only when the original has more than one letter),
/// otherwise as given.
fn match_case(template: &str, word: &str) -> String {
    let letters: Vec<char> = template.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.len() > 1 && letters.iter().all(|c| c.is_uppercase()) {
        return word.to_uppercase();
    }
    if template.chars().next().is_some_and(char::is_uppercase) {
        let mut chars = word.chars();
        return match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        };
    }
    word.to_string()
}

/// When the word at `start` follows the article "a"/"an" and the new word needs the
/// other one: the article's span and its replacement.
fn article_fix(text: &str, start: usize, new_word: &str) -> Option<(Range<usize>, String)> {
    let before = text[..start].strip_suffix(' ')?;
    let article_start = before
        .rfind(|c: char| !c.is_alphanumeric())
        .map_or(0, |i| i + before[i..].chars().next().map_or(1, char::len_utf8));
    let article = &before[article_start..];
    if !article.eq_ignore_ascii_case("a") && !article.eq_ignore_ascii_case("an") {
        return None;
    }
    let first = new_word.chars().next()?;
    if !first.is_alphabetic() {
        return None;
    }
    let wanted = if "aeiouAEIOU".contains(first) { "an" } else { "a" };
    if article.eq_ignore_ascii_case(wanted) {
        return None;
    }
    Some((article_start..before.len(), match_case(article, wanted)))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::synth::{check_edit, DEFAULT_MAX_CHANGED_FRACTION};

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    /// Injects exactly one edit (max_edits 1) into a text with one candidate.
    fn one_edit(text: &str, seed: u64) -> (String, Edit) {
        let injected = inject_errors(text, 1, &mut rng(seed)).unwrap_or_else(|| panic!("nothing editable in {text:?}"));
        assert_eq!(injected.edits.len(), 1);
        (injected.text, injected.edits[0].clone())
    }

    #[test]
    fn nothing_editable_gives_none() {
        for text in ["", "   ", "It looks pleasant and calm.", "The weather seems nice today.", "one of them"] {
            assert_eq!(inject_errors(text, 3, &mut rng(0)), None, "{text:?}");
        }
        assert_eq!(inject_errors("A red car.", 0, &mut rng(0)), None, "max_edits 0");
    }

    #[test]
    fn each_kind_is_found_and_replaced_within_its_class() {
        let cases = [
            ("There are 3 apples on it.", EditKind::Number),
            ("I see three of them.", EditKind::Count),
            ("The wall is red.", EditKind::Colour),
            ("It sits on the left.", EditKind::Position),
            ("It is a small thing.", EditKind::Size),
            ("There is a cat here.", EditKind::Object),
        ];
        for (text, kind) in cases {
            for seed in 0..20 {
                let (_, edit) = one_edit(text, seed);
                if edit.kind != kind {
                    continue; // "apples" is also an object
                }
                let to = edit.to.to_lowercase();
                assert_ne!(edit.from.to_lowercase(), to);
                match kind {
                    EditKind::Number => assert!(to.parse::<u64>().is_ok(), "{to}"),
                    EditKind::Count => assert!(count_value(&to).is_some(), "{to}"),
                    EditKind::Colour => assert!(colour_index(&to).is_some(), "{to}"),
                    EditKind::Position => assert_eq!(to, "right"),
                    EditKind::Size => assert!(["large", "big"].contains(&to.as_str()), "{to}"),
                    EditKind::Object => assert_eq!(find_object(&to).map(|(g, _, p)| (g, p)), Some((3, false)), "{to}"),
                }
            }
        }
    }

    #[test]
    fn replacement_keeps_capitalisation_and_number() {
        for seed in 0..30 {
            let (text, edit) = one_edit("Cats sleep.", seed);
            assert!(edit.to.starts_with(char::is_uppercase) && edit.to.ends_with('s'), "{text}");
            let (text, edit) = one_edit("RED", seed);
            assert_eq!(edit.to, edit.to.to_uppercase(), "{text}");
            let (text, edit) = one_edit("Two men stand.", seed);
            if edit.kind == EditKind::Object {
                assert!(
                    ["women", "boys", "girls", "people", "children", "babies"].contains(&edit.to.as_str()),
                    "{text}"
                );
            } else {
                assert!(edit.to.starts_with(char::is_uppercase), "{text}");
            }
        }
        assert_eq!(match_case("Left", "right"), "Right");
        assert_eq!(match_case("LEFT", "right"), "RIGHT");
        assert_eq!(match_case("left", "right"), "right");
        assert_eq!(match_case("A", "an"), "An", "a one-letter capital is a capital, not all-caps");
    }

    #[test]
    fn positions_flip_to_their_opposites_including_phrases() {
        let (text, edit) = one_edit("It stands in front of it.", 0);
        assert_eq!(
            (text.as_str(), edit.from.as_str(), edit.to.as_str()),
            ("It stands behind it.", "in front of", "behind")
        );
        let (text, _) = one_edit("It stands behind it.", 0);
        assert_eq!(text, "It stands in front of it.");
        let (text, _) = one_edit("Above it.", 0);
        assert_eq!(text, "Below it.");
        let (text, _) = one_edit("It is on top of it.", 0);
        assert_eq!(text, "It is beneath it.");
    }

    #[test]
    fn articles_follow_the_new_word() {
        let mut fixed = 0;
        for seed in 0..40 {
            let (text, edit) = one_edit("There is a circle.", seed);
            let starts_vowel = edit.to.starts_with(['a', 'e', 'i', 'o', 'u']);
            let want = if starts_vowel { "an" } else { "a" };
            assert_eq!(text, format!("There is {want} {}.", edit.to));
            fixed += starts_vowel as usize;
        }
        assert!(fixed > 0, "some seed should pick \"oval\" or \"arrow\"");
        assert_eq!(article_fix("An apple", 3, "banana"), Some((0..2, "A".to_string())));
        assert_eq!(article_fix("a cat", 2, "dog"), None);
        assert_eq!(article_fix("banana apple", 7, "cat"), None, "\"banana\" is not an article");
    }

    #[test]
    fn counts_stay_words_between_two_and_twenty() {
        let mut r = rng(5);
        for word in &NUMBER_WORDS[2..] {
            for _ in 0..20 {
                let new = replacement(EditKind::Count, word, &mut r);
                let (a, b) = (count_value(word).unwrap(), count_value(&new).unwrap());
                assert!(a != b && a.abs_diff(b) <= 2, "{word} -> {new}");
            }
        }
    }

    #[test]
    fn hyphenated_numbers_mixed_tokens_and_partial_words_are_left_alone() {
        for text in
            ["twenty-one", "COVID-19", "3-4", "3D", "1st", "starfish", "redness", "cathedral", "one", "zero", "1.2.3"]
        {
            assert!(find_candidates(text).is_empty(), "{text:?}: {:?}", find_candidates(text));
        }
        let grey = find_candidates("A grey cat.");
        assert_eq!(grey.len(), 2);
        for seed in 0..30 {
            let out = inject_errors("grey", 1, &mut rng(seed)).unwrap();
            assert_ne!(out.text, "gray", "grey -> gray is not an error");
        }
    }

    #[test]
    fn edits_are_between_one_and_max_and_reported_in_text_order() {
        let text = "Two red cars are parked on the left of a large tree, next to 3 people and a blue bench.";
        let total = find_candidates(text).len();
        assert_eq!(total, 10);
        let mut seen_counts = std::collections::HashSet::new();
        for seed in 0..300 {
            let out = inject_errors(text, 4, &mut rng(seed)).unwrap();
            assert!((1..=4).contains(&out.edits.len()));
            seen_counts.insert(out.edits.len());
            assert_ne!(out.text, text);
            // Every edit's new text is in the output, in order.
            let mut at = 0;
            for edit in &out.edits {
                let pos = out.text[at..].find(&edit.to).unwrap_or_else(|| panic!("{:?} in {:?}", edit, out.text));
                at += pos + edit.to.len();
            }
            assert!(check_edit(text, &out.text, DEFAULT_MAX_CHANGED_FRACTION).is_ok(), "{}", out.text);
        }
        assert_eq!(seen_counts.len(), 4, "all edit counts 1..=4 occur");
    }

    #[test]
    fn injection_is_deterministic_for_a_seed() {
        let text = "A small brown dog sits to the right of two cats under 4 trees.";
        assert_eq!(inject_errors(text, 3, &mut rng(9)), inject_errors(text, 3, &mut rng(9)));
    }

    #[test]
    fn unicode_text_around_candidates_is_preserved() {
        let text = "Ein großer Hund — a red ball, naïve café ☕.";
        for seed in 0..20 {
            let out = inject_errors(text, 2, &mut rng(seed)).unwrap();
            assert!(
                out.text.starts_with("Ein großer Hund — a") && out.text.ends_with(", naïve café ☕."),
                "{}",
                out.text
            );
        }
    }
}
