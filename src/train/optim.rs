//! AdamW (decoupled weight decay, as PyTorch's `AdamW`) with its state exposed, so it
//! can be checkpointed and restored exactly; and global-norm gradient clipping.

use std::collections::HashMap;

use candle_core::{Result, Tensor, Var};

/// AdamW hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWParams {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWParams {
    fn default() -> Self {
        AdamWParams { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
}

/// AdamW over named variables.
pub struct AdamW {
    params: AdamWParams,
    vars: Vec<(String, Var)>,
    /// First and second moment estimates, one per variable.
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    /// Updates done so far (bias correction uses `t = steps + 1`).
    steps: u64,
}

impl AdamW {
    pub fn new(vars: Vec<(String, Var)>, params: AdamWParams) -> Result<AdamW> {
        let m = vars.iter().map(|(_, v)| v.zeros_like()).collect::<Result<Vec<_>>>()?;
        let v = vars.iter().map(|(_, v)| v.zeros_like()).collect::<Result<Vec<_>>>()?;
        Ok(AdamW { params, vars, m, v, steps: 0 })
    }

    pub fn vars(&self) -> &[(String, Var)] {
        &self.vars
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// One update with learning rate `lr` and gradients `grads` (one per variable, in
    /// the order of [`AdamW::vars`]).
    pub fn step(&mut self, grads: &[Tensor], lr: f64) -> Result<()> {
        let p = self.params;
        let t = (self.steps + 1) as i32;
        let bc1 = 1.0 - p.beta1.powi(t);
        let bc2 = 1.0 - p.beta2.powi(t);
        for (i, ((_, var), g)) in self.vars.iter().zip(grads).enumerate() {
            let m = ((&self.m[i] * p.beta1)? + (g * (1.0 - p.beta1))?)?;
            let v = ((&self.v[i] * p.beta2)? + (g.sqr()? * (1.0 - p.beta2))?)?;
            let m_hat = (&m / bc1)?;
            let v_hat = (&v / bc2)?;
            let update = m_hat.div(&(v_hat.sqrt()? + p.eps)?)?;
            let mut w = var.as_tensor().detach();
            if p.weight_decay != 0.0 {
                w = (&w * (1.0 - lr * p.weight_decay))?;
            }
            var.set(&(w - (update * lr)?)?)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        self.steps += 1;
        Ok(())
    }

    /// The moments as named tensors (`m.<name>`, `v.<name>`), for a checkpoint.
    pub fn state(&self) -> HashMap<String, Tensor> {
        let mut out = HashMap::new();
        for (i, (name, _)) in self.vars.iter().enumerate() {
            out.insert(format!("m.{name}"), self.m[i].clone());
            out.insert(format!("v.{name}"), self.v[i].clone());
        }
        out
    }

    /// Restores the moments and the step count from a checkpoint.
    pub fn load_state(&mut self, state: &HashMap<String, Tensor>, steps: u64) -> std::result::Result<(), String> {
        for (i, (name, var)) in self.vars.iter().enumerate() {
            for (key, slot) in [(format!("m.{name}"), &mut self.m[i]), (format!("v.{name}"), &mut self.v[i])] {
                let t = state.get(&key).ok_or_else(|| format!("the optimizer state has no {key}"))?;
                if t.dims() != var.dims() {
                    return Err(format!("{key} has shape {:?}, expected {:?}", t.dims(), var.dims()));
                }
                *slot = t.to_device(var.device()).map_err(|e| e.to_string())?;
            }
        }
        self.steps = steps;
        Ok(())
    }
}

/// The global L2 norm of `grads`.
pub fn global_norm(grads: &[Tensor]) -> Result<f64> {
    let mut sum = 0f64;
    for g in grads {
        sum += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
    }
    Ok(sum.sqrt())
}

/// Scales `grads` so their global norm is at most `max_norm` (no-op when `max_norm`
/// is 0 or the norm is already below it). Returns the norm before clipping.
pub fn clip_global_norm(grads: &mut [Tensor], max_norm: f64) -> Result<f64> {
    let norm = global_norm(grads)?;
    if max_norm > 0.0 && norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for g in grads.iter_mut() {
            *g = (&*g * scale)?;
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device};

    use super::*;

    #[test]
    fn adamw_first_step_moves_each_weight_by_lr() -> Result<()> {
        let dev = Device::Cpu;
        let var = Var::new(&[1f32, -2., 3.], &dev)?;
        let mut opt = AdamW::new(vec![("w".into(), var.clone())], AdamWParams::default())?;
        let g = Tensor::new(&[0.5f32, -0.1, 2.0], &dev)?;
        opt.step(&[g], 0.1)?;
        // With bias correction the first update is lr * g/|g| (up to eps).
        let w = var.as_tensor().to_vec1::<f32>()?;
        for (got, want) in w.iter().zip([0.9f32, -1.9, 2.9]) {
            assert!((got - want).abs() < 1e-5, "{w:?}");
        }
        let mut grads = vec![Tensor::new(&[3f32, 4.], &dev)?];
        let norm = clip_global_norm(&mut grads, 1.0)?;
        assert!((norm - 5.0).abs() < 1e-6);
        let clipped = global_norm(&grads)?;
        assert!((clipped - 1.0).abs() < 1e-5);
        let _ = DType::F32;
        Ok(())
    }
}
