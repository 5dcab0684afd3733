//! GGUF files in pure Rust: read metadata and tensor tables, write new files.
//!
//! The engine leaves model loading to llama.cpp; this module is for the files the
//! project makes itself (generated test models, LoRA adapters, merged checkpoints) and
//! for copying metadata such as the tokenizer from one file to another. The format is
//! the one in llama.cpp's `ggml/include/gguf.h` (version 3, little-endian).

mod read;
mod types;
mod value;
mod write;

pub use read::{GgufFile, TensorInfo};
pub use types::GgmlType;
pub use value::{Value, ValueType};
pub use write::GgufWriter;
// One value's bytes, for tools that write GGUF by hand (the lab's fuzzer writes what
// `GgufWriter` refuses to).
pub use write::{write_str, write_value};

/// The default alignment of the tensor data section (`general.alignment`).
pub const DEFAULT_ALIGNMENT: u64 = 32;
