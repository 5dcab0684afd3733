//! The decoder's hyperparameters, read from the GGUF metadata the way llama.cpp reads
//! them (`<arch>.block_count`, `<arch>.embedding_length`, ...).

use std::path::Path;

use super::{TrainError, TrainResult};
use crate::gguf::{GgufFile, Value};

/// The architectures the trainer implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// llama.cpp's `llama`: SmolLM2, SmolVLM's text model, LLaVA's Vicuna/Llama.
    Llama,
    /// llama.cpp's `qwen2`: the llama graph with q/k/v biases and NEOX rotary layout.
    Qwen2,
    /// llama.cpp's `qwen2vl` (Qwen2-VL and Qwen2.5-VL): qwen2's graph with M-RoPE, which
    /// rotates NEOX pairs by one of three position components per section of the head;
    /// text tokens have all three equal, which makes it qwen2's rope exactly.
    Qwen2Vl,
    /// llama.cpp's `gemma3`: Gemma 3's text stack (scaled embeddings, RMS-normed
    /// queries and keys, norms after attention and the feed-forward too, GELU gating,
    /// sliding-window layers with a RoPE base of their own).
    Gemma3,
}

/// The `general.architecture` values [`ModelConfig::from_gguf`] accepts.
pub const SUPPORTED_ARCHITECTURES: &str = "llama, qwen2, qwen2vl, gemma3";

impl Architecture {
    pub fn from_name(name: &str) -> Option<Architecture> {
        match name {
            "llama" => Some(Architecture::Llama),
            "qwen2" => Some(Architecture::Qwen2),
            "qwen2vl" => Some(Architecture::Qwen2Vl),
            "gemma3" => Some(Architecture::Gemma3),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Qwen2 => "qwen2",
            Architecture::Qwen2Vl => "qwen2vl",
            Architecture::Gemma3 => "gemma3",
        }
    }

    /// True for the NEOX rotary layout (pairs `(x[i], x[i + n_rot/2])`), false for
    /// llama.cpp's "normal" layout (adjacent pairs `(x[2i], x[2i+1])`). llama.cpp's
    /// `llama_model_rope_type` gives NORM for llama, NEOX for qwen2 and gemma3 and MROPE
    /// (NEOX pairs) for qwen2vl; the
    /// llama converter permutes q/k so the GGUF weights already match the adjacent
    /// layout.
    pub fn rope_neox(self) -> bool {
        matches!(self, Architecture::Qwen2 | Architecture::Qwen2Vl | Architecture::Gemma3)
    }
}

/// Sliding-window attention (Gemma 3's local layers).
#[derive(Debug, Clone, PartialEq)]
pub struct SlidingWindow {
    /// A local layer's token at position p attends to positions p - window + 1 ..= p.
    pub window: usize,
    /// Per layer: local (true) or global.
    pub local: Vec<bool>,
    /// RoPE base of the local layers (unscaled); global layers use the model's.
    pub rope_base: f32,
}

/// Hyperparameters of a llama-style decoder.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub arch: Architecture,
    pub n_vocab: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    pub n_ff: usize,
    pub rms_eps: f32,
    pub rope_base: f32,
    /// Rotated dimensions per head (`rope.dimension_count`, default `head_dim`).
    pub n_rot: usize,
    /// Position scale of linear rope scaling (1 / `rope.scaling.factor`).
    pub rope_freq_scale: f32,
    pub n_ctx_train: usize,
    /// Attention scale (`attention.scale`, default 1/sqrt(head_dim)).
    pub attn_scale: f32,
    /// Token embeddings are multiplied by this (Gemma: sqrt(n_embd); 1 otherwise).
    /// Image embeddings are not.
    pub embd_scale: f32,
    pub sliding_window: Option<SlidingWindow>,
    /// M-RoPE (`rope.dimension_sections`): how many of a head's rotary pairs take the
    /// time, row, column and extra position component, in that order.
    pub mrope_sections: Option<[usize; 4]>,
    /// Logits become `cap * tanh(logits / cap)` (`final_logit_softcapping`); 0 = none.
    pub logit_softcap: f32,
}

