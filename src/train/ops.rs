//! The decoder's building blocks, composed only of candle ops that have a backward
//! pass. candle's fused `candle_nn::ops::rms_norm`, `rotary_emb::rope*` and
//! `softmax_last_dim` have none, so they are not used here. On the CPU the model uses
//! [`super::fused`]'s kernels for RMS norm, SwiGLU and the attention softmax; the
//! composed versions here are their reference and the other devices' path.

use candle_core::{Device, Result, Tensor, D};

use super::fused::masked_softmax;

/// llama.cpp's RMS norm: `x / sqrt(mean(x²) + eps) * weight` over the last dimension.
pub fn rms_norm_composed(x: &Tensor, weight: &Tensor, eps: f32) -> Result<Tensor> {
    let scale = (x.sqr()?.mean_keepdim(D::Minus1)? + f64::from(eps))?.sqrt()?.recip()?;
    x.broadcast_mul(&scale)?.broadcast_mul(weight)
}

/// Softmax over the last dimension. The row maximum is subtracted for stability and
/// detached: softmax is invariant to it, so its gradient is exactly zero anyway.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

/// `silu(gate) * up`, the SwiGLU of llama's feed-forward block.
pub fn swiglu_composed(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    gate.silu()?.mul(up)
}

/// `gelu(gate) * up` with the tanh approximation of GELU, the GEGLU of Gemma's
/// feed-forward block (llama.cpp's `ggml_geglu_split`).
pub fn geglu(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    gate.gelu()?.mul(up)
}

/// Rotary position embedding tables: for positions `0..n_pos` shared by every
/// sequence, or (M-RoPE) for each token of each sequence.
#[derive(Debug, Clone)]
pub struct Rope {
    /// (1 or batch, 1, n_pos, n_rot/2)
    cos: Tensor,
    sin: Tensor,
    n_rot: usize,
    neox: bool,
}

impl Rope {
    /// `theta(p, i) = p * freq_scale * base^(-2i/n_rot) / factor_i`, as llama.cpp's
    /// `ggml_rope_cache_init` without YaRN; `factors` is the optional `rope_freqs`
    /// tensor of llama 3.
    pub fn new(
        n_pos: usize,
        n_rot: usize,
        base: f32,
        freq_scale: f32,
        factors: Option<&[f32]>,
        neox: bool,
        device: &Device,
    ) -> Result<Rope> {
        let half = n_rot / 2;
        let mut cos = Vec::with_capacity(n_pos * half);
        let mut sin = Vec::with_capacity(n_pos * half);
        for p in 0..n_pos {
            for i in 0..half {
                let inv_freq = f64::from(base).powf(-2.0 * i as f64 / n_rot as f64);
                let factor = factors.map_or(1.0, |f| f64::from(f[i]));
                let theta = p as f64 * f64::from(freq_scale) * inv_freq / factor;
                cos.push(theta.cos() as f32);
                sin.push(theta.sin() as f32);
            }
        }
        Ok(Rope {
            cos: Tensor::from_vec(cos, (1, 1, n_pos, half), device)?,
            sin: Tensor::from_vec(sin, (1, 1, n_pos, half), device)?,
            n_rot,
            neox,
        })
    }

    /// M-RoPE tables (NEOX pairs) for `positions`, one (time, row, column) triple per
    /// token of `b` sequences of `t`: rotary pair `i` turns by the component its section
    /// names (`sections` of pairs, repeating), as ggml's `ggml_mrope_cache_init`; the
    /// fourth section's component is 0, as llama.cpp gives it for images and text.
    pub fn mrope(
        positions: &[[u32; 3]],
        (b, t): (usize, usize),
        n_rot: usize,
        base: f32,
        freq_scale: f32,
        sections: [usize; 4],
        device: &Device,
    ) -> Result<Rope> {
        let half = n_rot / 2;
        let period: usize = sections.iter().sum();
        let component = |i: usize| {
            let sector = i % period;
            [sections[0], sections[0] + sections[1], sections[0] + sections[1] + sections[2]]
                .iter()
                .position(|&end| sector < end)
                .unwrap_or(3)
        };
        let mut cos = Vec::with_capacity(b * t * half);
        let mut sin = Vec::with_capacity(b * t * half);
        for p in positions {
            for i in 0..half {
                let pos = p.get(component(i)).map_or(0.0, |&c| f64::from(c));
                let theta = pos * f64::from(freq_scale) * f64::from(base).powf(-2.0 * i as f64 / n_rot as f64);
                cos.push(theta.cos() as f32);
                sin.push(theta.sin() as f32);
            }
        }
        Ok(Rope {
            cos: Tensor::from_vec(cos, (b, 1, t, half), device)?,
            sin: Tensor::from_vec(sin, (b, 1, t, half), device)?,
            n_rot,
            neox: true,
        })
    }

