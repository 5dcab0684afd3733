//! Structure-aware mutations of a GGUF [`Document`]: each mutant changes one thing a
//! loader has to check (a metadata value, an array's length, a vocabulary entry, a
//! tensor's shape, type or offset, a few header bytes), now and then two or three,
//! and says in one line what.
//!
//! Everything is drawn from one seeded generator, so a seed and a mutant's index give
//! the same bytes on every run and machine.

mod arrays;
mod metadata;
mod raw;
mod tensors;
mod values;
mod vocab;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::document::{Document, Layout};
use super::Role;

/// The generator every mutation draws from.
pub type FuzzRng = ChaCha8Rng;

/// One mutated file.
#[derive(Debug, Clone)]
pub struct Mutant {
    /// What was changed, e.g. `int: llama.block_count: U32 2 -> 0` (stacked edits
    /// joined by ` + `).
    pub description: String,
    pub bytes: Vec<u8>,
}

/// What an operator did: an edited document, or final bytes (a raw patch, after
/// which nothing can be stacked).
pub(super) enum Edit {
    Doc(Document, String),
    Bytes(Vec<u8>, String),
}

/// A mutation operator: `None` when it does not apply to this document (e.g. a
/// vocabulary mutation on an mmproj).
type Apply = fn(&Document, Role, &mut FuzzRng) -> Option<Edit>;

/// The operators and their relative weights. Metadata and tensor-table mutations
/// dominate: they reach the semantic checks; raw patches and flips mostly exercise the
/// GGUF parser, which is already strict.
const OPERATORS: &[(&str, u32, Apply)] = &[
    ("int", 10, metadata::int_value),
    ("float", 5, metadata::float_value),
    ("string", 5, metadata::string_value),
    ("retype-kv", 5, metadata::swap_type),
    ("remove-kv", 4, metadata::remove_key),
    ("duplicate-kv", 1, metadata::duplicate_key),
    ("add-kv", 8, metadata::add_key),
    ("alignment", 1, metadata::alignment),
    ("array-length", 6, arrays::length),
    ("array-item", 4, arrays::item),
    ("array-item-type", 2, arrays::item_type),
    ("vocab-duplicate", 3, vocab::duplicate_token),
    ("vocab-text", 3, vocab::token_text),
    ("vocab-type", 3, vocab::token_type),
    ("special-id", 5, vocab::special_id),
    ("merge", 2, vocab::merge_entry),
    ("tokenizer", 2, vocab::tokenizer_kind),
    ("scores", 1, vocab::scores),
    ("reshape", 8, tensors::reshape),
    ("rescale", 5, tensors::rescale),
    ("n-dims", 3, tensors::n_dims),
    ("tensor-type", 5, tensors::retype),
    ("tensor-name", 4, tensors::rename),
    ("tensor-set", 3, tensors::add_or_remove),
    ("tensor-data", 3, tensors::data_values),
    ("offset", 5, raw::offset),
    ("count", 2, raw::header_count),
    ("length-field", 2, raw::length_field),
    ("type-code", 2, raw::type_code),
    ("file-header", 1, raw::magic_or_version),
    ("byte-flip", 4, raw::byte_flip),
    ("truncate", 2, raw::truncate),
];

/// Mutates `base`. Most mutants change one thing; one in five stacks two or three
/// edits, so that a value the checks accept meets another change it would otherwise
/// never be seen with. A raw patch ends a stack (it works on the final bytes).
pub fn mutate(base: &Document, role: Role, rng: &mut FuzzRng) -> Mutant {
    let edits = if rng.random_bool(0.2) { rng.random_range(2..=3) } else { 1 };
    let mut doc: Option<Document> = None;
    let mut descriptions = Vec::new();
    for _ in 0..edits {
        let (name, edit) = draw(doc.as_ref().unwrap_or(base), role, rng);
        match edit {
            Edit::Doc(edited, what) => {
                descriptions.push(format!("{name}: {what}"));
                doc = Some(edited);
            }
            Edit::Bytes(bytes, what) => {
                descriptions.push(format!("{name}: {what}"));
                return Mutant { description: descriptions.join(" + "), bytes };
            }
        }
    }
    let bytes = doc.as_ref().unwrap_or(base).serialize().0;
    Mutant { description: descriptions.join(" + "), bytes }
}

