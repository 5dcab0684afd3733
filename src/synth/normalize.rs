//! Answer normalisation for majority voting.
//!
//! Two samples vote for the same answer when their normalised forms are equal. The
//! rules are deliberately conservative: they merge spellings of the *same* answer
//! ("Three." / "3" / "the 3"), never answers that could mean different things.
//!
//! [`normalize_answer`], in order:
//! 1. lowercase, trim, collapse runs of whitespace to one space;
//! 2. an answer that starts with the word "yes" or "no" becomes just that word
//!    ("Yes, there is a cat." -> "yes"; "Nobody" is left alone);
//! 3. an answer that starts with a multiple-choice letter A-H written as "B.", "B)",
//!    "(B)" or "B:" followed by a space or the end becomes the letter ("(B) a cup" ->
//!    "b"); a bare "a" or "A dog" is not a choice letter;
//! 4. surrounding quotes and markdown emphasis are stripped from both ends, and
//!    trailing `. , ! ? ; :` (so "3." -> "3", but "-5" and "50%" keep their signs);
//! 5. one leading article ("a", "an", "the") is dropped when more words follow;
//! 6. per word: number words "zero".."twenty" become digits, thousands separators are
//!    removed from numbers ("1,000" -> "1000"), British colour spellings become
//!    American ("grey" -> "gray", "colour" -> "color").
//!
//! 7. an answer of several words that holds exactly one number is that number: "A dog
//!    has 4 legs." and "The answer is 4." both vote for "4" (small models wrap short
//!    answers in sentences, and the vote must not split on the wrapping). "3 + 4 = 7"
//!    holds three numbers and stays as it is.
//!
//! Other wrapping ("It is blue.") is not removed: such a sample votes for a different
//! string.

/// Number words zero..twenty, at the index of their value (shared with error injection).
pub(super) const NUMBER_WORDS: [&str; 21] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

const SPELLINGS: &[(&str, &str)] = &[
    ("grey", "gray"),
    ("greyish", "grayish"),
    ("colour", "color"),
    ("colours", "colors"),
    ("coloured", "colored"),
    ("colourful", "colorful"),
];

/// The quote characters stripped from both ends.
fn is_quote_or_emphasis(c: char) -> bool {
    matches!(c, '"' | '\'' | '`' | '“' | '”' | '‘' | '’' | '«' | '»' | '*' | '_')
}

/// Normalises an answer for voting (rules in the [module docs](self)).
pub fn normalize_answer(answer: &str) -> String {
    let lower = answer.to_lowercase();
    let collapsed = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    // Emphasis and quotes around the whole answer ("**Yes**", "'B.'") come off first,
    // so that the yes/no and choice-letter rules see the answer itself.
    let text = collapsed.trim_matches(is_quote_or_emphasis);

    if let Some(word) = leading_yes_no(text) {
        return word.to_string();
    }
    if let Some(letter) = leading_choice_letter(text) {
        return letter.to_string();
    }

    let mut text = text;
    loop {
        let stripped = text
            .trim_start_matches(is_quote_or_emphasis)
            .trim_end_matches(|c: char| is_quote_or_emphasis(c) || matches!(c, '.' | ',' | '!' | '?' | ';' | ':'))
            .trim();
        if stripped == text {
            break;
        }
        text = stripped;
    }

    let mut words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    if words.len() > 1 && matches!(words[0], "a" | "an" | "the") {
        words.remove(0);
    }
    let words: Vec<String> = words.iter().map(|w| normalize_word(w)).collect();
    if words.len() > 1 {
        let numbers: Vec<&String> = words.iter().filter(|w| is_number(w)).collect();
        if let [number] = numbers.as_slice() {
            return number.to_string();
        }
    }
    words.join(" ")
}

/// A word that is a number after normalisation ("4", "-5", "3.5"), trailing sentence
/// punctuation aside.
fn is_number(word: &str) -> bool {
    let w = word.trim_end_matches(['.', ',', '!', '?', ';', ':']);
    let digits = w.strip_prefix('-').unwrap_or(w);
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// "yes"/"no" when the text starts with that word (followed by the end or a non-letter).
fn leading_yes_no(text: &str) -> Option<&'static str> {
    for word in ["yes", "no"] {
        if let Some(rest) = text.strip_prefix(word) {
            if rest.chars().next().is_none_or(|c| !c.is_alphanumeric()) {
                return Some(word);
            }
        }
    }
    None
}

/// The choice letter of "b.", "b)", "(b)", "b:" at the start, followed by a space or the end.
fn leading_choice_letter(text: &str) -> Option<char> {
    let mut chars = text.chars();
    let (letter, closed) = match chars.next()? {
        '(' => (chars.next()?, chars.next() == Some(')')),
        c => (c, matches!(chars.next(), Some('.' | ')' | ':'))),
    };
    let followed_ok = chars.next().is_none_or(|c| c == ' ');
    (closed && followed_ok && matches!(letter, 'a'..='h')).then_some(letter)
}

