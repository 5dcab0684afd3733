//! Model-written error injection: the instruction that asks a model to alter a response,
//! and the clean-up of what it writes back.
//!
//! The rewrite is the paper's "detail alteration" done by the base model itself, so the
//! altered response keeps the original's style better than word substitution can. What
//! comes back goes through [`clean_rewrite`] and then
//! [`check_edit`](super::check_edit) (it must change something, but not too much).

/// The user-message text asking a model to rewrite `response` (an answer to
/// `question`) with one or two concrete details changed. The image, if any, goes in the
/// same user turn before this text.
pub fn rewrite_instruction(question: &str, response: &str) -> String {
    format!(
        "Below is a question about an image and a response to it.\n\
         \n\
         Question: {question}\n\
         \n\
         Response:\n\
         {response}\n\
         \n\
         Rewrite the response so that one or two concrete details become wrong: change a \
         count, a number, a colour, a position (left/right, above/below, in front of/behind) \
         or an object into a different one. Keep everything else exactly as it is: the same \
         wording, sentence structure, style, tone and length. Do not mention or hint that \
         anything was changed.\n\
         \n\
         Output only the rewritten response, with no introduction, quotes or notes."
    )
}

/// Lowercase words that mark a first line (up to a colon) as the model's own
/// introduction rather than part of the response.
const PREAMBLE_WORDS: &[&str] = &[
    "rewritten",
    "rewrite",
    "rewriting",
    "modified",
    "revised",
    "altered",
    "edited",
    "changed",
    "updated",
    "new version",
];

/// Removes typical model wrappers from a rewrite: an introduction line ending in a
/// colon ("Here is the rewritten response:", "**Modified response:**", "Sure! Here's
/// the rewrite:"), markdown code fences, quotes around the whole text, and a closing
/// note ("Note: I changed ...", "(Changed: ...)", "Changes made: ..."). Text without a
/// wrapper comes back trimmed and otherwise unchanged.
pub fn clean_rewrite(raw: &str) -> String {
    let mut text = raw.trim().to_string();
    // Wrappers nest in either order ("Here is ...:" then a fence, or a fence around a
    // quoted text): peel until nothing changes.
    for _ in 0..6 {
        let before = text.clone();
        text = strip_preamble(&text).trim().to_string();
        text = strip_fence(&text).trim().to_string();
        text = strip_closing_note(&text).trim().to_string();
        text = strip_quotes(&text).trim().to_string();
        if text == before {
            break;
        }
    }
    text
}

/// Drops a leading "...:" segment on the first line when it reads as an introduction.
fn strip_preamble(text: &str) -> &str {
    let first_line = text.lines().next().unwrap_or("");
    let Some(colon) = first_line.find(':') else {
        return text;
    };
    let head = first_line[..colon].trim_matches(|c: char| c == '*' || c == '#' || c.is_whitespace()).to_lowercase();
    if head.chars().count() > 100 {
        return text;
    }
    let intro = head.starts_with("here is")
        || head.starts_with("here's")
        || head.starts_with("here are")
        || head.starts_with("sure")
        || head.starts_with("certainly")
        || head.starts_with("okay")
        || head == "response"
        || head == "answer"
        || head == "output"
        || PREAMBLE_WORDS.iter().any(|w| contains_word(&head, w));
    if !intro {
        return text;
    }
    // Markdown emphasis closing the introduction ("**Rewritten:**") goes with it.
    text[colon + 1..].trim_start_matches(['*', ' ', '\t'])
}

fn contains_word(haystack: &str, phrase: &str) -> bool {
    haystack.match_indices(phrase).any(|(i, _)| {
        let before_ok = haystack[..i].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let after_ok = haystack[i + phrase.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        before_ok && after_ok
    })
}

/// "```lang\n...\n```" -> "...", dropping anything after the closing fence. A text
/// with an opening fence and no closing one loses just the opening line.
fn strip_fence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let body = match rest.find('\n') {
        Some(nl) => &rest[nl + 1..],
        None => return rest.trim_end_matches('`'),
    };
    match body.rfind("```") {
        Some(end) => &body[..end],
        None => body,
    }
}