impl ModelConfig {
    /// Reads the hyperparameters of `gguf`; any architecture other than
    /// [`SUPPORTED_ARCHITECTURES`] is an error naming what is supported.
    pub fn from_gguf(gguf: &GgufFile) -> TrainResult<ModelConfig> {
        let path = gguf.path.as_path();
        let arch_name = gguf.get_str("general.architecture").unwrap_or("");
        let arch = Architecture::from_name(arch_name).ok_or_else(|| TrainError::UnsupportedArchitecture {
            path: path.into(),
            arch: arch_name.into(),
            supported: SUPPORTED_ARCHITECTURES,
        })?;
        if gguf.get_str("general.type") == Some("adapter") {
            return Err(unsupported(path, "it is a LoRA adapter, not a base model".into()));
        }
        let key = |k: &str| format!("{arch_name}.{k}");
        let int = |k: &str| -> TrainResult<usize> {
            let v =
                gguf.get(&key(k)).ok_or_else(|| unsupported(path, format!("metadata key {} is missing", key(k))))?;
            // Per-layer arrays (variable head counts) are not supported.
            v.as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| unsupported(path, format!("metadata key {} is not a single integer", key(k))))
        };
        let opt_int = |k: &str| gguf.get(&key(k)).and_then(Value::as_u64).map(|n| n as usize);
        let float = |k: &str| gguf.get(&key(k)).and_then(as_f32);
        let n_embd = int("embedding_length")?;
        let n_layer = int("block_count")?;
        let n_head = int("attention.head_count")?;
        let n_head_kv = opt_int("attention.head_count_kv").unwrap_or(n_head);
        let n_ff = int("feed_forward_length")?;
        if n_head == 0
            || n_head_kv == 0
            || n_head % n_head_kv != 0
            || n_embd % n_head != 0 && opt_int("attention.key_length").is_none()
        {
            return Err(unsupported(
                path,
                format!("unusable head counts: {n_head} heads, {n_head_kv} kv heads, width {n_embd}"),
            ));
        }
        let head_dim = opt_int("attention.key_length").unwrap_or(n_embd / n_head);
        if opt_int("attention.value_length").is_some_and(|v| v != head_dim) {
            return Err(unsupported(path, "key and value head sizes differ".into()));
        }
        let n_rot = opt_int("rope.dimension_count").unwrap_or(head_dim);
        if n_rot > head_dim || n_rot % 2 != 0 {
            return Err(unsupported(path, format!("rope.dimension_count {n_rot} does not fit head size {head_dim}")));
        }
        let rms_eps = float("attention.layer_norm_rms_epsilon").ok_or_else(|| {
            unsupported(path, format!("metadata key {} is missing", key("attention.layer_norm_rms_epsilon")))
        })?;
        let scaling = gguf.get_str(&key("rope.scaling.type")).unwrap_or("linear");
        let factor = float("rope.scaling.factor").or_else(|| float("rope.scale_linear")).unwrap_or(0.0);
        let rope_freq_scale = match scaling {
            "none" => 1.0,
            "linear" => {
                if factor == 0.0 {
                    1.0
                } else {
                    1.0 / factor
                }
            }
            other => {
                return Err(unsupported(path, format!("rope scaling {other:?} is not supported (none and linear are)")))
            }
        };
        let n_vocab = match opt_int("vocab_size") {
            Some(n) => n,
            None => gguf
                .get("tokenizer.ggml.tokens")
                .and_then(Value::as_array)
                .map(<[Value]>::len)
                .ok_or_else(|| unsupported(path, "no vocab_size and no tokenizer.ggml.tokens".into()))?,
        };
        let attn_scale = match (arch, float("attention.scale")) {
            // As llama.cpp's gemma3 loader: the 27B (62 layers) scales by the width per
            // head, the others by the head size; no attention.scale key.
            (Architecture::Gemma3, _) if n_layer == 62 => 1.0 / ((n_embd / n_head) as f32).sqrt(),
            (Architecture::Gemma3, _) => 1.0 / (head_dim as f32).sqrt(),
            (_, Some(s)) if s != 0.0 => s,
            _ => 1.0 / (head_dim as f32).sqrt(),
        };
        let gemma = arch == Architecture::Gemma3;
        let mrope_sections = match (arch, gguf.get(&key("rope.dimension_sections"))) {
            (Architecture::Qwen2Vl, Some(Value::Array(_, items))) if items.len() == 4 => {
                let s: Vec<usize> = items.iter().map(|v| v.as_u64().unwrap_or(0) as usize).collect();
                if s.iter().sum::<usize>() == 0 || s.iter().sum::<usize>() > n_rot / 2 {
                    return Err(unsupported(
                        path,
                        format!("rope.dimension_sections {s:?} do not fit {n_rot} rotary dims"),
                    ));
                }
                Some([s[0], s[1], s[2], s[3]])
            }
            (Architecture::Qwen2Vl, _) => {
                return Err(unsupported(path, "qwen2vl without four rope.dimension_sections".into()));
            }
            _ => None,
        };
        let sliding_window = match opt_int("attention.sliding_window") {
            Some(window) if gemma && window > 0 => {
                // A per-layer array of flags, or every n-th layer global (default 6).
                let local = match gguf.get(&key("attention.sliding_window_pattern")) {
                    Some(Value::Array(_, flags)) if flags.len() == n_layer => {
                        flags.iter().map(|f| matches!(f, Value::Bool(true))).collect()
                    }
                    Some(Value::Array(..)) => {
                        return Err(unsupported(path, "attention.sliding_window_pattern has the wrong length".into()))
                    }
                    other => {
                        let n = other.and_then(Value::as_u64).unwrap_or(6) as usize;
                        (0..n_layer).map(|il| n == 0 || il % n < n - 1).collect()
                    }
                };
                Some(SlidingWindow { window, local, rope_base: float("rope.freq_base_swa").unwrap_or(10000.0) })
            }
            _ => None,
        };
        if float("embedding_scale").is_some_and(|s| s != 0.0 && s != 1.0)
            || float("logit_scale").is_some_and(|s| s != 0.0 && s != 1.0)
        {
            return Err(unsupported(path, "embedding or logit scaling (granite-style) is not supported".into()));
        }
        Ok(ModelConfig {
            arch,
            n_vocab,
            n_embd,
            n_layer,
            n_head,
            n_head_kv,
            head_dim,
            n_ff,
            rms_eps,
            rope_base: float("rope.freq_base").unwrap_or(10000.0),
            n_rot,
            rope_freq_scale,
            n_ctx_train: opt_int("context_length").unwrap_or(2048),
            attn_scale,
            embd_scale: if gemma { (n_embd as f32).sqrt() } else { 1.0 },
            sliding_window,
            mrope_sections,
            logit_softcap: if gemma { float("final_logit_softcapping").unwrap_or(0.0) } else { 0.0 },
        })
    }

    /// Width of the query projection (`n_head * head_dim`).
    pub fn q_dim(&self) -> usize {
        self.n_head * self.head_dim
    }

    /// Width of the key and value projections (`n_head_kv * head_dim`).
    pub fn kv_dim(&self) -> usize {
        self.n_head_kv * self.head_dim
    }
}

fn unsupported(path: &Path, reason: String) -> TrainError {
    TrainError::UnsupportedModel { path: path.into(), reason }
}

fn as_f32(v: &Value) -> Option<f32> {
    match *v {
        Value::F32(x) => Some(x),
        Value::F64(x) => Some(x as f32),
        _ => v.as_u64().map(|n| n as f32),
    }
}
