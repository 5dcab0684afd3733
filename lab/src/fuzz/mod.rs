//! A seeded, structure-aware fuzzer for the files a judge loads (model, mmproj, LoRA
//! adapter): developer code, like [`crate::fixture`], behind `vlmjudge-lab fuzz`.
//!
//! Each mutant is one generated fixture file with one thing changed (a metadata value,
//! an array length, a vocabulary entry, a tensor's shape, type or offset, a few header
//! bytes; see [`mutate`]). A child process (`vlmjudge judge`, or any build of it, e.g.
//! one with sanitizers) loads it with the other pristine files and judges one text
//! pair and one image pair; the run is classified as success, a clean error, or a bug:
//! an abort (a signal), a hang (the timeout), a sanitizer report, a panic ([`Class`]).
//! A corrupt file must never take the process down: an app embedding the library
//! cannot survive an abort inside llama.cpp, so every such finding needs a check before
//! llama.cpp sees the file.
//!
//! The same seed gives the same mutants, each from its own stream of the seed, so
//! mutant `i` can be replayed alone (`--start i --count 1`).

mod bases;
mod campaign;
mod document;
mod harness;
mod mutate;
mod outcome;
mod totals;

use std::fmt;

pub use bases::{prepare, write_pairs, BaseFile, BaseSet};
pub use campaign::{make_mutant, run_campaign, FuzzConfig, DEFAULT_KINDS};
pub use document::{Document, Layout, Tensor};
pub use harness::{run_child, ChildFiles, ChildRun, ChildSpec};
pub use mutate::{mutate, FuzzRng, Mutant};
pub use outcome::{classify, Class, Exit, Outcome};
pub use totals::{Finding, MutantResult, Totals};

/// Which of a judge's files a base is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Model,
    Mmproj,
    Lora,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Model, Role::Mmproj, Role::Lora];

    pub fn name(self) -> &'static str {
        match self {
            Role::Model => "model",
            Role::Mmproj => "mmproj",
            Role::Lora => "lora",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
