//! Shape checks against a file's tensor table (no tensor data is read).

use std::collections::HashMap;

use super::keys::Check;
use crate::gguf::{GgmlType, GgufFile, TensorInfo};

/// A file's tensors by name.
pub(super) struct Tensors<'a> {
    by_name: HashMap<&'a str, &'a TensorInfo>,
}

impl<'a> Tensors<'a> {
    pub fn new(file: &'a GgufFile) -> Tensors<'a> {
        Tensors { by_name: file.tensors.iter().map(|t| (t.name.as_str(), t)).collect() }
    }

    pub fn get(&self, name: &str) -> Option<&'a TensorInfo> {
        self.by_name.get(name).copied()
    }

    pub fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The tensor `name`, which must exist.
    pub fn required(&self, name: &str) -> Result<&'a TensorInfo, String> {
        self.get(name).ok_or_else(|| format!("tensor {name} is missing"))
    }

    /// `name` must exist with shape `dims` (ggml order).
    pub fn expect(&self, name: &str, dims: &[u64]) -> Check {
        expect_shape(self.required(name)?, dims)
    }

    /// `name` may be absent; if present it must have shape `dims`.
    pub fn expect_optional(&self, name: &str, dims: &[u64]) -> Check {
        self.get(name).map_or(Ok(()), |t| expect_shape(t, dims))
    }
}

/// ggml pads a tensor's shape with 1s up to four dimensions, so `[64]` and `[64, 1]` are
/// the same shape.
pub(super) fn same_shape(actual: &[u64], expected: &[u64]) -> bool {
    (0..4).all(|i| actual.get(i).copied().unwrap_or(1) == expected.get(i).copied().unwrap_or(1))
}

pub(super) fn expect_shape(t: &TensorInfo, dims: &[u64]) -> Check {
    if same_shape(&t.dims, dims) {
        Ok(())
    } else {
        Err(format!("tensor {} has shape {} but {} is expected", t.name, fmt_dims(&t.dims), fmt_dims(dims)))
    }
}

/// The size of dimension `i` (1 beyond the stored dimensions).
pub(super) fn dim(t: &TensorInfo, i: usize) -> u64 {
    t.dims.get(i).copied().unwrap_or(1)
}

/// True when the tensor has no third or fourth dimension above 1.
pub(super) fn is_matrix(t: &TensorInfo) -> bool {
    dim(t, 2) == 1 && dim(t, 3) == 1
}

pub(super) fn fmt_dims(dims: &[u64]) -> String {
    let parts: Vec<String> = dims.iter().map(u64::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// Vectors (norm weights, biases, class embeddings) enter the graph as the second
/// operand of `ggml_add` / `ggml_mul` / `ggml_concat` with F32 activations; ggml's CPU
/// binary ops (ggml/src/ggml-cpu/binary-ops.cpp) abort on any other type for it, and
/// rope frequency factors (`rope_freqs.weight`) must be F32 for `ggml_rope_ext`, which
/// llama.cpp already calls while placing the weight (`weight_buft_supported`).
/// Converters and quantizers always keep vectors F32.
pub(super) fn vectors_are_f32(file: &GgufFile) -> Check {
    for t in &file.tensors {
        if t.dims.iter().skip(1).all(|&d| d == 1) && t.ggml_type != GgmlType::F32 {
            return Err(format!(
                "tensor {} is a vector of type {}; llama.cpp adds and multiplies vectors only as F32",
                t.name,
                t.ggml_type.name()
            ));
        }
    }
    Ok(())
}

/// `name`, if present, must be F32 (`why` says which op needs it).
pub(super) fn expect_f32(t: &Tensors, name: &str, why: &str) -> Check {
    match t.get(name) {
        Some(info) if info.ggml_type != GgmlType::F32 => {
            Err(format!("tensor {name} has type {}; {why}", info.ggml_type.name()))
        }
        _ => Ok(()),
    }
}

/// The ggml types with a CPU dot-product kernel (`type_traits_cpu` in
/// ggml/src/ggml-cpu/ggml-cpu.c): float and quantized weight types. A tensor of another
/// type (the integer types, F64, or Q8_1 / Q8_K, which exist only as the other operand
/// of a product) loads, and the first product or row lookup with it dereferences a
/// missing kernel or asserts.
const TYPES_WITH_KERNELS: [u32; 28] =
    [0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20, 21, 22, 23, 29, 30, 34, 35, 39, 40, 41, 42];

/// Every tensor's type must be one ggml's CPU kernels compute with.
pub(super) fn types_have_kernels(file: &GgufFile) -> Check {
    for t in &file.tensors {
        if !TYPES_WITH_KERNELS.contains(&t.ggml_type.0) {
            return Err(format!(
                "tensor {} has type {}, which llama.cpp cannot compute with",
                t.name,
                type_label(t.ggml_type)
            ));
        }
    }
    Ok(())
}

/// A type's name, including the ones [`GgmlType::name`] does not know.
fn type_label(ty: GgmlType) -> String {
    match ty.0 {
        9 => "Q8_1".into(),
        15 => "Q8_K".into(),
        24 => "I8".into(),
        25 => "I16".into(),
        26 => "I32".into(),
        27 => "I64".into(),
        28 => "F64".into(),
        _ => ty.name(),
    }
}

/// ggml's CPU backend asserts that a buffer made over existing memory starts 32 bytes
/// aligned (`ggml_backend_cpu_buffer_from_ptr`, ggml/src/ggml-backend.cpp); llama.cpp
/// makes its weight buffers over the memory-mapped file, so every tensor's data must
/// start at a multiple of 32 in the file (a `general.alignment` of 1 or 8 breaks that).
pub(super) fn data_aligned(file: &GgufFile) -> Check {
    const ALIGNMENT: u64 = 32;
    for t in &file.tensors {
        let at = file.data_offset + t.offset;
        if at % ALIGNMENT != 0 {
            return Err(format!(
                "tensor {} starts at byte {at} of the file, not a multiple of {ALIGNMENT} (general.alignment {})",
                t.name,
                file.get("general.alignment").and_then(crate::gguf::Value::as_u64).unwrap_or(32)
            ));
        }
    }
    Ok(())
}
