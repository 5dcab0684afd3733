//! The LoRA adapter GGUF.

use std::path::Path;

use crate::gguf::{GgufFile, GgufWriter, Value};
use crate::{Error, Result};

/// One adapted weight: `A` (rank, in) and `B` (out, rank), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraPair {
    /// The base tensor, e.g. `blk.0.attn_q.weight`.
    pub base_name: String,
    pub n_in: usize,
    pub n_out: usize,
    pub rank: usize,
    pub a: Vec<f32>,
    pub b: Vec<f32>,
}

/// Writes `pairs` as a llama.cpp LoRA adapter for `base` (whose architecture and
/// tensor shapes it must match) to `path`, atomically.
pub fn write_lora_adapter(path: &Path, base: &GgufFile, alpha: f32, pairs: &[LoraPair]) -> Result<()> {
    let arch = base.get_str("general.architecture").ok_or_else(|| Error::InvalidGguf {
        path: base.path.clone(),
        reason: "it has no general.architecture".into(),
    })?;
    if pairs.is_empty() {
        return Err(Error::InvalidArgument("a LoRA adapter needs at least one adapted tensor".into()));
    }
    let mut w = GgufWriter::new();
    w.set("general.architecture", Value::str(arch))
        .set("general.type", Value::str("adapter"))
        .set("general.name", Value::str("vlmjudge LoRA adapter"))
        .set("adapter.type", Value::str("lora"))
        .set("adapter.lora.alpha", Value::F32(alpha));
    for p in pairs {
        let info = base.tensor(&p.base_name).ok_or_else(|| {
            Error::InvalidArgument(format!("tensor {} is not in the base model {}", p.base_name, base.path.display()))
        })?;
        if info.dims != [p.n_in as u64, p.n_out as u64] {
            return Err(Error::InvalidArgument(format!(
                "tensor {}: the base has ggml dims {:?}, the adapter [{}, {}]",
                p.base_name, info.dims, p.n_in, p.n_out
            )));
        }
        if p.a.len() != p.rank * p.n_in || p.b.len() != p.n_out * p.rank {
            return Err(Error::InvalidArgument(format!("tensor {}: A or B has the wrong size", p.base_name)));
        }
        let (n_in, n_out, rank) = (p.n_in as u64, p.n_out as u64, p.rank as u64);
        w.add_f32(&format!("{}.lora_a", p.base_name), &[n_in, rank], &p.a)?;
        w.add_f32(&format!("{}.lora_b", p.base_name), &[rank, n_out], &p.b)?;
    }
    w.write(path)
}
