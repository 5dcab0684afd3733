//! A small raster canvas over an RGB image: anti-aliased thick lines, markers, filled
//! rectangles and bitmap text, all clipped to the image (and optionally to a rectangle).

use image::{Rgb, RgbImage};

use super::font;

/// An RGB colour.
pub type Color = [u8; 3];

pub const WHITE: Color = [255, 255, 255];
pub const BLACK: Color = [0, 0, 0];

/// A pixel rectangle: `x0..x1` by `y0..y1` (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x0: i64,
    pub y0: i64,
    pub x1: i64,
    pub y1: i64,
}

impl Rect {
    pub fn new(x: i64, y: i64, w: i64, h: i64) -> Rect {
        Rect { x0: x, y0: y, x1: x + w, y1: y + h }
    }

    pub fn width(&self) -> i64 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> i64 {
        self.y1 - self.y0
    }

    fn intersect(&self, o: &Rect) -> Rect {
        Rect { x0: self.x0.max(o.x0), y0: self.y0.max(o.y0), x1: self.x1.min(o.x1), y1: self.y1.min(o.y1) }
    }
}

/// Marker shapes, cycled so that series sharing a colour still differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    Diamond,
    Triangle,
}

impl Marker {
    pub const ALL: [Marker; 4] = [Marker::Circle, Marker::Square, Marker::Diamond, Marker::Triangle];
}

/// An image being drawn on, with a clip rectangle.
pub struct Canvas {
    img: RgbImage,
    clip: Rect,
}

impl Canvas {
    /// A canvas of `width` x `height` filled with `background`.
    pub fn new(width: u32, height: u32, background: Color) -> Canvas {
        let img = RgbImage::from_pixel(width.max(1), height.max(1), Rgb(background));
        let clip = Rect::new(0, 0, img.width() as i64, img.height() as i64);
        Canvas { img, clip }
    }

    pub fn width(&self) -> u32 {
        self.img.width()
    }

    pub fn height(&self) -> u32 {
        self.img.height()
    }

    pub fn into_image(self) -> RgbImage {
        self.img
    }

    /// Restricts drawing to `rect` (within the image) until [`Canvas::unclip`].
    pub fn clip_to(&mut self, rect: Rect) {
        self.clip = rect.intersect(&Rect::new(0, 0, self.img.width() as i64, self.img.height() as i64));
    }

    pub fn unclip(&mut self) {
        self.clip = Rect::new(0, 0, self.img.width() as i64, self.img.height() as i64);
    }

    /// Blends `color` into pixel (x, y) with opacity `alpha` (0..=1); outside the clip
    /// rectangle nothing happens.
    pub fn blend(&mut self, x: i64, y: i64, color: Color, alpha: f64) {
        let c = &self.clip;
        if x < c.x0 || y < c.y0 || x >= c.x1 || y >= c.y1 || alpha.is_nan() || alpha <= 0.0 {
            return;
        }
        let a = alpha.min(1.0);
        let p = self.img.get_pixel_mut(x as u32, y as u32);
        for (dst, src) in p.0.iter_mut().zip(color) {
            *dst = (*dst as f64 * (1.0 - a) + src as f64 * a).round() as u8;
        }
    }

    pub fn fill_rect(&mut self, rect: Rect, color: Color) {
        for y in rect.y0..rect.y1 {
            for x in rect.x0..rect.x1 {
                self.blend(x, y, color, 1.0);
            }
        }
    }

    /// A one-pixel outline just inside `rect`.
    pub fn stroke_rect(&mut self, rect: Rect, color: Color) {
        self.fill_rect(Rect { y1: rect.y0 + 1, ..rect }, color);
        self.fill_rect(Rect { y0: rect.y1 - 1, ..rect }, color);
        self.fill_rect(Rect { x1: rect.x0 + 1, ..rect }, color);
        self.fill_rect(Rect { x0: rect.x1 - 1, ..rect }, color);
    }

