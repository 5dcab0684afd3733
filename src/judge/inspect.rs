//! What a user runs first on a model they brought (`vlmjudge inspect`): what it is,
//! how the judge will prompt it, what a typical photo costs, and whether a text pair
//! and an image pair can be judged, with the reason when one cannot.

use super::{ImageSource, Judge, JudgeParams, Pair};
use crate::engine::chat::ChatFormat;
use crate::engine::Model;
use crate::gguf::GgufFile;

/// The photo size the cost figures are given for.
pub const PHOTO_SIZE: (u32, u32) = (1024, 768);

/// A model's facts and what judging on it would do.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub architecture: String,
    /// The VLM family the architecture and projector belong to, when vlmjudge knows it.
    pub family: Option<&'static str>,
    pub n_ctx_train: u32,
    pub n_params: u64,
    /// The mmproj's `clip.projector_type`.
    pub projector: Option<String>,
    /// Where the judge's chat format comes from.
    pub chat_format: Result<String, String>,
    /// The judge prompt of a sample text pair (AB order) as the model reads it.
    pub sample_prompt: Result<String, String>,
    /// What a [`PHOTO_SIZE`] photo costs at the loaded image budget.
    pub photo: Option<Result<PhotoCost, String>>,
    /// Judging a sample text pair: `Err` is why it cannot be judged.
    pub text_pair: Result<(), String>,
    /// Judging the sample pair with the photo (when an mmproj is loaded).
    pub image_pair: Option<Result<(), String>>,
}

/// The cost of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoCost {
    /// Embeddings (image tokens) over all chunks.
    pub image_tokens: usize,
    /// KV cells the image fills: embeddings plus framing text.
    pub kv_cells: usize,
    /// Positions it advances (fewer than cells with M-RoPE).
    pub positions: i32,
    /// Image chunks (tiles or slices, 1 for a single image).
    pub chunks: usize,
}

/// Inspects a loaded model with the judge settings `params`.
pub fn inspect(model: &Model, params: &JudgeParams) -> Inspection {
    let info = model.info();
    let architecture = info.architecture.clone().unwrap_or_else(|| "unknown".into());
    let mmproj = info.mmproj_path.as_deref().and_then(|p| GgufFile::open(p).ok());
    let projector = mmproj.as_ref().and_then(projector_type);
    let anyres = mmproj.as_ref().is_some_and(|f| f.get("clip.vision.image_grid_pinpoints").is_some());
    let family = family(&architecture, projector.as_deref(), anyres);
    let sample = Pair::text(
        "sample",
        "What is shown in the picture?",
        "A red bicycle leaning against a brick wall.",
        "A blue car parked on a street.",
    );
    let photo_bytes = photo_png();
    let photo = model.has_vision().then(|| {
        model.encode_image(&ImageSource::Bytes(photo_bytes.clone().into())).map(|image| PhotoCost {
            image_tokens: image.image_tokens(),
            kv_cells: image.n_tokens,
            positions: image.n_pos,
            chunks: image.chunks(),
        })
    });
    let mut judge = Judge::new(model, params.clone()).map_err(|e| e.to_string());
    let chat_format = ChatFormat::for_model(model, params.template.chat_template.as_deref())
        .and_then(|format| format.render(model, &params.template.system, "Question?").map(|r| format.describe(&r)))
        .map_err(|e| e.to_string());
    let sample_prompt = judge.as_ref().map_err(Clone::clone).and_then(|j| {
        j.prompt_tokens(&sample).map(|tokens| tokens.iter().map(|&t| model.token_text(t)).collect::<String>())
    });
    let mut try_pair = |pair: &Pair| -> Result<(), String> {
        let judge = judge.as_mut().map_err(|e| e.clone())?;
        let verdict = judge.judge_pair(pair).map_err(|e| e.to_string())?;
        verdict.error.map_or(Ok(()), Err)
    };
    let text_pair = try_pair(&sample);
    let image_pair = model
        .has_vision()
        .then(|| try_pair(&Pair { image: Some(ImageSource::Bytes(photo_bytes.into())), ..sample.clone() }));
    Inspection {
        architecture,
        family,
        n_ctx_train: info.n_ctx_train,
        n_params: info.n_params,
        projector,
        chat_format,
        sample_prompt,
        photo,
        text_pair,
        image_pair,
    }
}

/// The mmproj's projector type, if its header says.
fn projector_type(mmproj: &GgufFile) -> Option<String> {
    ["clip.projector_type", "clip.vision.projector_type"].iter().find_map(|k| mmproj.get_str(k).map(str::to_string))
}

/// The family a text architecture and projector make up (`anyres`: the mmproj has
/// LLaVA-1.6's grid pinpoints).
fn family(architecture: &str, projector: Option<&str>, anyres: bool) -> Option<&'static str> {
    Some(match (architecture, projector) {
        ("qwen2vl", Some("qwen2.5vl_merger")) => "Qwen2.5-VL",
        ("qwen2vl", Some("qwen2vl_merger")) => "Qwen2-VL",
        ("qwen3vl", _) => "Qwen3-VL",
        ("gemma3", Some("gemma3")) => "Gemma 3",
        (_, Some("idefics3")) => "SmolVLM / Idefics3",
        (_, Some("mlp")) if anyres => "LLaVA-1.6",
        (_, Some("mlp")) => "LLaVA-1.5",
        ("gemma3", None) => "Gemma 3 (text only)",
        _ => return None,
    })
}

/// A 1024x768 photo-like gradient, the size of a typical phone photo downscaled.
fn photo_png() -> Vec<u8> {
    let (w, h) = PHOTO_SIZE;
    let image = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, (((x / 32) + (y / 32)) % 2 * 200) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).expect("encoding a PNG in memory cannot fail");
    out.into_inner()
}
