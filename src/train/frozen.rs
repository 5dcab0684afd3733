//! A matmul with a frozen (non-trainable) weight whose backward pass computes only the
//! input's gradient.
//!
//! What candle 0.11 does without it (read in `candle-core/src/backprop.rs`):
//! `Tensor::backward` only visits nodes with a `Var` upstream, so a plain `Tensor`
//! weight is never *updated*, but the `Op::Matmul` arm of the backward pass computes
//! both `grad_lhs = grad · rhsᵀ` and `grad_rhs = lhsᵀ · grad` unconditionally and stores
//! both in the `GradStore`, whether or not `rhs` leads to a variable. For `x · Wᵀ` with a
//! frozen `W` that is a weight-sized allocation and a full extra matmul per layer and
//! step (for the output layer of a 49k vocabulary, the largest matmul of the model).
//! [`frozen_linear`] wraps the product in a `CustomOp2` whose `bwd` returns `(Some(grad
//! of x), None)`, so no gradient of the weight is ever computed or stored; the unit test
//! below checks that the `GradStore` holds no entry for the weight.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

struct FrozenMatmul;

impl CustomOp2 for FrozenMatmul {
    fn name(&self) -> &'static str {
        "frozen-matmul"
    }

    /// `x` (m, k) times `wᵀ`, where `w` is (n, k): the result is (m, n).
    fn cpu_fwd(&self, x: &CpuStorage, xl: &Layout, w: &CpuStorage, wl: &Layout) -> Result<(CpuStorage, Shape)> {
        let (&[m, k], &[n, k2]) = (xl.dims(), wl.dims()) else {
            candle_core::bail!("frozen-matmul takes 2-d operands, got {:?} and {:?}", xl.dims(), wl.dims())
        };
        if k != k2 {
            candle_core::bail!("frozen-matmul: inner sizes differ ({k} vs {k2})");
        }
        // The transposed layout of w describes wᵀ (k, n) without copying; the CPU gemm
        // takes arbitrary strides.
        let wt = wl.transpose(0, 1)?;
        let out = x.matmul(w, (1, m, n, k), xl, &wt)?;
        Ok((out, Shape::from((m, n))))
    }

    fn bwd(&self, _x: &Tensor, w: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        // d(x·wᵀ)/dx = grad · w; nothing for w.
        Ok((Some(grad.matmul(w)?), None))
    }
}

/// `x · wᵀ` for `x` of shape (..., in) and a frozen `w` of shape (out, in): the
/// backward pass produces the gradient of `x` only. On devices other than the CPU the
/// plain (two-sided) matmul is used.
pub fn frozen_linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let k = *dims.last().expect("at least 1-d");
    let rows = x.elem_count() / k.max(1);
    let x2 = x.reshape((rows, k))?;
    let out = if x.device().is_cpu() {
        // apply_op2 records a backward node only when x leads to a variable.
        x2.contiguous()?.apply_op2(&w.contiguous()?, FrozenMatmul)?
    } else {
        x2.matmul(&w.t()?)?
    };
    let mut shape = dims;
    *shape.last_mut().expect("at least 1-d") = w.dim(0)?;
    out.reshape(shape)
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    #[test]
    fn frozen_linear_matches_matmul_and_gives_the_weight_no_gradient() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::arange(0f32, 12., &dev)?.reshape((2, 2, 3))?.affine(0.1, -0.3)?)?;
        let w = Tensor::arange(0f32, 12., &dev)?.reshape((4, 3))?.affine(0.05, -0.2)?;
        let y = frozen_linear(x.as_tensor(), &w)?;
        let expected = x.as_tensor().broadcast_matmul(&w.t()?)?;
        let diff = (&y - &expected)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-6, "forward differs by {diff}");
        let grads = y.sqr()?.sum_all()?.backward()?;
        let gx = grads.get(x.as_tensor()).expect("x has a gradient");
        let expected_gx = (expected * 2.)?.broadcast_matmul(&w)?;
        let diff = (gx - &expected_gx)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-5, "input gradient differs by {diff}");
        assert!(grads.get(&w).is_none(), "the frozen weight got a gradient");
        // The plain matmul does store one for the (non-variable) weight's transpose.
        let wt = w.t()?;
        let plain = x.as_tensor().reshape((4, 3))?.matmul(&wt)?.sqr()?.sum_all()?.backward()?;
        assert!(
            plain.get(&wt).is_some(),
            "candle's matmul no longer computes the rhs gradient; frozen-matmul may be unnecessary"
        );
        Ok(())
    }
}
