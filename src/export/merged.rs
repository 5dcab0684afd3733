//! The merged (or fully fine-tuned) checkpoint GGUF.

use std::path::Path;

use crate::gguf::{GgmlType, GgufFile, GgufWriter, Value};
use crate::{Error, Result};

/// The tensor type of a merged checkpoint's matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergedDtype {
    F32,
    F16,
}

impl MergedDtype {
    /// llama.cpp's `llama_ftype` for `general.file_type`.
    fn file_type(self) -> u32 {
        match self {
            MergedDtype::F32 => 0,
            MergedDtype::F16 => 1,
        }
    }
}

/// Writes a full model to `path` (atomically): every metadata key of `base` in its
/// order (with `general.file_type` set for `dtype`), and for every tensor of `base`
/// the values in `tensors` (f32, row-major, ggml's layout), with the base's dims.
/// Every base tensor must be given, and nothing else.
pub fn write_merged(path: &Path, base: &GgufFile, tensors: &[(String, Vec<f32>)], dtype: MergedDtype) -> Result<()> {
    let mut w = GgufWriter::new();
    for (key, value) in &base.metadata {
        w.set(key, value.clone());
    }
    w.set("general.file_type", Value::U32(dtype.file_type()));
    if tensors.len() != base.tensors.len() {
        return Err(Error::InvalidArgument(format!(
            "{} tensors given for a base with {}",
            tensors.len(),
            base.tensors.len()
        )));
    }
    for info in &base.tensors {
        let values = tensors
            .iter()
            .find(|(n, _)| *n == info.name)
            .map(|(_, v)| v)
            .ok_or_else(|| Error::InvalidArgument(format!("no values given for tensor {}", info.name)))?;
        if values.len() as u64 != info.n_elements() {
            return Err(Error::InvalidArgument(format!(
                "tensor {}: {} values given, {} expected",
                info.name,
                values.len(),
                info.n_elements()
            )));
        }
        if dtype == MergedDtype::F16 && info.dims.len() >= 2 {
            let data = values.iter().flat_map(|&v| f32_to_f16_bits(v).to_le_bytes()).collect();
            w.add_tensor(&info.name, &info.dims, GgmlType::F16, data)?;
        } else {
            w.add_f32(&info.name, &info.dims, values)?;
        }
    }
    w.write(path)
}

/// IEEE half precision bits of `x`, rounded to nearest even (as ggml's conversion).
pub fn f32_to_f16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x7f_ffff;
    if exp == 0xff {
        // Inf or NaN (keep NaN quiet).
        return sign | 0x7c00 | if man != 0 { 0x200 | (man >> 13) as u16 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        // Subnormal or zero in half precision.
        if e < -10 {
            return sign;
        }
        let man = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = man >> shift;
        let rem = man & ((1 << shift) - 1);
        let mid = 1 << (shift - 1);
        let round = u32::from(rem > mid || (rem == mid && (half & 1) == 1));
        return sign | (half + round) as u16;
    }
    let half = ((e as u32) << 10) | (man >> 13);
    let rem = man & 0x1fff;
    let round = u32::from(rem > 0x1000 || (rem == 0x1000 && (half & 1) == 1));
    // A carry out of the mantissa correctly bumps the exponent (up to infinity).
    sign | (half + round) as u16
}

#[cfg(test)]
mod tests {
    use super::f32_to_f16_bits;

    #[test]
    fn f16_conversion_rounds_to_nearest_even() {
        assert_eq!(f32_to_f16_bits(0.0), 0x0000);
        assert_eq!(f32_to_f16_bits(-0.0), 0x8000);
        assert_eq!(f32_to_f16_bits(1.0), 0x3c00);
        assert_eq!(f32_to_f16_bits(-2.0), 0xc000);
        assert_eq!(f32_to_f16_bits(65504.0), 0x7bff);
        assert_eq!(f32_to_f16_bits(1e6), 0x7c00);
        assert_eq!(f32_to_f16_bits(f32::INFINITY), 0x7c00);
        assert_eq!(f32_to_f16_bits(5.960_464_5e-8), 0x0001); // smallest subnormal
        assert_eq!(f32_to_f16_bits(0.333_333_34), 0x3555);
        // 1 + 2^-11 is halfway between 1 and the next half: ties to even (1.0).
        assert_eq!(f32_to_f16_bits(1.0 + 2f32.powi(-11)), 0x3c00);
        assert_eq!(f32_to_f16_bits(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02);
    }
}
