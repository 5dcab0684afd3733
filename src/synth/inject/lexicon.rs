//! The words error injection recognises, by class, and what each may become: colours,
//! positions and their opposites, sizes and their opposites, and groups of objects
//! whose members replace one another. Counts use [`NUMBER_WORDS`], shared with answer
//! normalisation.

use crate::synth::normalize::NUMBER_WORDS;

pub(super) const COLOURS: &[&str] = &[
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
pub(super) const POSITIONS: &[(&str, &str)] = &[
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
pub(super) const POSITION_PHRASES: &[(&[&str], &str)] =
    &[(&["in", "front", "of"], "behind"), (&["on", "top", "of"], "beneath")];

/// Sizes and the words that can replace them (the opposite sense).
pub(super) const SIZES: &[(&str, &[&str])] = &[
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
pub(super) const OBJECT_GROUPS: &[&[&str]] = &[
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

pub(super) fn count_value(word: &str) -> Option<usize> {
    // "zero" and "one" are not altered: "one" is also a pronoun ("the red one").
    NUMBER_WORDS.iter().position(|w| *w == word).filter(|&v| v >= 2)
}

pub(super) fn colour_index(word: &str) -> Option<usize> {
    let word = if word == "grey" { "gray" } else { word };
    COLOURS.iter().position(|c| *c == word)
}

/// (singular, plural) of a lexicon entry.
pub(super) fn forms(entry: &str) -> (&str, String) {
    match entry.split_once('/') {
        Some((s, p)) => (s, p.to_string()),
        None => (entry, format!("{entry}s")),
    }
}

/// (group, index in group, is plural) of an object word.
pub(super) fn find_object(word: &str) -> Option<(usize, usize, bool)> {
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