/// Drops a final line that comments on the changes ("Note: ...", "Changes made: ...",
/// "I changed ...", or a parenthesised "(Changed ...)").
fn strip_closing_note(text: &str) -> &str {
    let Some(cut) = text.rfind('\n') else {
        return text;
    };
    let line = text[cut + 1..].trim();
    let bracketed = line.starts_with(['(', '[']);
    let last = line.trim_start_matches(['*', '(', '[']).to_lowercase();
    let note = [
        "note:",
        "note that",
        "changes:",
        "changes made",
        "changed:",
        "i changed",
        "i have changed",
        "i've changed",
        "explanation:",
    ]
    .iter()
    .any(|p| last.starts_with(p))
        || (bracketed && last.starts_with("changed"));
    if note {
        &text[..cut]
    } else {
        text
    }
}

/// Quotes around the whole text, when they are its only quotes of that kind.
fn strip_quotes(text: &str) -> &str {
    for (open, close) in [('"', '"'), ('“', '”'), ('\'', '\''), ('«', '»')] {
        if let Some(inner) = text.strip_prefix(open).and_then(|t| t.strip_suffix(close)) {
            if !inner.contains(open) && !inner.contains(close) {
                return inner;
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruction_carries_question_response_and_the_rules() {
        let text = rewrite_instruction("Describe the image.", "A red car is parked next to two trees.");
        assert!(text.contains("Question: Describe the image."));
        assert!(text.contains("A red car is parked next to two trees."));
        for must in
            ["one or two", "count", "colour", "position", "object", "length", "Output only the rewritten response"]
        {
            assert!(text.contains(must), "missing {must:?}");
        }
        // The response comes after the question, and the instruction after both.
        let q = text.find("Question:").unwrap();
        let r = text.find("A red car").unwrap();
        let i = text.find("Rewrite the response").unwrap();
        assert!(q < r && r < i);
    }

    #[test]
    fn introductions_are_removed() {
        let cases = [
            ("Here is the rewritten response:\nA blue car is parked.", "A blue car is parked."),
            ("Here's the rewritten response: A blue car is parked.", "A blue car is parked."),
            ("Sure! Here is the modified version:\n\nA blue car.", "A blue car."),
            ("**Rewritten response:**\nA blue car.", "A blue car."),
            ("**Rewritten response:** A blue car.", "A blue car."),
            ("## Revised Response:\nA blue car.", "A blue car."),
            ("Rewritten: A blue car.", "A blue car."),
            ("Response: A blue car.", "A blue car."),
        ];
        for (raw, want) in cases {
            assert_eq!(clean_rewrite(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn fences_quotes_and_notes_are_removed() {
        let cases = [
            ("```\nA blue car.\n```", "A blue car."),
            ("```text\nA blue car.\n```", "A blue car."),
            ("\"A blue car is parked.\"", "A blue car is parked."),
            ("“A blue car.”", "A blue car."),
            ("A blue car.\n\nNote: I changed the colour from red to blue.", "A blue car."),
            ("A blue car.\n(Changed: red -> blue)", "A blue car."),
            ("A blue car.\n**Changes made:** colour.", "A blue car."),
            ("Here is the rewritten response:\n```\n\"A blue car.\"\n```\nNote: colour changed.", "A blue car."),
        ];
        for (raw, want) in cases {
            assert_eq!(clean_rewrite(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn responses_without_wrappers_are_kept() {
        let cases = [
            "A blue car is parked on the left.",
            "The image shows: a blue car and two trees.",
            "Colours: red, blue and green.",
            "\"Stop\", said the sign, \"now\".",
            "The man says 'hello' to the dog.",
            "First line.\nSecond line about the notebook.",
            "Note the red car on the left.\nIt is parked.",
        ];
        for raw in cases {
            assert_eq!(clean_rewrite(raw), raw, "{raw:?}");
        }
        assert_eq!(clean_rewrite("  A blue car.  \n"), "A blue car.");
        assert_eq!(clean_rewrite(""), "");
        assert_eq!(clean_rewrite("```"), "");
    }
}
