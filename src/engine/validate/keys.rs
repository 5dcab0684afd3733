//! Typed access to GGUF metadata, with the exact value types llama.cpp reads.
//!
//! llama.cpp's model loader throws (a clean error) when a key has another type than the
//! one it reads, but the clip loader (`tools/mtmd/clip.cpp`, `clip_model_loader::get_u32`
//! and its siblings) and the LoRA loader (`src/llama-adapter.cpp`) read through
//! `gguf_get_val_*`, which asserts on the type and aborts the process. So every getter
//! here refuses a key of the wrong type with a sentence naming the key and both types,
//! before any llama.cpp code reads it.

use crate::gguf::{GgufFile, Value, ValueType};

/// The outcome of one rule: `Err` is a sentence for the user naming the key or tensor
/// and the values involved.
pub(super) type Check = std::result::Result<(), String>;

/// The metadata of one file.
#[derive(Clone, Copy)]
pub(super) struct Meta<'a>(pub &'a GgufFile);

impl<'a> Meta<'a> {
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.get(key)
    }

    /// A scalar of exactly `ty`, when the key is present.
    fn scalar(&self, key: &str, ty: ValueType) -> Result<Option<&'a Value>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.value_type() == ty => Ok(Some(v)),
            Some(v) => Err(wrong_type(key, v, type_name(ty))),
        }
    }

    pub fn u32(&self, key: &str) -> Result<Option<u32>, String> {
        Ok(self.scalar(key, ValueType::U32)?.map(|v| match v {
            Value::U32(x) => *x,
            _ => unreachable!("checked type"),
        }))
    }

    pub fn required_u32(&self, key: &str) -> Result<u32, String> {
        self.u32(key)?.ok_or_else(|| missing(key))
    }

    pub fn i32(&self, key: &str) -> Result<Option<i32>, String> {
        Ok(self.scalar(key, ValueType::I32)?.map(|v| match v {
            Value::I32(x) => *x,
            _ => unreachable!("checked type"),
        }))
    }

    pub fn f32(&self, key: &str) -> Result<Option<f32>, String> {
        Ok(self.scalar(key, ValueType::F32)?.map(|v| match v {
            Value::F32(x) => *x,
            _ => unreachable!("checked type"),
        }))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, String> {
        Ok(self.scalar(key, ValueType::Bool)?.map(|v| match v {
            Value::Bool(x) => *x,
            _ => unreachable!("checked type"),
        }))
    }

    /// A string value (lossily decoded: only compared against known names).
    pub fn string(&self, key: &str) -> Result<Option<String>, String> {
        Ok(self.scalar(key, ValueType::Str)?.map(|v| match v {
            Value::Str(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            _ => unreachable!("checked type"),
        }))
    }

    /// An array whose items are one of `item_types`, when the key is present.
    pub fn array(&self, key: &str, item_types: &[ValueType]) -> Result<Option<&'a [Value]>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(item, items)) if item_types.contains(item) => Ok(Some(items)),
            Some(v) => {
                let wanted: Vec<String> = item_types.iter().map(|t| format!("{} array", type_name(*t))).collect();
                Err(wrong_type(key, v, &wanted.join(" or ")))
            }
        }
    }

    /// A per-layer count as llama.cpp's `get_key_or_arr` reads it: one UINT32 for every
    /// layer, or an array of exactly `n_layer` integers (its `get_arr` takes UINT32,
    /// INT32 or BOOL items into a uint32 table).
    pub fn per_layer_u32(&self, key: &str, n_layer: u32) -> Result<Option<Vec<u32>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(..)) => {
                let items = self.array(key, &[ValueType::U32, ValueType::I32, ValueType::Bool])?.unwrap_or(&[]);
                if items.len() != n_layer as usize {
                    return Err(format!(
                        "{key} has {} entries but the model has {n_layer} layers (one per layer expected)",
                        items.len()
                    ));
                }
                Ok(Some(items.iter().map(as_u32_bits).collect()))
            }
            Some(_) => Ok(self.u32(key)?.map(|v| vec![v; n_layer as usize])),
        }
    }
}

/// An integer array item as the uint32 llama.cpp copies it into (INT32 bits reinterpreted).
pub(super) fn as_u32_bits(v: &Value) -> u32 {
    match *v {
        Value::U32(x) => x,
        Value::I32(x) => x as u32,
        Value::Bool(x) => u32::from(x),
        _ => 0,
    }
}

/// An integer array item as the int32 llama.cpp copies it into.
pub(super) fn as_i32_bits(v: &Value) -> i32 {
    as_u32_bits(v) as i32
}

pub(super) fn missing(key: &str) -> String {
    format!("the required key {key} is missing")
}

fn wrong_type(key: &str, v: &Value, wanted: &str) -> String {
    let found = match v {
        Value::Array(item, _) => format!("{} array", type_name(*item)),
        other => type_name(other.value_type()).to_string(),
    };
    format!("{key} is stored as {found} but llama.cpp reads it as {wanted}")
}

/// gguf's own names for value types.
pub(super) fn type_name(ty: ValueType) -> &'static str {
    match ty {
        ValueType::U8 => "UINT8",
        ValueType::I8 => "INT8",
        ValueType::U16 => "UINT16",
        ValueType::I16 => "INT16",
        ValueType::U32 => "UINT32",
        ValueType::I32 => "INT32",
        ValueType::F32 => "FLOAT32",
        ValueType::Bool => "BOOL",
        ValueType::Str => "STRING",
        ValueType::Array => "ARRAY",
        ValueType::U64 => "UINT64",
        ValueType::I64 => "INT64",
        ValueType::F64 => "FLOAT64",
    }
}
