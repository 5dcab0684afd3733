//! Image decoding for judge inputs: PNG, JPEG, WebP and GIF (first frame) to RGB8,
//! with limits against decompression bombs.

use std::io::Cursor;
use std::path::Path;

use image::{ImageFormat, ImageReader, Limits};

/// Limits on what an image may cost to decode.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    /// Longest side in pixels.
    pub max_side: u32,
    /// Width x height.
    pub max_pixels: u64,
    /// Size of the encoded file.
    pub max_file_bytes: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits { max_side: 16_384, max_pixels: 50_000_000, max_file_bytes: 100 << 20 }
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
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(format!("the image file is {} bytes, over the limit of {}", bytes.len(), limits.max_file_bytes));
    }
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
            "the {what} image is {width}x{height} ({:.1} megapixels), over the limit of {} pixels per side and {:.0} megapixels",
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
    Ok(RgbImage { width, height, pixels: image.into_rgb8().into_raw() })
}
