//! What one run of an experiment takes from another: the number of examples to match
//! (`--match-examples-of`, the paper's ablation) and the synthesized pairs
//! (`--pairs-of`), so that arms which differ only in their filter train on the same
//! pairs and synthesize them once.

use std::path::Path;

use super::manifest::{round_dir, Manifest, SynthCounts};
use super::synth_stage::skipped_path;
use super::Stage;
use crate::data::{read_jsonl, rebase_path, write_jsonl};
use crate::{Error, Result};

/// The examples round `k` of `run` trained on.
pub(super) fn examples_kept_by(run: &Path, k: u32) -> Result<usize> {
    Manifest::read(&round_dir(run, k))?.and_then(|m| m.filter).map(|f| f.examples).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{} has no finished filter stage to match; run that experiment first",
            round_dir(run, k).display()
        ))
    })
}

/// Copies round `k`'s pairs (and skipped prompts) of `run` into `dir`, after checking
/// that this round would have synthesized the same ones: the same base, prompts,
/// mmproj, synth settings, generator and seed (the run's validation has checked that
/// the generator is the base: the current judge differs between runs). `ours` is this
/// round's manifest with its inputs and settings filled.
pub(super) fn copy_pairs_of(run: &Path, k: u32, ours: &Manifest, dir: &Path) -> Result<SynthCounts> {
    let source = round_dir(run, k);
    let theirs = Manifest::read(&source)?.filter(|m| m.is_done(Stage::Synth)).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{} has no finished synth stage to share; run that experiment first",
            source.display()
        ))
    })?;
    for input in ["base", "prompts", "mmproj"] {
        let sha = |m: &Manifest| m.inputs.get(input).map(|f| f.sha256.clone());
        if sha(ours) != sha(&theirs) {
            return Err(mismatch(&source, &format!("its {input} file")));
        }
    }
    for setting in ["synth", "generator", "seed", "prompts_per_round"] {
        if ours.settings[setting] != theirs.settings[setting] {
            return Err(mismatch(&source, &format!("its {setting} settings")));
        }
    }
    let counts = theirs.synth.clone().ok_or_else(|| mismatch(&source, "no synth counts in its manifest"))?;
    rebase_images(&source.join("pairs.jsonl"), &dir.join("pairs.jsonl"))?;
    let skipped = skipped_path(&source.join("pairs.jsonl"));
    if skipped.is_file() {
        rebase_images(&skipped, &skipped_path(&dir.join("pairs.jsonl")))?;
    }
    Ok(counts)
}

fn mismatch(source: &Path, what: &str) -> Error {
    Error::InvalidArgument(format!(
        "--pairs-of: {} differs in {what}, so its pairs are not the ones this run would synthesize",
        source.display()
    ))
}

/// Writes `from`'s records to `to` (atomically), image paths made relative to `to`'s
/// folder where they lie inside it and absolute otherwise, as synth writes them.
fn rebase_images(from: &Path, to: &Path) -> Result<()> {
    let (from_dir, to_dir) = (from.parent().unwrap_or(Path::new(".")), to.parent().unwrap_or(Path::new(".")));
    let mut records: Vec<serde_json::Value> = read_jsonl(from)?.into_iter().map(|(_, r)| r).collect();
    for record in &mut records {
        if let Some(image) = record.get_mut("image") {
            if let Some(path) = image.as_str().and_then(|p| rebase_path(p, from_dir, to_dir)) {
                *image = path.into();
            }
        }
    }
    write_jsonl(to, &records)
}
