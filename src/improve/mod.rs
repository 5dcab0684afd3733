//! `vlmjudge improve`: rounds of synth -> filter -> train -> export -> quantize -> eval,
//! each resumable from what it already wrote. The stages are also commands of their
//! own (`vlmjudge synth`, `vlmjudge filter`), with `--shard K/N` for job arrays.

#[cfg(feature = "train")]
mod filter;
mod manifest;
#[cfg(feature = "train")]
mod other_run;
#[cfg(feature = "train")]
mod run;
mod stage;
#[cfg(feature = "train")]
mod synth_stage;

#[cfg(feature = "train")]
pub use filter::{
    filter_file, verdicts_path, write_synthetic_traces, FilterParams, KeepPolicy, TraceExample, TraceSource,
};
pub use manifest::{round_dir, FileRef, FilterCounts, LossPoint, Manifest, SynthCounts, TrainRecord, MANIFEST};
#[cfg(feature = "train")]
pub use run::{improve, Bench, GeneratorChoice, ImproveConfig, RoundLog};
pub use stage::Stage;
#[cfg(feature = "train")]
pub use synth_stage::{kind_of, skipped_path, synth_file, Inject, SkippedPrompt, SynthPair, SynthParams, Unanimous};
