//! The llama-architecture decoder (and qwen2, the same graph with q/k/v biases and the
//! NEOX rotary layout), matching llama.cpp's `llm_build_llama`:
//!
//! ```text
//! x = tok_embd[ids]                      (image rows spliced in at image positions)
//! per layer:  h = rms_norm(x) · attn_norm
//!             q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ (+ biases); rope(q), rope(k)
//!             x = x + softmax(q·kᵀ · scale + causal) · v · Woᵀ    (grouped-query heads)
//!             h = rms_norm(x) · ffn_norm
//!             x = x + (silu(h·Wgateᵀ) ⊙ h·Wupᵀ) · Wdownᵀ
//! logits = (rms_norm(x) · output_norm) · Woutᵀ   (Wout = tok_embd when tied)
//! ```
//!
//! Gemma 3 (llama.cpp's `gemma3` graph) differs in: token rows scaled by sqrt(n_embd);
//! q and k RMS-normed per head before rope; the attention and feed-forward outputs
//! RMS-normed (`post_attention_norm`, `post_ffw_norm`) before their residual adds;
//! GELU instead of SiLU in the gate; local layers that see a sliding window of keys
//! with a RoPE base of their own; and optional soft-capping of the logits.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};

use super::batch::Batch;
use super::config::{Architecture, ModelConfig};
use super::fused::{rms_norm, swiglu};
use super::linear::{Linear, Weight};
use super::lora::{LoraAdapter, LoraConfig, LoraTarget};
use super::loss::cross_entropy_sum;
use super::ops::{causal_attention, causal_mask, geglu, masks_with_two_way_spans, window_mask, Rope};
use super::projector::ProjectorAdapter;
use super::weights::BaseWeights;
use super::{TrainError, TrainResult};
use crate::export::LoraPair;
use crate::gguf::GgufFile;

/// What is trained.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Nothing (inference, parity checks).
    Frozen,
    /// LoRA adapters on the target layers; the base stays frozen.
    Lora(LoraConfig),
    /// Every weight.
    Full,
}

#[derive(Debug, Clone)]
struct Block {
    attn_norm: Weight,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    ffn_norm: Weight,
    gate: Linear,
    up: Linear,
    down: Linear,
    /// Gemma 3's extra norms, by GGUF tensor stem (`attn_q_norm`, ...).
    extra_norms: Vec<(&'static str, Weight)>,
}

/// Norms Gemma 3 adds to a block: per-head q and k norms (head_dim wide), and norms of
/// the attention and feed-forward outputs (n_embd wide).
const GEMMA3_NORMS: [(&str, bool); 4] =
    [("attn_q_norm", true), ("attn_k_norm", true), ("post_attention_norm", false), ("post_ffw_norm", false)];

impl Block {
    fn norm(&self, stem: &str) -> Option<&Tensor> {
        self.extra_norms.iter().find(|(s, _)| *s == stem).map(|(_, w)| w.tensor())
    }
}

impl Block {
    fn linears(&self) -> [&Linear; 7] {
        [&self.q, &self.k, &self.v, &self.o, &self.gate, &self.up, &self.down]
    }
}

/// A decoder whose weights are frozen tensors or trainable `Var`s, per [`Mode`].
#[derive(Debug, Clone)]
pub struct TrainModel {
    pub config: ModelConfig,
    mode: Mode,
    device: Device,
    tok_embd: Weight,
    /// `None` when the output layer is tied to the token embeddings.
    output: Option<Linear>,
    output_norm: Weight,
    blocks: Vec<Block>,
    rope_factors: Option<Vec<f32>>,
    /// Every tensor name of the base GGUF, in file order.
    order: Vec<String>,
    /// Base tensors the graph does not use as weights (e.g. `rope_freqs.weight`).
    extra: HashMap<String, Tensor>,
    /// The trainable map on image rows, when the projector is trained too.
    projector: Option<ProjectorAdapter>,
}

/// M-RoPE positions (time, row, column) of every token of `batch`, as llama.cpp and
/// mtmd give them: a text token at position p is (p, p, p); an image's token i on a grid
/// of `columns` starting at p is (p, p + i / columns, p + i % columns), and the image
/// advances the position by the grid's longer side.
fn mrope_positions(batch: &Batch) -> candle_core::Result<Vec<[u32; 3]>> {
    let t = batch.seq_len;
    let mut positions = Vec::with_capacity(batch.n_seq * t);
    for s in 0..batch.n_seq {
        let mut spans: Vec<_> = batch.images.iter().filter(|span| span.start / t == s).collect();
        spans.sort_by_key(|span| span.start);
        let (mut i, mut p) = (0, 0u32);
        let mut spans = spans.into_iter().peekable();
        while i < t {
            match spans.next_if(|span| span.start % t == i) {
                Some(span) => {
                    let Some((columns, rows)) = span.grid.filter(|&(c, r)| c > 0 && r > 0) else {
                        candle_core::bail!("an image of an M-RoPE model has no position grid");
                    };
                    for k in 0..span.n_tokens {
                        positions.push([p, p + (k / columns) as u32, p + (k % columns) as u32]);
                    }
                    i += span.n_tokens;
                    p += columns.max(rows) as u32;
                }
                None => {
                    positions.push([p; 3]);
                    i += 1;
                    p += 1;
                }
            }
        }
    }
    Ok(positions)
}

impl TrainModel {
    /// Loads the GGUF at `path` (any ggml type candle dequantizes) in `mode`; LoRA
    /// adapters are initialised from `seed`.
    pub fn load(path: &Path, mode: Mode, seed: u64, device: &Device) -> TrainResult<TrainModel> {
        let gguf = GgufFile::open(path)?;
        let config = ModelConfig::from_gguf(&gguf)?;
        let base = BaseWeights::load(path, device)?;
        TrainModel::from_weights(config, base, mode, seed)
    }

