//! GGUF quantization on llama.cpp's quantizer (`llama_model_quantize`).
//!
//! Turns an F32/F16/BF16 GGUF (a language model such as a merged checkpoint from
//! `vlmjudge train`, or an mmproj: llama.cpp's quantizer knows the `clip`
//! architecture) into Q8_0, Q5_K_M, Q4_K_M and the other types llama.cpp offers
//! without an importance matrix. Rows whose width is not a multiple of the K-quant
//! block (256) fall back to a compatible type inside llama.cpp. The output is written
//! to a temporary file and renamed into place, so it is never left half written.
//!
//! llama.cpp logs through its log callback; a program that does not install one (the
//! vlmjudge CLI does) sees llama.cpp's progress lines on stderr.

mod types;

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};

use llama_cpp_sys_2 as sys;

pub use types::QuantType;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuantizeError {
    #[error("unknown quantization type {given:?}; supported: {}", QuantType::names().join(", "))]
    UnknownType { given: String },
    #[error(
        "{path} is already quantized ({types}); quantizing it again loses more precision. \
         Start from an F32/F16/BF16 GGUF, or pass --allow-requantize"
    )]
    AlreadyQuantized { path: PathBuf, types: String },
    #[error("{path} is not a readable GGUF file")]
    NotGguf { path: PathBuf },
    #[error("the output {0} is the input; choose another output path")]
    SameFile(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("llama.cpp could not quantize {path} (see the log with --verbose)")]
    Failed { path: PathBuf },
}

/// How to quantize.
#[derive(Debug, Clone, Copy)]
pub struct QuantizeParams {
    pub qtype: QuantType,
    /// Threads (0 = all hardware threads).
    pub threads: usize,
    /// Allow an input whose tensors are already quantized.
    pub allow_requantize: bool,
}

impl QuantizeParams {
    pub fn new(qtype: QuantType) -> QuantizeParams {
        QuantizeParams { qtype, threads: 0, allow_requantize: false }
    }
}

/// The tensor types of a GGUF file, counted by name (e.g. "F32" x 12).
fn tensor_types(path: &Path) -> Result<Vec<(String, usize)>, QuantizeError> {
    let not_gguf = || QuantizeError::NotGguf { path: path.into() };
    let cpath = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| not_gguf())?;
    let params = sys::gguf_init_params { no_alloc: true, ctx: std::ptr::null_mut() };
    // SAFETY: valid C string; metadata only (no_alloc, no ggml context).
    let ctx = unsafe { sys::gguf_init_from_file(cpath.as_ptr(), params) };
    if ctx.is_null() {
        return Err(not_gguf());
    }
    let mut counts: Vec<(String, usize)> = Vec::new();
    // SAFETY: ctx is valid until gguf_free below; indices are in range.
    unsafe {
        for i in 0..sys::gguf_get_n_tensors(ctx) {
            let name = CStr::from_ptr(sys::ggml_type_name(sys::gguf_get_tensor_type(ctx, i))).to_string_lossy();
            match counts.iter_mut().find(|(n, _)| *n == name) {
                Some((_, c)) => *c += 1,
                None => counts.push((name.into_owned(), 1)),
            }
        }
        sys::gguf_free(ctx);
    }
    Ok(counts)
}

/// Quantizes `input` into `output`.
pub fn quantize(input: &Path, output: &Path, params: &QuantizeParams) -> Result<(), QuantizeError> {
    std::fs::metadata(input).map_err(|source| QuantizeError::Io { path: input.into(), source })?;
    if let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize()) {
        if a == b {
            return Err(QuantizeError::SameFile(output.into()));
        }
    }
    let types = tensor_types(input)?;
    let quantized: Vec<String> = types
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "f32" | "f16" | "bf16"))
        .map(|(name, n)| format!("{n} {name} tensors"))
        .collect();
    if !quantized.is_empty() && !params.allow_requantize {
        return Err(QuantizeError::AlreadyQuantized { path: input.into(), types: quantized.join(", ") });
    }
    let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| QuantizeError::Io { path: dir.into(), source })?;
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let cin = CString::new(input.as_os_str().as_encoded_bytes())
        .map_err(|_| QuantizeError::NotGguf { path: input.into() })?;
    let ctmp = CString::new(tmp.as_os_str().as_encoded_bytes())
        .map_err(|_| QuantizeError::Io { path: tmp.clone(), source: std::io::ErrorKind::InvalidInput.into() })?;
    // SAFETY: plain value constructor; then fields set before the call.
    let mut qp = unsafe { sys::llama_model_quantize_default_params() };
    qp.nthread = params.threads as i32;
    qp.ftype = params.qtype.ftype();
    qp.allow_requantize = params.allow_requantize;
    // SAFETY: valid C strings and params for the duration of the call.
    let status = unsafe { sys::llama_model_quantize(cin.as_ptr(), ctmp.as_ptr(), &qp) };
    if status != 0 {
        let _ = std::fs::remove_file(&tmp);
        return Err(QuantizeError::Failed { path: input.into() });
    }
    std::fs::rename(&tmp, output).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        QuantizeError::Io { path: output.into(), source }
    })
}
