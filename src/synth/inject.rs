//! Rule-based error injection for open-ended responses, and the check every edited
//! response (rule-based or model-written) must pass.
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
//! [`check_edit`] guards both this and model-written rewrites: an edit must change
//! something and must not change too much (word-level LCS), with the length kept
//! within half to twice the original.

use std::ops::Range;

use rand::seq::index;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::normalize::NUMBER_WORDS;

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

/// The default for [`check_edit`]'s `max_changed_fraction`.
pub const DEFAULT_MAX_CHANGED_FRACTION: f64 = 0.5;

const COLOURS: &[&str] = &[
    "red",
    "blue",
    "green",
    "yellow",
    "orange",
    "purple",
    "pink",
    "brown",
    "black",
    "white",
    "gray",
    "silver",
    "gold",
    "beige",
    "turquoise",
    "violet",
];

/// Single-word positions and their opposites (one-way entries have no reverse row).
const POSITIONS: &[(&str, &str)] = &[
    ("left", "right"),
    ("right", "left"),
    ("leftmost", "rightmost"),
    ("rightmost", "leftmost"),
    ("top", "bottom"),
    ("bottom", "top"),
    ("above", "below"),
    ("below", "above"),
    ("upper", "lower"),
    ("lower", "upper"),
    ("inside", "outside"),
    ("outside", "inside"),
    ("front", "back"),
    ("beneath", "above"),
    ("underneath", "above"),
    ("behind", "in front of"),
];

/// Multi-word positions (matched before single words) and their opposites.
const POSITION_PHRASES: &[(&[&str], &str)] = &[(&["in", "front", "of"], "behind"), (&["on", "top", "of"], "beneath")];

/// Sizes and the words that can replace them (the opposite sense).
const SIZES: &[(&str, &[&str])] = &[
    ("small", &["large", "big"]),
    ("tiny", &["huge", "large"]),
    ("big", &["small"]),
    ("large", &["small"]),
    ("huge", &["tiny", "small"]),
    ("giant", &["tiny"]),
    ("enormous", &["tiny"]),
    ("massive", &["small"]),
    ("tall", &["short"]),
    ("short", &["tall"]),
    ("wide", &["narrow"]),
    ("narrow", &["wide"]),
    ("thick", &["thin"]),
    ("thin", &["thick"]),
    ("smaller", &["larger", "bigger"]),
    ("larger", &["smaller"]),
    ("bigger", &["smaller"]),
    ("smallest", &["largest", "biggest"]),
    ("largest", &["smallest"]),
    ("biggest", &["smallest"]),
    ("taller", &["shorter"]),
    ("shorter", &["taller"]),
    ("tallest", &["shortest"]),
    ("shortest", &["tallest"]),
];

/// Object groups: a replacement comes from the same group. Entries are "singular" or
/// "singular/plural" when the plural is not singular + "s".
const OBJECT_GROUPS: &[&[&str]] = &[
    &["circle", "square", "triangle", "star", "rectangle", "hexagon", "pentagon", "oval", "diamond", "heart", "arrow"],
    &["cube", "sphere", "cylinder", "cone", "pyramid"],
    &["man/men", "woman/women", "boy", "girl", "person/people", "child/children", "baby/babies"],
    &[
        "cat", "dog", "horse", "cow", "bird", "elephant", "giraffe", "zebra", "bear", "duck", "goat", "pig", "lion",
        "tiger", "rabbit",
    ],
    &["car", "bus/buses", "truck", "bicycle", "motorcycle", "train", "boat", "airplane", "van", "taxi/taxis"],
    &["table", "chair", "bed", "couch/couches", "sofa", "bench/benches", "desk", "shelf/shelves", "cabinet"],
    &["cup", "mug", "bowl", "plate", "bottle", "fork", "knife/knives", "spoon", "vase"],
    &["apple", "banana", "sandwich/sandwiches", "pizza/pizzas", "cake", "carrot", "donut", "tomato/tomatoes"],
    &["tree", "flower", "bush/bushes", "plant"],
    &["book", "phone", "laptop", "clock", "lamp", "umbrella", "bag", "ball", "kite", "box/boxes", "computer"],
    &["shirt", "jacket", "dress/dresses", "hat", "coat", "scarf/scarves", "shoe", "sweater"],
];

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