    pub fn from_weights(config: ModelConfig, base: BaseWeights, mode: Mode, seed: u64) -> TrainResult<TrainModel> {
        if let Mode::Lora(lora) = &mode {
            lora.validate()?;
        }
        let device = base.tensors.values().next().map(|t| t.device().clone()).unwrap_or(Device::Cpu);
        let full = mode == Mode::Full;
        let c = &config;
        let mut used: HashSet<String> = HashSet::new();
        let mut take = |name: &str, shape: &[usize], required: bool| -> TrainResult<Option<Tensor>> {
            let t = if required { Some(base.require(name, shape)?) } else { base.optional(name, shape)? };
            if t.is_some() {
                used.insert(name.to_string());
            }
            Ok(t)
        };
        let weight = |t: Tensor| Weight::new(t, full);
        let tok_embd = weight(take("token_embd.weight", &[c.n_vocab, c.n_embd], true)?.expect("required"))?;
        let output_norm = weight(take("output_norm.weight", &[c.n_embd], true)?.expect("required"))?;
        let output = match take("output.weight", &[c.n_vocab, c.n_embd], false)? {
            Some(w) => Some(Linear {
                name: "output.weight".into(),
                weight: weight(w)?,
                bias: take("output.bias", &[c.n_vocab], false)?.map(weight).transpose()?,
                lora: None,
            }),
            None => None,
        };
        let rope_factors = match take("rope_freqs.weight", &[c.n_rot / 2], false)? {
            Some(t) => Some(t.to_vec1::<f32>()?),
            None => None,
        };
        let mut blocks = Vec::with_capacity(c.n_layer);
        for il in 0..c.n_layer {
            if base.get(&format!("blk.{il}.attn_qkv.weight")).is_some() {
                return Err(TrainError::UnsupportedModel {
                    path: base.path.clone(),
                    reason: "fused attn_qkv weights are not supported".into(),
                });
            }
            let mut linear = |target: LoraTarget, n_in: usize, n_out: usize| -> TrainResult<Linear> {
                let stem = format!("blk.{il}.{}", target.tensor_stem());
                let name = format!("{stem}.weight");
                let w = take(&name, &[n_out, n_in], true)?.expect("required");
                let bias = take(&format!("{stem}.bias"), &[n_out], false)?.map(weight).transpose()?;
                let lora = match &mode {
                    Mode::Lora(cfg) if cfg.targets.contains(&target) => {
                        Some(LoraAdapter::new(&name, n_in, n_out, cfg, seed, &device)?)
                    }
                    _ => None,
                };
                Ok(Linear { name, weight: weight(w)?, bias, lora })
            };
            let q = linear(LoraTarget::Q, c.n_embd, c.q_dim())?;
            let k = linear(LoraTarget::K, c.n_embd, c.kv_dim())?;
            let v = linear(LoraTarget::V, c.n_embd, c.kv_dim())?;
            let o = linear(LoraTarget::O, c.q_dim(), c.n_embd)?;
            let gate = linear(LoraTarget::Gate, c.n_embd, c.n_ff)?;
            let up = linear(LoraTarget::Up, c.n_embd, c.n_ff)?;
            let down = linear(LoraTarget::Down, c.n_ff, c.n_embd)?;
            let attn_norm = weight(take(&format!("blk.{il}.attn_norm.weight"), &[c.n_embd], true)?.expect("required"))?;
            let ffn_norm = weight(take(&format!("blk.{il}.ffn_norm.weight"), &[c.n_embd], true)?.expect("required"))?;
            let mut extra_norms = Vec::new();
            if c.arch == Architecture::Gemma3 {
                for (stem, per_head) in GEMMA3_NORMS {
                    let width = if per_head { c.head_dim } else { c.n_embd };
                    let t = take(&format!("blk.{il}.{stem}.weight"), &[width], true)?.expect("required");
                    extra_norms.push((stem, weight(t)?));
                }
            }
            blocks.push(Block { attn_norm, q, k, v, o, ffn_norm, gate, up, down, extra_norms });
        }
        let unknown: Vec<&String> = base.order.iter().filter(|n| !used.contains(*n)).collect();
        if !unknown.is_empty() {
            let names: Vec<&str> = unknown.iter().take(5).map(|s| s.as_str()).collect();
            return Err(TrainError::UnsupportedModel {
                path: base.path.clone(),
                reason: format!("tensors this trainer does not implement: {}", names.join(", ")),
            });
        }
        let mut extra = HashMap::new();
        if rope_factors.is_some() {
            extra.insert("rope_freqs.weight".to_string(), base.tensors["rope_freqs.weight"].clone());
        }
        Ok(TrainModel {
            config,
            mode,
            device,
            tok_embd,
            output,
            output_norm,
            blocks,
            rope_factors,
            order: base.order.clone(),
            extra,
            projector: None,
        })
    }

