//! A GGUF file held as editable parts, and its bytes with a map of where each field
//! landed.
//!
//! [`vlmjudge::gguf::GgufWriter`] refuses what the fuzzer must produce (a tensor whose
//! bytes do not match its shape, an unknown type code, a non-power-of-two alignment),
//! and it syncs every file to disk, which thousands of throwaway mutants do not need.
//! So the fuzzer lays files out itself, in the same GGUF v3 layout, and records the
//! position of every count, type code, dimension and offset: the raw mutations patch
//! those bytes directly.

use std::path::Path;
use std::sync::Arc;

use vlmjudge::gguf::{write_str, write_value, GgmlType, GgufFile, Value, DEFAULT_ALIGNMENT};
use vlmjudge::Result;

/// One tensor: its table entry and its data (shared between a base and its mutants
/// until a mutation replaces it).
#[derive(Debug, Clone)]
pub struct Tensor {
    pub name: String,
    /// ggml order: `dims[0]` is the contiguous dimension.
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    pub data: Arc<[u8]>,
}

/// A whole GGUF file: metadata in file order and tensors in table order.
#[derive(Debug, Clone)]
pub struct Document {
    pub metadata: Vec<(String, Value)>,
    pub tensors: Vec<Tensor>,
}

/// Where the fields of one metadata entry start in the serialised bytes.
#[derive(Debug, Clone)]
pub struct KvSpan {
    pub key: String,
    /// The key's u64 length.
    pub key_len_at: usize,
    /// The u32 value type code.
    pub type_at: usize,
    /// The value itself: for a string its u64 length, for an array its u32 item type
    /// (the u64 item count follows at `value_at + 4`).
    pub value_at: usize,
}

/// Where the fields of one tensor-table entry start in the serialised bytes.
#[derive(Debug, Clone)]
pub struct TensorSpan {
    pub name: String,
    pub n_dims_at: usize,
    /// The first u64 dimension; the others follow.
    pub dims_at: usize,
    pub type_at: usize,
    pub offset_at: usize,
    /// The offset written there (relative to the data section).
    pub offset: u64,
    pub data_len: u64,
}

/// The map of a serialised [`Document`].
#[derive(Debug, Clone)]
pub struct Layout {
    pub version_at: usize,
    pub n_tensors_at: usize,
    pub n_kv_at: usize,
    pub kvs: Vec<KvSpan>,
    pub tensors: Vec<TensorSpan>,
    /// The start of the tensor table (the end of the metadata).
    pub table_start: usize,
    /// The end of the tensor table (the header ends here, before padding).
    pub header_end: usize,
    /// The absolute start of the data section.
    pub data_start: usize,
    pub alignment: u64,
}

