//! Validates GGUF files before llama.cpp sees them.
//!
//! llama.cpp answers a bad file with a null pointer and a log line; checking the header
//! and the tensor extents here first gives the user a precise reason (not a GGUF file,
//! truncated by N bytes, unreadable metadata) instead.

use std::ffi::CStr;
use std::io::Read;
use std::path::Path;

use crate::engine::logs::Capture;
use crate::engine::raw::path_cstring;
use crate::{Error, Result};

const MAGIC: &[u8; 4] = b"GGUF";

/// What the checks learned about a valid GGUF file.
#[derive(Debug, Clone)]
pub struct GgufSummary {
    pub version: u32,
    pub n_tensors: i64,
    pub n_kv: i64,
    /// `general.architecture`, when present.
    pub architecture: Option<String>,
    /// `general.type` (`model`, `adapter`, `mmproj`...), when present.
    pub file_type: Option<String>,
}

/// Checks that `path` is a complete, parseable GGUF file.
pub fn check_gguf(path: &Path) -> Result<GgufSummary> {
    let invalid = |reason: String| Error::InvalidGguf { path: path.to_path_buf(), reason };
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(invalid("not a regular file".into()));
    }
    let file_len = meta.len();
    let mut head = [0u8; 8];
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let got = read_up_to(&mut file, &mut head).map_err(|e| Error::io(path, e))?;
    if got < 4 || &head[..4] != MAGIC {
        return Err(invalid(format!(
            "it does not start with the GGUF magic bytes (found {:?})",
            String::from_utf8_lossy(&head[..got.min(4)])
        )));
    }
    if got < 8 {
        return Err(invalid(format!("truncated: only {file_len} bytes")));
    }
    let version = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if !(2..=3).contains(&version) {
        return Err(invalid(format!("unsupported GGUF version {version} (llama.cpp reads 2 and 3)")));
    }

    let cpath = path_cstring(path).ok_or_else(|| invalid("path contains a NUL byte".into()))?;
    let capture = Capture::start();
    let params = llama_cpp_sys_2::gguf_init_params { no_alloc: true, ctx: std::ptr::null_mut() };
    // SAFETY: cpath is a valid C string; with no_alloc and a null ctx gguf only reads metadata.
    let ctx = unsafe { llama_cpp_sys_2::gguf_init_from_file(cpath.as_ptr(), params) };
    if ctx.is_null() {
        let reason = capture.reason();
        return Err(invalid(if reason.is_empty() {
            "its metadata cannot be parsed (truncated or corrupt header)".into()
        } else {
            format!("its metadata cannot be parsed: {reason}")
        }));
    }
    let guard = GgufCtx(ctx);
    let summary = unsafe { summarize(guard.0, version) };
    let needed = unsafe { data_end(guard.0) };
    if needed > file_len {
        return Err(invalid(format!("truncated: its tensors need {needed} bytes but the file has {file_len}")));
    }
    Ok(summary)
}

struct GgufCtx(*mut llama_cpp_sys_2::gguf_context);

impl Drop for GgufCtx {
    fn drop(&mut self) {
        unsafe { llama_cpp_sys_2::gguf_free(self.0) }
    }
}

unsafe fn summarize(ctx: *mut llama_cpp_sys_2::gguf_context, version: u32) -> GgufSummary {
    GgufSummary {
        version,
        n_tensors: llama_cpp_sys_2::gguf_get_n_tensors(ctx),
        n_kv: llama_cpp_sys_2::gguf_get_n_kv(ctx),
        architecture: string_value(ctx, c"general.architecture"),
        file_type: string_value(ctx, c"general.type"),
    }
}

unsafe fn string_value(ctx: *mut llama_cpp_sys_2::gguf_context, key: &CStr) -> Option<String> {
    let id = llama_cpp_sys_2::gguf_find_key(ctx, key.as_ptr());
    if id < 0 || llama_cpp_sys_2::gguf_get_kv_type(ctx, id) != llama_cpp_sys_2::GGUF_TYPE_STRING {
        return None;
    }
    let ptr = llama_cpp_sys_2::gguf_get_val_str(ctx, id);
    (!ptr.is_null()).then(|| CStr::from_ptr(ptr).to_string_lossy().into_owned())
}

/// The byte offset where the last tensor's data ends.
unsafe fn data_end(ctx: *mut llama_cpp_sys_2::gguf_context) -> u64 {
    let base = llama_cpp_sys_2::gguf_get_data_offset(ctx) as u64;
    let n = llama_cpp_sys_2::gguf_get_n_tensors(ctx);
    (0..n)
        .map(|i| {
            base + llama_cpp_sys_2::gguf_get_tensor_offset(ctx, i) as u64
                + llama_cpp_sys_2::gguf_get_tensor_size(ctx, i) as u64
        })
        .max()
        .unwrap_or(base)
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