    /// Trains the vision projector too: image rows pass through a map that starts as
    /// the identity (see [`super::projector`]).
    pub fn train_projector(&mut self) -> TrainResult<()> {
        self.projector = Some(ProjectorAdapter::new(self.config.n_embd, &self.device)?);
        Ok(())
    }

    /// The trained map on image rows, if the projector is trained.
    pub fn projector(&self) -> Option<&ProjectorAdapter> {
        self.projector.as_ref()
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The input embeddings of `batch`: token rows, with image rows spliced in.
    fn embed(&self, batch: &Batch) -> candle_core::Result<Tensor> {
        let n = batch.ids.len();
        let ids = Tensor::from_slice(&batch.ids, n, &self.device)?;
        let mut x = self.tok_embd.tensor().index_select(&ids, 0)?;
        if self.config.embd_scale != 1.0 {
            x = (x * f64::from(self.config.embd_scale))?;
        }
        if batch.images.is_empty() {
            return Ok(x);
        }
        let d = self.config.n_embd;
        // Every position's row in [token rows; image rows]: its own token row, or the
        // image row that replaces it.
        let mut source: Vec<u32> = (0..n as u32).collect();
        let mut rows = Vec::new();
        for span in &batch.images {
            let data = span.rows();
            if data.len() != span.n_tokens * d {
                candle_core::bail!(
                    "image rows have width {} but the model's is {d}",
                    data.len() / span.n_tokens.max(1)
                );
            }
            for (i, slot) in source[span.start..span.start + span.n_tokens].iter_mut().enumerate() {
                *slot = (n + rows.len() / d + i) as u32;
            }
            rows.extend_from_slice(data);
        }
        let m = rows.len() / d;
        let mut image_rows = Tensor::from_vec(rows, (m, d), &self.device)?;
        if let Some(projector) = &self.projector {
            image_rows = projector.forward(&image_rows)?;
        }
        let source = Tensor::from_vec(source, n, &self.device)?;
        Tensor::cat(&[&x, &image_rows], 0)?.index_select(&source, 0)
    }

    /// The final hidden states (before the output norm) of every position, (n, d).
    pub fn hidden(&self, batch: &Batch, dropout_seed: Option<u64>) -> candle_core::Result<Tensor> {
        let c = &self.config;
        let (b, t) = (batch.n_seq, batch.seq_len);
        let rope = match c.mrope_sections {
            // Images take positions on their grid (see `mrope_positions`).
            Some(sections) if !batch.images.is_empty() => Rope::mrope(
                &mrope_positions(batch)?,
                (b, t),
                c.n_rot,
                c.rope_base,
                c.rope_freq_scale,
                sections,
                &self.device,
            )?,
            _ => Rope::new(
                t,
                c.n_rot,
                c.rope_base,
                c.rope_freq_scale,
                self.rope_factors.as_deref(),
                c.arch.rope_neox(),
                &self.device,
            )?,
        };
        // Gemma 3's images are decoded with two-way attention among their own tokens
        // (mtmd's non-causal decode); every other model's attention is causal.
        let two_way: Vec<(usize, usize, usize)> = if c.arch == Architecture::Gemma3 {
            batch.images.iter().map(|s| (s.start / t, s.start % t, s.n_tokens)).collect()
        } else {
            Vec::new()
        };
        let mask = if two_way.is_empty() {
            causal_mask(t, &self.device)?
        } else {
            masks_with_two_way_spans(b, t, None, &two_way, &self.device)?
        };
        // Sliding-window layers: their own keys' window and RoPE base (unscaled).
        let local = match &c.sliding_window {
            Some(sw) => Some((
                Rope::new(t, c.n_rot, sw.rope_base, 1.0, None, c.arch.rope_neox(), &self.device)?,
                if two_way.is_empty() {
                    window_mask(t, sw.window, &self.device)?
                } else {
                    masks_with_two_way_spans(b, t, Some(sw.window), &two_way, &self.device)?
                },
            )),
            None => None,
        };
        let gelu = c.arch == Architecture::Gemma3;
        let norm = |y: Tensor, w: Option<&Tensor>| match w {
            Some(w) => rms_norm(&y, w, c.rms_eps),
            None => Ok(y),
        };
        let mut x = self.embed(batch)?;
        for (il, block) in self.blocks.iter().enumerate() {
            let (rope, mask) = match (&local, &c.sliding_window) {
                (Some((rope, mask)), Some(sw)) if sw.local[il] => (rope, mask),
                _ => (&rope, &mask),
            };
            let h = rms_norm(&x, block.attn_norm.tensor(), c.rms_eps)?;
            let heads = |y: Tensor, n: usize| y.reshape((b, t, n, c.head_dim))?.transpose(1, 2)?.contiguous();
            let q = norm(heads(block.q.forward(&h, dropout_seed)?, c.n_head)?, block.norm("attn_q_norm"))?;
            let k = norm(heads(block.k.forward(&h, dropout_seed)?, c.n_head_kv)?, block.norm("attn_k_norm"))?;
            let (q, k) = (rope.apply(&q)?, rope.apply(&k)?);
            let v = heads(block.v.forward(&h, dropout_seed)?, c.n_head_kv)?;
            let att = causal_attention(&q, &k, &v, c.attn_scale, mask)?;
            let att = att.transpose(1, 2)?.reshape((b * t, c.q_dim()))?;
            x = (x + norm(block.o.forward(&att, dropout_seed)?, block.norm("post_attention_norm"))?)?;
            let h = rms_norm(&x, block.ffn_norm.tensor(), c.rms_eps)?;
            let (gate, up) = (block.gate.forward(&h, dropout_seed)?, block.up.forward(&h, dropout_seed)?);
            let ff = if gelu { geglu(&gate, &up)? } else { swiglu(&gate, &up)? };
            x = (x + norm(block.down.forward(&ff, dropout_seed)?, block.norm("post_ffw_norm"))?)?;
        }
        Ok(x)
    }

    /// Logits (positions.len(), vocab) at the given flat positions of `batch`. Only the
    /// rows needed go through the output layer (the largest matmul of a small model).
    pub fn logits_at(
        &self,
        batch: &Batch,
        positions: &[u32],
        dropout_seed: Option<u64>,
    ) -> candle_core::Result<Tensor> {
        let hidden = self.hidden(batch, dropout_seed)?;
        let idx = Tensor::from_slice(positions, positions.len(), &self.device)?;
        self.output_logits(&hidden.index_select(&idx, 0)?)
    }

    fn output_logits(&self, h: &Tensor) -> candle_core::Result<Tensor> {
        let h = rms_norm(h, self.output_norm.tensor(), self.config.rms_eps)?;
        let logits = match &self.output {
            Some(out) => out.forward(&h, None)?,
            None => self.tok_embd.matmul_t(&h)?,
        };
        match f64::from(self.config.logit_softcap) {
            0.0 => Ok(logits),
            cap => (logits / cap)?.tanh()? * cap,
        }
    }

    /// The summed cross-entropy over `batch`'s target tokens and their count.
    pub fn loss_sum(&self, batch: &Batch, dropout_seed: Option<u64>) -> candle_core::Result<(Tensor, usize)> {
        let (positions, labels) = batch.loss_positions();
        if positions.is_empty() {
            return Ok((Tensor::zeros((), DType::F32, &self.device)?, 0));
        }
        let logits = self.logits_at(batch, &positions, dropout_seed)?;
        let labels = Tensor::from_slice(&labels, labels.len(), &self.device)?;
        Ok((cross_entropy_sum(&logits, &labels)?, positions.len()))
    }

    /// The logits after the last of `tokens` (inference, no dropout).
    pub fn last_logits(&self, tokens: &[u32]) -> candle_core::Result<Vec<f32>> {
        let batch = Batch {
            n_seq: 1,
            seq_len: tokens.len(),
            ids: tokens.to_vec(),
            images: vec![],
            next_tokens: vec![0; tokens.len()],
            loss_mask: vec![false; tokens.len()],
            n_tokens: tokens.len(),
        };
        let last = tokens.len() as u32 - 1;
        self.logits_at(&batch, &[last], None)?.squeeze(0)?.to_vec1()
    }

    /// Every trainable variable with a stable name: the GGUF tensor name in full mode,
    /// `<weight>.lora_a` / `<weight>.lora_b` for LoRA (the adapter GGUF's names).
    pub fn trainable(&self) -> Vec<(String, Var)> {
        let mut vars = Vec::new();
        match &self.mode {
            Mode::Frozen => {}
            Mode::Lora(_) => {
                for block in &self.blocks {
                    for l in block.linears() {
                        if let Some(lora) = &l.lora {
                            vars.push((format!("{}.lora_a", l.name), lora.a.clone()));
                            vars.push((format!("{}.lora_b", l.name), lora.b.clone()));
                        }
                    }
                }
            }
            Mode::Full => {
                self.for_each_weight(|name, w| {
                    if let Some(v) = w.var() {
                        vars.push((name.to_string(), v.clone()));
                    }
                });
            }
        }
        if let Some(projector) = &self.projector {
            vars.extend(projector.vars());
        }
        vars
    }

    /// Visits every weight with its GGUF name.
    fn for_each_weight(&self, mut f: impl FnMut(&str, &Weight)) {
        f("token_embd.weight", &self.tok_embd);
        f("output_norm.weight", &self.output_norm);
        if let Some(out) = &self.output {
            f(&out.name, &out.weight);
            if let Some(b) = &out.bias {
                f("output.bias", b);
            }
        }
        for (il, block) in self.blocks.iter().enumerate() {
            f(&format!("blk.{il}.attn_norm.weight"), &block.attn_norm);
            f(&format!("blk.{il}.ffn_norm.weight"), &block.ffn_norm);
            for (stem, w) in &block.extra_norms {
                f(&format!("blk.{il}.{stem}.weight"), w);
            }
            for l in block.linears() {
                f(&l.name, &l.weight);
                if let Some(b) = &l.bias {
                    f(&l.name.replace(".weight", ".bias"), b);
                }
            }
        }
    }

    /// Sets trainable variables from `values` (a checkpoint); every variable must be
    /// present with its shape.
    pub fn set_trainable(&self, values: &HashMap<String, Tensor>) -> TrainResult<()> {
        for (name, var) in self.trainable() {
            let value = values.get(&name).ok_or_else(|| TrainError::Resume {
                path: Default::default(),
                reason: format!("the checkpoint has no tensor {name}"),
            })?;
            if value.dims() != var.dims() {
                return Err(TrainError::Resume {
                    path: Default::default(),
                    reason: format!("tensor {name} has shape {:?}, expected {:?}", value.dims(), var.dims()),
                });
            }
            var.set(&value.to_device(&self.device)?.to_dtype(DType::F32)?)?;
        }
        Ok(())
    }

    /// The LoRA adapters as f32 arrays, for [`crate::export::write_lora_adapter`].
    pub fn lora_pairs(&self) -> TrainResult<Vec<LoraPair>> {
        let mut pairs = Vec::new();
        for block in &self.blocks {
            for l in block.linears() {
                if let Some(lora) = &l.lora {
                    pairs.push(LoraPair {
                        base_name: l.name.clone(),
                        n_in: l.n_in(),
                        n_out: l.n_out(),
                        rank: lora.a.dim(0)?,
                        a: lora.a.as_tensor().flatten_all()?.to_vec1()?,
                        b: lora.b.as_tensor().flatten_all()?.to_vec1()?,
                    });
                }
            }
        }
        Ok(pairs)
    }

    /// Every tensor of the model in the base file's order, as f32 values (row-major in
    /// candle order, which is ggml's layout): current values, with LoRA deltas merged
    /// into their weights when `merge_lora`.
    pub fn export_tensors(&self, merge_lora: bool) -> TrainResult<Vec<(String, Vec<f32>)>> {
        let mut values: HashMap<String, Tensor> = HashMap::new();
        let mut error = None;
        self.for_each_weight(|name, w| {
            values.insert(name.to_string(), w.tensor().clone());
        });
        if merge_lora {
            for block in &self.blocks {
                for l in block.linears() {
                    if let Some(lora) = &l.lora {
                        match lora.delta().and_then(|d| l.weight.tensor().add(&d)) {
                            Ok(merged) => {
                                values.insert(l.name.clone(), merged);
                            }
                            Err(e) => error = Some(e),
                        }
                    }
                }
            }
        }
        if let Some(e) = error {
            return Err(e.into());
        }
        for (name, t) in &self.extra {
            values.insert(name.clone(), t.clone());
        }
        let mut out = Vec::with_capacity(self.order.len());
        for name in &self.order {
            let t = values.get(name).ok_or_else(|| TrainError::Config(format!("tensor {name} is not in the model")))?;
            out.push((name.clone(), t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?));
        }
        Ok(out)
    }
}
