//! Fused CPU kernels, each with its backward pass, for the decoder's elementwise chains.
//!
//! Composed from candle ops, RMS norm is seven ops, the attention softmax six (scale,
//! mask, max, subtract, exp, sum, divide), a rotary embedding about ten (halves,
//! products, sums, concatenation) and SwiGLU two, each writing a fresh tensor
//! that the graph keeps until the backward pass and each walked again there. A step
//! of SmolLM2-135M on 4 judge prompts spent a quarter of its time zeroing the pages of
//! those tensors and held about 2.4 GB of activations per sequence. Each op here reads
//! its inputs once and writes one output; its backward pass is one more kernel. Only
//! the output (softmax) or the inputs (the others) are kept for the backward pass.
//! Each is checked against its composed reference in `ops`, values and gradients.
//!
//! Rows are independent, so the kernels split rows across rayon's pool, which is
//! candle's own; every output element is computed by one thread in a fixed order, so
//! the results are the same bits on any number of threads (the norm weight's gradient,
//! a sum over rows, is summed per fixed block of rows and then in block order).
//! Off the CPU, or for dtypes other than f32, the composed ops are used.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::ops;

/// The contiguous f32 data of a custom op's operand; `op` names the op in the error.
pub(super) fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(d), Some((start, end))) => Ok(&d[start..end]),
        _ => candle_core::bail!("{op}: takes contiguous f32 operands"),
    }
}

fn fused(ts: &[&Tensor]) -> bool {
    ts.iter().all(|t| t.device().is_cpu() && t.dtype() == DType::F32)
}

// ---------------------------------------------------------------------------------
// Masked softmax

/// `softmax(scale · scores + mask)` over the last dimension. `scores` is (b, ..., q, k)
/// and `mask` additive, (q, k) for every sequence alike or (b, 1, ..., q, k) per
/// sequence. A row the mask hides entirely is all zeros.
pub fn masked_softmax(scores: &Tensor, mask: &Tensor, scale: f32) -> Result<Tensor> {
    if !fused(&[scores, mask]) {
        return ops::softmax_last_dim(&(scores * f64::from(scale))?.broadcast_add(mask)?);
    }
    scores.contiguous()?.apply_op2(&mask.contiguous()?, MaskedSoftmax { scale })
}

struct MaskedSoftmax {
    scale: f32,
}

impl CustomOp2 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let scores = contiguous_f32(s1, l1, self.name())?;
        let mask = contiguous_f32(s2, l2, self.name())?;
        let dims = l1.dims();
        let (Some(&k), Some(&q), Some(&b)) = (dims.last(), dims.get(dims.len().wrapping_sub(2)), dims.first()) else {
            candle_core::bail!("masked-softmax: scores of shape {dims:?}")
        };
        let plane = q * k;
        let per_seq = scores.len() / b.max(1);
        let mask_per_seq = match mask.len() {
            n if n == plane => false,
            n if n == b * plane => true,
            n => candle_core::bail!("masked-softmax: a mask of {n} values for scores of shape {dims:?}"),
        };
        let mut out = vec![0f32; scores.len()];
        out.par_chunks_mut(k).zip(scores.par_chunks(k)).enumerate().for_each(|(r, (o, row))| {
            let flat = r * k;
            let seq_off = if mask_per_seq { flat / per_seq * plane } else { 0 };
            let m = &mask[seq_off + (flat / k % q) * k..][..k];
            let mut max = f32::NEG_INFINITY;
            for ((o, &x), &m) in o.iter_mut().zip(row).zip(m) {
                *o = x * self.scale + m;
                max = max.max(*o);
            }
            if max == f32::NEG_INFINITY {
                o.fill(0.0);
                return;
            }
            let mut sum = 0f32;
            for o in o.iter_mut() {
                *o = (*o - max).exp();
                sum += *o;
            }
            let inv = 1.0 / sum;
            o.iter_mut().for_each(|o| *o *= inv);
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(&self, _s: &Tensor, _m: &Tensor, probs: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = probs.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxGrad { scale: self.scale })?;
        Ok((Some(g), None))
    }
}

/// `scale · p ⊙ (g − Σ p ⊙ g)` per row: the gradient of the scores.
struct SoftmaxGrad {
    scale: f32,
}

