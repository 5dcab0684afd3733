//! Open or closed: which synthesis route a prompt takes.
//!
//! A *closed* question has a short answer that several samples can agree on (a number,
//! a word or short phrase, yes/no, a choice): its pair comes from a majority vote. An
//! *open* question asks for long-form text (a description, an explanation, a caption):
//! its pair comes from error injection into one response.
//!
//! [`QuestionKind::detect`] applies these rules, first match wins:
//!
//! 1. An explicit short-answer instruction makes it **closed**: "answer with a single
//!    word / letter / number / phrase", "answer with the option's letter", "answer the
//!    question using a single word or phrase" (the LLaVA convention), "answer yes or
//!    no", "option letter".
//! 2. A long-form request makes it **open**: the words "describe", "description",
//!    "explain", "explanation", "write", "caption", "summarize"/"summarise",
//!    "elaborate", "narrate", and the phrases "tell me about", "what is happening",
//!    "what's happening", "what is going on", "in detail", "step by step", or a sentence
//!    starting with "why".
//! 3. Multiple-choice options make it **closed**: a line "Options:"/"Choices:", or at
//!    least two lines starting with a choice letter ("A.", "(A)", "A)", "A:").
//! 4. A short-answer opener at the start of a sentence makes it **closed**: "how many",
//!    "how much", "how old", "what color/colour", "what number", "what shape",
//!    "what time", "what year", "what letter", "what kind of", "what type of",
//!    "which ...", "where is/are/was/were ...", "who is/are ...", and the yes/no openers
//!    "is/are/was/were/does/do/did/can/could/has/have/will/should ...".
//! 5. Anything else is **open**.
//!
//! The request wins over the opener (rule 2 before 4): "Can you describe the image?"
//! and "How many people are there? Explain." want long answers. The explicit format
//! instruction wins over everything (rule 1): "Describe the colour of the car. Answer
//! with a single word." has a one-word answer.

use serde::{Deserialize, Serialize};

/// Which synthesis route a question takes (the prompts file's optional `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionKind {
    /// Long-form answer: the pair comes from error injection.
    Open,
    /// Short answer (number, word, phrase, yes/no, choice): the pair comes from a vote.
    Closed,
}

/// Phrases (as word sequences) that ask for a short answer explicitly (rule 1).
const SHORT_ANSWER_INSTRUCTIONS: &[&[&str]] = &[
    &["single", "word"],
    &["single", "letter"],
    &["single", "number"],
    &["single", "phrase"],
    &["one", "word"],
    &["one", "letter"],
    &["one", "number"],
    &["word", "or", "phrase"],
    &["option", "letter"],
    &["option", "s", "letter"],
    &["letter", "of", "the", "correct"],
    &["answer", "yes", "or", "no"],
    &["answer", "with", "yes", "or", "no"],
    &["answer", "with", "a", "number"],
    &["answer", "with", "the", "letter"],
];

/// Single words that ask for long-form text (rule 2).
const OPEN_WORDS: &[&str] = &[
    "describe",
    "describing",
    "description",
    "explain",
    "explaining",
    "explanation",
    "write",
    "caption",
    "summarize",
    "summarise",
    "summary",
    "elaborate",
    "narrate",
];

/// Phrases that ask for long-form text (rule 2).
const OPEN_PHRASES: &[&[&str]] = &[
    &["tell", "me", "about"],
    &["what", "is", "happening"],
    &["what", "s", "happening"],
    &["what", "is", "going", "on"],
    &["what", "s", "going", "on"],
    &["in", "detail"],
    &["step", "by", "step"],
];

/// Sentence openers of short-answer questions (rule 4); a trailing `*` entry means
/// "followed by anything".
const CLOSED_OPENERS: &[&[&str]] = &[
    &["how", "many"],
    &["how", "much"],
    &["how", "old"],
    &["what", "color"],
    &["what", "colors"],
    &["what", "colour"],
    &["what", "colours"],
    &["what", "number"],
    &["what", "shape"],
    &["what", "time"],
    &["what", "year"],
    &["what", "letter"],
    &["what", "kind", "of"],
    &["what", "type", "of"],
    &["which"],
    &["where", "is"],
    &["where", "are"],
    &["where", "was"],
    &["where", "were"],
    &["who", "is"],
    &["who", "are"],
    &["is"],
    &["are"],
    &["was"],
    &["were"],
    &["does"],
    &["do"],
    &["did"],
    &["can"],
    &["could"],
    &["has"],
    &["have"],
    &["will"],
    &["should"],
];

