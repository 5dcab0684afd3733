//! Reading, rewriting and printing metadata values for the mutators.

use vlmjudge::gguf::{Value, ValueType};

/// An integer value (of any integer type) as i128; `None` for other types.
pub(super) fn int_of(v: &Value) -> Option<i128> {
    Some(match *v {
        Value::U8(x) => x.into(),
        Value::I8(x) => x.into(),
        Value::U16(x) => x.into(),
        Value::I16(x) => x.into(),
        Value::U32(x) => x.into(),
        Value::I32(x) => x.into(),
        Value::U64(x) => x.into(),
        Value::I64(x) => x.into(),
        _ => return None,
    })
}

/// A float value as f64; `None` for other types.
pub(super) fn float_of(v: &Value) -> Option<f64> {
    match *v {
        Value::F32(x) => Some(x.into()),
        Value::F64(x) => Some(x),
        _ => None,
    }
}

/// `n` stored in integer type `ty`, wrapped the way a C cast would (so -1 in a U32
/// becomes 4294967295); `None` when `ty` is not an integer type.
pub(super) fn int_as(ty: ValueType, n: i128) -> Option<Value> {
    Some(match ty {
        ValueType::U8 => Value::U8(n as u8),
        ValueType::I8 => Value::I8(n as i8),
        ValueType::U16 => Value::U16(n as u16),
        ValueType::I16 => Value::I16(n as i16),
        ValueType::U32 => Value::U32(n as u32),
        ValueType::I32 => Value::I32(n as i32),
        ValueType::U64 => Value::U64(n as u64),
        ValueType::I64 => Value::I64(n as i64),
        _ => return None,
    })
}

/// `x` in float type `ty`; `None` when `ty` is not a float type.
pub(super) fn float_as(ty: ValueType, x: f64) -> Option<Value> {
    match ty {
        ValueType::F32 => Some(Value::F32(x as f32)),
        ValueType::F64 => Some(Value::F64(x)),
        _ => None,
    }
}

/// `v` converted to type `ty` as closely as the types allow: numbers keep their value
/// (cast), a number becomes its decimal text, a string its length, a bool 0 or 1, an
/// array its first item (or its length when empty), and anything becomes a one-item
/// array of itself when `ty` is Array.
pub(super) fn convert(v: &Value, ty: ValueType) -> Value {
    if ty == ValueType::Array {
        return Value::Array(v.value_type(), vec![v.clone()]);
    }
    let number: Option<f64> = match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Str(s) => Some(s.len() as f64),
        Value::Array(_, items) => match items.first() {
            Some(first) => return convert(first, ty),
            None => Some(0.0),
        },
        other => int_of(other).map(|n| n as f64).or_else(|| float_of(other)),
    };
    let number = number.unwrap_or(0.0);
    match ty {
        ValueType::Str => Value::Str(show(v).into_bytes()),
        ValueType::Bool => Value::Bool(number != 0.0),
        ValueType::F32 | ValueType::F64 => float_as(ty, number).expect("a float type"),
        _ => int_as(ty, number as i128).expect("an integer type"),
    }
}

/// Every value type; the mutators draw new types from it.
pub(super) const ALL_TYPES: [ValueType; 13] = [
    ValueType::U8,
    ValueType::I8,
    ValueType::U16,
    ValueType::I16,
    ValueType::U32,
    ValueType::I32,
    ValueType::F32,
    ValueType::Bool,
    ValueType::Str,
    ValueType::Array,
    ValueType::U64,
    ValueType::I64,
    ValueType::F64,
];

/// A short rendering for mutation descriptions: scalars as values, strings quoted and
/// cut at 32 characters, arrays by item type and length.
pub(super) fn show(v: &Value) -> String {
    match v {
        Value::Str(s) => {
            let text = String::from_utf8_lossy(s);
            let cut: String = text.chars().take(32).collect();
            let ellipsis = if cut.len() < text.len() { "..." } else { "" };
            format!("{cut:?}{ellipsis}")
        }
        Value::Array(ty, items) => format!("[{ty:?} x {}]", items.len()),
        Value::Bool(b) => b.to_string(),
        // As stored: an f32 printed through f64 shows digits it does not have.
        Value::F32(x) => format!("{x}"),
        other => match (int_of(other), float_of(other)) {
            (Some(n), _) => n.to_string(),
            (_, Some(x)) => format!("{x}"),
            _ => format!("{other:?}"),
        },
    }
}

/// The value with its type, e.g. `U32 2`.
pub(super) fn typed(v: &Value) -> String {
    format!("{:?} {}", v.value_type(), show(v))
}