fn count_value(word: &str) -> Option<usize> {
    // "zero" and "one" are not altered: "one" is also a pronoun ("the red one").
    NUMBER_WORDS.iter().position(|w| *w == word).filter(|&v| v >= 2)
}

fn colour_index(word: &str) -> Option<usize> {
    let word = if word == "grey" { "gray" } else { word };
    COLOURS.iter().position(|c| *c == word)
}

/// (singular, plural) of a lexicon entry.
fn forms(entry: &str) -> (&str, String) {
    match entry.split_once('/') {
        Some((s, p)) => (s, p.to_string()),
        None => (entry, format!("{entry}s")),
    }
}

/// (group, index in group, is plural) of an object word.
fn find_object(word: &str) -> Option<(usize, usize, bool)> {
    for (g, entries) in OBJECT_GROUPS.iter().enumerate() {
        for (i, entry) in entries.iter().enumerate() {
            let (singular, plural) = forms(entry);
            if word == singular {
                return Some((g, i, false));
            }
            if word == plural {
                return Some((g, i, true));
            }
        }
    }
    None
}

/// A number as written: digits with optional thousands commas and decimal point.
struct Number {
    /// The value times 10^decimals.
    scaled: u64,
    decimals: usize,
    grouped: bool,
    /// Width of the integer part when written with leading zeros ("007").
    zero_padded: Option<usize>,
}

fn parse_number(word: &str) -> Option<Number> {
    let (int, frac) = match word.split_once('.') {
        Some((i, f)) => (i, f),
        None => (word, ""),
    };
    if frac.contains(['.', ',']) || int.is_empty() {
        return None;
    }
    let grouped = int.contains(',');
    if grouped {
        let mut groups = int.split(',');
        let head = groups.next()?;
        if head.is_empty() || head.len() > 3 || !groups.all(|g| g.len() == 3) {
            return None;
        }
    }
    let digits: String = int.chars().filter(|c| *c != ',').collect();
    if digits.len() + frac.len() > 15 {
        return None;
    }
    let scaled = format!("{digits}{frac}").parse().ok()?;
    let zero_padded = (digits.len() > 1 && digits.starts_with('0')).then_some(digits.len());
    Some(Number { scaled, decimals: frac.len(), grouped, zero_padded })
}

/// A plausible different value, written like the original.
fn new_number(from: &str, rng: &mut impl Rng) -> String {
    let n = parse_number(from).expect("a parsed number");
    let v = n.scaled;
    let looks_like_year = n.decimals == 0 && !n.grouped && n.zero_padded.is_none() && (1000..=2100).contains(&v);
    let new = if looks_like_year {
        let d = rng.random_range(1..=10);
        if rng.random_bool(0.5) && v + d <= 2100 {
            v + d
        } else {
            v - d
        }
    } else if v <= 10 {
        let options: Vec<u64> =
            [-2i64, -1, 1, 2].iter().map(|d| v as i64 + d).filter(|&x| x >= 0).map(|x| x as u64).collect();
        options[rng.random_range(0..options.len())]
    } else {
        let delta = ((v as f64) * rng.random_range(0.1..=0.5)).round().max(1.0) as u64;
        if rng.random_bool(0.5) || delta >= v {
            v + delta
        } else {
            v - delta
        }
    };
    debug_assert_ne!(new, v);
    format_number(new, &n)
}

fn format_number(scaled: u64, like: &Number) -> String {
    let digits = format!("{:0width$}", scaled, width = like.decimals + 1);
    let (int, frac) = digits.split_at(digits.len() - like.decimals);
    let mut int = int.to_string();
    if let Some(width) = like.zero_padded {
        int = format!("{int:0>width$}");
    }
    if like.grouped {
        let bytes = int.as_bytes();
        let mut grouped = String::new();
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 && (bytes.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(*b as char);
        }
        int = grouped;
    }
    if like.decimals == 0 {
        int
    } else {
        format!("{int}.{frac}")
    }
}

