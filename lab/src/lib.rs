//! vlmjudge's lab: the code that tests and experiments need and the product does not.
//!
//! - [`fixture`]: seeded random models in each supported family's GGUF layout (and the
//!   procedural world's base model), written from the demo model's tokenizer;
//! - [`fuzz`]: the loader fuzzer, which judges mutants of those files in child
//!   processes of the `vlmjudge` binary and counts how each ended;
//! - [`world`]: the procedural image world of the loop experiment
//!   (`docs/world-experiment.md`).
//!
//! Its binary, `vlmjudge-lab`, runs each of them; `vlmjudge`'s own tests use this crate
//! as a dev-dependency.

pub mod fixture;
pub mod fuzz;
pub mod world;