/// One operator drawn by weight and applied; operators that do not apply are redrawn,
/// and a byte flip, which always applies, ends a run of bad luck.
fn draw(doc: &Document, role: Role, rng: &mut FuzzRng) -> (&'static str, Edit) {
    let total: u32 = OPERATORS.iter().map(|(_, w, _)| w).sum();
    for _ in 0..64 {
        let mut ticket = rng.random_range(0..total);
        let (name, _, apply) = OPERATORS
            .iter()
            .find(|(_, w, _)| {
                let hit = ticket < *w;
                ticket = ticket.saturating_sub(*w);
                hit
            })
            .expect("a ticket below the total hits an operator");
        if let Some(edit) = apply(doc, role, rng) {
            return (name, edit);
        }
    }
    ("byte-flip", raw::byte_flip(doc, role, rng).expect("byte flips apply to any file"))
}

/// An edit of a copy of the document.
fn edited(base: &Document, description: String, edit: impl FnOnce(&mut Document)) -> Edit {
    let mut doc = base.clone();
    edit(&mut doc);
    Edit::Doc(doc, description)
}

/// A patch of the serialised bytes of the document.
fn patched(base: &Document, patch: impl FnOnce(&mut Vec<u8>, &Layout) -> String) -> Edit {
    let (mut bytes, layout) = base.serialize();
    let description = patch(&mut bytes, &layout);
    Edit::Bytes(bytes, description)
}

/// A uniformly drawn element, `None` for an empty slice.
fn pick<'a, T>(rng: &mut FuzzRng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        None
    } else {
        Some(&items[rng.random_range(0..items.len())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::sync::Arc;
    use vlmjudge::gguf::{GgmlType, Value, ValueType};

    fn doc() -> Document {
        let tokens = (0..40).map(|i| Value::Str(format!("t{i}").into_bytes())).collect();
        let types = (0..40).map(|_| Value::I32(1)).collect();
        let tensor = |name: &str, dims: Vec<u64>| super::super::document::Tensor {
            name: name.into(),
            data: Arc::from(vec![0u8; 4 * dims.iter().product::<u64>() as usize]),
            dims,
            ggml_type: GgmlType::F32,
        };
        Document {
            metadata: vec![
                ("general.architecture".into(), Value::str("llama")),
                ("llama.block_count".into(), Value::U32(1)),
                ("llama.embedding_length".into(), Value::U32(8)),
                ("llama.rope.freq_base".into(), Value::F32(10000.0)),
                ("tokenizer.ggml.tokens".into(), Value::Array(ValueType::Str, tokens)),
                ("tokenizer.ggml.token_type".into(), Value::Array(ValueType::I32, types)),
                ("tokenizer.ggml.merges".into(), Value::Array(ValueType::Str, vec![Value::str("t 1")])),
                ("tokenizer.ggml.bos_token_id".into(), Value::U32(1)),
            ],
            tensors: vec![tensor("token_embd.weight", vec![8, 40]), tensor("blk.0.attn_q.weight", vec![8, 8])],
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_mutants_and_another_seed_others() {
        let base = doc();
        let run = |seed| {
            let mut rng = FuzzRng::seed_from_u64(seed);
            (0..200).map(|_| mutate(&base, Role::Model, &mut rng)).collect::<Vec<_>>()
        };
        let (a, b, c) = (run(1), run(1), run(2));
        let (original, _) = base.serialize();
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((&x.description, &x.bytes), (&y.description, &y.bytes));
        }
        let differing = a.iter().zip(&c).filter(|(x, y)| x.bytes != y.bytes).count();
        assert!(differing > 150, "seeds 1 and 2 gave {differing} different mutants of 200");
        let unchanged: Vec<_> = a.iter().filter(|m| m.bytes == original).map(|m| &m.description).collect();
        // A few mutations can land on the value a field already had (e.g. 1 -> 1).
        assert!(unchanged.len() < 20, "too many mutants equal the base: {unchanged:?}");
    }

    #[test]
    fn the_operators_reach_every_family_of_mutation() {
        let base = doc();
        let mut rng = FuzzRng::seed_from_u64(7);
        let names: std::collections::BTreeSet<String> = (0..2000)
            .map(|_| mutate(&base, Role::Model, &mut rng).description.split(':').next().unwrap().to_string())
            .collect();
        for (name, _, _) in OPERATORS {
            assert!(names.contains(*name), "operator {name} never applied; applied: {names:?}");
        }
    }
}
