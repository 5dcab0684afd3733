//! Line charts drawn on a [`Canvas`]: a title, axes with "nice" tick values, axis labels,
//! one line (with markers) per series, and a legend. Missing or non-finite values break
//! a line instead of failing; no data at all still gives a framed, labelled chart.

use image::RgbImage;

use super::canvas::{Canvas, Color, Marker, Rect, WHITE};
use super::font;

/// Distinct colours for series (a qualitative palette), cycled when there are more
/// series than colours; the marker shape cycles at the same time.
pub const PALETTE: [Color; 10] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [255, 127, 14],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [23, 190, 207],
    [188, 189, 34],
    [80, 80, 80],
];

const AXIS: Color = [60, 60, 60];
const GRID: Color = [225, 225, 225];
const TEXT: Color = [20, 20, 20];

/// One line of a chart: points as (x, y), where a `None` or non-finite y is a gap.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, Option<f64>)>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, Option<f64>)>) -> Series {
        Series { name: name.into(), points }
    }
}

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Tick values on the x axis are whole numbers (e.g. rounds, steps).
    pub integer_x: bool,
    /// Draw a marker at every point (off for dense curves such as loss per step).
    pub markers: bool,
    /// Width and height of the plot area in pixels (the image adds margins and legend).
    pub plot_size: (u32, u32),
}

impl LineChart {
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, y_label: impl Into<String>) -> LineChart {
        LineChart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            integer_x: false,
            markers: true,
            plot_size: (640, 400),
        }
    }

    /// The colour and marker of series `i`.
    pub fn style(i: usize) -> (Color, Marker) {
        (PALETTE[i % PALETTE.len()], Marker::ALL[(i / PALETTE.len()) % Marker::ALL.len()])
    }
}

/// An axis: its range and tick values.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub min: f64,
    pub max: f64,
    pub ticks: Vec<f64>,
    /// Digits after the decimal point in tick labels.
    pub decimals: usize,
}

impl Axis {
    /// An axis covering `values` (non-finite ones ignored) with about five ticks at
    /// 1, 2 or 5 times a power of ten. No values gives 0..1; a single value (or a flat
    /// line) gets a range around it. With `integer`, ticks are whole numbers.
    pub fn fit(values: impl IntoIterator<Item = f64>, integer: bool) -> Axis {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        // A flat range (or one too narrow to label) widens around its value.
        let scale = lo.abs().max(hi.abs());
        if hi - lo <= scale * 1e-9 || hi - lo < 1e-12 {
            let half = if integer {
                1.0
            } else if scale > 0.0 {
                scale * 0.1
            } else {
                0.5
            };
            (lo, hi) = (lo - half, hi + half);
        }
        let rough = (hi - lo) / 5.0;
        let magnitude = 10f64.powf(rough.log10().floor());
        let mut step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= rough).unwrap_or(rough);
        if integer {
            step = step.max(1.0).round();
        }
        let min = (lo / step).floor() * step;
        let max = (hi / step).ceil() * step;
        let n = ((max - min) / step).round() as usize;
        let ticks =
            (0..=n).map(|i| min + i as f64 * step).map(|t| if t.abs() < step * 1e-9 { 0.0 } else { t }).collect();
        let decimals = if step >= 1.0 { 0 } else { ((-step.log10()).ceil() as usize).min(9) };
        Axis { min, max, ticks, decimals }
    }

    /// The label of a tick value.
    pub fn label(&self, v: f64) -> String {
        format!("{v:.*}", self.decimals)
    }

    /// Position of `v` along a pixel span from `p0` (at `min`) to `p1` (at `max`).
    fn map(&self, v: f64, p0: f64, p1: f64) -> f64 {
        p0 + (v - self.min) / (self.max - self.min) * (p1 - p0)
    }
}

const SCALE: u32 = 2;
const TITLE_SCALE: u32 = 3;
const MARGIN: i64 = 16;
const LEGEND_SWATCH: i64 = 24;
/// Legend names longer than this are cut (with a trailing `..`).
const LEGEND_CHARS: usize = 28;

/// Pixels between the plot frame and the axis ends, so markers at the limits show whole.
const PAD: i64 = 12;

/// The pixel spans of the x axis (left to right) and y axis (bottom to top) in `plot`.
fn data_spans(plot: &Rect) -> ((f64, f64), (f64, f64)) {
    (((plot.x0 + PAD) as f64, (plot.x1 - 1 - PAD) as f64), ((plot.y1 - 1 - PAD) as f64, (plot.y0 + PAD) as f64))
}

/// Where the pieces of a chart go.
#[derive(Debug, Clone)]
pub struct Layout {
    pub width: u32,
    pub height: u32,
    pub plot: Rect,
    pub legend: Rect,
}

