//! Drawing scenes: filled shapes without anti-aliasing on a white background, encoded
//! as PNG. The same scene always gives the same bytes.

use image::{ImageFormat, Rgb, RgbImage};

use super::scene::{Kind, Object, Scene, IMAGE_SIZE};

const BACKGROUND: [u8; 3] = [255, 255, 255];

/// The scene as an RGB image of `IMAGE_SIZE` x `IMAGE_SIZE` pixels.
pub fn render(scene: &Scene) -> RgbImage {
    let mut img = RgbImage::from_pixel(IMAGE_SIZE, IMAGE_SIZE, Rgb(BACKGROUND));
    for o in &scene.objects {
        draw_object(&mut img, o);
    }
    img
}

/// The scene as PNG bytes.
pub fn render_png(scene: &Scene) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    render(scene).write_to(&mut out, ImageFormat::Png).expect("PNG encoding into memory cannot fail");
    out.into_inner()
}

fn draw_object(img: &mut RgbImage, o: &Object) {
    let (cx, cy) = o.cell.origin();
    let (x0, y0) = (cx + o.x, cy + o.y);
    let s = o.size.pixels();
    let colour = Rgb(o.colour.rgb());
    for dy in 0..s {
        for dx in 0..s {
            if inside(o.kind, s, dx, dy) {
                img.put_pixel(x0 + dx, y0 + dy, colour);
            }
        }
    }
}

/// True when pixel (`dx`, `dy`) of an `s` x `s` box belongs to the shape (tested at
/// the pixel's centre).
fn inside(kind: Kind, s: u32, dx: u32, dy: u32) -> bool {
    let half = s as f32 / 2.0;
    let (px, py) = (dx as f32 + 0.5, dy as f32 + 0.5);
    match kind {
        Kind::Square => true,
        Kind::Circle => (px - half).powi(2) + (py - half).powi(2) <= half * half,
        // Apex at the top centre, base along the bottom edge.
        Kind::Triangle => (px - half).abs() <= half * py / s as f32,
    }
}
