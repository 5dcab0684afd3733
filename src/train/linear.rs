//! Weights that are either frozen (plain tensors, no gradient ever computed) or
//! trainable (`Var`s), and the linear layers built on them.

use candle_core::{Result, Tensor, Var};

use super::frozen::frozen_linear;
use super::lora::LoraAdapter;
use crate::seed::{fnv1a, mix_seed};

/// A weight of the model.
#[derive(Debug, Clone)]
pub enum Weight {
    Frozen(Tensor),
    Trainable(Var),
}

impl Weight {
    pub fn new(t: Tensor, trainable: bool) -> Result<Weight> {
        Ok(if trainable { Weight::Trainable(Var::from_tensor(&t)?) } else { Weight::Frozen(t) })
    }

    pub fn tensor(&self) -> &Tensor {
        match self {
            Weight::Frozen(t) => t,
            Weight::Trainable(v) => v.as_tensor(),
        }
    }

    pub fn var(&self) -> Option<&Var> {
        match self {
            Weight::Frozen(_) => None,
            Weight::Trainable(v) => Some(v),
        }
    }

    /// `x · wᵀ`: for a frozen weight through [`frozen_linear`] (no weight gradient).
    pub fn matmul_t(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Weight::Frozen(w) => frozen_linear(x, w),
            Weight::Trainable(w) => x.matmul(&w.as_tensor().t()?),
        }
    }
}

/// `y = x·Wᵀ + b (+ LoRA)` for `x` of shape (rows, in).
#[derive(Debug, Clone)]
pub struct Linear {
    /// The GGUF name of the weight, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    pub weight: Weight,
    pub bias: Option<Weight>,
    pub lora: Option<LoraAdapter>,
}

impl Linear {
    /// `dropout_seed`: `Some` while training (LoRA dropout is drawn from it and the
    /// layer's name), `None` for evaluation.
    pub fn forward(&self, x: &Tensor, dropout_seed: Option<u64>) -> Result<Tensor> {
        let mut y = self.weight.matmul_t(x)?;
        if let Some(b) = &self.bias {
            y = y.broadcast_add(b.tensor())?;
        }
        if let Some(lora) = &self.lora {
            let seed = dropout_seed.map(|s| mix_seed(&[s, fnv1a(self.name.as_bytes())]));
            y = (y + lora.forward(x, seed)?)?;
        }
        Ok(y)
    }

    pub fn n_out(&self) -> usize {
        self.weight.tensor().dim(0).unwrap_or(0)
    }

    pub fn n_in(&self) -> usize {
        self.weight.tensor().dim(1).unwrap_or(0)
    }
}
