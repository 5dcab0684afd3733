//! LoRA: a trainable low-rank update `scale · B·A` beside a frozen weight `W` (out, in),
//! with `A` (rank, in), `B` (out, rank) and `scale = alpha / rank`, as llama.cpp applies
//! an adapter (`llama_adapter_lora_weight::get_scale`).

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Result, Shape, Tensor, Var};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::fused::contiguous_f32;
use super::{TrainError, TrainResult};
use crate::seed::fnv1a;

/// The linear layers LoRA can adapt, by their llama.cpp tensor names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LoraTarget {
    Q,
    K,
    V,
    O,
    Gate,
    Up,
    Down,
}

impl LoraTarget {
    pub const ALL: [LoraTarget; 7] = [
        LoraTarget::Q,
        LoraTarget::K,
        LoraTarget::V,
        LoraTarget::O,
        LoraTarget::Gate,
        LoraTarget::Up,
        LoraTarget::Down,
    ];

    /// The short name used on the command line (`q,k,v,o,gate,up,down`).
    pub fn name(self) -> &'static str {
        match self {
            LoraTarget::Q => "q",
            LoraTarget::K => "k",
            LoraTarget::V => "v",
            LoraTarget::O => "o",
            LoraTarget::Gate => "gate",
            LoraTarget::Up => "up",
            LoraTarget::Down => "down",
        }
    }

    /// The GGUF tensor stem: `blk.N.<stem>.weight`.
    pub fn tensor_stem(self) -> &'static str {
        match self {
            LoraTarget::Q => "attn_q",
            LoraTarget::K => "attn_k",
            LoraTarget::V => "attn_v",
            LoraTarget::O => "attn_output",
            LoraTarget::Gate => "ffn_gate",
            LoraTarget::Up => "ffn_up",
            LoraTarget::Down => "ffn_down",
        }
    }

    pub fn from_name(name: &str) -> Option<LoraTarget> {
        LoraTarget::ALL.into_iter().find(|t| t.name() == name || t.tensor_stem() == name)
    }

    /// Parses a comma-separated list such as `q,k,v,o,gate,up,down`.
    pub fn parse_list(list: &str) -> TrainResult<Vec<LoraTarget>> {
        let mut targets = Vec::new();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let t = LoraTarget::from_name(part).ok_or_else(|| {
                TrainError::Config(format!("unknown LoRA target {part:?} (known: q, k, v, o, gate, up, down)"))
            })?;
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
        if targets.is_empty() {
            return Err(TrainError::Config("no LoRA targets given".into()));
        }
        targets.sort();
        Ok(targets)
    }
}

/// LoRA hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraConfig {
    pub rank: usize,
    pub alpha: f32,
    /// Dropout on the adapter's input (not on the frozen path), as PEFT does.
    pub dropout: f32,
    pub targets: Vec<LoraTarget>,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig { rank: 16, alpha: 32.0, dropout: 0.05, targets: LoraTarget::ALL.to_vec() }
    }
}

impl LoraConfig {
    pub fn scale(&self) -> f32 {
        self.alpha / self.rank as f32
    }

    pub fn validate(&self) -> TrainResult<()> {
        if self.rank == 0 {
            return Err(TrainError::Config("--lora-rank must be at least 1".into()));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(TrainError::Config("--lora-alpha must be positive".into()));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(TrainError::Config("--lora-dropout must be in [0, 1)".into()));
        }
        if self.targets.is_empty() {
            return Err(TrainError::Config("no LoRA targets given".into()));
        }
        Ok(())
    }
}

/// The adapter of one linear layer.
#[derive(Debug, Clone)]
pub struct LoraAdapter {
    /// (rank, in)
    pub a: Var,
    /// (out, rank)
    pub b: Var,
    pub scale: f32,
    pub dropout: f32,
}

