//! Mutations of the tensor table and data: shapes, dimension counts, types, names,
//! missing and extra tensors, non-finite weights.

use std::sync::Arc;

use rand::Rng;

use super::{edited, pick, Edit, FuzzRng};
use crate::fuzz::document::{Document, Tensor};
use crate::fuzz::Role;
use vlmjudge::gguf::GgmlType;

/// The largest tensor a consistent (data resized) mutation writes: a mutant is a
/// throwaway file, and a loader must refuse a wrong shape long before its size matters.
const MAX_RESIZED_BYTES: u64 = 64 << 20;

/// `data` repeated or cut to `len` bytes (deterministic, and keeps weights of the
/// original's magnitude instead of zeros).
fn resized(data: &[u8], len: u64) -> Arc<[u8]> {
    if data.is_empty() {
        return vec![0u8; len as usize].into();
    }
    data.iter().copied().cycle().take(len as usize).collect::<Vec<u8>>().into()
}

/// The tensor after a change of shape or type: its data resized to match when the
/// type's layout is known and the size is modest; otherwise the table says one size
/// and the data has another. Returns whether the data was resized.
fn reshaped(t: &mut Tensor, dims: Vec<u64>, ggml_type: GgmlType, resize: bool) -> bool {
    let n: Option<u64> = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    let bytes = n.and_then(|n| ggml_type.bytes_for(n)).filter(|&b| b <= MAX_RESIZED_BYTES);
    t.dims = dims;
    t.ggml_type = ggml_type;
    match bytes {
        Some(len) if resize => {
            t.data = resized(&t.data, len);
            true
        }
        _ => false,
    }
}

fn how(resized: bool) -> &'static str {
    if resized {
        "data resized"
    } else {
        "data kept"
    }
}

/// One dimension set to 0, 1, off by one, doubled, halved, 3 or huge.
pub(super) fn reshape(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let i = rng.random_range(0..doc.tensors.len().max(1));
    let t = doc.tensors.get(i)?;
    let k = rng.random_range(0..t.dims.len().max(1));
    let d = *t.dims.get(k)?;
    let new = *pick(rng, &[0, 1, d.saturating_sub(1), d + 1, d * 2, d / 2, 3, 1 << 32, u64::MAX / 2])?;
    if new == d {
        return None;
    }
    let mut dims = t.dims.clone();
    dims[k] = new;
    let resize = rng.random_bool(0.75);
    let mut doc = doc.clone();
    let t = &mut doc.tensors[i];
    let old = format!("{:?}", t.dims);
    let ty = t.ggml_type;
    let done = reshaped(t, dims, ty, resize);
    let description = format!("{}: dims {old} -> {:?} ({})", t.name, t.dims, how(done));
    Some(Edit::Doc(doc, description))
}

/// The number of dimensions changed: a trailing 1 added, two dimensions folded into
/// one, the first split in two, five dimensions, or none.
pub(super) fn n_dims(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let i = rng.random_range(0..doc.tensors.len().max(1));
    let t = doc.tensors.get(i)?;
    let d = &t.dims;
    let dims: Vec<u64> = match rng.random_range(0..5) {
        0 => [d.as_slice(), &[1]].concat(),
        1 if d.len() >= 2 => [&[d[0] * d[1]][..], &d[2..]].concat(),
        2 if d[0] % 2 == 0 => [&[d[0] / 2, 2][..], &d[1..]].concat(),
        3 => [d.as_slice(), &vec![1; 5usize.saturating_sub(d.len()).max(1)]].concat(),
        _ => Vec::new(),
    };
    let description = format!("{}: dims {d:?} -> {dims:?} ({} dims)", t.name, dims.len());
    Some(edited(doc, description, |doc| doc.tensors[i].dims = dims))
}

const KNOWN_TYPES: [GgmlType; 13] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q2_K,
    GgmlType::Q3_K,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
];

/// Type codes that are removed (4, 5), of a layout the table does not size here
/// (IQ types), past the end of the enum, or absurd.
const ODD_TYPE_CODES: [u32; 9] = [4, 5, 16, 20, 23, 31, 39, 1000, u32::MAX];

/// The tensor's type changed: to another known type (data re-sized to it when
/// possible, e.g. a norm weight quantized) or to an odd code.
pub(super) fn retype(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let i = rng.random_range(0..doc.tensors.len().max(1));
    let t = doc.tensors.get(i)?;
    let ty = if rng.random_bool(0.7) { *pick(rng, &KNOWN_TYPES)? } else { GgmlType(*pick(rng, &ODD_TYPE_CODES)?) };
    if ty == t.ggml_type {
        return None;
    }
    let mut doc = doc.clone();
    let t = &mut doc.tensors[i];
    let old = t.ggml_type.name();
    let dims = t.dims.clone();
    let done = reshaped(t, dims, ty, true);
    let description = format!("{}: type {old} -> {} ({})", t.name, ty.name(), how(done));
    Some(Edit::Doc(doc, description))
}