impl QuestionKind {
    /// Classifies a question by the rules in the [module docs](self).
    pub fn detect(question: &str) -> QuestionKind {
        let text = question.replace("<image>", " ");
        let words = words(&text);
        if words.is_empty() {
            return QuestionKind::Open;
        }
        if SHORT_ANSWER_INSTRUCTIONS.iter().any(|p| contains_phrase(&words, p)) {
            return QuestionKind::Closed;
        }
        let sentences = sentences(&text);
        let asks_long = words.iter().any(|w| OPEN_WORDS.contains(&w.as_str()))
            || OPEN_PHRASES.iter().any(|p| contains_phrase(&words, p))
            || sentences.iter().any(|s| s.first().is_some_and(|w| w == "why"));
        if asks_long {
            return QuestionKind::Open;
        }
        if has_choices(&text) {
            return QuestionKind::Closed;
        }
        if sentences.iter().any(|s| CLOSED_OPENERS.iter().any(|o| s.starts_with_words(o))) {
            return QuestionKind::Closed;
        }
        QuestionKind::Open
    }
}

trait StartsWithWords {
    fn starts_with_words(&self, prefix: &[&str]) -> bool;
}

impl StartsWithWords for Vec<String> {
    fn starts_with_words(&self, prefix: &[&str]) -> bool {
        self.len() >= prefix.len() && self.iter().zip(prefix).all(|(w, p)| w == p)
    }
}

/// Lowercase alphanumeric runs.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

fn contains_phrase(words: &[String], phrase: &[&str]) -> bool {
    words.windows(phrase.len()).any(|w| w.iter().zip(phrase).all(|(a, b)| a == b))
}

/// The words of each sentence (split at `.`, `?`, `!`, `;`, `:` and line breaks). A
/// period between digits ("3.5") does not end a sentence.
fn sentences(text: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let decimal =
            c == '.' && i > 0 && chars[i - 1].is_ascii_digit() && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        if matches!(c, '.' | '?' | '!' | ';' | ':' | '\n') && !decimal {
            out.push(words(&current));
            current.clear();
        } else {
            current.push(c);
        }
    }
    out.push(words(&current));
    out.retain(|s| !s.is_empty());
    out
}

/// An "Options:"/"Choices:" line, or at least two lines that start with a choice letter.
fn has_choices(text: &str) -> bool {
    let mut letter_lines = 0;
    for line in text.lines() {
        let line = line.trim();
        let lower = line.to_lowercase();
        if lower.starts_with("options") || lower.starts_with("choices") {
            let rest = lower.trim_start_matches("options").trim_start_matches("choices");
            if rest.is_empty() || rest.starts_with(':') {
                return true;
            }
        }
        if starts_with_choice_letter(line) {
            letter_lines += 1;
        }
    }
    letter_lines >= 2
}

/// "A. ...", "(A) ...", "A) ...", "A: ..." (letters A-H, either case).
fn starts_with_choice_letter(line: &str) -> bool {
    let mut chars = line.chars();
    let (letter, close) = match chars.next() {
        Some('(') => (chars.next(), chars.next().filter(|&c| c == ')')),
        first => (first, chars.next().filter(|&c| matches!(c, '.' | ')' | ':'))),
    };
    let letter_ok = letter.is_some_and(|c| matches!(c.to_ascii_lowercase(), 'a'..='h'));
    let after_ok = chars.next().is_none_or(char::is_whitespace);
    letter_ok && close.is_some() && after_ok
}

#[cfg(test)]
mod tests {
    use super::QuestionKind::{self, Closed, Open};

    fn check(cases: &[(&str, QuestionKind)]) {
        let wrong: Vec<_> = cases
            .iter()
            .filter(|(q, k)| QuestionKind::detect(q) != *k)
            .map(|(q, k)| format!("{q:?}: expected {k:?}"))
            .collect();
        assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
    }

