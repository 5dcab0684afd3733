//! The stages of a round, in the order they run.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One stage of a self-improvement round. Manifests name them in lowercase
/// (`"synth"`, ...), as the stage lines the CLI prints do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Synthetic preference pairs from the prompt pool.
    Synth,
    /// The judge's traces that agree with the synthetic labels, as SFT examples.
    Filter,
    /// Fine-tuning on those examples.
    Train,
    /// Quantizing the new checkpoint (when asked for).
    Quantize,
    /// The new judge on the benchmark (when one is given).
    Eval,
}

impl Stage {
    /// Every stage, in the order a round runs them.
    pub const ALL: [Stage; 5] = [Stage::Synth, Stage::Filter, Stage::Train, Stage::Quantize, Stage::Eval];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Synth => "synth",
            Stage::Filter => "filter",
            Stage::Train => "train",
            Stage::Quantize => "quantize",
            Stage::Eval => "eval",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_and_messages_use_the_same_lowercase_names() {
        for stage in Stage::ALL {
            assert_eq!(serde_json::to_string(&stage).unwrap(), format!("\"{stage}\""));
        }
        let done: Vec<Stage> = serde_json::from_str(r#"["synth", "filter"]"#).unwrap();
        assert_eq!(done, [Stage::Synth, Stage::Filter]);
    }
}
