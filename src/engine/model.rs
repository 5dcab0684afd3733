use std::path::{Path, PathBuf};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;

use super::gguf::check_gguf;
use super::logs::Capture;
use super::lora::{LoadedLoras, LoraSpec};
use super::raw::utf8_path;
use super::vision::{EncodedImage, ImageStats, Vision};
use super::{backend, default_threads};
use crate::{Error, Result};

/// The default image budget: half of the judge's default 1,024 cells per sequence,
/// leaving the rest for the prompt text and reasoning.
pub const DEFAULT_IMAGE_MAX_TOKENS: u32 = 512;
/// The most cells an image may be given: llama.cpp's largest per-family default.
pub const MAX_IMAGE_MAX_TOKENS: u32 = 16_384;

/// The most encoded images a model keeps (`image_cache_entries`): the cache grows
/// with what it holds and reserves nothing when the model loads.
pub const MAX_IMAGE_CACHE_ENTRIES: usize = 4096;
/// The most threads a model or judge may be given: llama.cpp's own limit (GGML_MAX_N_THREADS).
pub const MAX_THREADS: usize = 512;

/// How to load a model. `Default` gives CPU-only, memory-mapped loading.
#[derive(Debug, Clone)]
pub struct ModelParams {
    /// Layers to offload to a GPU (0 = CPU only). Ignored without a GPU backend.
    pub gpu_layers: u32,
    /// Threads for the image encoder (0 = physical cores).
    pub threads: usize,
    /// Memory-map the weights instead of reading them into RAM.
    pub use_mmap: bool,
    /// Make every result independent of what else is in the batch, and keep attention
    /// exact (on by default). llama.cpp's CPU fast paths (AMX/repacked weight layouts
    /// and flash attention) round differently depending on the sequences that share a
    /// decode call, which moves a 135M model's logits by up to ~0.5, and the CPU flash
    /// attention kernel sums values in f16, which moved the demo judge's p(A) by up to
    /// 0.04 against exact attention. With this on, weights stay in the plain CPU layout
    /// and contexts run without flash attention. Fast mode decodes one sequence per
    /// call, so its results are batch-independent even with this off; reason mode's
    /// generation steps carry a token of every generating sequence, so its are not.
    pub batch_invariant: bool,
    /// The most image embeddings one image may take (mtmd's `image_max_tokens`), for
    /// projectors that resize or tile by size (Qwen2-VL, Qwen2.5-VL, SmolVLM/Idefics3,
    /// Pixtral, ...): larger images are downscaled to fit (a tiled image's global view
    /// and framing text come on top). Fixed-resolution projectors (Gemma 3, LLaVA)
    /// ignore it. 0 keeps the mmproj's own maximum (up to 16,384, more than a default
    /// judge context holds).
    pub image_max_tokens: u32,
    /// Encoded images kept in memory (LRU, keyed by content hash) so pairs that share
    /// an image encode it once; 0 turns the cache off.
    pub image_cache_entries: usize,
    /// LoRA adapters applied on top of the model in every judge (e.g. the
    /// `adapter.gguf` from `vlmjudge train`).
    pub lora: Vec<LoraSpec>,
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams {
            gpu_layers: 0,
            threads: 0,
            use_mmap: true,
            batch_invariant: true,
            image_max_tokens: DEFAULT_IMAGE_MAX_TOKENS,
            image_cache_entries: 64,
            lora: Vec::new(),
        }
    }
}

/// Facts about a loaded model that callers commonly need.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub mmproj_path: Option<PathBuf>,
    pub architecture: Option<String>,
    pub n_ctx_train: u32,
    pub n_embd: i32,
    pub n_vocab: i32,
    pub n_params: u64,
    pub size_bytes: u64,
    /// Loaded with [`ModelParams::batch_invariant`].
    pub batch_invariant: bool,
    /// LoRA adapters applied on top.
    pub lora: Vec<PathBuf>,
}

