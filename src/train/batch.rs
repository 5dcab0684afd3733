//! Padded micro-batches and their loss mask.
//!
//! Sequences are right-padded to the longest in the batch (causal attention never lets
//! a real position see the padding). Position `p` of a sequence predicts the token at
//! `p + 1`; the loss covers exactly the positions whose next token belongs to the
//! target (the assistant answer and its end-of-turn tokens), never the prompt, the
//! image rows or the padding.

use super::tokenize::{EncodedExample, ImageSpan};

/// The padding id: any valid token (its positions are masked and never attended to).
pub const PAD: u32 = 0;

/// A micro-batch of `n_seq` sequences of `seq_len` positions, flattened row-major.
#[derive(Debug, Clone)]
pub struct Batch {
    pub n_seq: usize,
    pub seq_len: usize,
    /// Input ids, `n_seq * seq_len` (PAD in padding and image positions).
    pub ids: Vec<u32>,
    /// Image rows to splice in, with `start` as a flat position.
    pub images: Vec<ImageSpan>,
    /// For each flat position, the token that follows it in its sequence (PAD at the
    /// last position and in padding): the naive language-model label.
    pub next_tokens: Vec<u32>,
    /// True where the loss is taken: the next token is a target token.
    pub loss_mask: Vec<bool>,
    /// Real (non-padding) positions.
    pub n_tokens: usize,
}

impl Batch {
    pub fn from_examples(examples: &[&EncodedExample]) -> Batch {
        let n_seq = examples.len();
        let seq_len = examples.iter().map(|e| e.len()).max().unwrap_or(0);
        let n = n_seq * seq_len;
        let mut ids = vec![PAD; n];
        let mut next_tokens = vec![PAD; n];
        let mut loss_mask = vec![false; n];
        let mut images = Vec::new();
        let mut n_tokens = 0;
        for (s, ex) in examples.iter().enumerate() {
            let base = s * seq_len;
            ids[base..base + ex.len()].copy_from_slice(&ex.tokens);
            for p in 0..ex.len().saturating_sub(1) {
                next_tokens[base + p] = ex.tokens[p + 1];
                loss_mask[base + p] = p + 1 >= ex.n_prompt;
            }
            for span in &ex.images {
                images.push(ImageSpan { start: base + span.start, ..span.clone() });
            }
            n_tokens += ex.len();
        }
        Batch { n_seq, seq_len, ids, images, next_tokens, loss_mask, n_tokens }
    }

    /// Flat positions where the loss is taken, and their labels.
    pub fn loss_positions(&self) -> (Vec<u32>, Vec<u32>) {
        self.loss_mask.iter().enumerate().filter(|(_, &m)| m).map(|(i, _)| (i as u32, self.next_tokens[i])).unzip()
    }

    /// Positions the loss covers (the number of target tokens).
    pub fn n_target(&self) -> usize {
        self.loss_mask.iter().filter(|&&m| m).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loss_covers_exactly_the_target_tokens() {
        let a =
            EncodedExample { id: "a".into(), tokens: vec![1, 2, 3, 7, 8], images: vec![], n_prompt: 3, truncated: 0 };
        let b = EncodedExample { id: "b".into(), tokens: vec![1, 4, 9], images: vec![], n_prompt: 2, truncated: 0 };
        let batch = Batch::from_examples(&[&a, &b]);
        assert_eq!(batch.seq_len, 5);
        assert_eq!(batch.ids, vec![1, 2, 3, 7, 8, 1, 4, 9, PAD, PAD]);
        // Sequence a: position 2 predicts 7, 3 predicts 8. Sequence b: position 1 predicts 9.
        assert_eq!(batch.loss_positions(), (vec![2, 3, 6], vec![7, 8, 9]));
        assert_eq!(batch.n_tokens, 8);
    }
}
