//! Progress reporting for long library calls. The library reports through this trait;
//! front ends decide how to show it (the CLI draws an `indicatif` bar on stderr).

/// Receives progress of a long operation. All methods default to doing nothing.
pub trait Progress: Sync {
    /// Work of `total` units starts; `done` of them were already finished earlier
    /// (for example by a previous, interrupted run).
    fn start(&self, _what: &str, _total: u64, _done: u64) {}
    /// `n` more units finished.
    fn advance(&self, _n: u64) {}
    /// A short status line (e.g. current throughput).
    fn message(&self, _text: &str) {}
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