    pub fn n_pos(&self) -> usize {
        self.cos.dim(2).unwrap_or(0)
    }

    /// Rotates `x` of shape (batch, heads, seq, head_dim) at positions `0..seq`: the
    /// fused kernel on the CPU, [`Rope::apply_composed`] elsewhere.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let t = x.dim(2)?;
        let (cos, sin) = (self.cos.narrow(2, 0, t)?, self.sin.narrow(2, 0, t)?);
        super::fused::rope(x, &cos, &sin, self.n_rot, self.neox, || self.apply_composed(x))
    }

    /// [`Rope::apply`] from differentiable candle ops.
    pub fn apply_composed(&self, x: &Tensor) -> Result<Tensor> {
        let (b, h, t, d) = x.dims4()?;
        let half = self.n_rot / 2;
        let rot = if self.n_rot == d { x.clone() } else { x.narrow(3, 0, self.n_rot)? };
        let cos = self.cos.narrow(2, 0, t)?;
        let sin = self.sin.narrow(2, 0, t)?;
        let rotated = if self.neox {
            // Pairs (x[i], x[i + n_rot/2]).
            let x0 = rot.narrow(3, 0, half)?;
            let x1 = rot.narrow(3, half, half)?;
            let (c, s) = (cos, sin);
            let r0 = (x0.broadcast_mul(&c)? - x1.broadcast_mul(&s)?)?;
            let r1 = (x0.broadcast_mul(&s)? + x1.broadcast_mul(&c)?)?;
            Tensor::cat(&[r0, r1], 3)?
        } else {
            // Adjacent pairs (x[2i], x[2i+1]): llama.cpp's "normal" layout.
            let pairs = rot.reshape((b, h, t, half, 2))?;
            let x0 = pairs.narrow(4, 0, 1)?;
            let x1 = pairs.narrow(4, 1, 1)?;
            let (c, s) = (cos.unsqueeze(4)?, sin.unsqueeze(4)?);
            let r0 = (x0.broadcast_mul(&c)? - x1.broadcast_mul(&s)?)?;
            let r1 = (x0.broadcast_mul(&s)? + x1.broadcast_mul(&c)?)?;
            Tensor::cat(&[r0, r1], 4)?.reshape((b, h, t, self.n_rot))?
        };
        if self.n_rot == d {
            Ok(rotated)
        } else {
            Tensor::cat(&[rotated, x.narrow(3, self.n_rot, d - self.n_rot)?], 3)
        }
    }
}

/// An additive causal mask (seq, seq): 0 on and below the diagonal, -inf above.
pub fn causal_mask(t: usize, device: &Device) -> Result<Tensor> {
    let mask: Vec<f32> =
        (0..t).flat_map(|i| (0..t).map(move |j| if j <= i { 0.0 } else { f32::NEG_INFINITY })).collect();
    Tensor::from_vec(mask, (t, t), device)
}

/// An additive causal mask (seq, seq) that also hides keys `window` or more positions
/// back: a sliding-window layer's, as llama.cpp's `LLAMA_SWA_TYPE_STANDARD`.
pub fn window_mask(t: usize, window: usize, device: &Device) -> Result<Tensor> {
    let mask: Vec<f32> = (0..t)
        .flat_map(|i| (0..t).map(move |j| if j <= i && i - j < window { 0.0 } else { f32::NEG_INFINITY }))
        .collect();
    Tensor::from_vec(mask, (t, t), device)
}

