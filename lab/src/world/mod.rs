//! A procedural world where a vision-language judge can be built and proven on a CPU:
//! small images of coloured shapes, drawn from a seed, with everything about them
//! known. `vlmjudge-lab world` writes a base model's pretraining set, a prompt pool for the
//! self-improvement loop and a labelled held-out benchmark, with the ground truth kept
//! apart (see [`dataset`]).
//!
//! - [`scene`]: what an image contains (1 to 4 shapes of 3 kinds, 4 colours, 2 sizes,
//!   on a 2x2 grid) and how scenes are sampled.
//! - [`draw`]: scenes as 32x32 PNG images.
//! - [`text`]: descriptions, closed questions and answers, error-injected descriptions,
//!   and a parser that grades a description against the truth.
//! - [`judging`]: pretraining examples that teach the judge's prompt in text.
//! - [`dataset`]: the files of a world directory.
//! - [`probe`]: how well a model answers the world's questions.
//! - [`grade`]: how right the loop's labels are, against the truth.

pub mod dataset;
pub mod draw;
pub mod grade;
pub mod judging;
pub mod probe;
pub mod scene;
pub mod text;

pub use dataset::{write_world, WorldConfig, WorldSummary, BLANK_IMAGE};
pub use judging::world_template;
pub use scene::{Cell, Colour, Kind, Object, Scene, Size, IMAGE_SIZE};
pub use text::{Category, Claims, ClosedQuestion};