/// A GGUF language model with an optional multimodal projector (mmproj).
///
/// Immutable after loading and shareable across threads (`Send + Sync`); the image
/// encoder keeps its output inside its own state, so encodes are serialised by a lock.
pub struct Model {
    pub(crate) llama: LlamaModel,
    pub(crate) vision: Option<Vision>,
    pub(crate) lora: LoadedLoras,
    info: ModelInfo,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("info", &self.info).finish()
    }
}

impl Model {
    /// Loads `model_path` and, if given, `mmproj_path`. Both files are validated first,
    /// so a missing, truncated, corrupt or non-GGUF file gets a precise error, and an
    /// mmproj that does not fit the model is rejected with llama.cpp's reason.
    pub fn load(model_path: impl AsRef<Path>, mmproj_path: Option<&Path>, params: &ModelParams) -> Result<Model> {
        let model_path = model_path.as_ref();
        if params.image_max_tokens != 0 && !(16..=MAX_IMAGE_MAX_TOKENS).contains(&params.image_max_tokens) {
            return Err(Error::InvalidArgument(format!(
                "image_max_tokens is {} but must be 0 (the mmproj's own) or 16 to {MAX_IMAGE_MAX_TOKENS}",
                params.image_max_tokens
            )));
        }
        if params.image_cache_entries > MAX_IMAGE_CACHE_ENTRIES {
            return Err(Error::InvalidArgument(format!(
                "image_cache_entries is {} but must be at most {MAX_IMAGE_CACHE_ENTRIES}",
                params.image_cache_entries
            )));
        }
        if params.threads > MAX_THREADS {
            return Err(Error::InvalidArgument(format!(
                "threads is {} but must be at most {MAX_THREADS}",
                params.threads
            )));
        }
        let backend = backend()?;
        let summary = check_gguf(model_path)?;
        if summary.file_type.as_deref() == Some("adapter") {
            return Err(Error::InvalidGguf {
                path: model_path.into(),
                reason: "it is a LoRA adapter, not a model; load the base model and pass the adapter separately".into(),
            });
        }
        if summary.architecture.as_deref() == Some("clip") {
            return Err(Error::InvalidGguf {
                path: model_path.into(),
                reason: "it is a multimodal projector (mmproj); pass it as the mmproj, not the model".into(),
            });
        }
        // Semantic checks: hyperparameters and tables llama.cpp would abort on.
        let base = super::validate::model(model_path)?;
        let mut llama_params =
            Box::pin(LlamaModelParams::default().with_n_gpu_layers(params.gpu_layers).with_use_mmap(params.use_mmap));
        // On a GPU the weights must be free to leave the CPU buffer; GPU kernels have
        // their own batch-shape behaviour, which is not covered by this setting.
        if params.batch_invariant && params.gpu_layers == 0 {
            // Every tensor (the pattern matches any name) in the plain CPU buffer type:
            // no AMX or repacked layouts, whose kernels depend on the batch shape.
            llama_params.as_mut().add_cpu_buft_override(c".");
        }
        let llama = {
            let (load_path, _open) = utf8_path(model_path).map_err(|e| Error::io(model_path, e))?;
            let capture = Capture::start();
            LlamaModel::load_from_file(backend, &load_path, &llama_params).map_err(|e| {
                let detail = capture.reason();
                Error::ModelLoad {
                    path: model_path.into(),
                    detail: if detail.is_empty() { e.to_string() } else { detail },
                }
            })?
        };
        let lora = LoadedLoras::load(&params.lora, &llama, &base)?;
        drop(base);
        let threads = if params.threads == 0 { default_threads() } else { params.threads };
        let vision = match mmproj_path {
            Some(path) => Some(Vision::load(path, &llama, threads, params)?),
            None => None,
        };
        let info = ModelInfo {
            path: model_path.into(),
            mmproj_path: mmproj_path.map(Path::to_path_buf),
            architecture: summary.architecture,
            n_ctx_train: llama.n_ctx_train(),
            n_embd: llama.n_embd(),
            n_vocab: llama.n_vocab(),
            n_params: llama.n_params(),
            size_bytes: llama.size(),
            batch_invariant: params.batch_invariant,
            lora: params.lora.iter().map(|l| l.path.clone()).collect(),
        };
        Ok(Model { llama, vision, lora, info })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The underlying llama-cpp-2 model, for baselines and experiments that need the
    /// raw engine. Not covered by semver: it follows the pinned llama-cpp-2 release.
    #[doc(hidden)]
    pub fn llama_model(&self) -> &LlamaModel {
        &self.llama
    }

    /// Context parameters every context on this model starts from: flash attention off
    /// when the model is batch-invariant (its CPU kernel rounds by batch shape).
    #[doc(hidden)]
    pub fn base_context_params(&self) -> LlamaContextParams {
        LlamaContextParams::default().with_flash_attention_policy(self.flash_attention())
    }

    /// Flash attention off when the model is batch-invariant: its CPU kernel rounds by
    /// batch shape.
    pub(crate) fn flash_attention(&self) -> llama_cpp_sys_2::llama_flash_attn_type {
        if self.info.batch_invariant {
            llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED
        } else {
            llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_AUTO
        }
    }

    /// True when an mmproj is loaded, so pairs may carry images.
    pub fn has_vision(&self) -> bool {
        self.vision.is_some()
    }

    /// Reads, decodes and encodes an image (or takes it from the cache), e.g. to warm
    /// the cache before a batch. `Err` is a message about the image (the same a pair
    /// with it would carry), or says that no mmproj is loaded.
    pub fn encode_image(
        &self,
        image: &super::ImageSource,
    ) -> std::result::Result<std::sync::Arc<EncodedImage>, String> {
        match &self.vision {
            Some(vision) => vision.encode(image),
            None => Err("no mmproj is loaded".into()),
        }
    }

    /// Tokenizes `text`; `special` parses special tokens such as `<|im_start|>` (use it
    /// for template text only, never for user text). No BOS is added.
    pub fn tokenize(&self, text: &str, special: bool) -> Vec<llama_cpp_2::token::LlamaToken> {
        self.llama.vocab().tokenize(text.as_bytes(), false, special)
    }

    /// The BOS token when the model's tokenizer adds one at the start of a prompt.
    pub fn bos(&self) -> Option<llama_cpp_2::token::LlamaToken> {
        let vocab = self.llama.vocab();
        vocab.should_add_bos().then(|| vocab.bos())
    }

    /// The text of a token (special tokens rendered).
    pub fn token_text(&self, token: llama_cpp_2::token::LlamaToken) -> String {
        String::from_utf8_lossy(&self.llama.vocab().token_to_piece(token, true, None)).into_owned()
    }

    /// Formats `(role, content)` messages in the model's chat format with the engine
    /// that formats the judge's prompt ([`ChatFormat`](super::chat::ChatFormat)):
    /// `template` (Jinja source, or the name of a llama.cpp built-in, as a template
    /// file's `chat_template`) when given, else the GGUF's own template, else a built-in
    /// chosen by the vocabulary's special tokens. With `add_assistant` the text ends
    /// where the assistant's answer begins.
    ///
    /// The text is what follows [`Model::bos`]: a BOS the template writes itself is
    /// dropped when the tokenizer adds one, so a prompt starts with exactly one.
    pub fn chat_prompt(
        &self,
        messages: &[(&str, &str)],
        template: Option<&str>,
        add_assistant: bool,
    ) -> Result<String> {
        use super::chat::{without_added_bos, ChatFormat};
        let rendered = ChatFormat::for_model(self, template)?.render_messages(self, messages, add_assistant)?;
        Ok(without_added_bos(self, rendered.text))
    }

    /// How many images were encoded and how many came from the cache (zeros without
    /// an mmproj).
    pub fn image_stats(&self) -> ImageStats {
        self.vision.as_ref().map(Vision::stats).unwrap_or_default()
    }
}