fn normalize_word(word: &str) -> String {
    if let Some(i) = NUMBER_WORDS.iter().position(|n| *n == word) {
        return i.to_string();
    }
    if let Some((_, american)) = SPELLINGS.iter().find(|(british, _)| *british == word) {
        return american.to_string();
    }
    if is_grouped_number(word) {
        return word.replace(',', "");
    }
    word.to_string()
}

/// "1,000", "12,345,678.5": digit groups of three after a 1-3 digit head.
fn is_grouped_number(word: &str) -> bool {
    let (int, frac) = match word.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (word, None),
    };
    if frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let mut groups = int.split(',');
    let head = groups.next().unwrap_or("");
    let mut rest = groups.peekable();
    rest.peek().is_some()
        && (1..=3).contains(&head.len())
        && head.bytes().all(|b| b.is_ascii_digit())
        && rest.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::normalize_answer;

    fn check(cases: &[(&str, &str)]) {
        let wrong: Vec<_> = cases
            .iter()
            .filter(|(input, want)| normalize_answer(input) != *want)
            .map(|(input, want)| format!("{input:?} -> {:?}, expected {want:?}", normalize_answer(input)))
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn case_whitespace_and_trailing_period() {
        check(&[
            ("  Red  ", "red"),
            ("Red.", "red"),
            ("red car\n", "red car"),
            ("Fire   hydrant", "fire hydrant"),
            ("\"Stop\"", "stop"),
            ("**Blue**", "blue"),
            ("'cat'.", "cat"),
            ("“Stop sign”", "stop sign"),
            ("Paris!", "paris"),
        ]);
    }

    #[test]
    fn leading_articles_are_dropped_only_before_another_word() {
        check(&[
            ("A dog", "dog"),
            ("an apple.", "apple"),
            ("The red car", "red car"),
            ("the", "the"),
            ("Theater", "theater"),
            ("Another dog", "another dog"),
        ]);
    }

    #[test]
    fn number_words_become_digits() {
        check(&[
            ("Three", "3"),
            ("three.", "3"),
            ("zero", "0"),
            ("Twenty", "20"),
            ("two dogs", "2"),
            ("3", "3"),
            ("1,000", "1000"),
            ("12,345.5", "12345.5"),
            // Not thousands groups: left as written.
            ("1,2", "1,2"),
            ("twenty-one", "twenty-one"),
            ("-5", "-5"),
            ("50%", "50%"),
            ("3.5", "3.5"),
        ]);
    }

    #[test]
    fn leading_yes_or_no_decides() {
        check(&[
            ("yes.", "yes"),
            ("Yes", "yes"),
            ("Yes, there is a cat on the mat.", "yes"),
            ("No, it is raining.", "no"),
            ("NO!", "no"),
            ("**Yes**", "yes"),
            ("Nobody", "nobody"),
            ("Yesterday", "yesterday"),
            ("Not sure", "not sure"),
        ]);
    }

    #[test]
    fn leading_choice_letters_become_the_letter() {
        check(&[
            ("B.", "b"),
            ("B", "b"),
            ("(B)", "b"),
            ("B)", "b"),
            ("(c) a cup", "c"),
            ("D. The man is running", "d"),
            ("A: red", "a"),
            ("'B.'", "b"),
            // Articles and abbreviations are not choice letters.
            ("A cup", "cup"),
            ("a.m.", "a.m"),
            ("I.", "i"),
            ("Z) foo", "z) foo"),
        ]);
    }

    #[test]
    fn british_and_american_colour_spellings_agree() {
        check(&[
            ("Grey", "gray"),
            ("grey car", "gray car"),
            ("The colour is grey.", "color is gray"),
            ("Gray", "gray"),
        ]);
    }

    #[test]
    fn equal_meanings_normalise_equal_and_different_ones_do_not() {
        let same = [("Three.", "3"), ("The cat", "cat"), ("Yes, it is.", "yes"), ("(B) cat", "B.")];
        for (a, b) in same {
            assert_eq!(normalize_answer(a), normalize_answer(b), "{a:?} vs {b:?}");
        }
        let different = [("3", "4"), ("red", "red car"), ("yes", "no"), ("A.", "B."), ("cat", "cats")];
        for (a, b) in different {
            assert_ne!(normalize_answer(a), normalize_answer(b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn empty_and_punctuation_only_answers_normalise_to_empty() {
        check(&[("", ""), ("   ", ""), ("...", ""), ("\"\"", ""), ("**", "")]);
    }
}
