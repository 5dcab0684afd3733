//! The quantization types offered: llama.cpp's file types that need no importance
//! matrix.

use llama_cpp_sys_2 as sys;

use crate::QuantizeError;

/// A target file type, named as llama.cpp's `llama-quantize` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantType {
    F16,
    Bf16,
    Q8_0,
    Q6K,
    Q5KM,
    Q5KS,
    Q5_1,
    Q5_0,
    Q4KM,
    Q4KS,
    Q4_1,
    Q4_0,
    Q3KL,
    Q3KM,
    Q3KS,
    Q2K,
}

const ALL: [(QuantType, &str); 16] = [
    (QuantType::F16, "f16"),
    (QuantType::Bf16, "bf16"),
    (QuantType::Q8_0, "q8_0"),
    (QuantType::Q6K, "q6_k"),
    (QuantType::Q5KM, "q5_k_m"),
    (QuantType::Q5KS, "q5_k_s"),
    (QuantType::Q5_1, "q5_1"),
    (QuantType::Q5_0, "q5_0"),
    (QuantType::Q4KM, "q4_k_m"),
    (QuantType::Q4KS, "q4_k_s"),
    (QuantType::Q4_1, "q4_1"),
    (QuantType::Q4_0, "q4_0"),
    (QuantType::Q3KL, "q3_k_l"),
    (QuantType::Q3KM, "q3_k_m"),
    (QuantType::Q3KS, "q3_k_s"),
    (QuantType::Q2K, "q2_k"),
];

impl QuantType {
    /// Every supported name, best quality first.
    pub fn names() -> Vec<&'static str> {
        ALL.iter().map(|(_, n)| *n).collect()
    }

    pub fn name(self) -> &'static str {
        ALL.iter().find(|(t, _)| *t == self).map(|(_, n)| *n).unwrap_or("?")
    }

    /// Parses a name case-insensitively (`Q4_K_M`, `q4_k_m`; `q4_k` and `q5_k` mean the
    /// `_m` variants, as in llama.cpp).
    pub fn parse(name: &str) -> Result<QuantType, QuantizeError> {
        let lower = name.to_ascii_lowercase();
        let lower = match lower.as_str() {
            "q4_k" => "q4_k_m",
            "q5_k" => "q5_k_m",
            other => other,
        };
        ALL.iter()
            .find(|(_, n)| *n == lower)
            .map(|(t, _)| *t)
            .ok_or_else(|| QuantizeError::UnknownType { given: name.to_string() })
    }

    pub(crate) fn ftype(self) -> sys::llama_ftype {
        match self {
            QuantType::F16 => sys::LLAMA_FTYPE_MOSTLY_F16,
            QuantType::Bf16 => sys::LLAMA_FTYPE_MOSTLY_BF16,
            QuantType::Q8_0 => sys::LLAMA_FTYPE_MOSTLY_Q8_0,
            QuantType::Q6K => sys::LLAMA_FTYPE_MOSTLY_Q6_K,
            QuantType::Q5KM => sys::LLAMA_FTYPE_MOSTLY_Q5_K_M,
            QuantType::Q5KS => sys::LLAMA_FTYPE_MOSTLY_Q5_K_S,
            QuantType::Q5_1 => sys::LLAMA_FTYPE_MOSTLY_Q5_1,
            QuantType::Q5_0 => sys::LLAMA_FTYPE_MOSTLY_Q5_0,
            QuantType::Q4KM => sys::LLAMA_FTYPE_MOSTLY_Q4_K_M,
            QuantType::Q4KS => sys::LLAMA_FTYPE_MOSTLY_Q4_K_S,
            QuantType::Q4_1 => sys::LLAMA_FTYPE_MOSTLY_Q4_1,
            QuantType::Q4_0 => sys::LLAMA_FTYPE_MOSTLY_Q4_0,
            QuantType::Q3KL => sys::LLAMA_FTYPE_MOSTLY_Q3_K_L,
            QuantType::Q3KM => sys::LLAMA_FTYPE_MOSTLY_Q3_K_M,
            QuantType::Q3KS => sys::LLAMA_FTYPE_MOSTLY_Q3_K_S,
            QuantType::Q2K => sys::LLAMA_FTYPE_MOSTLY_Q2_K,
        }
    }
}

impl std::str::FromStr for QuantType {
    type Err = QuantizeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QuantType::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_case_insensitively() {
        for name in QuantType::names() {
            assert_eq!(QuantType::parse(&name.to_uppercase()).unwrap().name(), name);
        }
        assert_eq!(QuantType::parse("Q4_K").unwrap(), QuantType::Q4KM);
    }

    #[test]
    fn an_unknown_name_lists_the_supported_ones() {
        let e = QuantType::parse("q9_z").unwrap_err().to_string();
        assert!(e.contains("q9_z") && e.contains("q4_k_m") && e.contains("q8_0"), "{e}");
    }
}