/// Why an edited response was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EditRejection {
    /// The original or the edit has no words.
    #[error("the original or the edited text has no words")]
    Empty,
    /// The edit equals the original up to whitespace, case and surrounding punctuation.
    #[error("the edit changes nothing")]
    Unchanged,
    /// The edit is less than half or more than twice as long as the original.
    #[error("the edit is {ratio:.2} times as long as the original (allowed 0.5 to 2)")]
    LengthRatio { ratio: f64 },
    /// Too many words differ.
    #[error("the edit changes {changed_fraction:.2} of the words (allowed {max:.2})")]
    TooDifferent { changed_fraction: f64, max: f64 },
    /// The texts are too long to compare word by word.
    #[error("the texts are too long to compare ({original_words} and {edited_words} words)")]
    TooLong { original_words: usize, edited_words: usize },
}

/// Cells of the LCS table above which [`check_edit`] refuses to compare (about 0.2 s).
const MAX_LCS_CELLS: usize = 64_000_000;

/// Accepts an edited response that changes something, but not too much.
///
/// Texts are compared as word sequences: split at whitespace, lowercased, with
/// punctuation trimmed from each word's ends (so a changed comma or capital is no
/// change). Then, in order:
/// - either side without words: [`EditRejection::Empty`];
/// - equal sequences: [`EditRejection::Unchanged`];
/// - the edit's length (characters of the joined words) outside 0.5..=2 times the
///   original's: [`EditRejection::LengthRatio`];
/// - `changed = 1 - LCS / max(words)` above `max_changed_fraction` (clamped to 0..=1; NaN
///   means [`DEFAULT_MAX_CHANGED_FRACTION`]): [`EditRejection::TooDifferent`].
///
/// Works on any text (empty, huge, any script); inputs whose differing middle part is
/// too large to compare give [`EditRejection::TooLong`] instead of taking long.
pub fn check_edit(original: &str, edited: &str, max_changed_fraction: f64) -> Result<(), EditRejection> {
    let max =
        if max_changed_fraction.is_nan() { DEFAULT_MAX_CHANGED_FRACTION } else { max_changed_fraction.clamp(0.0, 1.0) };
    let a = comparison_words(original);
    let b = comparison_words(edited);
    if a.is_empty() || b.is_empty() {
        return Err(EditRejection::Empty);
    }
    if a == b {
        return Err(EditRejection::Unchanged);
    }
    let len = |w: &[String]| w.iter().map(|s| s.chars().count()).sum::<usize>() + w.len() - 1;
    let ratio = len(&b) as f64 / len(&a) as f64;
    if !(0.5..=2.0).contains(&ratio) {
        return Err(EditRejection::LengthRatio { ratio });
    }
    let lcs = lcs_len(&a, &b).ok_or(EditRejection::TooLong { original_words: a.len(), edited_words: b.len() })?;
    let changed_fraction = 1.0 - lcs as f64 / a.len().max(b.len()) as f64;
    if changed_fraction > max {
        return Err(EditRejection::TooDifferent { changed_fraction, max });
    }
    Ok(())
}

