//! One optimizer step's forward and backward passes over its micro-batches.
//!
//! A small model's step is mostly single-threaded work: candle runs only matmuls on more
//! than one thread, and at a width of a few hundred a matmul split across threads costs
//! more in hand-offs than it gains. So on CPU the micro-batches of a step can run side
//! by side, each on its own thread, with candle's matmuls kept to the cores left over
//! (`RAYON_NUM_THREADS`, which candle reads; the CLI sets it). Gradients are summed in
//! micro-batch order whatever thread computed them, and candle's matmul gives the same
//! bits on any number of threads, so the checkpoints are byte-identical to a serial
//! run's. Each micro-batch in flight holds its own activations and gradients.

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use super::batch::Batch;
use super::model::TrainModel;
use super::tokenize::EncodedExample;
use crate::seed::mix_seed;

/// What one step's micro-batches gave.
pub struct StepGrads {
    /// One gradient per trainable variable (zeros where the loss does not reach it).
    pub grads: Vec<Tensor>,
    /// The summed cross-entropy over the step's target tokens.
    pub loss_sum: f64,
    /// Input positions (not padding) the step read.
    pub tokens: usize,
}

/// Runs steps' micro-batches, up to `in_flight` at a time.
pub struct StepRunner<'a> {
    model: &'a TrainModel,
    vars: Vec<Var>,
    in_flight: usize,
    /// `Some(seed)` when layers draw dropout masks.
    dropout_seed: Option<u64>,
}

/// One micro-batch's part of a step.
struct MicroResult {
    loss_sum: f32,
    grads: GradStore,
    tokens: usize,
}

impl<'a> StepRunner<'a> {
    /// `in_flight`: micro-batches computed at once (at least 1), see
    /// [`super::TrainConfig::parallel_micro_batches`].
    pub fn new(model: &'a TrainModel, vars: Vec<Var>, in_flight: usize, dropout_seed: Option<u64>) -> Self {
        StepRunner { model, vars, in_flight: in_flight.max(1), dropout_seed }
    }

    /// Forward and backward passes of `examples` in micro-batches of `batch`: the
    /// gradient of the summed loss divided by `n_target`, the step's target tokens.
    pub fn run(
        &self,
        step: u64,
        examples: &[&EncodedExample],
        batch: usize,
        n_target: usize,
    ) -> candle_core::Result<StepGrads> {
        let micros: Vec<(usize, &[&EncodedExample])> = examples.chunks(batch.max(1)).enumerate().collect();
        let mut acc: Vec<Option<Tensor>> = vec![None; self.vars.len()];
        let (mut loss_sum, mut tokens) = (0f64, 0usize);
        for wave in micros.chunks(self.in_flight) {
            let results: Vec<candle_core::Result<MicroResult>> = if self.in_flight == 1 {
                wave.iter().map(|&(mi, micro)| self.micro(step, mi, micro, n_target)).collect()
            } else {
                std::thread::scope(|scope| {
                    let handles: Vec<_> = wave
                        .iter()
                        .map(|&(mi, micro)| scope.spawn(move || self.micro(step, mi, micro, n_target)))
                        .collect();
                    handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
                })
            };
            // In micro-batch order: float addition is not associative.
            for result in results {
                let r = result?;
                loss_sum += f64::from(r.loss_sum);
                tokens += r.tokens;
                for (slot, var) in acc.iter_mut().zip(&self.vars) {
                    if let Some(g) = r.grads.get(var.as_tensor()) {
                        *slot = Some(match slot.take() {
                            Some(a) => (a + g)?,
                            None => g.clone(),
                        });
                    }
                }
            }
        }
        let grads = acc
            .into_iter()
            .zip(&self.vars)
            .map(|(g, v)| g.map_or_else(|| v.zeros_like(), Ok))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(StepGrads { grads, loss_sum, tokens })
    }

    fn micro(
        &self,
        step: u64,
        mi: usize,
        micro: &[&EncodedExample],
        n_target: usize,
    ) -> candle_core::Result<MicroResult> {
        let batch = Batch::from_examples(micro);
        let seed = self.dropout_seed.map(|s| mix_seed(&[s, step, mi as u64]));
        let (sum, _) = self.model.loss_sum(&batch, seed)?;
        let loss_sum = sum.to_scalar::<f32>()?;
        let grads = (sum / n_target as f64)?.backward()?;
        Ok(MicroResult { loss_sum, grads, tokens: batch.n_tokens })
    }
}
