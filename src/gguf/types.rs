//! The ggml tensor types this project reads and writes, and their storage sizes.

/// A ggml tensor type (the `ggml_type` enum value stored in GGUF tensor infos).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GgmlType(pub u32);

impl GgmlType {
    pub const F32: GgmlType = GgmlType(0);
    pub const F16: GgmlType = GgmlType(1);
    pub const Q4_0: GgmlType = GgmlType(2);
    pub const Q4_1: GgmlType = GgmlType(3);
    pub const Q5_0: GgmlType = GgmlType(6);
    pub const Q5_1: GgmlType = GgmlType(7);
    pub const Q8_0: GgmlType = GgmlType(8);
    pub const Q2_K: GgmlType = GgmlType(10);
    pub const Q3_K: GgmlType = GgmlType(11);
    pub const Q4_K: GgmlType = GgmlType(12);
    pub const Q5_K: GgmlType = GgmlType(13);
    pub const Q6_K: GgmlType = GgmlType(14);
    pub const BF16: GgmlType = GgmlType(30);

    /// (elements per block, bytes per block), for the types whose layout is known here.
    fn block(self) -> Option<(u64, u64)> {
        Some(match self.0 {
            0 => (1, 4),
            1 | 30 => (1, 2),
            2 => (32, 18),
            3 => (32, 20),
            6 => (32, 22),
            7 => (32, 24),
            8 => (32, 34),
            10 => (256, 84),
            11 => (256, 110),
            12 => (256, 144),
            13 => (256, 176),
            14 => (256, 210),
            _ => return None,
        })
    }

    /// Bytes of a tensor of `n_elements` of this type; `None` for an unknown type or an
    /// element count that is not a whole number of blocks.
    pub fn bytes_for(self, n_elements: u64) -> Option<u64> {
        let (per_block, block_bytes) = self.block()?;
        (n_elements % per_block == 0).then(|| n_elements / per_block * block_bytes)
    }

    pub fn name(self) -> String {
        match self.0 {
            0 => "F32".into(),
            1 => "F16".into(),
            2 => "Q4_0".into(),
            3 => "Q4_1".into(),
            6 => "Q5_0".into(),
            7 => "Q5_1".into(),
            8 => "Q8_0".into(),
            10 => "Q2_K".into(),
            11 => "Q3_K".into(),
            12 => "Q4_K".into(),
            13 => "Q5_K".into(),
            14 => "Q6_K".into(),
            30 => "BF16".into(),
            other => format!("type {other}"),
        }
    }
}