fn comparison_words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Length of the longest common subsequence; `None` when the part left after removing
/// the common prefix and suffix is too large for the table.
fn lcs_len(a: &[String], b: &[String]) -> Option<usize> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[..a.len() - suffix], &b[..b.len() - suffix]);
    if a.len().saturating_mul(b.len()) > MAX_LCS_CELLS {
        return None;
    }
    let mut prev = vec![0u32; b.len() + 1];
    let mut row = vec![0u32; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            row[j + 1] = if x == y { prev[j] + 1 } else { row[j].max(prev[j + 1]) };
        }
        std::mem::swap(&mut prev, &mut row);
    }
    Some(prefix + suffix + prev[b.len()] as usize)
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

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
    fn numbers_change_plausibly_and_keep_their_format() {
        let mut r = rng(3);
        for _ in 0..200 {
            let v: u64 = r.random_range(0..=10);
            let new: u64 = new_number(&v.to_string(), &mut r).parse().unwrap();
            assert!(new != v && new.abs_diff(v) <= 2, "{v} -> {new}");

            let v: u64 = r.random_range(11..=999);
            let new: u64 = new_number(&v.to_string(), &mut r).parse().unwrap();
            assert!(new != v && new.abs_diff(v) as f64 <= 0.5 * v as f64 + 1.0, "{v} -> {new}");

            let new: u64 = new_number("1998", &mut r).parse().unwrap();
            assert!(new != 1998 && new.abs_diff(1998) <= 10, "1998 -> {new}");

            let grouped = new_number("12,500", &mut r);
            let plain: u64 = grouped.replace(',', "").parse().unwrap();
            assert!(plain != 12500 && grouped.contains(','), "12,500 -> {grouped}");
            assert_eq!(grouped, format_number(plain, &parse_number("12,500").unwrap()));

            let decimal = new_number("2.5", &mut r);
            assert!(decimal != "2.5" && decimal.split_once('.').unwrap().1.len() == 1, "2.5 -> {decimal}");

            let padded = new_number("007", &mut r);
            assert!(padded.len() == 3 && padded != "007", "007 -> {padded}");
        }
        assert_eq!(format_number(1234567, &parse_number("1,000").unwrap()), "1,234,567");
        assert_eq!(format_number(5, &parse_number("0.25").unwrap()), "0.05");
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

    #[test]
    fn check_edit_rejects_no_change() {
        let original = "A red car is parked on the left.";
        for edited in [original, "a red car  is parked\non the left", "A red car is parked on the LEFT!"] {
            assert_eq!(check_edit(original, edited, 0.5), Err(EditRejection::Unchanged), "{edited:?}");
        }
        assert_eq!(check_edit("", "x", 0.5), Err(EditRejection::Empty));
        assert_eq!(check_edit("a red car", "  ... ", 0.5), Err(EditRejection::Empty));
    }

    #[test]
    fn check_edit_accepts_a_small_change_and_rejects_a_large_one() {
        let original = "A red car is parked on the left of a large tree.";
        assert_eq!(check_edit(original, "A blue car is parked on the right of a large tree.", 0.5), Ok(()));
        let rewrite = "Sunny beaches with palm trees and people enjoying the summer.";
        match check_edit(original, rewrite, 0.5) {
            Err(EditRejection::TooDifferent { changed_fraction, .. }) => assert!(changed_fraction > 0.5),
            other => panic!("{other:?}"),
        }
        // The same change passes or fails depending on the allowed fraction: 2 of 12 words.
        let two_changed = "A blue car is parked on the right of a large tree.";
        assert!(check_edit(original, two_changed, 0.2).is_ok());
        assert!(matches!(check_edit(original, two_changed, 0.1), Err(EditRejection::TooDifferent { .. })));
        assert!(matches!(check_edit(original, two_changed, f64::NAN), Ok(())));
    }

    #[test]
    fn check_edit_rejects_lengths_outside_half_to_double() {
        let original = "The cat sits on the red mat near the door.";
        let longer = format!("{original} {original} And more.");
        assert!(matches!(check_edit(original, &longer, 1.0), Err(EditRejection::LengthRatio { ratio }) if ratio > 2.0));
        assert!(
            matches!(check_edit(original, "The cat.", 1.0), Err(EditRejection::LengthRatio { ratio }) if ratio < 0.5)
        );
    }

    #[test]
    fn check_edit_counts_changes_with_lcs_not_positions() {
        // Inserting one word shifts every later position but changes one word of twelve.
        let original = "the man holds a cup of tea while the dog sleeps nearby";
        let edited = "the old man holds a cup of tea while the dog sleeps nearby";
        assert_eq!(lcs_len(&comparison_words(original), &comparison_words(edited)), Some(12));
        assert!(check_edit(original, edited, 0.1).is_ok());
        assert_eq!(lcs_len(&comparison_words("a b c d"), &comparison_words("b d a c")), Some(2));
    }

    #[test]
    fn check_edit_handles_long_and_odd_text() {
        let long: String = (0..20_000).map(|i| format!("w{i} ")).collect();
        let edited = long.replacen("w10000 ", "x ", 1);
        assert!(check_edit(&long, &edited, 0.5).is_ok(), "a long text with one change");
        let a: String = (0..9000).map(|i| format!("a{i} ")).collect();
        let b: String = (0..9000).map(|i| format!("b{i} ")).collect();
        assert!(matches!(check_edit(&a, &b, 0.5), Err(EditRejection::TooLong { .. })));
        assert!(check_edit("日本 の 猫", "日本 の 犬", 0.5).is_ok());
        assert_eq!(check_edit("\u{0}\u{1}", "\u{0}", 0.5), Err(EditRejection::Empty));
    }
}
