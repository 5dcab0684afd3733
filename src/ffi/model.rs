//! `vlmjudge_model`: a loaded GGUF model and optional mmproj, shared by judges.

use std::ffi::{c_char, CStr};
use std::path::PathBuf;
use std::sync::Arc;

use super::boundary::*;
use crate::engine::{LoraSpec, Model, ModelParams};

/// A loaded model. Thread-safe: share one handle between any number of threads and
/// judges. Judges keep the model alive, so it may be freed while they are in use.
pub struct vlmjudge_model {
    pub(crate) model: Arc<Model>,
}

/// How to load a model: initialise one with `vlmjudge_model_params_init()` (or
/// `vlmjudge_model_default_params()`) and change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vlmjudge_model_params {
    /// `sizeof(vlmjudge_model_params)`, set by the initialiser.
    pub struct_size: usize,
    /// Layers to offload to a GPU (0 = CPU only); ignored without a GPU build.
    pub gpu_layers: u32,
    /// Threads for the image encoder (0 = physical cores; at most 512).
    pub threads: u32,
    /// Memory-map the weights (default true).
    pub use_mmap: bool,
    /// Results independent of what else is in a batch, and no flash attention (default
    /// true; see the README for what it costs).
    pub batch_invariant: bool,
    /// Encoded images kept in memory, keyed by content (default 64; 0 = no cache; at
    /// most 4096).
    pub image_cache_entries: u32,
    /// A LoRA adapter GGUF (e.g. from `vlmjudge train`) applied on top of the model, or
    /// NULL (the default). Read during `vlmjudge_model_load` only.
    pub lora_path: *const c_char,
    /// Scale of the LoRA adapter (default 1 = as trained).
    pub lora_scale: f32,
    /// Most image embeddings one image may take (default 512; 16 to 16384, or 0 for
    /// the mmproj's own limit). Projectors that resize or tile by size (Qwen2.5-VL,
    /// SmolVLM, ...) downscale larger images to fit; Gemma 3 and LLaVA ignore it.
    pub image_max_tokens: u32,
}

/// The default model params.
#[no_mangle]
pub extern "C" fn vlmjudge_model_default_params() -> vlmjudge_model_params {
    let d = ModelParams::default();
    vlmjudge_model_params {
        struct_size: std::mem::size_of::<vlmjudge_model_params>(),
        gpu_layers: d.gpu_layers,
        threads: d.threads as u32,
        use_mmap: d.use_mmap,
        batch_invariant: d.batch_invariant,
        image_cache_entries: d.image_cache_entries as u32,
        lora_path: std::ptr::null(),
        lora_scale: 1.0,
        image_max_tokens: d.image_max_tokens,
    }
}

/// Writes the default model params to `*params`, a struct of `size` bytes: pass
/// `sizeof(vlmjudge_model_params)`. Nothing is written unless `size` is this library's
/// size, so a program built against another version's header gets
/// VLMJUDGE_ERR_STRUCT_SIZE instead of a struct written past its end. Prefer it to
/// `vlmjudge_model_default_params()`, which returns the library's struct by value.
///
/// Returns VLMJUDGE_OK, VLMJUDGE_ERR_NULL_ARGUMENT or VLMJUDGE_ERR_STRUCT_SIZE.
/// Thread-safe.
///
/// # Safety
/// `params` must be NULL or point to `size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_model_params_init(
    params: *mut vlmjudge_model_params,
    size: usize,
) -> vlmjudge_status {
    boundary(|| {
        out_arg(params, "params")?;
        check_size::<vlmjudge_model_params>(size, "size")?;
        params.write(vlmjudge_model_default_params());
        Ok(())
    })
}

fn path_arg(ptr: *const c_char, name: &str) -> FfiResult<PathBuf> {
    if ptr.is_null() {
        return Err(Failure(VLMJUDGE_ERR_NULL_ARGUMENT, format!("{name} is NULL")));
    }
    // SAFETY: the header requires a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(std::ffi::OsStr::from_bytes(bytes).into())
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes)
            .map(PathBuf::from)
            .map_err(|e| Failure(VLMJUDGE_ERR_INVALID_UTF8, format!("{name} is not valid UTF-8 ({e})")))
    }
}

/// Loads a GGUF model and, if `mmproj_path` is not NULL, its multimodal projector.
/// `params` may be NULL for the defaults. On success writes a new handle to `*out`
/// (free it with `vlmjudge_model_free`).
///
/// Returns VLMJUDGE_OK, VLMJUDGE_ERR_NULL_ARGUMENT, VLMJUDGE_ERR_STRUCT_SIZE,
/// VLMJUDGE_ERR_IO (missing file), VLMJUDGE_ERR_INVALID_GGUF, VLMJUDGE_ERR_MODEL_LOAD,
/// VLMJUDGE_ERR_MMPROJ_LOAD (including an mmproj that does not fit the model) or
/// VLMJUDGE_ERR_PANIC. A `params.lora_path` that is not an adapter gives
/// VLMJUDGE_ERR_INVALID_GGUF; one made for another model, VLMJUDGE_ERR_MODEL_LOAD.
/// Paths are bytes on Unix (any encoding the file system takes; a split model's parts
/// need UTF-8 names).
/// Thread-safe.
///
/// # Safety
/// Strings must be NUL-terminated; `params` NULL or valid; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_model_load(
    model_path: *const c_char,
    mmproj_path: *const c_char,
    params: *const vlmjudge_model_params,
    out: *mut *mut vlmjudge_model,
) -> vlmjudge_status {
    boundary(|| {
        out_arg(out, "out")?;
        let model_path = path_arg(model_path, "model_path")?;
        let mmproj = if mmproj_path.is_null() { None } else { Some(path_arg(mmproj_path, "mmproj_path")?) };
        let p = match params.as_ref() {
            Some(p) => {
                check_size::<vlmjudge_model_params>(p.struct_size, "params.struct_size")?;
                *p
            }
            None => vlmjudge_model_default_params(),
        };
        let params = ModelParams {
            gpu_layers: p.gpu_layers,
            threads: p.threads as usize,
            use_mmap: p.use_mmap,
            batch_invariant: p.batch_invariant,
            image_cache_entries: p.image_cache_entries as usize,
            lora: if p.lora_path.is_null() {
                Vec::new()
            } else {
                vec![LoraSpec { path: path_arg(p.lora_path, "params.lora_path")?, scale: p.lora_scale }]
            },
            image_max_tokens: p.image_max_tokens,
        };
        let model = Model::load(&model_path, mmproj.as_deref(), &params)?;
        let handle = Box::new(vlmjudge_model { model: Arc::new(model) });
        *out = Box::into_raw(handle);
        Ok(())
    })
}

/// Releases a model handle (NULL is a no-op). Judges opened on it stay usable; the
/// model's memory is released when the last of them is freed.
///
/// # Safety
/// `model` must be NULL or a handle from `vlmjudge_model_load`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_model_free(model: *mut vlmjudge_model) {
    guarded((), || {
        if !model.is_null() {
            drop(Box::from_raw(model));
        }
    })
}

/// Whether the model was loaded with an mmproj and can judge image pairs (false for
/// NULL).
///
/// # Safety
/// `model` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn vlmjudge_model_has_vision(model: *const vlmjudge_model) -> bool {
    guarded(false, || model.as_ref().is_some_and(|m| m.model.has_vision()))
}
