//! The files mutants start from: each generated fixture's model and mmproj, a LoRA
//! adapter for its model, and the pairs file every child judges.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{ImageFormat, Rgb, RgbImage};

use super::document::Document;
use super::Role;
use crate::fixture::{write_fixture, FixtureKind};
use vlmjudge::export::{write_lora_adapter, LoraPair};
use vlmjudge::gguf::GgufFile;
use vlmjudge::{Error, Result};

/// One fixture's three pristine files.
#[derive(Debug, Clone)]
pub struct BaseSet {
    pub kind: FixtureKind,
    pub model: PathBuf,
    pub mmproj: PathBuf,
    pub lora: PathBuf,
}

/// One pristine file, parsed, that mutants are made from.
#[derive(Debug, Clone)]
pub struct BaseFile {
    /// Index into the [`BaseSet`]s.
    pub set: usize,
    pub role: Role,
    pub doc: Document,
    /// e.g. `gemma3/mmproj`.
    pub label: String,
}

/// Writes every fixture of `kinds` (seed 0) with an adapter under `dir`, and parses
/// each file. `demo_model` supplies the tokenizer (see [`crate::fixture`]).
pub fn prepare(dir: &Path, kinds: &[FixtureKind], demo_model: &Path) -> Result<(Vec<BaseSet>, Vec<BaseFile>)> {
    let mut sets = Vec::new();
    let mut files = Vec::new();
    for &kind in kinds {
        let out = dir.join(kind.name());
        let fixture = write_fixture(kind, &out, 0, demo_model)?;
        let lora = out.join("adapter.gguf");
        write_adapter(&fixture.model, &lora)?;
        let set = BaseSet { kind, model: fixture.model, mmproj: fixture.mmproj, lora };
        for role in Role::ALL {
            let doc = Document::open(set.path(role))?;
            files.push(BaseFile { set: sets.len(), role, doc, label: format!("{}/{role}", kind.name()) });
        }
        sets.push(set);
    }
    Ok((sets, files))
}

impl BaseSet {
    pub fn path(&self, role: Role) -> &Path {
        match role {
            Role::Model => &self.model,
            Role::Mmproj => &self.mmproj,
            Role::Lora => &self.lora,
        }
    }
}

/// A rank-4 adapter on the q and v projections of the model's first two layers, with
/// small nonzero weights (so applying it changes the logits).
fn write_adapter(model: &Path, path: &Path) -> Result<()> {
    let base = GgufFile::open(model)?;
    let rank = 4usize;
    let pairs: Vec<LoraPair> = (0..2)
        .flat_map(|layer| ["attn_q", "attn_v"].map(move |t| format!("blk.{layer}.{t}.weight")))
        .filter_map(|name| base.tensor(&name).filter(|t| t.dims.len() == 2).cloned())
        .map(|info| {
            let (n_in, n_out) = (info.dims[0] as usize, info.dims[1] as usize);
            LoraPair {
                base_name: info.name,
                n_in,
                n_out,
                rank,
                a: (0..rank * n_in).map(|i| ((i % 7) as f32 - 3.0) * 0.05).collect(),
                b: (0..n_out * rank).map(|i| ((i % 5) as f32 - 2.0) * 0.02).collect(),
            }
        })
        .collect();
    write_lora_adapter(path, &base, 8.0, &pairs)
}

/// Writes a pairs file with one text pair and one image pair (a blue square on white,
/// drawn here) into `dir`; returns its path and the number of pairs.
pub fn write_pairs(dir: &Path) -> Result<(PathBuf, usize)> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let image = RgbImage::from_fn(64, 64, |x, y| {
        let inside = (16..48).contains(&x) && (16..48).contains(&y);
        Rgb(if inside { [30, 60, 220] } else { [255, 255, 255] })
    });
    let mut png = Vec::new();
    image.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).expect("PNG encoding into memory cannot fail");
    let image_path = dir.join("blue-square.png");
    std::fs::write(&image_path, png).map_err(|e| Error::io(&image_path, e))?;
    let pairs = [
        serde_json::json!({"id": "text", "image": null, "question": "How many legs does a cat have?",
            "response_a": "A cat has four legs.", "response_b": "A cat has seven legs."}),
        serde_json::json!({"id": "image", "image": "blue-square.png", "question": "What shape is in the middle?",
            "response_a": "A blue square.", "response_b": "A red triangle."}),
    ];
    let text: String = pairs.iter().map(|p| format!("{p}\n")).collect();
    let path = dir.join("pairs.jsonl");
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    Ok((path, pairs.len()))
}