impl CustomOp2 for SoftmaxGrad {
    fn name(&self) -> &'static str {
        "masked-softmax-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (p, g) = (contiguous_f32(s1, l1, self.name())?, contiguous_f32(s2, l2, self.name())?);
        let k = *l1.dims().last().unwrap_or(&1);
        if p.len() != g.len() || k == 0 {
            candle_core::bail!("masked-softmax-grad: shapes {:?} and {:?}", l1.dims(), l2.dims())
        }
        let mut out = vec![0f32; p.len()];
        out.par_chunks_mut(k).zip(p.par_chunks(k).zip(g.par_chunks(k))).for_each(|(o, (p, g))| {
            let dot: f32 = p.iter().zip(g).map(|(p, g)| p * g).sum();
            for ((o, &p), &g) in o.iter_mut().zip(p).zip(g) {
                *o = self.scale * p * (g - dot);
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

// ---------------------------------------------------------------------------------
// RMS norm

/// Rows of this many are one block of the norm weight's gradient sum.
const ROW_BLOCK: usize = 64;

/// llama.cpp's RMS norm, `x / sqrt(mean(x²) + eps) ⊙ weight` over the last dimension.
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f32) -> Result<Tensor> {
    if !fused(&[x, weight]) {
        return ops::rms_norm_composed(x, weight, eps);
    }
    x.contiguous()?.apply_op2(&weight.contiguous()?, RmsNorm { eps })
}

struct RmsNorm {
    eps: f32,
}

/// `1 / sqrt(mean(x²) + eps)` of a row.
fn inv_rms(row: &[f32], eps: f32) -> f32 {
    let mean = row.iter().map(|x| x * x).sum::<f32>() / row.len() as f32;
    1.0 / (mean + eps).sqrt()
}

/// The rows of `x` (…, d) and the weight (d).
fn norm_operands<'a>(
    op: &str,
    (s1, l1): (&'a CpuStorage, &Layout),
    (s2, l2): (&'a CpuStorage, &Layout),
) -> Result<(&'a [f32], &'a [f32], usize)> {
    let (x, w) = (contiguous_f32(s1, l1, op)?, contiguous_f32(s2, l2, op)?);
    let d = *l1.dims().last().unwrap_or(&0);
    if d == 0 || w.len() != d {
        candle_core::bail!("{op}: rows of {:?} and a weight of {:?}", l1.dims(), l2.dims())
    }
    Ok((x, w, d))
}

impl CustomOp2 for RmsNorm {
    fn name(&self) -> &'static str {
        "rms-norm"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, w, d) = norm_operands(self.name(), (s1, l1), (s2, l2))?;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(d).zip(x.par_chunks(d)).for_each(|(o, x)| {
            let r = inv_rms(x, self.eps);
            for ((o, &x), &w) in o.iter_mut().zip(x).zip(w) {
                *o = x * r * w;
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let dx = x.apply_op3_no_bwd(w, &grad, &RmsNormGradX { eps: self.eps })?;
        // A frozen weight (LoRA) needs no gradient: skip the pass over every row.
        let dw = if w.track_op() { Some(x.apply_op2_no_bwd(&grad, &RmsNormGradW { eps: self.eps })?) } else { None };
        Ok((Some(dx), dw))
    }
}

/// With `x̂ = x·r` and `u = g ⊙ w`: `dx = r · (u − x̂ · mean(u ⊙ x̂))`.
struct RmsNormGradX {
    eps: f32,
}

impl CustomOp3 for RmsNormGradX {
    fn name(&self) -> &'static str {
        "rms-norm-grad-x"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, w, d) = norm_operands(self.name(), (s1, l1), (s2, l2))?;
        let g = contiguous_f32(s3, l3, self.name())?;
        if g.len() != x.len() {
            candle_core::bail!("rms-norm-grad-x: a gradient of {:?} for rows of {:?}", l3.dims(), l1.dims())
        }
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(d).zip(x.par_chunks(d).zip(g.par_chunks(d))).for_each(|(o, (x, g))| {
            let r = inv_rms(x, self.eps);
            let c = x.iter().zip(g).zip(w).map(|((x, g), w)| g * w * x * r).sum::<f32>() / d as f32;
            for (((o, &x), &g), &w) in o.iter_mut().zip(x).zip(g).zip(w) {
                *o = r * (g * w - x * r * c);
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// `dw = Σ_rows g ⊙ x̂`.
struct RmsNormGradW {
    eps: f32,
}

impl CustomOp2 for RmsNormGradW {
    fn name(&self) -> &'static str {
        "rms-norm-grad-w"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, g) = (contiguous_f32(s1, l1, self.name())?, contiguous_f32(s2, l2, self.name())?);
        let d = *l1.dims().last().unwrap_or(&0);
        if d == 0 || g.len() != x.len() {
            candle_core::bail!("rms-norm-grad-w: shapes {:?} and {:?}", l1.dims(), l2.dims())
        }
        let partial: Vec<Vec<f32>> = x
            .par_chunks(d * ROW_BLOCK)
            .zip(g.par_chunks(d * ROW_BLOCK))
            .map(|(x, g)| {
                let mut acc = vec![0f32; d];
                for (x, g) in x.chunks(d).zip(g.chunks(d)) {
                    let r = inv_rms(x, self.eps);
                    for ((a, &x), &g) in acc.iter_mut().zip(x).zip(g) {
                        *a += g * x * r;
                    }
                }
                acc
            })
            .collect();
        let mut out = vec![0f32; d];
        for block in &partial {
            out.iter_mut().zip(block).for_each(|(o, b)| *o += b);
        }
        Ok((CpuStorage::F32(out), Shape::from(d)))
    }
}

// ---------------------------------------------------------------------------------
// SwiGLU

/// `silu(gate) ⊙ up`, the feed-forward activation of llama and Qwen.
pub fn swiglu(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    if !fused(&[gate, up]) || gate.shape() != up.shape() {
        return ops::swiglu_composed(gate, up);
    }
    gate.contiguous()?.apply_op2(&up.contiguous()?, Swiglu)
}

struct Swiglu;

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl CustomOp2 for Swiglu {
    fn name(&self) -> &'static str {
        "swiglu"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (g, u) = (contiguous_f32(s1, l1, self.name())?, contiguous_f32(s2, l2, self.name())?);
        if g.len() != u.len() {
            candle_core::bail!("swiglu: shapes {:?} and {:?}", l1.dims(), l2.dims())
        }
        let mut out = vec![0f32; g.len()];
        out.par_chunks_mut(4096).zip(g.par_chunks(4096).zip(u.par_chunks(4096))).for_each(|(o, (g, u))| {
            for ((o, &g), &u) in o.iter_mut().zip(g).zip(u) {
                *o = g * sigmoid(g) * u;
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        // One pass writes both gradients, stacked; each half is a contiguous view.
        let both = gate.apply_op3_no_bwd(up, &grad.contiguous()?, &SwigluGrad)?;
        let (dg, du) = (both.get(0)?, both.get(1)?);
        Ok((Some(dg), Some(du)))
    }
}

/// `[dy ⊙ up ⊙ silu'(gate), dy ⊙ silu(gate)]`, with `silu'(x) = σ(x)(1 + x(1 − σ(x)))`.
struct SwigluGrad;

impl CustomOp3 for SwigluGrad {
    fn name(&self) -> &'static str {
        "swiglu-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (g, u, dy) = (
            contiguous_f32(s1, l1, self.name())?,
            contiguous_f32(s2, l2, self.name())?,
            contiguous_f32(s3, l3, self.name())?,
        );
        let n = g.len();
        if u.len() != n || dy.len() != n {
            candle_core::bail!("swiglu-grad: shapes {:?}, {:?} and {:?}", l1.dims(), l2.dims(), l3.dims())
        }
        let mut out = vec![0f32; 2 * n];
        let (dg, du) = out.split_at_mut(n);
        dg.par_chunks_mut(4096)
            .zip(du.par_chunks_mut(4096))
            .zip(g.par_chunks(4096).zip(u.par_chunks(4096)).zip(dy.par_chunks(4096)))
            .for_each(|((dg, du), ((g, u), dy))| {
                for i in 0..g.len() {
                    let s = sigmoid(g[i]);
                    dg[i] = dy[i] * u[i] * s * (1.0 + g[i] * (1.0 - s));
                    du[i] = dy[i] * g[i] * s;
                }
            });
        let mut dims = vec![2];
        dims.extend_from_slice(l1.dims());
        Ok((CpuStorage::F32(out), Shape::from(dims)))
    }
}

// ---------------------------------------------------------------------------------
// Rotary position embedding

/// `x` (b, heads, t, d) with its first `n_rot` dimensions turned by the angles whose
/// cosines and sines are `cos` and `sin` (1 or b, 1, t, n_rot/2): NEOX pairs
/// `(i, i + n_rot/2)` or adjacent pairs `(2i, 2i + 1)`. The backward pass turns the
/// gradient back by the same angles. `composed` is the other devices' path.
pub fn rope(
    x: &Tensor,
    cos: &Tensor,
    sin: &Tensor,
    n_rot: usize,
    neox: bool,
    composed: impl FnOnce() -> Result<Tensor>,
) -> Result<Tensor> {
    if !fused(&[x, cos, sin]) {
        return composed();
    }
    x.contiguous()?.apply_op3(&cos.contiguous()?, &sin.contiguous()?, Rotate { n_rot, neox, sign: 1.0 })
}

struct Rotate {
    n_rot: usize,
    neox: bool,
    /// 1 turns forward; -1 turns back (the backward pass).
    sign: f32,
}

impl CustomOp3 for Rotate {
    fn name(&self) -> &'static str {
        "rope"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, cos, sin) = (
            contiguous_f32(s1, l1, self.name())?,
            contiguous_f32(s2, l2, self.name())?,
            contiguous_f32(s3, l3, self.name())?,
        );
        let (&[b, h, t, d], &[tb, 1, tt, half]) = (l1.dims(), l2.dims()) else {
            candle_core::bail!("rope: x of shape {:?} and tables of {:?}", l1.dims(), l2.dims())
        };
        if tt != t || half * 2 != self.n_rot || self.n_rot > d || !(tb == 1 || tb == b) || sin.len() != cos.len() {
            candle_core::bail!("rope: x of shape {:?}, tables of {:?}, n_rot {}", l1.dims(), l2.dims(), self.n_rot)
        }
        let mut out = x.to_vec();
        out.par_chunks_mut(d).enumerate().for_each(|(r, row)| {
            let (bi, ti) = (r / (h * t), r % t);
            let at = ((if tb == 1 { 0 } else { bi }) * t + ti) * half;
            let (c, s) = (&cos[at..at + half], &sin[at..at + half]);
            for i in 0..half {
                let (i0, i1) = if self.neox { (i, i + half) } else { (2 * i, 2 * i + 1) };
                let (x0, x1, s) = (row[i0], row[i1], self.sign * s[i]);
                row[i0] = x0 * c[i] - x1 * s;
                row[i1] = x0 * s + x1 * c[i];
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let back = Rotate { n_rot: self.n_rot, neox: self.neox, sign: -self.sign };
        Ok((Some(grad.contiguous()?.apply_op3_no_bwd(cos, sin, &back)?), None, None))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    /// A deterministic tensor of `shape` with values in about [-2, 2].
    fn wavy(shape: &[usize], phase: f32) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|i| 2.0 * ((i as f32) * 0.37 + phase).sin()).collect();
        Tensor::from_vec(v, shape, &Device::Cpu)
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
        (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
    }

    /// Forward values and the gradients of every input agree with the composed ops,
    /// under a loss that weights each output differently, to `tol` relative to the
    /// largest value (at least 1).
    fn check(
        inputs: &[Tensor],
        fused: impl Fn(&[Tensor]) -> Result<Tensor>,
        composed: impl Fn(&[Tensor]) -> Result<Tensor>,
        tol: f32,
    ) -> Result<()> {
        let vars: Vec<Var> = inputs.iter().map(Var::from_tensor).collect::<Result<_>>()?;
        let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let (yf, yc) = (fused(&ts)?, composed(&ts)?);
        assert!(max_diff(&yf, &yc)? < tol, "forward differs by {}", max_diff(&yf, &yc)?);
        let weights = wavy(yf.dims(), 0.5)?;
        let (gf, gc) = ((&yf * &weights)?.sum_all()?.backward()?, (&yc * &weights)?.sum_all()?.backward()?);
        for (i, v) in vars.iter().enumerate() {
            let (a, b) = (gf.get(v).expect("a fused gradient"), gc.get(v).expect("a composed gradient"));
            let scale = b.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?.max(1.0);
            let d = max_diff(a, b)? / scale;
            assert!(d < tol, "the gradient of input {i} differs by {d} (relative)");
        }
        Ok(())
    }

    #[test]
    fn masked_softmax_matches_the_composed_ops_with_shared_and_per_sequence_masks() -> Result<()> {
        let dev = Device::Cpu;
        let scores = wavy(&[2, 3, 2, 5, 5], 0.1)?;
        let shared = ops::causal_mask(5, &dev)?;
        let per_seq = ops::masks_with_two_way_spans(2, 5, Some(3), &[(1, 1, 3)], &dev)?;
        for mask in [shared, per_seq] {
            check(
                std::slice::from_ref(&scores),
                |t| masked_softmax(&t[0], &mask, 0.7),
                |t| ops::softmax_last_dim(&(&t[0] * 0.7)?.broadcast_add(&mask)?),
                1e-6,
            )?;
        }
        Ok(())
    }

    #[test]
    fn a_row_the_mask_hides_entirely_is_zero() -> Result<()> {
        let mask = Tensor::new(&[[f32::NEG_INFINITY, f32::NEG_INFINITY], [0.0, f32::NEG_INFINITY]], &Device::Cpu)?;
        let p = masked_softmax(&wavy(&[1, 2, 2], 0.0)?, &mask, 1.0)?.to_vec3::<f32>()?;
        assert_eq!(p[0], vec![vec![0.0, 0.0], vec![1.0, 0.0]]);
        Ok(())
    }

    #[test]
    fn rms_norm_matches_the_composed_ops_for_the_input_and_the_weight() -> Result<()> {
        // 150 rows: more than two blocks of the weight's gradient sum.
        check(
            &[wavy(&[3, 50, 8], 0.2)?, wavy(&[8], 1.0)?],
            |t| rms_norm(&t[0], &t[1], 1e-5),
            |t| ops::rms_norm_composed(&t[0], &t[1], 1e-5),
            1e-5,
        )
    }

    #[test]
    fn rms_norm_gives_a_frozen_weight_no_gradient() -> Result<()> {
        let x = Var::from_tensor(&wavy(&[4, 8], 0.3)?)?;
        let w = wavy(&[8], 0.9)?;
        let grads = rms_norm(x.as_tensor(), &w, 1e-5)?.sum_all()?.backward()?;
        assert!(grads.get(x.as_tensor()).is_some() && grads.get(&w).is_none());
        Ok(())
    }

    #[test]
    fn swiglu_matches_the_composed_ops() -> Result<()> {
        check(
            &[wavy(&[3, 4, 10], 0.4)?, wavy(&[3, 4, 10], 2.0)?],
            |t| swiglu(&t[0], &t[1]),
            |t| ops::swiglu_composed(&t[0], &t[1]),
            1e-5,
        )
    }

    #[test]
    fn rope_matches_the_composed_ops_for_every_layout() -> Result<()> {
        let dev = Device::Cpu;
        // NEOX and adjacent pairs over the whole head, a partial rotation, and M-RoPE's
        // per-sequence tables.
        let positions: Vec<[u32; 3]> = (0..2 * 5).map(|i| [i as u32, (i % 3) as u32, (i % 2) as u32]).collect();
        let ropes = [
            ops::Rope::new(5, 8, 10000.0, 1.0, None, true, &dev)?,
            ops::Rope::new(5, 8, 10000.0, 1.0, None, false, &dev)?,
            ops::Rope::new(5, 4, 500.0, 0.5, None, true, &dev)?,
            ops::Rope::mrope(&positions, (2, 5), 8, 10000.0, 1.0, [1, 1, 2, 0], &dev)?,
        ];
        for rope in &ropes {
            check(&[wavy(&[2, 3, 5, 8], 0.3)?], |t| rope.apply(&t[0]), |t| rope.apply_composed(&t[0]), 1e-6)?;
        }
        Ok(())
    }

    #[test]
    fn the_fused_ops_give_the_same_bits_on_one_thread_and_on_several() -> Result<()> {
        let x = wavy(&[300, 16], 0.6)?;
        let w = wavy(&[16], 0.2)?;
        let run = || -> Result<Vec<f32>> {
            let x = Var::from_tensor(&x)?;
            let wv = Var::from_tensor(&w)?;
            let y = rms_norm(x.as_tensor(), wv.as_tensor(), 1e-5)?;
            let grads = (&y * &y)?.sum_all()?.backward()?;
            grads.get(wv.as_tensor()).expect("a gradient").to_vec1::<f32>()
        };
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a pool").install(run)?;
        let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().expect("a pool").install(run)?;
        assert_eq!(one, three);
        Ok(())
    }
}
