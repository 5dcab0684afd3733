//! Mutations of array metadata (the vocabulary's tokens, types and merges, per-layer
//! arrays, image means and grid pinpoints): lengths, single items, item types.

use rand::Rng;

use super::values::{convert, float_as, float_of, int_as, int_of, show, ALL_TYPES};
use super::{edited, pick, Edit, FuzzRng};
use crate::fuzz::document::Document;
use crate::fuzz::Role;
use vlmjudge::gguf::{Value, ValueType};

fn array_keys(doc: &Document) -> Vec<String> {
    doc.metadata.iter().filter(|(_, v)| v.as_array().is_some()).map(|(k, _)| k.clone()).collect()
}

/// An array emptied, cut short (by one, to half, to one item) or made longer (by one,
/// doubled) by repeating its last item.
pub(super) fn length(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let key = pick(rng, &array_keys(doc))?.clone();
    let Some(Value::Array(ty, items)) = doc.get(&key) else { return None };
    let n = items.len();
    let new_len = *pick(rng, &[0, 1, n.saturating_sub(1), n / 2, n + 1, n * 2])?;
    if new_len == n {
        return None;
    }
    let ty = *ty;
    let description = format!("{key}: length {n} -> {new_len}");
    Some(edited(doc, description, |d| {
        if let Some(Value::Array(_, items)) = d.get_mut(&key) {
            let filler = items.last().cloned().unwrap_or_else(|| convert(&Value::U32(0), ty));
            items.resize(new_len, filler);
        }
    }))
}

/// One item (the first, the last or any) set to an edge value of its type.
pub(super) fn item(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let key = pick(rng, &array_keys(doc))?.clone();
    let Some(Value::Array(_, items)) = doc.get(&key) else { return None };
    let n = items.len();
    if n == 0 {
        return None;
    }
    let any = rng.random_range(0..n);
    let i = *pick(rng, &[0, n - 1, any])?;
    let old = &items[i];
    let new = match old {
        Value::Str(_) => Value::Str(pick(rng, &[&b""[..], b"\xff\xfe", b" ", b"a b c", b"\x00"])?.to_vec()),
        v if int_of(v).is_some() => {
            int_as(v.value_type(), *pick(rng, &[-1, 0, n as i128, u32::MAX as i128, i64::MAX as i128])?)?
        }
        v if float_of(v).is_some() => float_as(v.value_type(), *pick(rng, &[f64::NAN, f64::INFINITY, 0.0, -1.0])?)?,
        _ => return None,
    };
    let description = format!("{key}[{i}]: {} -> {}", show(old), show(&new));
    Some(edited(doc, description, |d| {
        if let Some(Value::Array(_, items)) = d.get_mut(&key) {
            items[i] = new;
        }
    }))
}

/// Every item converted to another type (e.g. token types as floats, pinpoints as
/// strings).
pub(super) fn item_type(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let key = pick(rng, &array_keys(doc))?.clone();
    let Some(Value::Array(ty, items)) = doc.get(&key) else { return None };
    let new_ty = *pick(rng, &ALL_TYPES)?;
    // Nested arrays are not GGUF; the raw mutations cover that type code.
    if new_ty == *ty || new_ty == ValueType::Array {
        return None;
    }
    let converted: Vec<Value> = items.iter().map(|v| convert(v, new_ty)).collect();
    let description = format!("{key}: items {ty:?} -> {new_ty:?} ({} items)", items.len());
    Some(edited(doc, description, |d| d.set(&key, Value::Array(new_ty, converted))))
}
