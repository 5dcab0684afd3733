//! `vlmjudge improve`: rounds of synth -> filter -> train -> export -> quantize -> eval,
//! each resumable from what it already wrote.

mod manifest;

pub use manifest::{round_dir, FileRef, FilterCounts, LossPoint, Manifest, SynthCounts, TrainRecord, MANIFEST};
