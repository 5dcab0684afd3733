//! LoRA adapters (GGUF, as `vlmjudge train` writes them) applied on top of a model.

use std::path::PathBuf;
use std::ptr::NonNull;

use llama_cpp_2::model::LlamaModel;
use llama_cpp_sys_2 as sys;

use super::gguf::check_gguf;
use super::logs::Capture;
use super::raw::{model_ptr, path_cstring};
use crate::gguf::GgufFile;
use crate::{Error, Result};

/// An adapter to apply, with its scale (1.0 = as trained).
#[derive(Debug, Clone, PartialEq)]
pub struct LoraSpec {
    pub path: PathBuf,
    pub scale: f32,
}

/// Loaded adapters. llama.cpp frees them with their model, so they are never freed here.
pub(crate) struct LoadedLoras {
    adapters: Vec<NonNull<sys::llama_adapter_lora>>,
    scales: Vec<f32>,
}

// SAFETY: adapters are immutable after loading; contexts only read them.
unsafe impl Send for LoadedLoras {}
unsafe impl Sync for LoadedLoras {}

impl LoadedLoras {
    /// Loads `specs` onto `llama`, whose file's metadata and tensor table is `base`.
    pub(crate) fn load(specs: &[LoraSpec], llama: &LlamaModel, base: &GgufFile) -> Result<LoadedLoras> {
        let mut loaded = LoadedLoras { adapters: Vec::new(), scales: Vec::new() };
        for spec in specs {
            let invalid = |reason: String| Error::InvalidGguf { path: spec.path.clone(), reason };
            let summary = check_gguf(&spec.path)?;
            if summary.file_type.as_deref() != Some("adapter") {
                return Err(invalid(format!(
                    "it is not a LoRA adapter (general.type is {:?}, expected \"adapter\")",
                    summary.file_type.unwrap_or_default()
                )));
            }
            super::validate::lora(&spec.path, base)?;
            let cpath = path_cstring(&spec.path).ok_or_else(|| {
                Error::InvalidArgument(format!("{}: the path contains a NUL byte", spec.path.display()))
            })?;
            let capture = Capture::start();
            // SAFETY: valid model pointer and C string; the adapter lives as long as the model.
            let raw = unsafe { sys::llama_adapter_lora_init(model_ptr(llama), cpath.as_ptr()) };
            let adapter = NonNull::new(raw).ok_or_else(|| Error::ModelLoad {
                path: spec.path.clone(),
                detail: match capture.reason() {
                    r if r.is_empty() => "llama.cpp could not apply the LoRA adapter to this model".into(),
                    r => format!("llama.cpp could not apply the LoRA adapter to this model: {r}"),
                },
            })?;
            loaded.adapters.push(adapter);
            loaded.scales.push(spec.scale);
        }
        Ok(loaded)
    }

    /// Sets the adapters on a freshly created context.
    pub(crate) fn apply(&self, ctx: *mut sys::llama_context) -> Result<()> {
        if self.adapters.is_empty() {
            return Ok(());
        }
        let mut adapters: Vec<*mut sys::llama_adapter_lora> = self.adapters.iter().map(|a| a.as_ptr()).collect();
        let mut scales = self.scales.clone();
        // SAFETY: valid context; arrays of equal length that outlive the call.
        let status =
            unsafe { sys::llama_set_adapters_lora(ctx, adapters.as_mut_ptr(), adapters.len(), scales.as_mut_ptr()) };
        if status != 0 {
            return Err(Error::Engine(format!("cannot set the LoRA adapters on a context (status {status})")));
        }
        Ok(())
    }
}
