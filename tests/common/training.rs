//! Helpers of the trainer's tests (tests/train*.rs include this file by path: it needs
//! the `train` feature, which the lab's tests, sharing `common`, do not have).

use std::path::Path;

use vlmjudge::engine::Model;
use vlmjudge::train::{Encoded, EncodedExample, Encoder};

/// Every example of the SFT file `data`, encoded by `engine` (each must fit 512 tokens).
pub fn encode_examples(engine: &Model, data: &Path) -> Vec<EncodedExample> {
    let encoder = Encoder::new(engine).unwrap();
    vlmjudge::train::read_sft_examples(data)
        .unwrap()
        .iter()
        .map(|(line, ex)| match encoder.encode(ex, data, *line, 512).unwrap() {
            Encoded::Ok(e) => e,
            Encoded::TooLong { .. } => panic!("fits"),
        })
        .collect()
}

/// The gradient in `grads` of the trainable `var`, at its largest coordinate (whose
/// difference quotient is far above f32 noise), agrees with a central difference of
/// `loss` within 1%; `var` is left as it was.
pub fn assert_gradient_matches_finite_difference(
    name: &str,
    var: &candle_core::Var,
    grads: &candle_core::backprop::GradStore,
    loss: impl Fn() -> f64,
) {
    use candle_core::Tensor;
    let g = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let i = (0..g.len()).fold(0, |b, i| if g[i].abs() > g[b].abs() { i } else { b });
    let original = var.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let eps = 1e-2f32;
    let at = |delta: f32| {
        let mut v = original.clone();
        v[i] += delta;
        var.set(&Tensor::from_vec(v, var.shape(), var.device()).unwrap()).unwrap();
        loss()
    };
    let numeric = (at(eps) - at(-eps)) / (2.0 * f64::from(eps));
    var.set(&Tensor::from_vec(original, var.shape(), var.device()).unwrap()).unwrap();
    let analytic = f64::from(g[i]);
    let err = (numeric - analytic).abs() / analytic.abs().max(1e-3);
    eprintln!("{name}[{i}]: analytic {analytic:.6} numeric {numeric:.6}");
    assert!(err < 0.01, "{name}[{i}]: backprop {analytic} vs finite difference {numeric}");
}