    /// A line from (x0, y0) to (x1, y1) (pixel centres at integer + 0.5) of the given
    /// width, anti-aliased by the distance of each pixel centre to the segment.
    /// Non-finite coordinates draw nothing.
    pub fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), width: f64, color: Color) {
        if ![x0, y0, x1, y1, width].iter().all(|v| v.is_finite()) {
            return;
        }
        let r = (width / 2.0).max(0.5);
        let c = self.clip;
        let bx0 = ((x0.min(x1) - r - 1.0).floor() as i64).max(c.x0);
        let bx1 = ((x0.max(x1) + r + 1.0).ceil() as i64).min(c.x1);
        let by0 = ((y0.min(y1) - r - 1.0).floor() as i64).max(c.y0);
        let by1 = ((y0.max(y1) + r + 1.0).ceil() as i64).min(c.y1);
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len2 = dx * dx + dy * dy;
        for py in by0..by1 {
            for px in bx0..bx1 {
                let (cx, cy) = (px as f64 + 0.5, py as f64 + 0.5);
                let t = if len2 > 0.0 { (((cx - x0) * dx + (cy - y0) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
                let (qx, qy) = (x0 + t * dx - cx, y0 + t * dy - cy);
                let d = (qx * qx + qy * qy).sqrt();
                let coverage = (r + 0.5 - d).clamp(0.0, 1.0);
                if coverage > 0.0 {
                    self.blend(px, py, color, coverage);
                }
            }
        }
    }

    /// A polyline through `points`, broken wherever a point is `None` or not finite.
    pub fn polyline(&mut self, points: &[Option<(f64, f64)>], width: f64, color: Color) {
        let finite = |p: &Option<(f64, f64)>| p.filter(|(x, y)| x.is_finite() && y.is_finite());
        for w in points.windows(2) {
            if let (Some(a), Some(b)) = (finite(&w[0]), finite(&w[1])) {
                self.line(a, b, width, color);
            }
        }
    }

    /// A filled marker of radius `r` centred on (x, y), with a white rim so it stands
    /// out from the lines it sits on.
    pub fn marker(&mut self, (x, y): (f64, f64), r: f64, shape: Marker, color: Color) {
        if !(x.is_finite() && y.is_finite() && r.is_finite()) {
            return;
        }
        self.marker_fill((x, y), r + 1.0, shape, WHITE);
        self.marker_fill((x, y), r, shape, color);
    }

    fn marker_fill(&mut self, (x, y): (f64, f64), r: f64, shape: Marker, color: Color) {
        let (ix0, ix1) = ((x - r - 1.0).floor() as i64, (x + r + 1.0).ceil() as i64);
        let (iy0, iy1) = ((y - r - 1.0).floor() as i64, (y + r + 1.0).ceil() as i64);
        for py in iy0..iy1 {
            for px in ix0..ix1 {
                // Coverage by 4x4 supersampling: the shapes stay simple to describe.
                let mut hits = 0;
                for sy in 0..4 {
                    for sx in 0..4 {
                        let dx = px as f64 + (sx as f64 + 0.5) / 4.0 - x;
                        let dy = py as f64 + (sy as f64 + 0.5) / 4.0 - y;
                        let inside = match shape {
                            Marker::Circle => dx * dx + dy * dy <= r * r,
                            Marker::Square => dx.abs() <= r * 0.85 && dy.abs() <= r * 0.85,
                            Marker::Diamond => dx.abs() + dy.abs() <= r * 1.2,
                            Marker::Triangle => dy <= r * 0.8 && dy >= -r * 1.1 && dx.abs() <= (dy + r * 1.1) * 0.6,
                        };
                        hits += usize::from(inside);
                    }
                }
                if hits > 0 {
                    self.blend(px, py, color, hits as f64 / 16.0);
                }
            }
        }
    }

    /// Draws `text` with its top-left corner at (x, y), each font pixel `scale` pixels wide.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: u32, color: Color) {
        let s = scale.max(1) as i64;
        for (i, ch) in text.chars().enumerate() {
            let gx = x + i as i64 * font::ADVANCE as i64 * s;
            for (row, bits) in font::glyph(ch).iter().enumerate() {
                for col in 0..font::GLYPH_W as i64 {
                    if bits >> (font::GLYPH_W as i64 - 1 - col) & 1 == 1 {
                        self.fill_rect(Rect::new(gx + col * s, y + row as i64 * s, s, s), color);
                    }
                }
            }
        }
    }

    /// Draws `text` turned 90 degrees counter-clockwise (reading bottom to top), with
    /// the bottom-left corner of its box at (x, y).
    pub fn text_vertical(&mut self, x: i64, y: i64, text: &str, scale: u32, color: Color) {
        let s = scale.max(1) as i64;
        for (i, ch) in text.chars().enumerate() {
            // Character i occupies the rows above the previous one.
            let base_y = y - i as i64 * font::ADVANCE as i64 * s;
            for (row, bits) in font::glyph(ch).iter().enumerate() {
                for col in 0..font::GLYPH_W as i64 {
                    if bits >> (font::GLYPH_W as i64 - 1 - col) & 1 == 1 {
                        // Rotating counter-clockwise: column -> up, row -> right.
                        let px = x + row as i64 * s;
                        let py = base_y - (col + 1) * s;
                        self.fill_rect(Rect::new(px, py, s, s), color);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is(c: &Canvas, x: u32, y: u32, color: Color) -> bool {
        c.img.get_pixel(x, y).0 == color
    }

    #[test]
    fn horizontal_line_colours_its_row_and_not_far_rows() {
        let mut c = Canvas::new(50, 20, WHITE);
        c.line((5.0, 10.5), (45.0, 10.5), 2.0, [200, 0, 0]);
        for x in 6..44 {
            assert!(is(&c, x, 10, [200, 0, 0]), "x={x}");
        }
        assert!(is(&c, 20, 3, WHITE));
        assert!(is(&c, 20, 16, WHITE));
        assert!(is(&c, 48, 10, WHITE), "the line stops at its end");
    }

    #[test]
    fn diagonal_line_passes_through_its_midpoint() {
        let mut c = Canvas::new(40, 40, WHITE);
        c.line((0.0, 0.0), (40.0, 40.0), 2.0, BLACK);
        assert!(is(&c, 20, 20, BLACK));
        assert!(is(&c, 30, 5, WHITE));
    }

    #[test]
    fn drawing_outside_the_image_or_with_nan_does_not_panic() {
        let mut c = Canvas::new(10, 10, WHITE);
        c.line((-100.0, -100.0), (200.0, 300.0), 3.0, BLACK);
        c.line((f64::NAN, 0.0), (5.0, 5.0), 3.0, BLACK);
        c.line((0.0, 0.0), (f64::INFINITY, 5.0), 3.0, BLACK);
        c.marker((f64::NAN, 1.0), 3.0, Marker::Circle, BLACK);
        c.marker((-50.0, 1e9), 3.0, Marker::Triangle, BLACK);
        c.text(-20, -3, "HELLO", 3, BLACK);
        c.text_vertical(8, 100, "HELLO", 2, BLACK);
        c.polyline(&[Some((1.0, 1.0)), None, Some((f64::NAN, 2.0)), Some((3.0, 3.0))], 2.0, BLACK);
        assert_eq!((c.width(), c.height()), (10, 10));
    }

    #[test]
    fn clip_keeps_drawing_inside_the_rectangle() {
        let mut c = Canvas::new(30, 30, WHITE);
        c.clip_to(Rect::new(10, 10, 10, 10));
        c.fill_rect(Rect::new(0, 0, 30, 30), BLACK);
        assert!(is(&c, 15, 15, BLACK));
        assert!(is(&c, 5, 5, WHITE));
        assert!(is(&c, 25, 15, WHITE));
        c.unclip();
        c.fill_rect(Rect::new(0, 0, 1, 1), BLACK);
        assert!(is(&c, 0, 0, BLACK));
    }

    #[test]
    fn polyline_breaks_at_missing_points() {
        let mut c = Canvas::new(60, 20, WHITE);
        let pts = [Some((5.0, 10.0)), Some((20.0, 10.0)), None, Some((40.0, 10.0)), Some((55.0, 10.0))];
        c.polyline(&pts, 2.0, BLACK);
        assert!(is(&c, 12, 9, BLACK) || is(&c, 12, 10, BLACK));
        assert!(is(&c, 30, 9, WHITE) && is(&c, 30, 10, WHITE), "no segment across the gap");
        assert!(is(&c, 48, 9, BLACK) || is(&c, 48, 10, BLACK));
    }

    #[test]
    fn text_puts_dark_pixels_inside_its_box_only() {
        let mut c = Canvas::new(100, 30, WHITE);
        c.text(10, 5, "A1", 2, BLACK);
        let w = font::text_width("A1", 2);
        let h = font::text_height(2);
        let mut inside = 0;
        for y in 0..30 {
            for x in 0..100 {
                if !is(&c, x, y, WHITE) {
                    assert!((10..10 + w).contains(&x) && (5..5 + h).contains(&y), "ink at ({x},{y})");
                    inside += 1;
                }
            }
        }
        assert!(inside > 20, "only {inside} dark pixels");
        // The top row of 'A' is .###. : its first font pixel column is blank.
        assert!(is(&c, 10, 5, WHITE));
        assert!(is(&c, 12, 5, BLACK));
    }

    #[test]
    fn vertical_text_is_taller_than_wide() {
        let mut c = Canvas::new(40, 80, WHITE);
        c.text_vertical(10, 70, "ABCD", 1, BLACK);
        let (mut minx, mut maxx, mut miny, mut maxy) = (u32::MAX, 0, u32::MAX, 0);
        for (x, y, p) in c.img.enumerate_pixels() {
            if p.0 != WHITE {
                (minx, maxx, miny, maxy) = (minx.min(x), maxx.max(x), miny.min(y), maxy.max(y));
            }
        }
        assert!(maxy - miny + 1 > 3 * (maxx - minx + 1), "box {minx}..{maxx} x {miny}..{maxy}");
        assert!(maxy < 70 && miny >= 70 - font::text_width("ABCD", 1));
        assert!(minx >= 10 && maxx < 10 + font::GLYPH_H);
    }

    #[test]
    fn markers_fill_their_centre() {
        for shape in Marker::ALL {
            let mut c = Canvas::new(20, 20, WHITE);
            c.marker((10.0, 10.0), 4.0, shape, [0, 0, 200]);
            assert!(is(&c, 10, 10, [0, 0, 200]), "{shape:?}");
            assert!(is(&c, 0, 0, WHITE), "{shape:?}");
        }
    }
}
