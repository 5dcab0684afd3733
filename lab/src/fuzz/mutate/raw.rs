//! Mutations of the written bytes: fields the typed document cannot misstate (tensor
//! offsets, counts, lengths, type codes, the magic and version), random byte flips in
//! the header, and truncation.

use rand::Rng;

use super::{patched, pick, Edit, FuzzRng};
use crate::fuzz::document::Document;
use crate::fuzz::Role;
use vlmjudge::gguf::Value;

fn put_u64(bytes: &mut [u8], at: usize, v: u64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn get_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// A tensor's data offset made misaligned, equal to another tensor's (overlap), at or
/// past the end of the data, or absurd.
pub(super) fn offset(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    if doc.tensors.is_empty() {
        return None;
    }
    let i = rng.random_range(0..doc.tensors.len());
    let j = rng.random_range(0..doc.tensors.len());
    let choice = rng.random_range(0..7);
    Some(patched(doc, |bytes, layout| {
        let t = &layout.tensors[i];
        let data_len = (bytes.len() - layout.data_start) as u64;
        let (new, why) = match choice {
            0 => (t.offset + 1, "misaligned"),
            1 => (t.offset + layout.alignment / 2, "misaligned"),
            2 => (layout.tensors[j].offset, "overlapping"),
            3 => (data_len, "at the end of the data"),
            4 => (data_len + (1 << 20), "past the end of the file"),
            5 => (u64::MAX - 31, "near u64::MAX"),
            _ => (t.offset.wrapping_sub(layout.alignment), "one alignment early"),
        };
        put_u64(bytes, t.offset_at, new);
        format!("{}: offset {} -> {new} ({why})", t.name, t.offset)
    }))
}

/// The tensor or key count off by one, zero, or huge.
pub(super) fn header_count(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let tensors = rng.random_bool(0.5);
    let delta = *pick(rng, &[1i64, -1, i64::MIN, 1 << 40, -2])?;
    Some(patched(doc, |bytes, layout| {
        let (at, what) = if tensors { (layout.n_tensors_at, "tensor") } else { (layout.n_kv_at, "key") };
        let old = get_u64(bytes, at);
        let new = match delta {
            i64::MIN => 0,
            d if d > 1 << 20 => u64::MAX - 1,
            d => old.wrapping_add_signed(d),
        };
        put_u64(bytes, at, new);
        format!("{what} count {old} -> {new}")
    }))
}

/// A key's length, a string value's length or an array's item count misstated.
pub(super) fn length_field(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    if doc.metadata.is_empty() {
        return None;
    }
    let i = rng.random_range(0..doc.metadata.len());
    let delta = *pick(rng, &[1i64, -1, 7, i64::MIN, i64::MAX])?;
    let on_key = rng.random_bool(0.3);
    let value = doc.metadata[i].1.clone();
    Some(patched(doc, |bytes, layout| {
        let kv = &layout.kvs[i];
        let (at, what) = match value {
            _ if on_key => (kv.key_len_at, "key length"),
            Value::Str(_) => (kv.value_at, "string length"),
            Value::Array(..) => (kv.value_at + 4, "array count"),
            _ => (kv.key_len_at, "key length"),
        };
        let old = get_u64(bytes, at);
        let new = match delta {
            i64::MIN => 0,
            i64::MAX => u64::MAX,
            d => old.wrapping_add_signed(d),
        };
        put_u64(bytes, at, new);
        format!("{}: {what} {old} -> {new}", kv.key)
    }))
}

/// A value's type code (or an array's item type) set to an unknown code, to Array
/// (nested, or on a scalar), or to another valid type, so the bytes after it misparse.
pub(super) fn type_code(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    if doc.metadata.is_empty() {
        return None;
    }
    let i = rng.random_range(0..doc.metadata.len());
    let code = *pick(rng, &[13u32, 99, u32::MAX, 9, 8, 0, 12])?;
    let is_array = matches!(doc.metadata[i].1, Value::Array(..));
    let item = is_array && rng.random_bool(0.5);
    Some(patched(doc, |bytes, layout| {
        let kv = &layout.kvs[i];
        let (at, what) = if item { (kv.value_at, "item type") } else { (kv.type_at, "type code") };
        put_u32(bytes, at, code);
        format!("{}: {what} -> {code}", kv.key)
    }))
}

/// The magic bytes broken or the version set to one that does not exist.
pub(super) fn magic_or_version(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let version = *pick(rng, &[0u32, 1, 2, 4, u32::MAX, 0x0300_0000])?;
    let magic = rng.random_bool(0.3);
    Some(patched(doc, |bytes, layout| {
        if magic {
            bytes[..4].copy_from_slice(b"GGUG");
            "magic -> GGUG".to_string()
        } else {
            put_u32(bytes, layout.version_at, version);
            format!("version 3 -> {version}")
        }
    }))
}

/// One to four bytes XORed with random values: half the time anywhere in the
/// header, half the time in the tensor table (names, dims, types, offsets).
pub(super) fn byte_flip(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let n = rng.random_range(1..=4);
    let in_table = rng.random_bool(0.5);
    let draws: Vec<(u64, u8)> = (0..n).map(|_| (rng.random::<u64>(), rng.random_range(1..=255u8))).collect();
    Some(patched(doc, |bytes, layout| {
        let (start, end) = if in_table && layout.header_end > layout.table_start {
            (layout.table_start, layout.header_end)
        } else {
            (0, layout.header_end)
        };
        let flips: Vec<String> = draws
            .iter()
            .map(|&(at, mask)| {
                let at = start + (at % (end - start) as u64) as usize;
                bytes[at] ^= mask;
                format!("{at}^{mask:#04x}")
            })
            .collect();
        format!("header bytes {}", flips.join(" "))
    }))
}

/// The file cut short: in the metadata, in the tensor table, in the data, or by one
/// byte.
pub(super) fn truncate(doc: &Document, _: Role, rng: &mut FuzzRng) -> Option<Edit> {
    let choice = rng.random_range(0..4);
    let draw = rng.random::<u64>();
    Some(patched(doc, |bytes, layout| {
        let len = bytes.len();
        let (lo, hi) = match choice {
            0 => (0, layout.table_start),
            1 => (layout.table_start, layout.header_end),
            2 => (layout.data_start, len),
            _ => (len - 1, len),
        };
        let cut = lo + (draw % (hi - lo).max(1) as u64) as usize;
        bytes.truncate(cut);
        format!("file cut at byte {cut} of {len}")
    }))
}
