//! Cross-entropy over the target positions.
//!
//! The loss is one fused op: with a 49k-token vocabulary the logits of a micro-batch
//! are tens of megabytes, and composing log-softmax from candle ops (max, subtract,
//! exp, sum, log, gather, and the backward of each) walks over them a dozen times. The
//! fused op reads them once forward and once backward, computing the standard gradient
//! `softmax(logits) - onehot(label)`; [`cross_entropy_sum_composed`] is the same loss
//! from differentiable candle ops, kept as the reference the tests compare against.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor, D};

use super::fused::contiguous_f32;

/// Summed cross-entropy of `logits` (n, vocab) against `labels` (n token ids):
/// `Σ logsumexp(logits_i) - logits_i[label_i]`. The trainer divides by the number of
/// target tokens of the whole optimizer step, so the loss is the mean over target
/// tokens however they are split into micro-batches.
pub fn cross_entropy_sum(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    if !logits.device().is_cpu() || logits.dtype() != DType::F32 {
        return cross_entropy_sum_composed(logits, labels);
    }
    let labels = labels.to_dtype(DType::U32)?.contiguous()?;
    logits.contiguous()?.apply_op2(&labels, CrossEntropy)?.sum_all()
}

/// The same loss from differentiable candle ops.
pub fn cross_entropy_sum_composed(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let picked = shifted.gather(&labels.to_dtype(DType::U32)?.unsqueeze(1)?, 1)?;
    (lse - picked)?.sum_all()
}

/// Row-wise `logsumexp(x) - x[label]`, with the backward pass below.
struct CrossEntropy;

fn rows<'a>(s: &'a CpuStorage, l: &Layout) -> Result<(&'a [f32], usize, usize)> {
    let &[n, v] = l.dims() else {
        candle_core::bail!("cross-entropy takes f32 logits of shape (n, vocab), got {:?}", l.dims())
    };
    Ok((contiguous_f32(s, l, "cross-entropy")?, n, v))
}

fn ids<'a>(s: &'a CpuStorage, l: &Layout, n: usize, v: usize) -> Result<&'a [u32]> {
    let (CpuStorage::U32(data), Some((start, end))) = (s, l.contiguous_offsets()) else {
        candle_core::bail!("cross-entropy takes contiguous u32 labels")
    };
    let ids = &data[start..end];
    if ids.len() != n || ids.iter().any(|&t| t as usize >= v) {
        candle_core::bail!("cross-entropy: {} labels for {n} rows, or a label past the vocabulary ({v})", ids.len());
    }
    Ok(ids)
}

/// `(max, Σ exp(x - max))` of a row.
fn row_stats(row: &[f32]) -> (f32, f32) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum = row.iter().map(|&x| (x - max).exp()).sum();
    (max, sum)
}

impl CustomOp2 for CrossEntropy {
    fn name(&self) -> &'static str {
        "cross-entropy"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (logits, n, v) = rows(s1, l1)?;
        let labels = ids(s2, l2, n, v)?;
        let out = logits
            .chunks_exact(v)
            .zip(labels)
            .map(|(row, &label)| {
                let (max, sum) = row_stats(row);
                max + sum.ln() - row[label as usize]
            })
            .collect();
        Ok((CpuStorage::F32(out), Shape::from(n)))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        labels: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = logits.apply_op3_no_bwd(labels, &grad.contiguous()?, &CrossEntropyGrad)?;
        Ok((Some(g), None))
    }
}

/// `grad_i · (softmax(x_i) - onehot(label_i))` for every row `i`.
struct CrossEntropyGrad;

impl CustomOp3 for CrossEntropyGrad {
    fn name(&self) -> &'static str {
        "cross-entropy-grad"
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
        let (logits, n, v) = rows(s1, l1)?;
        let labels = ids(s2, l2, n, v)?;
        let g = contiguous_f32(s3, l3, self.name())?;
        let mut out = vec![0f32; n * v];
        for (i, (row, dst)) in logits.chunks_exact(v).zip(out.chunks_exact_mut(v)).enumerate() {
            let (max, sum) = row_stats(row);
            let scale = g[i] / sum;
            for (d, &x) in dst.iter_mut().zip(row) {
                *d = (x - max).exp() * scale;
            }
            dst[labels[i] as usize] -= g[i];
        }
        Ok((CpuStorage::F32(out), Shape::from((n, v))))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    #[test]
    fn matches_a_direct_computation() -> Result<()> {
        let dev = Device::Cpu;
        let logits = Tensor::new(&[[1f32, 2., 3.], [0.5, -1., 0.]], &dev)?;
        let labels = Tensor::new(&[2u32, 0], &dev)?;
        let got = cross_entropy_sum(&logits, &labels)?.to_scalar::<f32>()?;
        let ce = |row: [f32; 3], l: usize| row.iter().map(|x| x.exp()).sum::<f32>().ln() - row[l];
        let expected = ce([1., 2., 3.], 2) + ce([0.5, -1., 0.], 0);
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
        Ok(())
    }

    #[test]
    fn the_fused_op_has_the_composed_ops_value_and_gradient() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 3.0, (5, 37), &dev)?)?;
        let labels = Tensor::new(&[0u32, 36, 7, 7, 20], &dev)?;
        let fused = (cross_entropy_sum(x.as_tensor(), &labels)? * 0.7)?;
        let composed = (cross_entropy_sum_composed(x.as_tensor(), &labels)? * 0.7)?;
        let (a, b) = (fused.to_scalar::<f32>()?, composed.to_scalar::<f32>()?);
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        let ga = fused.backward()?.get(x.as_tensor()).unwrap().clone();
        let gb = composed.backward()?.get(x.as_tensor()).unwrap().clone();
        let diff = (ga - gb)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-6, "gradients differ by {diff}");
        Ok(())
    }
}
