//! Reading a GGUF file's metadata and tensor table (tensor data is read on demand).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::value::{Value, ValueType};
use super::{GgmlType, DEFAULT_ALIGNMENT};
use crate::{Error, Result};

/// Where a tensor lives in a GGUF file and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// ggml order: `dims[0]` is the contiguous (row) dimension.
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Offset from the start of the data section.
    pub offset: u64,
}

impl TensorInfo {
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// Size of the tensor's data, when its type's layout is known.
    pub fn n_bytes(&self) -> Option<u64> {
        self.ggml_type.bytes_for(self.n_elements())
    }
}

/// The metadata and tensor table of a GGUF file.
#[derive(Debug, Clone)]
pub struct GgufFile {
    pub path: PathBuf,
    pub version: u32,
    /// Key-value pairs in file order.
    pub metadata: Vec<(String, Value)>,
    pub tensors: Vec<TensorInfo>,
    /// Absolute file offset of the data section.
    pub data_offset: u64,
}

impl GgufFile {
    /// Reads the header of `path`. Counts and lengths are checked against the file size
    /// so a corrupt header fails cleanly instead of allocating wildly.
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut r = Reader { inner: BufReader::with_capacity(1 << 20, file), limit: file_len, path };
        let magic = r.bytes(4)?;
        if magic != b"GGUF" {
            return Err(r.invalid("it does not start with the GGUF magic bytes"));
        }
        let version = r.u32()?;
        if !(2..=3).contains(&version) {
            return Err(r.invalid(&format!("unsupported GGUF version {version}")));
        }
        let n_tensors = r.count()?;
        let n_kv = r.count()?;
        let mut metadata = Vec::with_capacity(n_kv);
        for _ in 0..n_kv {
            let key = r.string()?;
            let key = String::from_utf8(key).map_err(|_| r.invalid("a metadata key is not UTF-8"))?;
            let ty = r.value_type()?;
            let value = r.value(ty)?;
            metadata.push((key, value));
        }
        let mut tensors = Vec::with_capacity(n_tensors);
        for _ in 0..n_tensors {
            let name = String::from_utf8(r.string()?).map_err(|_| r.invalid("a tensor name is not UTF-8"))?;
            let n_dims = r.u32()?;
            if n_dims == 0 || n_dims > 4 {
                return Err(r.invalid(&format!("tensor {name} has {n_dims} dimensions")));
            }
            let dims = (0..n_dims).map(|_| r.u64()).collect::<Result<Vec<_>>>()?;
            let ggml_type = GgmlType(r.u32()?);
            let offset = r.u64()?;
            tensors.push(TensorInfo { name, dims, ggml_type, offset });
        }
        let alignment = metadata
            .iter()
            .find(|(k, _)| k == "general.alignment")
            .and_then(|(_, v)| v.as_u64())
            .unwrap_or(DEFAULT_ALIGNMENT)
            .max(1);
        let header_end = r.inner.stream_position().map_err(|e| Error::io(path, e))?;
        let data_offset = header_end.div_ceil(alignment) * alignment;
        let gguf = GgufFile { path: path.to_path_buf(), version, metadata, tensors, data_offset };
        for t in &gguf.tensors {
            if let Some(n) = t.n_bytes() {
                if data_offset + t.offset + n > file_len {
                    return Err(Error::InvalidGguf {
                        path: path.into(),
                        reason: format!("truncated: tensor {} ends past the end of the file", t.name),
                    });
                }
            }
        }
        Ok(gguf)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(Value::as_u64)
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The raw bytes of a tensor's data.
    pub fn read_tensor(&self, info: &TensorInfo) -> Result<Vec<u8>> {
        let n = info.n_bytes().ok_or_else(|| Error::InvalidGguf {
            path: self.path.clone(),
            reason: format!("tensor {} has type {}, whose layout is not known here", info.name, info.ggml_type.name()),
        })?;
        let mut file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        file.seek(SeekFrom::Start(self.data_offset + info.offset)).map_err(|e| Error::io(&self.path, e))?;
        let mut data = vec![0u8; n as usize];
        file.read_exact(&mut data).map_err(|e| Error::io(&self.path, e))?;
        Ok(data)
    }
}

struct Reader<'p> {
    inner: BufReader<File>,
    /// The file size: no count or length may exceed it.
    limit: u64,
    path: &'p Path,
}

impl Reader<'_> {
    fn invalid(&self, reason: &str) -> Error {
        Error::InvalidGguf { path: self.path.into(), reason: reason.into() }
    }

    fn bytes(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        self.inner.read_exact(&mut buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                self.invalid("truncated header")
            } else {
                Error::io(self.path, e)
            }
        })?;
        Ok(buf)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let v = self.bytes(N)?;
        Ok(v.try_into().expect("length N"))
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A count or length, which cannot exceed the file size.
    fn count(&mut self) -> Result<usize> {
        let n = self.u64()?;
        if n > self.limit {
            return Err(self.invalid(&format!("a count of {n} exceeds the file size (corrupt header)")));
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> Result<Vec<u8>> {
        let n = self.count()?;
        self.bytes(n)
    }

    fn value_type(&mut self) -> Result<ValueType> {
        let code = self.u32()?;
        ValueType::from_code(code).ok_or_else(|| self.invalid(&format!("unknown value type {code}")))
    }

    fn value(&mut self, ty: ValueType) -> Result<Value> {
        Ok(match ty {
            ValueType::U8 => Value::U8(self.array::<1>()?[0]),
            ValueType::I8 => Value::I8(self.array::<1>()?[0] as i8),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array()?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array()?)),
            ValueType::U32 => Value::U32(self.u32()?),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array()?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array()?)),
            ValueType::Bool => Value::Bool(self.array::<1>()?[0] != 0),
            ValueType::Str => Value::Str(self.string()?),
            ValueType::U64 => Value::U64(self.u64()?),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array()?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array()?)),
            ValueType::Array => {
                let item = self.value_type()?;
                if item == ValueType::Array {
                    return Err(self.invalid("nested arrays are not supported"));
                }
                let n = self.count()?;
                let items = (0..n).map(|_| self.value(item)).collect::<Result<Vec<_>>>()?;
                Value::Array(item, items)
            }
        })
    }
}
