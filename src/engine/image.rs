//! Image decoding for judge inputs: PNG, JPEG, WebP and GIF (first frame) to RGB8,
//! with limits against decompression bombs.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

/// An image to judge or describe: a file, or encoded bytes held in memory.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    Path(PathBuf),
    /// Encoded bytes (PNG, JPEG, ...), e.g. from a benchmark parquet or the C ABI.
    Bytes(Arc<[u8]>),
}

/// Limits on what an image may cost to decode.
///
/// The defaults: at most 16,384 pixels a side, 2^25 = 33,554,432 pixels (about 33.5
/// megapixels: a 6000x4000 or 8192x4096 photo passes, 7000x7000 does not) and a
/// 100 MiB file. Why 2^25: on its way into the encoder an image is copied three times
/// at 3 bytes a pixel (our decoded RGB, mtmd's bitmap, mtmd's preprocessing input),
/// two of them alive at once since ours is freed as soon as mtmd has its own. So an
/// image at the limit holds about 200 MB at the peak (a 6000x4000 JPEG measured
/// +137 MB), where the old 50 MP limit let a 7000x7000 JPEG of a few hundred bytes
/// claim about 430 MB.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    /// Longest side in pixels.
    pub max_side: u32,
    /// Width x height.
    pub max_pixels: u64,
    /// Size of the encoded file. A host holding an image's bytes can check them with
    /// [`ImageLimits::check_file_size`] before copying them anywhere.
    pub max_file_bytes: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits { max_side: 16_384, max_pixels: 1 << 25, max_file_bytes: 100 << 20 }
    }
}

impl ImageLimits {
    /// Refuses an encoded image of `len` bytes over `max_file_bytes`, with the message
    /// a pair with it would carry; cheap, so call it before copying a large buffer.
    pub fn check_file_size(&self, len: u64) -> Result<(), String> {
        if len > self.max_file_bytes {
            return Err(format!("the image file is {len} bytes, over the limit of {}", self.max_file_bytes));
        }
        Ok(())
    }
}

/// A decoded RGB8 image.
#[derive(Debug, Clone)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    /// Row-major RGB triples.
    pub pixels: Vec<u8>,
}

const SUPPORTED: [ImageFormat; 4] = [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP, ImageFormat::Gif];

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::WebP => "WebP",
        ImageFormat::Gif => "GIF",
        _ => "an unsupported format",
    }
}

/// Decodes an encoded image. `name` (the file it came from, if any) must carry an
/// extension that matches the content, so a mislabelled file is caught rather than
/// silently judged. The error is a message fit for a per-pair `error` field.
pub fn decode_image(bytes: &[u8], name: Option<&Path>, limits: &ImageLimits) -> Result<RgbImage, String> {
    if bytes.is_empty() {
        return Err("the image is empty (0 bytes)".into());
    }
    limits.check_file_size(bytes.len() as u64)?;
    let format = image::guess_format(bytes)
        .ok()
        .filter(|f| SUPPORTED.contains(f))
        .ok_or("the image is not a PNG, JPEG, WebP or GIF file (unrecognised content)")?;
    if let Some(path) = name {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ImageFormat::from_extension(ext).filter(|f| SUPPORTED.contains(f)) {
            None => {
                return Err(format!(
                    "{}: the extension {:?} is not an image type vlmjudge reads (.png, .jpg, .jpeg, .webp, .gif)",
                    path.display(),
                    ext
                ))
            }
            Some(declared) if declared != format => {
                return Err(format!(
                    "{}: the extension says {} but the content is {}; rename the file",
                    path.display(),
                    format_name(declared),
                    format_name(format)
                ))
            }
            Some(_) => {}
        }
    }
    let what = format_name(format);
    let reader = |limits: Limits| {
        let mut r = ImageReader::with_format(Cursor::new(bytes), format);
        r.limits(limits);
        r
    };
    // Check the size from the header before anything is allocated for pixels.
    let (width, height) = reader(Limits::no_limits())
        .into_dimensions()
        .map_err(|e| format!("cannot read the {what} image header: {e}"))?;
    if width == 0 || height == 0 {
        return Err(format!("the {what} image is {width}x{height}: it has no pixels"));
    }
    let pixels = u64::from(width) * u64::from(height);
    if width > limits.max_side || height > limits.max_side || pixels > limits.max_pixels {
        return Err(format!(
            "the {what} image is {width}x{height} ({:.1} megapixels), over the limit of {} pixels per side and {:.1} megapixels",
            pixels as f64 / 1e6,
            limits.max_side,
            limits.max_pixels as f64 / 1e6
        ));
    }
    let mut decode_limits = Limits::default();
    decode_limits.max_image_width = Some(limits.max_side);
    decode_limits.max_image_height = Some(limits.max_side);
    // RGBA8 output plus the decoder's own buffers.
    decode_limits.max_alloc = Some(limits.max_pixels * 4 * 2);
    let image = reader(decode_limits).decode().map_err(|e| format!("cannot decode the {what} image: {e}"))?;
    Ok(RgbImage { width, height, pixels: into_rgb8(image) })
}