/// Per-sequence additive masks (b, 1, 1, seq, seq) for attention that is causal (and,
/// with `window`, sliding) except inside `spans`, whose tokens also see each other
/// both ways: how llama.cpp decodes an image that its projector marks non-causal
/// (Gemma 3), a key later than the query inside the same image being visible. Spans
/// are `(sequence, first position, length)`.
pub fn masks_with_two_way_spans(
    b: usize,
    t: usize,
    window: Option<usize>,
    spans: &[(usize, usize, usize)],
    device: &Device,
) -> Result<Tensor> {
    let mut mask = vec![0f32; b * t * t];
    for s in 0..b {
        // The span each position is in, if any.
        let mut span_of = vec![usize::MAX; t];
        for (k, &(seq, start, len)) in spans.iter().enumerate() {
            if seq == s {
                span_of[start..start + len].fill(k);
            }
        }
        for i in 0..t {
            for j in 0..t {
                let same_span = span_of[i] != usize::MAX && span_of[i] == span_of[j];
                // llama.cpp's sliding window masks keys `window` or more positions
                // before the query; later keys are never outside it.
                let in_window = window.is_none_or(|w| j > i || i - j < w);
                if !((j <= i || same_span) && in_window) {
                    mask[(s * t + i) * t + j] = f32::NEG_INFINITY;
                }
            }
        }
    }
    Tensor::from_vec(mask, (b, 1, 1, t, t), device)
}

/// Causal self-attention with grouped-query heads. `q` is (b, n_head, t, d), `k` and `v`
/// are (b, n_head_kv, t, d); query head `h` reads kv head `h / (n_head / n_head_kv)`,
/// as llama.cpp's broadcasting `ggml_mul_mat` does. The query heads of a group are
/// stacked along the sequence axis so the kv heads are never copied. `mask` is
/// (seq, seq) for every sequence alike, or (b, 1, 1, seq, seq) per sequence.
pub fn causal_attention(q: &Tensor, k: &Tensor, v: &Tensor, scale: f32, mask: &Tensor) -> Result<Tensor> {
    let (b, n_head, t, d) = q.dims4()?;
    let n_kv = k.dim(1)?;
    let group = n_head / n_kv;
    let q = q.reshape((b, n_kv, group * t, d))?;
    let scores = q.matmul(&k.t()?.contiguous()?)?.reshape((b, n_kv, group, t, t))?;
    let probs = masked_softmax(&scores, mask, scale)?.reshape((b, n_kv, group * t, t))?;
    probs.matmul(&v.contiguous()?)?.reshape((b, n_head, t, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_rope_rotates_adjacent_pairs() -> Result<()> {
        let dev = Device::Cpu;
        let rope = Rope::new(3, 4, 10000.0, 1.0, None, false, &dev)?;
        let x = Tensor::new(&[1f32, 2., 3., 4.], &dev)?.reshape((1, 1, 1, 4))?.repeat((1, 1, 3, 1))?;
        let y = rope.apply(&x)?.squeeze(0)?.to_vec3::<f32>()?;
        // Position 2, pair 0 (x0=1, x1=2), theta = 2.
        let (c, s) = (2f32.cos(), 2f32.sin());
        let got = &y[0][2];
        assert!((got[0] - (1. * c - 2. * s)).abs() < 1e-5 && (got[1] - (1. * s + 2. * c)).abs() < 1e-5, "{got:?}");
        // Pair 1 (x0=3, x1=4), theta = 2 * 10000^(-1/2).
        let th = 2.0f32 * 0.01;
        assert!((got[2] - (3. * th.cos() - 4. * th.sin())).abs() < 1e-5, "{got:?}");
        // Position 0 is unchanged.
        assert_eq!(y[0][0], vec![1., 2., 3., 4.]);
        Ok(())
    }

    #[test]
    fn softmax_has_a_gradient() -> Result<()> {
        let dev = Device::Cpu;
        let x = candle_core::Var::new(&[[1f32, 2., 3.]], &dev)?;
        let s = softmax_last_dim(x.as_tensor())?;
        let loss = s.narrow(1, 0, 1)?.sum_all()?;
        let g = loss.backward()?.get(x.as_tensor()).unwrap().to_vec2::<f32>()?;
        let p = s.to_vec2::<f32>()?[0].clone();
        // d p0 / d x_j = p0 (δ0j - pj)
        for j in 0..3 {
            let expected = p[0] * (if j == 0 { 1. } else { 0. } - p[j]);
            assert!((g[0][j] - expected).abs() < 1e-6);
        }
        Ok(())
    }
}
