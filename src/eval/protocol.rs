//! How a benchmark is judged: the benchmark's own protocol, or ours.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::judge::JudgeParams;
use crate::{Error, Result};

/// The judging protocol of `vlmjudge eval`.
///
/// Both protocols present the same order per item (VL-RewardBench: one seeded random
/// order; Multimodal RewardBench and pairs: the file's order) and both print the
/// official-style metrics next to ours; they differ in whether the second order is
/// judged too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Swap-debiased: both orders judged and combined (unless `--no-swap`); no
    /// verdict, a tie or a failed pair earns half credit. The default, because it
    /// measures the judge rather than its position bias.
    #[default]
    Vlmjudge,
    /// As the benchmark's official inference script: one order per item, no swap, so
    /// the numbers can be placed next to the published ones.
    Official,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Vlmjudge => "vlmjudge",
            Protocol::Official => "official",
        }
    }

    /// The judge parameters this protocol runs with: `official` judges one order only.
    pub fn judge_params(self, params: JudgeParams) -> JudgeParams {
        match self {
            Protocol::Vlmjudge => params,
            Protocol::Official => JudgeParams { swap: false, ..params },
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Protocol {
    type Err = Error;

    fn from_str(s: &str) -> Result<Protocol> {
        match s {
            "vlmjudge" => Ok(Protocol::Vlmjudge),
            "official" => Ok(Protocol::Official),
            other => Err(Error::InvalidArgument(format!("unknown protocol {other:?}: expected official or vlmjudge"))),
        }
    }
}
