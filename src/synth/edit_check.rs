//! The check every edited response must pass, whether [`super::inject_errors`] or the
//! model wrote it: an edit must change something and must not change too much
//! (word-level LCS), with the length kept within half to twice the original. Past that,
//! the pair would stop being "the same answer with an error".

/// The default for [`check_edit`]'s `max_changed_fraction`.
pub const DEFAULT_MAX_CHANGED_FRACTION: f64 = 0.5;

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
    use super::*;

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
