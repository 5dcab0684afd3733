//! Exporting trained weights as GGUF files llama.cpp loads: LoRA adapters and merged
//! full checkpoints. Plain f32 arrays in, files out (written atomically); no candle.
//!
//! - [`write_lora_adapter`]: `general.type = adapter`, `adapter.type = lora`,
//!   `adapter.lora.alpha`, `general.architecture` of the base, and per adapted weight
//!   `<base tensor>.lora_a` with ggml dims `[in, rank]` and `<base tensor>.lora_b`
//!   with ggml dims `[rank, out]`, F32 — what `llama_adapter_lora_init` in
//!   llama.cpp's `src/llama-adapter.cpp` checks (`a->ne[0] == W->ne[0]`,
//!   `b->ne[1] == W->ne[1]`, `a->ne[1] == b->ne[0]`), applied as
//!   `W·x + alpha/rank · B·(A·x)`.
//! - [`write_merged`]: every metadata key of the base copied (tokenizer, chat template,
//!   hyperparameters), `general.file_type` set to match, and every tensor replaced by
//!   the given values, as F32 or F16 (1-d tensors such as norms stay F32, as llama.cpp's
//!   converter keeps them).

mod lora;
mod merged;

pub use lora::{write_lora_adapter, LoraPair};
pub use merged::{f32_to_f16_bits, write_merged, MergedDtype};
