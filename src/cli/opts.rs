//! Options shared by the subcommands that load and run a judge (`judge`, `eval`, and
//! later `filter`, `synth`, `improve`): flatten them with `#[command(flatten)]`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use vlmjudge::engine::{LoraSpec, Model, ModelParams};
use vlmjudge::judge::{JudgeParams, Mode, SamplingParams, Template};

/// Which model to load and how.
#[derive(Args, Debug, Clone)]
pub(crate) struct ModelOpts {
    /// The judge model (GGUF).
    // An Option only so that `eval --score-only` can relax `required` (with mut_arg);
    // every command that loads a model keeps it required.
    #[arg(long, required = true)]
    pub model: Option<PathBuf>,
    /// The multimodal projector (GGUF) for image pairs.
    #[arg(long)]
    pub mmproj: Option<PathBuf>,
    /// A LoRA adapter (GGUF, e.g. adapter.gguf from `vlmjudge train`) applied on top of
    /// the model; repeat for several.
    #[arg(long)]
    pub lora: Vec<PathBuf>,
    /// Layers to offload to the GPU in a CUDA build (0 = CPU only; 999 = all).
    #[arg(long, default_value_t = 0)]
    pub gpu_layers: u32,
    /// Scale of the LoRA adapters (1 = as trained).
    #[arg(long, default_value_t = 1.0, requires = "lora")]
    pub lora_scale: f32,
    /// llama.cpp threads [default: physical cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Most image embeddings one image may take (16 to 16384; 0 = the mmproj's own
    /// limit). Projectors that resize or tile by size (Qwen2.5-VL, SmolVLM, ...)
    /// downscale larger images to fit; fixed-resolution ones (Gemma 3, LLaVA) do not.
    #[arg(long, default_value_t = vlmjudge::engine::DEFAULT_IMAGE_MAX_TOKENS)]
    pub image_max_tokens: u32,
}

impl ModelOpts {
    /// Threads for llama.cpp, 0 meaning the number of physical cores. A judge must get
    /// the same value as the model: `JudgeParams { threads: opts.threads(), .. }`.
    pub fn threads(&self) -> usize {
        self.threads.unwrap_or(0)
    }

    /// Loads the model (with its mmproj and adapters).
    pub fn load(&self) -> anyhow::Result<Model> {
        let Some(model) = &self.model else {
            return Err(super::UserError("give the judge model with --model".into()).into());
        };
        let lora = self.lora.iter().map(|path| LoraSpec { path: path.clone(), scale: self.lora_scale }).collect();
        let params = ModelParams {
            threads: self.threads(),
            gpu_layers: self.gpu_layers,
            image_max_tokens: self.image_max_tokens,
            lora,
            ..ModelParams::default()
        };
        Model::load(model, self.mmproj.as_deref(), &params)
            .with_context(|| format!("cannot load the judge {}", model.display()))
    }
}

/// How the judge reaches its verdicts.
#[derive(Args, Debug, Clone)]
pub(crate) struct JudgeOpts {
    /// fast: read the verdict from logits, no generation; reason: write reasoning first
    /// [default: fast; filter and improve's filter stage: reason].
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Judge only the given order (no swap debiasing).
    #[arg(long)]
    pub no_swap: bool,
    /// Pairs in flight at once.
    #[arg(long, default_value_t = 8)]
    pub parallel: usize,
    /// Most reasoning tokens per order (reason mode).
    #[arg(long, default_value_t = 256)]
    pub max_tokens: u32,
    /// Sampling temperature for reasoning; 0 is greedy [default: 0; filter: 0.6].
    #[arg(long)]
    pub temperature: Option<f32>,
    #[arg(long, default_value_t = 50)]
    pub top_k: usize,
    #[arg(long, default_value_t = 0.9)]
    pub top_p: f32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Context positions per sequence (one order of one pair: prompt plus reasoning).
    #[arg(long, default_value_t = 1024)]
    pub ctx_per_seq: u32,
    /// Prompt template (JSON: {"system": ..., "user": ... with {question}, {answer_a}, {answer_b}}).
    #[arg(long)]
    pub template: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum ModeArg {
    Fast,
    Reason,
}

impl JudgeOpts {
    /// The judge's settings; `threads` is left at 0 (physical cores): set it from
    /// [`ModelOpts::threads`].
    pub fn judge_params(&self) -> anyhow::Result<JudgeParams> {
        self.judge_params_with(Mode::Fast, 0.0)
    }

    /// The judge's settings, with a subcommand's own defaults for the mode and the
    /// temperature when the flags are not given.
    pub fn judge_params_with(&self, mode: Mode, temperature: f32) -> anyhow::Result<JudgeParams> {
        let template = match &self.template {
            Some(path) => Template::from_file(path)?,
            None => Template::default(),
        };
        Ok(JudgeParams {
            mode: match self.mode {
                None => mode,
                Some(ModeArg::Fast) => Mode::Fast,
                Some(ModeArg::Reason) => Mode::Reason,
            },
            swap: !self.no_swap,
            max_tokens: self.max_tokens,
            sampling: SamplingParams {
                temperature: self.temperature.unwrap_or(temperature),
                top_k: self.top_k,
                top_p: self.top_p,
            },
            seed: self.seed,
            parallel: self.parallel,
            ctx_per_seq: self.ctx_per_seq,
            template,
            ..JudgeParams::default()
        })
    }
}
