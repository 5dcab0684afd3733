//! The learning-rate schedule: linear warmup, then cosine decay.

/// `lr(step)` for optimizer step `step` (0-based) of `total`: during the first
/// `warmup` steps it rises linearly to `peak` (reaching `peak` at step `warmup - 1`),
/// then follows half a cosine from `peak` towards 0; the last step still gets a
/// positive rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub peak: f64,
    pub warmup: u64,
    pub total: u64,
}

impl Schedule {
    /// `warmup` is a fraction of `total` (e.g. 0.03), rounded up.
    pub fn new(peak: f64, warmup_fraction: f64, total: u64) -> Schedule {
        let warmup = ((warmup_fraction * total as f64).ceil() as u64).min(total);
        Schedule { peak, warmup, total }
    }

    pub fn lr(&self, step: u64) -> f64 {
        if step < self.warmup {
            return self.peak * (step + 1) as f64 / self.warmup as f64;
        }
        let decay_steps = self.total.saturating_sub(self.warmup).max(1);
        let progress = ((step - self.warmup) as f64 / decay_steps as f64).min(1.0);
        self.peak * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::Schedule;

    #[test]
    fn warmup_then_cosine() {
        let s = Schedule::new(1.0, 0.1, 100);
        assert_eq!(s.warmup, 10);
        assert!((s.lr(0) - 0.1).abs() < 1e-12);
        assert!((s.lr(9) - 1.0).abs() < 1e-12);
        assert!((s.lr(10) - 1.0).abs() < 1e-12);
        assert!((s.lr(55) - 0.5).abs() < 1e-12);
        assert!(s.lr(99) > 0.0 && s.lr(99) < 0.001);
        let no_warmup = Schedule::new(2.0, 0.0, 4);
        assert_eq!(no_warmup.lr(0), 2.0);
    }
}
