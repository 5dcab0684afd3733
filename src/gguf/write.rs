//! Writing GGUF files (version 3), atomically.

use std::io::Write;
use std::path::Path;

use super::read::TensorInfo;
use super::value::Value;
use super::{GgmlType, DEFAULT_ALIGNMENT};
use crate::{Error, Result};

/// Builds a GGUF file in memory and writes it in one go. Keys keep insertion order;
/// setting a key again replaces its value in place.
#[derive(Debug, Default)]
pub struct GgufWriter {
    metadata: Vec<(String, Value)>,
    tensors: Vec<(TensorInfo, Vec<u8>)>,
}

impl GgufWriter {
    pub fn new() -> GgufWriter {
        GgufWriter::default()
    }

    pub fn set(&mut self, key: &str, value: Value) -> &mut Self {
        match self.metadata.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.metadata.push((key.to_string(), value)),
        }
        self
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Adds a tensor of raw bytes; `dims` in ggml order (contiguous dimension first).
    pub fn add_tensor(&mut self, name: &str, dims: &[u64], ggml_type: GgmlType, data: Vec<u8>) -> Result<()> {
        let bad = |reason: String| Error::InvalidArgument(format!("tensor {name}: {reason}"));
        if dims.is_empty() || dims.len() > 4 {
            return Err(bad(format!("{} dimensions (1 to 4 allowed)", dims.len())));
        }
        if self.tensors.iter().any(|(t, _)| t.name == name) {
            return Err(bad("added twice".into()));
        }
        let n_elements: u64 = dims.iter().product();
        let expected = ggml_type
            .bytes_for(n_elements)
            .ok_or_else(|| bad(format!("{n_elements} elements do not fit {} blocks", ggml_type.name())))?;
        if expected != data.len() as u64 {
            return Err(bad(format!("{} bytes given, {expected} expected", data.len())));
        }
        let info = TensorInfo { name: name.to_string(), dims: dims.to_vec(), ggml_type, offset: 0 };
        self.tensors.push((info, data));
        Ok(())
    }

    /// Adds an F32 tensor.
    pub fn add_f32(&mut self, name: &str, dims: &[u64], values: &[f32]) -> Result<()> {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_tensor(name, dims, GgmlType::F32, data)
    }

    /// Writes the file to a temporary name beside `path`, syncs it and renames it into
    /// place, so `path` is either the old file or the complete new one.
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::fsutil::write_atomic(path, |w| self.write_to(w))
    }

    fn write_to(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let alignment = self.get("general.alignment").and_then(Value::as_u64).unwrap_or(DEFAULT_ALIGNMENT).max(1);
        let mut header = Vec::new();
        header.extend_from_slice(b"GGUF");
        header.extend(3u32.to_le_bytes());
        header.extend((self.tensors.len() as u64).to_le_bytes());
        header.extend((self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            write_str(&mut header, key.as_bytes());
            header.extend((value.value_type() as u32).to_le_bytes());
            write_value(&mut header, value);
        }
        let mut offset = 0u64;
        for (info, data) in &self.tensors {
            write_str(&mut header, info.name.as_bytes());
            header.extend((info.dims.len() as u32).to_le_bytes());
            for d in &info.dims {
                header.extend(d.to_le_bytes());
            }
            header.extend(info.ggml_type.0.to_le_bytes());
            header.extend(offset.to_le_bytes());
            offset = (offset + data.len() as u64).div_ceil(alignment) * alignment;
        }
        let padding = |len: u64| vec![0u8; (len.div_ceil(alignment) * alignment - len) as usize];
        w.write_all(&header)?;
        w.write_all(&padding(header.len() as u64))?;
        for (_, data) in &self.tensors {
            w.write_all(data)?;
            w.write_all(&padding(data.len() as u64))?;
        }
        Ok(())
    }
}

/// Appends a GGUF string (u64 length, bytes).
pub fn write_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend_from_slice(s);
}

/// Appends a metadata value's payload (its type code is written by the caller).
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::U8(v) => out.push(*v),
        Value::I8(v) => out.push(*v as u8),
        Value::U16(v) => out.extend(v.to_le_bytes()),
        Value::I16(v) => out.extend(v.to_le_bytes()),
        Value::U32(v) => out.extend(v.to_le_bytes()),
        Value::I32(v) => out.extend(v.to_le_bytes()),
        Value::F32(v) => out.extend(v.to_le_bytes()),
        Value::Bool(v) => out.push(u8::from(*v)),
        Value::Str(s) => write_str(out, s),
        Value::U64(v) => out.extend(v.to_le_bytes()),
        Value::I64(v) => out.extend(v.to_le_bytes()),
        Value::F64(v) => out.extend(v.to_le_bytes()),
        Value::Array(item, items) => {
            out.extend((*item as u32).to_le_bytes());
            out.extend((items.len() as u64).to_le_bytes());
            for v in items {
                write_value(out, v);
            }
        }
    }
}
