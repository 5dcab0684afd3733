//! What the benchmarks share.

use std::path::{Path, PathBuf};

/// `n` distinct `side`x`side` images (a colour gradient each) written as PNG files.
pub fn write_gradient_pngs(dir: &Path, n: usize, side: u32) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let path = dir.join(format!("img{i}.png"));
            let k = (i * 37) as u32;
            image::RgbImage::from_fn(side, side, |x, y| image::Rgb([(x + k) as u8, (y * 2 + k) as u8, (k * 3) as u8]))
                .save(&path)
                .unwrap();
            path
        })
        .collect()
}