/// A tensor renamed: a suffix appended, weight and bias swapped, a layer index moved
/// past the last layer, or two tensors' names exchanged.
pub(super) fn rename(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let i = rng.random_range(0..doc.tensors.len().max(1));
    let name = doc.tensors.get(i)?.name.clone();
    if rng.random_bool(0.3) && doc.tensors.len() >= 2 {
        let j = rng.random_range(0..doc.tensors.len());
        let other = doc.tensors[j].name.clone();
        if j == i {
            return None;
        }
        let description = format!("names of {name} and {other} exchanged");
        return Some(edited(doc, description, |d| {
            d.tensors[i].name = other;
            d.tensors[j].name = name;
        }));
    }
    let new = match rng.random_range(0..3) {
        0 => format!("{name}.x"),
        1 if name.ends_with(".weight") => name.replace(".weight", ".bias"),
        1 => name.replace(".bias", ".weight").replace(".lora_a", ".lora_b"),
        _ => name.replacen("blk.0.", "blk.99.", 1).replacen("blk.1.", "blk.2.", 1),
    };
    if new == name {
        return None;
    }
    let description = format!("{name} renamed {new}");
    Some(edited(doc, description, |d| d.tensors[i].name = new))
}

/// A tensor removed, written twice under one name, or an extra one added (for a
/// layer past the last, or under a name no loader knows).
pub(super) fn add_or_remove(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let i = rng.random_range(0..doc.tensors.len().max(1));
    let t = doc.tensors.get(i)?.clone();
    match rng.random_range(0..4) {
        0 => Some(edited(doc, format!("{} removed", t.name), |d| {
            d.tensors.remove(i);
        })),
        1 => Some(edited(doc, format!("{} written twice", t.name), |d| d.tensors.push(t))),
        2 => {
            let name = t.name.replacen("blk.0.", "blk.64.", 1).replacen("blk.1.", "blk.65.", 1);
            let name = if name == t.name { format!("fuzz.extra.{}", t.name) } else { name };
            let description = format!("extra tensor {name} (a copy of {})", t.name);
            Some(edited(doc, description, |d| d.tensors.push(Tensor { name, ..t })))
        }
        _ => {
            let description = "every tensor removed".to_string();
            Some(edited(doc, description, |d| d.tensors.clear()))
        }
    }
}

/// An F32 tensor's weights all set to NaN, an infinity, a huge value, zero or a
/// denormal: loading must not care, judging must not crash on what comes out.
pub(super) fn data_values(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let i = rng.random_range(0..doc.tensors.len().max(1));
    let t = doc.tensors.get(i)?;
    if t.ggml_type != GgmlType::F32 {
        return None;
    }
    let value = *pick(rng, &[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e30, 0.0, 1e-45])?;
    let data: Vec<u8> = value.to_le_bytes().iter().copied().cycle().take(t.data.len()).collect();
    let description = format!("{}: every weight {value}", t.name);
    Some(edited(doc, description, |d| d.tensors[i].data = data.into()))
}

/// A size hyperparameter changed together with every tensor dimension that had its
/// value (e.g. the embedding width 64 -> 32 in every weight), so the shapes still
/// agree with the metadata and the file reaches the compute graphs with a geometry
/// the fixtures never have. Other sizes that happen to share the value change too,
/// which is a mutation of its own.
pub(super) fn rescale(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let sizes: Vec<(String, u64)> = doc
        .metadata
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), super::values::int_of(v)?)))
        .filter_map(|(k, n)| Some((k, u64::try_from(n).ok()?)))
        .filter(|(k, n)| {
            *n >= 2 && *n <= 1 << 16 && doc.tensors.iter().any(|t| t.dims.contains(n)) && !k.contains("token_id")
        })
        .collect();
    let (key, old) = pick(rng, &sizes)?.clone();
    let new = *pick(rng, &[old / 2, old * 2, old + 1, old - 1, 1, 3 * old / 2])?;
    if new == old || new == 0 {
        return None;
    }
    let ty = doc.get(&key)?.value_type();
    let value = super::values::int_as(ty, new.into())?;
    let mut doc = doc.clone();
    doc.set(&key, value);
    let mut changed = 0;
    for t in &mut doc.tensors {
        if t.dims.contains(&old) {
            let dims = t.dims.iter().map(|&d| if d == old { new } else { d }).collect();
            let ty = t.ggml_type;
            reshaped(t, dims, ty, true);
            changed += 1;
        }
    }
    let description = format!("{key} {old} -> {new} with the dims of {changed} tensors");
    Some(Edit::Doc(doc, description))
}