    #[test]
    fn counting_colour_number_and_shape_questions_are_closed() {
        check(&[
            ("How many dogs are in the picture?", Closed),
            ("how many people are wearing hats", Closed),
            ("What color is the bus?", Closed),
            ("What colour is the woman's scarf?", Closed),
            ("What number is on the jersey?", Closed),
            ("What shape is the sign?", Closed),
            ("What time does the clock show?", Closed),
            ("How much does the sign say the coffee costs?", Closed),
            ("What kind of animal is this?", Closed),
        ]);
    }

    #[test]
    fn yes_no_which_where_questions_are_closed() {
        check(&[
            ("Is there a cat on the sofa?", Closed),
            ("Are there any clouds in the sky?", Closed),
            ("Does the man wear glasses?", Closed),
            ("Do you see a red car?", Closed),
            ("Can the giraffe reach the leaves?", Closed),
            ("Was there snow on the ground?", Closed),
            ("Which animal is bigger?", Closed),
            ("Where is the ball?", Closed),
            ("Where are the keys placed relative to the phone?", Closed),
            ("<image>\nIs the light green?", Closed),
            ("Look at the image carefully. How many birds are there?", Closed),
        ]);
    }

    #[test]
    fn multiple_choice_and_short_answer_instructions_are_closed() {
        check(&[
            ("What is the man holding?\nA. a phone\nB. a cup\nC. a book", Closed),
            ("What is the man holding?\n(A) a phone\n(B) a cup", Closed),
            ("What is the man holding?\nA) a phone\nB) a cup", Closed),
            ("What is in the box?\nOptions: cat, dog, bird", Closed),
            ("What sport is being played?\nAnswer the question using a single word or phrase.", Closed),
            ("What is the title of the book? Answer with a single word.", Closed),
            ("Answer with the option's letter from the given choices directly.", Closed),
            ("Describe the colour of the car. Answer with a single word.", Closed),
            ("Hint: Please answer the question and provide the correct option letter at the end.", Closed),
        ]);
    }

    #[test]
    fn long_form_requests_are_open() {
        check(&[
            ("Describe this image.", Open),
            ("Can you describe the image in detail?", Open),
            ("Explain why the man is running.", Open),
            ("Why is the street wet?", Open),
            ("Write a short poem about this picture.", Open),
            ("Caption this photo.", Open),
            ("Tell me about the building.", Open),
            ("What is happening in this scene?", Open),
            ("What's happening here?", Open),
            ("How many people are there? Explain your answer.", Open),
            ("Summarize the chart.", Open),
            ("Which option is correct? Think step by step.", Open),
        ]);
    }

    #[test]
    fn anything_else_defaults_to_open() {
        check(&[
            ("What do you think of this photo?", Open),
            ("How would a chef use these ingredients?", Open),
            ("Provide an analysis of the painting's composition.", Open),
            ("", Open),
            ("   ", Open),
            ("<image>", Open),
        ]);
    }

    #[test]
    fn openers_match_whole_words_at_sentence_starts_only() {
        check(&[
            // "island" starts with "is", "this" contains "is": neither is an opener.
            ("Island life in this photo: give your impressions.", Open),
            // "which" in the middle of a sentence is not an opener.
            ("Give a story in which the dog is the hero.", Open),
            // "rewrite" is not "write"; "Is" opens the second sentence.
            ("Look at the rewrite. Is it correct?", Closed),
        ]);
    }

    #[test]
    fn choice_letters_need_two_lines_and_a_separator() {
        check(&[
            // One lettered line is not a list of options.
            ("A. Consider the painting and share thoughts.", Open),
            // Lines starting with a word beginning with a choice letter are not options.
            ("Apples\nBananas", Open),
        ]);
    }

    #[test]
    fn serde_uses_lowercase_names() {
        assert_eq!(serde_json::to_string(&Open).unwrap(), "\"open\"");
        assert_eq!(serde_json::to_string(&Closed).unwrap(), "\"closed\"");
        assert_eq!(serde_json::from_str::<QuestionKind>("\"closed\"").unwrap(), Closed);
    }
}
