//! llama.cpp: the process-wide backend, model + mmproj loading and validation, chat
//! templates, images, contexts, sampling and thread defaults.
//!
//! A [`Model`] is immutable once loaded and may be shared across threads; each
//! worker opens its own context on it (see [`crate::judge::Judge`]).

mod cancel;
pub mod chat;
mod context;
mod gguf;
mod image;
mod image_cache;
mod logs;
mod lora;
mod model;
mod raw;
mod sampler;
mod slots;
mod token_span;
mod validate;
mod vision;

use std::sync::OnceLock;

use llama_cpp_2::llama_backend::LlamaBackend;

pub use cancel::CancelFlag;
pub use context::MAX_CTX_PER_SEQ;
pub(crate) use context::{Context, ContextParams, DecodeCounts, Segment};
pub use gguf::{check_gguf, GgufSummary};
pub use image::{decode_image, ImageLimits, ImageSource, RgbImage};
pub use logs::{set_log_sink, LogLevel, LogSink};
pub use lora::LoraSpec;
pub use model::{
    Model, ModelInfo, ModelParams, DEFAULT_IMAGE_MAX_TOKENS, MAX_IMAGE_CACHE_ENTRIES, MAX_IMAGE_MAX_TOKENS, MAX_THREADS,
};
pub use sampler::{argmax, Sampler, SamplingParams};
pub(crate) use slots::{open_context, run as run_slots, Scheduler, SlotShape, MAX_SEQUENCES};
pub(crate) use token_span::min_tokens;
pub use vision::{EncodedImage, ImagePiece, ImageStats};

use crate::{Error, Result};

/// The one llama.cpp backend of this process, initialised on first use.
#[doc(hidden)]
pub fn backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();
    // llama.cpp logs while it initialises (its backend registry among others): lines
    // wait until the initialisation is over, so a host log callback that calls back
    // in does not wait for it inside it.
    let _defer = logs::Defer::start();
    BACKEND
        .get_or_init(|| {
            logs::install();
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Engine(format!("backend initialisation failed: {e}")))
}

/// Threads to use when the caller does not say: the physical core count. llama.cpp's
/// own default (4) oversubscribes small machines and halves decode speed on 2 cores.
pub fn default_threads() -> usize {
    num_cpus::get_physical().clamp(1, num_cpus::get().max(1))
}

/// llama.cpp's build and CPU feature report (`llama_print_system_info`), e.g.
/// `CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 1 | ...`.
pub fn system_info() -> String {
    logs::install();
    // SAFETY: returns a pointer to a static buffer owned by llama.cpp.
    let ptr = unsafe { llama_cpp_sys_2::llama_print_system_info() };
    if ptr.is_null() {
        return String::new();
    }
    unsafe { std::ffi::CStr::from_ptr(ptr) }.to_string_lossy().trim().to_string()
}