fn legend_name(name: &str) -> String {
    if name.chars().count() <= LEGEND_CHARS {
        name.to_string()
    } else {
        name.chars().take(LEGEND_CHARS - 2).chain("..".chars()).collect()
    }
}

impl LineChart {
    fn axes(&self) -> (Axis, Axis) {
        let xs =
            self.series.iter().flat_map(|s| s.points.iter().filter(|p| p.1.is_some_and(f64::is_finite)).map(|p| p.0));
        let ys = self.series.iter().flat_map(|s| s.points.iter().filter_map(|p| p.1));
        (Axis::fit(xs, self.integer_x), Axis::fit(ys, false))
    }

    /// The image size and where the plot area and legend go.
    pub fn layout(&self) -> Layout {
        let (_, y) = self.axes();
        let char_w = (font::ADVANCE * SCALE) as i64;
        let line_h = (font::text_height(SCALE) + 8) as i64;
        let y_tick_w = y.ticks.iter().map(|t| font::text_width(&y.label(*t), SCALE)).max().unwrap_or(0) as i64;
        let left = MARGIN + line_h + y_tick_w + 10;
        let top = MARGIN + font::text_height(TITLE_SCALE) as i64 + 16;
        let (pw, ph) = (self.plot_size.0.max(50) as i64, self.plot_size.1.max(50) as i64);
        let plot = Rect::new(left, top, pw, ph);
        let name_w =
            self.series.iter().map(|s| legend_name(&s.name).chars().count() as i64).max().unwrap_or(0) * char_w;
        let legend_w = if self.series.is_empty() { 0 } else { LEGEND_SWATCH + 8 + name_w + 16 };
        let legend_h = self.series.len() as i64 * line_h + 8;
        let legend = Rect::new(plot.x1 + 20, top, legend_w, legend_h);
        let bottom = plot.y1 + 10 + 2 * line_h + MARGIN;
        let width = (legend.x1 + MARGIN).max(plot.x1 + MARGIN);
        let height = bottom.max(legend.y1 + MARGIN);
        let title_w = font::text_width(&self.title, TITLE_SCALE) as i64 + 2 * MARGIN;
        Layout { width: width.max(title_w) as u32, height: height as u32, plot, legend }
    }