impl LoraAdapter {
    /// A fresh adapter: `A` uniform in ±1/sqrt(in) (PEFT's Kaiming-uniform with
    /// a = sqrt(5)), drawn from a stream seeded by `seed` and the tensor's name, and
    /// `B` zero, so the adapted layer starts equal to the base layer.
    pub fn new(name: &str, n_in: usize, n_out: usize, config: &LoraConfig, seed: u64, device: &Device) -> Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fnv1a(name.as_bytes()));
        let bound = 1.0 / (n_in as f32).sqrt();
        let a: Vec<f32> = (0..config.rank * n_in).map(|_| rng.random_range(-bound..bound)).collect();
        Ok(LoraAdapter {
            a: Var::from_tensor(&Tensor::from_vec(a, (config.rank, n_in), device)?)?,
            b: Var::zeros((n_out, config.rank), candle_core::DType::F32, device)?,
            scale: config.scale(),
            dropout: config.dropout,
        })
    }

    /// `scale · B·A·dropout(x)` for `x` of shape (rows, in). `dropout_seed` is `None`
    /// outside training.
    pub fn forward(&self, x: &Tensor, dropout_seed: Option<u64>) -> Result<Tensor> {
        let x = match dropout_seed {
            Some(seed) if self.dropout > 0.0 => dropout(x, self.dropout, seed)?,
            _ => x.clone(),
        };
        // Scaling the rank-wide intermediate costs `rank` columns instead of `out`.
        let h = (x.matmul(&self.a.as_tensor().t()?)? * f64::from(self.scale))?;
        h.matmul(&self.b.as_tensor().t()?)
    }

    /// `scale · B·A`, shaped like the base weight (out, in).
    pub fn delta(&self) -> Result<Tensor> {
        self.b.as_tensor().matmul(self.a.as_tensor())? * f64::from(self.scale)
    }
}

/// An inverted-dropout mask of `n` elements: each is 0 with probability `p`, else
/// 1/(1-p). The same seed gives the same mask, so a resumed run repeats an
/// uninterrupted one.
pub fn dropout_mask(n: usize, p: f32, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let keep = 1.0 / (1.0 - p);
    let threshold = (f64::from(p) * 4294967296.0) as u64;
    (0..n).map(|_| if u64::from(rng.next_u32()) < threshold { 0.0 } else { keep }).collect()
}

/// `x ⊙ mask` with the mask of [`dropout_mask`]. A plain `x.mul(&mask)` would also
/// compute the (useless) gradient of the constant mask in every backward pass; this
/// op's backward is `grad ⊙ mask` only. Off the CPU it falls back to `mul`.
pub fn dropout(x: &Tensor, p: f32, seed: u64) -> Result<Tensor> {
    let mask = Arc::new(dropout_mask(x.elem_count(), p, seed));
    if !x.device().is_cpu() || x.dtype() != DType::F32 {
        let n = mask.len();
        let mask = Tensor::from_vec(Arc::try_unwrap(mask).unwrap_or_else(|m| m.to_vec()), n, x.device())?;
        return x.mul(&mask.reshape(x.shape())?.to_dtype(x.dtype())?);
    }
    x.contiguous()?.apply_op1(MaskMul(mask))
}

struct MaskMul(Arc<Vec<f32>>);

impl CustomOp1 for MaskMul {
    fn name(&self) -> &'static str {
        "dropout"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s, l, self.name())?;
        if x.len() != self.0.len() {
            candle_core::bail!("dropout: {} values for a mask of {}", x.len(), self.0.len());
        }
        let out = x.iter().zip(self.0.iter()).map(|(a, m)| a * m).collect();
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&MaskMul(Arc::clone(&self.0)))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropout_scales_kept_values_and_passes_the_gradient_through_the_mask() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::ones((40, 50), DType::F32, &dev)?)?;
        let y = dropout(x.as_tensor(), 0.25, 9)?;
        let values = y.flatten_all()?.to_vec1::<f32>()?;
        let dropped = values.iter().filter(|&&v| v == 0.0).count();
        assert!(values.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
        assert!((400..600).contains(&dropped), "{dropped} of 2000 dropped");
        let g = (y * 3.0)?.sum_all()?.backward()?.get(x.as_tensor()).unwrap().flatten_all()?.to_vec1::<f32>()?;
        for (gi, vi) in g.iter().zip(&values) {
            assert!((gi - 3.0 * vi).abs() < 1e-5);
        }
        assert_eq!(dropout_mask(10, 0.5, 1), dropout_mask(10, 0.5, 1));
        Ok(())
    }
}