/// The decoded pixels as RGB8 without a second full-size buffer where it can be
/// avoided: RGB8 (most JPEGs) is taken as it is, and RGBA8 (PNG with alpha, GIF, most
/// WebP) is packed into RGB in its own buffer, dropping alpha as the `image` crate's
/// conversion does. Other layouts (grey, 16-bit) are converted into a new buffer; a
/// grey source is a third the size, and 16-bit images are rare.
fn into_rgb8(image: DynamicImage) -> Vec<u8> {
    match image {
        DynamicImage::ImageRgb8(rgb) => rgb.into_raw(),
        DynamicImage::ImageRgba8(rgba) => {
            let pixels = rgba.width() as usize * rgba.height() as usize;
            let mut data = rgba.into_raw();
            // Pixel i moves from 4i to 3i, never ahead of what is still to be read.
            for i in 0..pixels {
                let (from, to) = (4 * i, 3 * i);
                data[to] = data[from];
                data[to + 1] = data[from + 1];
                data[to + 2] = data[from + 2];
            }
            data.truncate(3 * pixels);
            data.shrink_to_fit();
            data
        }
        other => other.into_rgb8().into_raw(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn rgba_packed_in_place_matches_the_image_crates_conversion() {
        let rgba = image::RgbaImage::from_fn(37, 23, |x, y| {
            image::Rgba([(x * 7) as u8, (y * 11) as u8, (x * y) as u8, (x + y * 3) as u8])
        });
        let expected = DynamicImage::ImageRgba8(rgba.clone()).into_rgb8().into_raw();
        assert_eq!(into_rgb8(DynamicImage::ImageRgba8(rgba.clone())), expected);
        // And through a real file with alpha.
        let png = encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png);
        let decoded = decode_image(&png, None, &ImageLimits::default()).unwrap();
        assert_eq!((decoded.width, decoded.height, decoded.pixels), (37, 23, expected));
    }

    #[test]
    fn grey_images_become_rgb() {
        let grey = image::GrayImage::from_fn(5, 4, |x, y| image::Luma([(x * 40 + y) as u8]));
        let png = encode(&DynamicImage::ImageLuma8(grey.clone()), ImageFormat::Png);
        let decoded = decode_image(&png, None, &ImageLimits::default()).unwrap();
        let expected: Vec<u8> = grey.pixels().flat_map(|p| [p.0[0]; 3]).collect();
        assert_eq!(decoded.pixels, expected);
    }

    #[test]
    fn the_default_pixel_limit_admits_a_24_mp_photo_and_refuses_49_mp() {
        let limits = ImageLimits::default();
        let fits = |w: u64, h: u64| w * h <= limits.max_pixels && w.max(h) <= u64::from(limits.max_side);
        assert!(fits(6000, 4000) && fits(8192, 4096));
        assert!(!fits(7000, 7000) && !fits(8000, 6000));
    }

    #[test]
    fn file_size_is_checked_without_the_bytes() {
        let limits = ImageLimits::default();
        assert!(limits.check_file_size(limits.max_file_bytes).is_ok());
        let error = limits.check_file_size(limits.max_file_bytes + 1).unwrap_err();
        assert!(error.contains("over the limit of 104857600"), "{error}");
    }
}
