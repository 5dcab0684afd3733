//! Training the vision projector together with the language model (`--train-projector`),
//! as LLaVA's first stage does: a language model that has never seen images learns
//! to read them through a projector fitted to it.
//!
//! The trainer reads image rows from the image cache (llama.cpp encodes each image once),
//! so nothing before the projector's last layer can change. What can is an affine map
//! on the rows, `e ↦ (I + Δ)·e + c` with Δ and c trainable and zero at the start, and
//! that map is the last layer retrained exactly: for `e = W·h + b`,
//!
//! ```text
//! (I + Δ)(W·h + b) + c = W'·h + b',   W' = (I + Δ)·W,   b' = (I + Δ)·b + c
//! ```
//!
//! and every W' is reachable while W has full column rank (its hidden width is at most
//! the language model's, as in LLaVA-style projectors). The written mmproj holds W' and
//! b', so llama.cpp runs the trained projector with no code of ours.
//!
//! Only the LLaVA-style `mlp` projector is supported: its last layer is `mm.2` with a
//! bias. Other projectors' last layers are stored transposed or without a bias, and
//! are refused until each has a fold checked against llama.cpp.

use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};

use super::weights::BaseWeights;
use super::{TrainError, TrainResult};
use crate::export::{write_merged, MergedDtype};
use crate::gguf::GgufFile;

/// Checkpoint names of the trainable map.
pub const DELTA_NAME: &str = "mm.projector.delta";
pub const BIAS_NAME: &str = "mm.projector.bias";

/// The projector type whose last layer the map folds into, and that layer's tensors.
const PROJECTOR_TYPE: &str = "mlp";
const LAST_WEIGHT: &str = "mm.2.weight";
const LAST_BIAS: &str = "mm.2.bias";

/// The trainable map on image rows.
#[derive(Debug, Clone)]
pub struct ProjectorAdapter {
    delta: Var,
    bias: Var,
}

impl ProjectorAdapter {
    /// The identity map for rows `n_embd` wide.
    pub fn new(n_embd: usize, device: &Device) -> TrainResult<ProjectorAdapter> {
        Ok(ProjectorAdapter {
            delta: Var::zeros((n_embd, n_embd), DType::F32, device)?,
            bias: Var::zeros(n_embd, DType::F32, device)?,
        })
    }

    /// `rows` (m, n_embd) through the map.
    pub fn forward(&self, rows: &Tensor) -> candle_core::Result<Tensor> {
        let moved = rows.matmul(&self.delta.as_tensor().t()?)?;
        (rows + moved)?.broadcast_add(self.bias.as_tensor())
    }

    pub fn vars(&self) -> [(String, Var); 2] {
        [(DELTA_NAME.to_string(), self.delta.clone()), (BIAS_NAME.to_string(), self.bias.clone())]
    }
}

/// Checks that the mmproj at `path` has a projector this module can fold into, feeding
/// rows `n_embd` wide; the error says why not.
pub fn check_foldable(path: &Path, n_embd: usize) -> TrainResult<()> {
    let gguf = GgufFile::open(path)?;
    let unsupported = |reason: String| TrainError::UnsupportedModel { path: path.into(), reason };
    let kind = gguf.get_str("clip.projector_type").unwrap_or("(none)");
    if kind != PROJECTOR_TYPE {
        return Err(unsupported(format!(
            "--train-projector is implemented for LLaVA-style `{PROJECTOR_TYPE}` projectors; this one is `{kind}`"
        )));
    }
    let weight = gguf.tensor(LAST_WEIGHT).ok_or_else(|| unsupported(format!("it has no {LAST_WEIGHT}")))?;
    let bias = gguf.tensor(LAST_BIAS).ok_or_else(|| unsupported(format!("it has no {LAST_BIAS}")))?;
    // ggml order: dims[0] is the input width.
    let (hidden, out) = match weight.dims[..] {
        [hidden, out] => (hidden, out),
        _ => return Err(unsupported(format!("{LAST_WEIGHT} has dims {:?}, not two", weight.dims))),
    };
    if out != n_embd as u64 || bias.dims[..] != [out] {
        return Err(unsupported(format!(
            "its projector writes rows {out} wide (bias {:?}) but the language model's are {n_embd}",
            bias.dims
        )));
    }
    if hidden > out {
        return Err(unsupported(format!(
            "its last layer narrows {hidden} to {out}, so a map on its output cannot retrain it"
        )));
    }
    Ok(())
}

/// Writes the mmproj at `base` with `adapter` folded into its last projector layer to
/// `path` (every tensor as f32, atomically).
pub fn write_trained_mmproj(path: &Path, base: &Path, adapter: &ProjectorAdapter) -> TrainResult<()> {
    let gguf = GgufFile::open(base)?;
    let weights = BaseWeights::load(base, &Device::Cpu)?;
    let to_cpu = |v: &Var| v.as_tensor().to_device(&Device::Cpu);
    let (delta, c) = (to_cpu(&adapter.delta)?, to_cpu(&adapter.bias)?);
    let n = delta.dim(0)?;
    let map = (Tensor::eye(n, DType::F32, &Device::Cpu)? + delta)?;
    let mut tensors = Vec::with_capacity(weights.order.len());
    for name in &weights.order {
        let t = &weights.tensors[name];
        let t = match name.as_str() {
            // (out, hidden) in candle's order.
            LAST_WEIGHT => map.matmul(t)?,
            LAST_BIAS => (map.matmul(&t.unsqueeze(1)?)?.squeeze(1)? + &c)?,
            _ => t.clone(),
        };
        tensors.push((name.clone(), t.flatten_all()?.to_vec1::<f32>()?));
    }
    write_merged(path, &gguf, &tensors, MergedDtype::F32)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_starts_as_the_identity_and_moves_rows_affinely() {
        let adapter = ProjectorAdapter::new(3, &Device::Cpu).unwrap();
        let rows = Tensor::new(&[[1f32, 2., 3.], [-1., 0., 4.]], &Device::Cpu).unwrap();
        let same = adapter.forward(&rows).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(same, rows.to_vec2::<f32>().unwrap());

        adapter.delta.set(&Tensor::new(&[[0f32, 1., 0.], [0., 0., 0.], [2., 0., -1.]], &Device::Cpu).unwrap()).unwrap();
        adapter.bias.set(&Tensor::new(&[0.5f32, 0., -0.5], &Device::Cpu).unwrap()).unwrap();
        let moved = adapter.forward(&rows).unwrap().to_vec2::<f32>().unwrap();
        // Row 1: e + Δe + c = [1,2,3] + [2,0,-1] + [0.5,0,-0.5].
        assert_eq!(moved[0], vec![3.5, 2.0, 1.5]);
        // Row 2: [-1,0,4] + [0,0,-6] + [0.5,0,-0.5].
        assert_eq!(moved[1], vec![-0.5, 0.0, -2.5]);
    }
}