    /// Draws the chart.
    pub fn render(&self) -> RgbImage {
        let (xa, ya) = self.axes();
        let layout = self.layout();
        let plot = layout.plot;
        let mut c = Canvas::new(layout.width, layout.height, WHITE);
        let ((px0, px1), (py0, py1)) = data_spans(&plot);
        let to_px = |x: f64, y: f64| (xa.map(x, px0, px1) + 0.5, ya.map(y, py0, py1) + 0.5);
        let th = font::text_height(SCALE) as i64;

        // Title, centred over the plot.
        let tw = font::text_width(&self.title, TITLE_SCALE) as i64;
        let tx = (plot.x0 + (plot.width() - tw) / 2).clamp(MARGIN, (layout.width as i64 - tw - MARGIN).max(MARGIN));
        c.text(tx, MARGIN, &self.title, TITLE_SCALE, TEXT);

        // Grid, ticks and tick labels.
        for &t in &ya.ticks {
            let y = ya.map(t, py0, py1).round() as i64;
            c.fill_rect(Rect::new(plot.x0, y, plot.width(), 1), GRID);
            c.fill_rect(Rect::new(plot.x0 - 6, y, 6, 1), AXIS);
            let label = ya.label(t);
            let lw = font::text_width(&label, SCALE) as i64;
            c.text(plot.x0 - 10 - lw, y - th / 2, &label, SCALE, TEXT);
        }
        let x_labels: Vec<String> = xa.ticks.iter().map(|t| xa.label(*t)).collect();
        let widest = x_labels.iter().map(|l| font::text_width(l, SCALE) as i64).max().unwrap_or(0);
        // Label every k-th tick so labels never overlap.
        let spacing = if xa.ticks.len() > 1 { plot.width() / (xa.ticks.len() as i64 - 1) } else { plot.width() };
        let every = ((widest + 12) / spacing.max(1) + 1).max(1) as usize;
        for (i, (&t, label)) in xa.ticks.iter().zip(&x_labels).enumerate() {
            let x = xa.map(t, px0, px1).round() as i64;
            c.fill_rect(Rect::new(x, plot.y0, 1, plot.height()), GRID);
            c.fill_rect(Rect::new(x, plot.y1, 1, 6), AXIS);
            if i % every == 0 {
                let lw = font::text_width(label, SCALE) as i64;
                c.text(x - lw / 2, plot.y1 + 10, label, SCALE, TEXT);
            }
        }
        c.stroke_rect(plot, AXIS);

        // Axis labels.
        let xw = font::text_width(&self.x_label, SCALE) as i64;
        c.text(plot.x0 + (plot.width() - xw) / 2, plot.y1 + 18 + th, &self.x_label, SCALE, TEXT);
        let yw = font::text_width(&self.y_label, SCALE) as i64;
        c.text_vertical(MARGIN, plot.y0 + (plot.height() + yw) / 2, &self.y_label, SCALE, TEXT);

        // Series: lines first, then markers on top, clipped to the plot area.
        c.clip_to(Rect { x0: plot.x0 + 1, y0: plot.y0 + 1, x1: plot.x1 - 1, y1: plot.y1 - 1 });
        for (i, s) in self.series.iter().enumerate() {
            let (color, _) = LineChart::style(i);
            let pts: Vec<Option<(f64, f64)>> = s
                .points
                .iter()
                .map(|&(x, y)| y.filter(|y| y.is_finite() && x.is_finite()).map(|y| to_px(x, y)))
                .collect();
            c.polyline(&pts, 2.5, color);
            // A point with no neighbour draws no line: always mark it.
            for (j, p) in pts.iter().enumerate() {
                let lonely =
                    j.checked_sub(1).and_then(|k| pts[k]).is_none() && pts.get(j + 1).copied().flatten().is_none();
                if let Some(p) = p {
                    if self.markers || lonely {
                        c.marker(*p, 4.5, LineChart::style(i).1, color);
                    }
                }
            }
        }
        c.unclip();
        if !self.series.iter().any(|s| s.points.iter().any(|p| p.0.is_finite() && p.1.is_some_and(f64::is_finite))) {
            let msg = "no data";
            let w = font::text_width(msg, SCALE) as i64;
            c.text(plot.x0 + (plot.width() - w) / 2, plot.y0 + (plot.height() - th) / 2, msg, SCALE, AXIS);
        }

        // Legend.
        if !self.series.is_empty() {
            let lg = layout.legend;
            c.stroke_rect(lg, [200, 200, 200]);
            let line_h = th + 8;
            for (i, s) in self.series.iter().enumerate() {
                let (color, marker) = LineChart::style(i);
                let y = lg.y0 + 8 + i as i64 * line_h;
                let mid = y as f64 + th as f64 / 2.0;
                let sx = lg.x0 + 8;
                c.line((sx as f64, mid), ((sx + LEGEND_SWATCH) as f64, mid), 2.5, color);
                c.marker(((sx + LEGEND_SWATCH / 2) as f64, mid), 4.5, marker, color);
                c.text(sx + LEGEND_SWATCH + 8, y, &legend_name(&s.name), SCALE, TEXT);
            }
        }
        c.into_image()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(series: Vec<Series>) -> LineChart {
        let mut c = LineChart::new("Accuracy per round", "round", "accuracy");
        c.series = series;
        c.integer_x = true;
        c
    }

    fn close(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
        a.iter().zip(b).all(|(x, y)| (*x as i32 - y as i32).abs() <= tol)
    }

    #[test]
    fn axis_fit_uses_nice_steps_that_cover_the_data() {
        let a = Axis::fit([0.62, 0.71, 0.655], false);
        assert!(a.min <= 0.62 && a.max >= 0.71);
        assert_eq!(a.ticks.len(), 6, "{a:?}");
        assert!((a.ticks[1] - a.ticks[0] - 0.02).abs() < 1e-12, "{a:?}");
        assert_eq!((a.label(a.ticks[0]).as_str(), a.label(a.ticks[1]).as_str()), ("0.62", "0.64"));
        let r = Axis::fit([0.0, 1.0, 2.0, 3.0], true);
        assert_eq!(r.ticks, vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(r.label(2.0), "2");
    }

    #[test]
    fn axis_fit_survives_degenerate_input() {
        let empty = Axis::fit([], false);
        assert_eq!((empty.min, empty.max), (0.0, 1.0));
        let nan = Axis::fit([f64::NAN, f64::INFINITY], false);
        assert_eq!((nan.min, nan.max), (0.0, 1.0));
        let flat = Axis::fit([0.5, 0.5], false);
        assert!(flat.min < 0.5 && flat.max > 0.5 && flat.ticks.len() >= 2, "{flat:?}");
        let zero = Axis::fit([0.0], false);
        assert!(zero.min < 0.0 && zero.max > 0.0);
        let one_round = Axis::fit([3.0], true);
        assert!(one_round.min <= 2.0 && one_round.max >= 4.0 && one_round.ticks.iter().all(|t| t.fract() == 0.0));
        let huge = Axis::fit([1e300, -1e300], false);
        assert!(huge.ticks.len() >= 2 && huge.ticks.iter().all(|t| t.is_finite()));
    }

    #[test]
    fn image_has_the_size_of_its_layout() {
        let c = chart(vec![Series::new("overall", vec![(0.0, Some(0.5)), (1.0, Some(0.6))])]);
        let img = c.render();
        let l = c.layout();
        assert_eq!((img.width(), img.height()), (l.width, l.height));
        assert!(l.width as i64 >= l.plot.x1 + 20 && l.legend.width() > 0);
        assert!(l.plot.width() == 640 && l.plot.height() == 400);
    }

    #[test]
    fn line_pixels_are_coloured_where_the_data_says() {
        // A peak: (0, 0) -> (2, 1) -> (4, 0). The apex is high in the middle of the plot;
        // low in the middle there is nothing (a mirrored axis would swap the two).
        let c = chart(vec![Series::new("s", vec![(0.0, Some(0.0)), (2.0, Some(1.0)), (4.0, Some(0.0))])]);
        let img = c.render();
        let (xa, ya) = c.axes();
        let ((x0, x1), (y0, y1)) = data_spans(&c.layout().plot);
        let at = |x: f64, y: f64| img.get_pixel((xa.map(x, x0, x1) + 0.5) as u32, (ya.map(y, y0, y1) + 0.5) as u32).0;
        for (x, y) in [(1.0, 0.5), (3.0, 0.5), (2.0, 1.0), (0.5, 0.25)] {
            assert!(close(at(x, y), PALETTE[0], 40), "({x}, {y}) is {:?}", at(x, y));
        }
        for (x, y) in [(2.0, 0.1), (0.5, 0.9), (3.5, 0.9)] {
            assert!(!close(at(x, y), PALETTE[0], 60), "({x}, {y}) is {:?}", at(x, y));
        }
        // Higher values are higher up in the image.
        assert!(ya.map(1.0, y0, y1) < ya.map(0.0, y0, y1));
    }

    #[test]
    fn every_series_gets_its_own_colour_in_the_legend() {
        let series: Vec<Series> = (0..3).map(|i| Series::new(format!("c{i}"), vec![(0.0, Some(i as f64))])).collect();
        let c = chart(series);
        let img = c.render();
        let lg = c.layout().legend;
        for (i, color) in PALETTE.iter().take(3).enumerate() {
            let found = img
                .enumerate_pixels()
                .filter(|(x, y, _)| {
                    lg.x0 <= *x as i64 && (*x as i64) < lg.x1 && lg.y0 <= *y as i64 && (*y as i64) < lg.y1
                })
                .any(|(_, _, p)| p.0 == *color);
            assert!(found, "series {i}'s colour is not in the legend");
        }
        assert_ne!(LineChart::style(0), LineChart::style(PALETTE.len()), "the 11th series differs by marker");
    }

    #[test]
    fn title_is_drawn_in_the_top_band() {
        let c = chart(vec![]);
        let img = c.render();
        let l = c.layout();
        let dark = img.enumerate_pixels().filter(|(_, y, p)| (*y as i64) < l.plot.y0 - 4 && p.0[0] < 100).count();
        assert!(dark > 50, "{dark} dark pixels above the plot");
    }

    #[test]
    fn degenerate_data_renders_without_panicking() {
        let cases = vec![
            vec![],
            vec![Series::new("empty", vec![])],
            vec![Series::new("one", vec![(0.0, Some(0.7))])],
            vec![Series::new("flat", vec![(0.0, Some(0.5)), (1.0, Some(0.5)), (2.0, Some(0.5))])],
            vec![Series::new("nan", vec![(0.0, Some(f64::NAN)), (1.0, None), (f64::NAN, Some(1.0))])],
            vec![Series::new("inf", vec![(0.0, Some(f64::INFINITY)), (1.0, Some(-f64::INFINITY)), (2.0, Some(3.0))])],
            vec![Series::new("a very long category name that goes on and on and on", vec![(1e9, Some(-1e-9))])],
        ];
        for s in cases {
            let img = chart(s).render();
            assert!(img.width() > 600 && img.height() > 400);
        }
    }

    #[test]
    fn a_lonely_point_is_marked() {
        // One round only: no line can be drawn, so a marker must show the value.
        let mut c = chart(vec![Series::new("one", vec![(1.0, Some(0.7))])]);
        c.markers = false;
        let img = c.render();
        let p = c.layout().plot;
        let n = img
            .enumerate_pixels()
            .filter(|(x, y, px)| {
                p.x0 < *x as i64 && (*x as i64) < p.x1 && p.y0 < *y as i64 && (*y as i64) < p.y1 && px.0 == PALETTE[0]
            })
            .count();
        assert!(n > 10, "{n} marker pixels");
    }
}
