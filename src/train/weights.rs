//! The base model's weights, read from the GGUF and dequantized to f32.
//!
//! ggml lists a tensor's dimensions fastest-first, candle slowest-first: a GGUF weight
//! with dims `[in, out]` is a candle tensor of shape `(out, in)`, and the bytes are the
//! same row-major layout. candle's reader already reverses the dims.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor};

use super::{TrainError, TrainResult};
use crate::Error;

/// Every tensor of a GGUF model as f32, keyed by its GGUF name.
#[derive(Debug, Clone)]
pub struct BaseWeights {
    pub path: PathBuf,
    pub tensors: HashMap<String, Tensor>,
    /// Tensor names in file order (export writes them in this order).
    pub order: Vec<String>,
}

impl BaseWeights {
    /// Reads and dequantizes every tensor of `path` onto `device`.
    pub fn load(path: &Path, device: &Device) -> TrainResult<BaseWeights> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let content = gguf_file::Content::read(&mut reader)
            .map_err(|e| Error::InvalidGguf { path: path.into(), reason: e.to_string() })?;
        // File order: candle keeps tensor infos in a map, so sort them by data offset.
        let mut order: Vec<(u64, String)> =
            content.tensor_infos.iter().map(|(name, info)| (info.offset, name.clone())).collect();
        order.sort();
        let mut tensors = HashMap::with_capacity(order.len());
        for (_, name) in &order {
            let q = content
                .tensor(&mut reader, name, device)
                .map_err(|e| Error::InvalidGguf { path: path.into(), reason: format!("tensor {name}: {e}") })?;
            let t = q.dequantize(device)?.to_dtype(DType::F32)?;
            tensors.insert(name.clone(), t);
        }
        Ok(BaseWeights { path: path.into(), tensors, order: order.into_iter().map(|(_, n)| n).collect() })
    }

    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name)
    }

    /// The tensor `name`, which must exist with `shape` (candle order).
    pub fn require(&self, name: &str, shape: &[usize]) -> TrainResult<Tensor> {
        let t = self.tensors.get(name).ok_or_else(|| TrainError::UnsupportedModel {
            path: self.path.clone(),
            reason: format!("tensor {name} is missing"),
        })?;
        self.check(name, t, shape)?;
        Ok(t.clone())
    }

    /// The tensor `name` if present, checked against `shape`.
    pub fn optional(&self, name: &str, shape: &[usize]) -> TrainResult<Option<Tensor>> {
        match self.tensors.get(name) {
            Some(t) => {
                self.check(name, t, shape)?;
                Ok(Some(t.clone()))
            }
            None => Ok(None),
        }
    }

    fn check(&self, name: &str, t: &Tensor, shape: &[usize]) -> TrainResult<()> {
        if t.dims() != shape {
            return Err(TrainError::UnsupportedModel {
                path: self.path.clone(),
                reason: format!("tensor {name} has shape {:?}, expected {shape:?}", t.dims()),
            });
        }
        Ok(())
    }
}