impl Document {
    /// Reads a whole GGUF file (metadata, table and every tensor's data).
    pub fn open(path: &Path) -> Result<Document> {
        let file = GgufFile::open(path)?;
        let mut tensors = Vec::with_capacity(file.tensors.len());
        for info in &file.tensors {
            let data = file.read_tensor(info)?;
            tensors.push(Tensor {
                name: info.name.clone(),
                dims: info.dims.clone(),
                ggml_type: info.ggml_type,
                data: data.into(),
            });
        }
        Ok(Document { metadata: file.metadata, tensors })
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.metadata.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Replaces `key`'s value, or appends the key when it is absent.
    pub fn set(&mut self, key: &str, value: Value) {
        match self.get_mut(key) {
            Some(slot) => *slot = value,
            None => self.metadata.push((key.to_string(), value)),
        }
    }

    /// `general.architecture`, or "" when it is missing or not a string.
    pub fn architecture(&self) -> String {
        self.get("general.architecture").and_then(Value::as_str).unwrap_or("").to_string()
    }

    /// The alignment the data is laid out with: `general.alignment` when it is one a
    /// reader could honour (a power of two up to 1 MiB), else the default. A mutated
    /// alignment key thus disagrees with the real layout, which is the point.
    pub fn layout_alignment(&self) -> u64 {
        match self.get("general.alignment").and_then(Value::as_u64) {
            Some(a) if a.is_power_of_two() && a <= 1 << 20 => a,
            _ => DEFAULT_ALIGNMENT,
        }
    }

    /// The file's bytes (GGUF v3) and where each field went.
    pub fn serialize(&self) -> (Vec<u8>, Layout) {
        let alignment = self.layout_alignment();
        let mut out = Vec::with_capacity(self.data_len(alignment) as usize + (1 << 20));
        out.extend_from_slice(b"GGUF");
        let version_at = out.len();
        out.extend(3u32.to_le_bytes());
        let n_tensors_at = out.len();
        out.extend((self.tensors.len() as u64).to_le_bytes());
        let n_kv_at = out.len();
        out.extend((self.metadata.len() as u64).to_le_bytes());
        let mut kvs = Vec::with_capacity(self.metadata.len());
        for (key, value) in &self.metadata {
            let key_len_at = out.len();
            write_str(&mut out, key.as_bytes());
            let type_at = out.len();
            out.extend((value.value_type() as u32).to_le_bytes());
            let value_at = out.len();
            write_value(&mut out, value);
            kvs.push(KvSpan { key: key.clone(), key_len_at, type_at, value_at });
        }
        let table_start = out.len();
        let mut tensors = Vec::with_capacity(self.tensors.len());
        let mut offset = 0u64;
        for t in &self.tensors {
            write_str(&mut out, t.name.as_bytes());
            let n_dims_at = out.len();
            out.extend((t.dims.len() as u32).to_le_bytes());
            let dims_at = out.len();
            for d in &t.dims {
                out.extend(d.to_le_bytes());
            }
            let type_at = out.len();
            out.extend(t.ggml_type.0.to_le_bytes());
            let offset_at = out.len();
            out.extend(offset.to_le_bytes());
            let data_len = t.data.len() as u64;
            tensors.push(TensorSpan { name: t.name.clone(), n_dims_at, dims_at, type_at, offset_at, offset, data_len });
            offset = align(offset + data_len, alignment);
        }
        let header_end = out.len();
        out.resize(align(header_end as u64, alignment) as usize, 0);
        let data_start = out.len();
        for t in &self.tensors {
            out.extend_from_slice(&t.data);
            out.resize(align(out.len() as u64, alignment) as usize, 0);
        }
        let layout =
            Layout { version_at, n_tensors_at, n_kv_at, kvs, tensors, table_start, header_end, data_start, alignment };
        (out, layout)
    }

    fn data_len(&self, alignment: u64) -> u64 {
        self.tensors.iter().map(|t| align(t.data.len() as u64, alignment)).sum()
    }
}

fn align(n: u64, alignment: u64) -> u64 {
    n.div_ceil(alignment) * alignment
}

#[cfg(test)]
mod tests {
    use super::*;
    use vlmjudge::gguf::GgufWriter;

    /// Our layout of a file equals the project's writer's, byte for byte, so a mutant
    /// differs from its base only where a mutation changed it.
    #[test]
    fn serialising_a_read_file_reproduces_the_writers_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.gguf");
        let mut w = GgufWriter::new();
        w.set("general.architecture", Value::str("llama")).set("llama.block_count", Value::U32(2));
        w.set("tokenizer.ggml.tokens", Value::Array(vlmjudge::gguf::ValueType::Str, vec![Value::str("a")]));
        w.add_f32("x", &[3], &[1.0, 2.0, 3.0]).unwrap();
        w.add_f32("y", &[2, 2], &[4.0, 5.0, 6.0, 7.0]).unwrap();
        w.write(&path).unwrap();
        let doc = Document::open(&path).unwrap();
        let (bytes, layout) = doc.serialize();
        assert_eq!(bytes, std::fs::read(&path).unwrap());
        assert_eq!(layout.tensors[1].offset, 32);
        assert_eq!(&bytes[layout.tensors[1].offset_at..][..8], &32u64.to_le_bytes());
        assert_eq!(&bytes[layout.kvs[1].value_at..][..4], &2u32.to_le_bytes());
        assert_eq!(layout.data_start % 32, 0);
    }
}
