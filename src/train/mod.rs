//! `vlmjudge train`: supervised fine-tuning of a judge on its own reasoning traces, with
//! LoRA or full fine-tuning, on candle (CPU).
//!
//! The pieces, one file per concept:
//!
//! - [`config`]: the architecture's hyperparameters, read from the GGUF metadata.
//! - [`weights`]: the base weights, dequantized to f32 from the GGUF.
//! - [`frozen`]: a matmul whose backward pass computes only the input's gradient, for
//!   frozen weights.
//! - [`ops`]: RMS norm, rotary embeddings and causal attention built only from candle
//!   ops that have a backward pass; [`fused`]: the CPU kernels (with their backward
//!   passes) that replace the elementwise chains among them.
//! - [`lora`] and [`linear`]: LoRA adapters and the linear layers that carry them.
//! - [`model`]: the llama/qwen2/qwen2vl/gemma3 decoder; [`projector`]: the vision
//!   projector's last layer, trained with it (`--train-projector`).
//! - [`data`], [`tokenize`], [`batch`], [`loss`]: SFT examples, their tokens and image
//!   embeddings, padded micro-batches, and the masked cross-entropy.
//! - [`step`]: one optimizer step's micro-batches, computed side by side on CPU.
//! - [`optim`], [`schedule`], [`checkpoint`], [`metrics`], [`trainer`]: AdamW, the
//!   learning-rate schedule, checkpoints for `--resume`, `metrics.jsonl`, and the loop.
//! - `settings`, `dataset` (their items re-exported from [`trainer`]): [`TrainConfig`],
//!   its checks and the fingerprint that ties a checkpoint to it; a run's tokenized
//!   examples, their train/eval split and each epoch's order.
//!
//! The LoRA adapter and merged checkpoints are written by [`crate::export`].

pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod data;
mod dataset;
pub mod device;
mod error;
pub mod frozen;
pub mod fused;
pub mod linear;
pub mod lora;
pub mod loss;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod optim;
pub mod projector;
pub mod schedule;
mod settings;
pub mod step;
pub mod tokenize;
pub mod trainer;
pub mod weights;

pub use config::{Architecture, ModelConfig};
pub use data::{read_sft_examples, Message, SftExample};
pub use device::DeviceChoice;
pub use error::{TrainError, TrainResult};
pub use lora::{LoraConfig, LoraTarget};
pub use model::{Mode, TrainModel};
pub use tokenize::{Encoded, EncodedExample, Encoder, ImageSpan};
pub use trainer::{train, TrainConfig, TrainOutputs, TrainSummary};
