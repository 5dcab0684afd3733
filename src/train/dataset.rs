//! The examples a run trains and evaluates on: tokenized by the engine, split into
//! train and eval by the seed, and shuffled per epoch. Every draw here depends on the
//! seed (and the epoch) alone, so a resumed run splits and orders exactly as the run it
//! continues.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::data::SftExample;
use super::settings::TrainConfig;
use super::tokenize::{Encoded, EncodedExample, Encoder};
use super::{TrainError, TrainResult};
use crate::engine::Model;
use crate::progress::Progress;
use crate::seed::mix_seed;

/// The tokenized examples, split into train and eval, and what tokenizing them did.
pub(super) struct Dataset {
    examples: Vec<EncodedExample>,
    train_idx: Vec<usize>,
    eval_idx: Vec<usize>,
    /// Examples in the data file.
    pub(super) read: usize,
    /// Examples dropped because their target alone exceeds `max_len`, and examples kept
    /// with their prompt cut from the left.
    pub(super) dropped: usize,
    pub(super) truncated: usize,
    /// Images run through the vision encoder, and read from the image cache instead.
    pub(super) images_encoded: u64,
    pub(super) images_cached: u64,
}

impl Dataset {
    /// Tokenizes `records` with the engine (images through the mmproj, kept in the image
    /// cache) and holds out the eval split.
    pub(super) fn encode(
        config: &TrainConfig,
        engine: &Model,
        records: &[(usize, SftExample)],
        progress: &dyn Progress,
    ) -> TrainResult<Dataset> {
        let cache_dir = config.image_cache.clone().unwrap_or_else(|| config.out.join("image-cache"));
        let encoder = Encoder::new(engine)?.with_image_cache(&cache_dir)?;
        progress.start("tokenize", records.len() as u64, 0);
        let (mut examples, mut dropped, mut truncated) = (Vec::new(), 0, 0);
        for (line, ex) in records {
            match encoder.encode(ex, &config.data, *line, config.max_len)? {
                Encoded::Ok(e) => {
                    truncated += usize::from(e.truncated > 0);
                    examples.push(e);
                }
                Encoded::TooLong { .. } => dropped += 1,
            }
            progress.advance(1);
        }
        progress.finish();
        let (images_encoded, images_cached) = encoder.image_counts();
        if examples.is_empty() {
            return Err(TrainError::NoExamples(format!(
                "{} has {} examples, {dropped} of them with targets longer than --max-len {}",
                config.data.display(),
                records.len(),
                config.max_len
            )));
        }
        let (train_idx, eval_idx) = split_eval(examples.len(), config.eval_split, config.seed);
        Ok(Dataset {
            examples,
            train_idx,
            eval_idx,
            read: records.len(),
            dropped,
            truncated,
            images_encoded,
            images_cached,
        })
    }

    /// The training examples, in data-file order.
    pub(super) fn train_set(&self) -> Vec<&EncodedExample> {
        self.train_idx.iter().map(|&i| &self.examples[i]).collect()
    }

    /// The held-out examples, in data-file order.
    pub(super) fn eval_set(&self) -> Vec<&EncodedExample> {
        self.eval_idx.iter().map(|&i| &self.examples[i]).collect()
    }
}

/// Splits `0..n` into (train, eval) indices: `round(n * fraction)` examples (at most
/// `n - 1`) chosen by `seed` are held out. Both lists are sorted.
pub fn split_eval(n: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let n_eval = ((n as f64 * fraction).round() as usize).min(n.saturating_sub(1));
    let perm = shuffled(n, mix_seed(&[seed, 0xE7A1]));
    let mut eval: Vec<usize> = perm[..n_eval].to_vec();
    let mut train: Vec<usize> = perm[n_eval..].to_vec();
    eval.sort_unstable();
    train.sort_unstable();
    (train, eval)
}

/// The order of the training examples in `epoch`: a permutation drawn from
/// `(seed, epoch)` alone, so a resumed run sees the same order.
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    shuffled(n, mix_seed(&[seed, 0x0DE2, epoch]))
}

fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
    v
}
