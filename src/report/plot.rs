//! Drawing a [`LineChart`] with plotters, as SVG (text stays text: the HTML page and
//! editors render it with the reader's fonts) and as PNG (text rasterised from DejaVu
//! Sans, embedded in the binary, so the image is the same on every machine).
//!
//! The legend sits in a column right of the plot, one row per series, so a chart with
//! many categories never hides its lines behind the legend; the image grows taller
//! when the rows need it. Gaps (a missing or non-finite value) break a line; a point
//! with no neighbour on either side gets a marker even where lines have none.

use std::sync::OnceLock;

use image::RgbImage;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::chart::{Axis, LineChart, PALETTE};
use crate::{Error, Result};

/// The family every text of a chart asks for: DejaVu Sans for the PNG; in the SVG a
/// generic family the viewer resolves.
const FONT: &str = "sans-serif";
const TITLE_SIZE: f64 = 22.0;
const LABEL_SIZE: f64 = 15.0;
const TICK_SIZE: f64 = 13.0;
const MARGIN: u32 = 16;
/// Room for the tick labels and the axis description below and left of the plot.
const X_AXIS_SPACE: u32 = 52;
const Y_AXIS_SPACE: u32 = 72;
/// Room for the title above the plot.
const TITLE_SPACE: u32 = 44;
const LEGEND_ROW: u32 = 22;
const LEGEND_SWATCH: i32 = 28;
const GRID: RGBColor = RGBColor(228, 228, 228);

/// Registers the embedded font once. plotters draws no text without a font.
fn font() -> Result<()> {
    static LOADED: OnceLock<bool> = OnceLock::new();
    let loaded = *LOADED
        .get_or_init(|| plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok());
    if loaded {
        Ok(())
    } else {
        Err(Error::Engine("the embedded chart font (DejaVu Sans) does not parse".into()))
    }
}

fn drawing_error(e: impl std::fmt::Display) -> Error {
    Error::Engine(format!("drawing a chart: {e}"))
}

fn color(i: usize) -> RGBColor {
    let [r, g, b] = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// Where a chart's pieces go, in pixels.
struct Geometry {
    width: u32,
    height: u32,
    legend_width: u32,
}

impl Geometry {
    fn of(chart: &LineChart) -> Result<Geometry> {
        font()?;
        let widest = chart
            .series
            .iter()
            .map(|s| (FONT, LABEL_SIZE).into_font().box_size(&s.name).map(|(w, _)| w))
            .collect::<std::result::Result<Vec<u32>, _>>()
            .map_err(drawing_error)?
            .into_iter()
            .max();
        let legend_width = widest.map_or(0, |w| w + LEGEND_SWATCH as u32 + 2 * MARGIN);
        let (pw, ph) = (chart.plot_size.0.max(100), chart.plot_size.1.max(100));
        let legend_height = TITLE_SPACE + MARGIN + chart.series.len() as u32 * LEGEND_ROW + MARGIN;
        Ok(Geometry {
            width: MARGIN + Y_AXIS_SPACE + pw + MARGIN + legend_width,
            height: (MARGIN + TITLE_SPACE + ph + X_AXIS_SPACE + MARGIN).max(legend_height),
            legend_width,
        })
    }
}

/// The runs of consecutive finite points of a series.
fn segments(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for &(x, y) in points {
        match y.filter(|y| y.is_finite() && x.is_finite()) {
            Some(y) => out.last_mut().expect("never empty").push((x, y)),
            None if out.last().is_some_and(|s| !s.is_empty()) => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// The axis's range with a little room at both ends, so a point at a limit shows
/// its whole marker instead of sitting on the frame.
fn padded(axis: &Axis) -> std::ops::Range<f64> {
    let pad = (axis.max - axis.min) * 0.04;
    axis.min - pad..axis.max + pad
}

fn draw<DB: DrawingBackend>(chart: &LineChart, root: &DrawingArea<DB, Shift>, geometry: &Geometry) -> Result<()> {
    root.fill(&WHITE).map_err(drawing_error)?;
    let (plot_area, legend_area) = root.split_horizontally(geometry.width - geometry.legend_width);
    let finite = |p: &&(f64, Option<f64>)| p.1.is_some_and(f64::is_finite) && p.0.is_finite();
    let x = Axis::fit(chart.series.iter().flat_map(|s| s.points.iter().filter(finite).map(|p| p.0)), chart.integer_x);
    let y = Axis::fit(chart.series.iter().flat_map(|s| s.points.iter().filter(finite).filter_map(|p| p.1)), false);
    let mut cc = ChartBuilder::on(&plot_area)
        .caption(&chart.title, (FONT, TITLE_SIZE))
        .margin(MARGIN)
        .x_label_area_size(X_AXIS_SPACE)
        .y_label_area_size(Y_AXIS_SPACE)
        .build_cartesian_2d(padded(&x), padded(&y))
        .map_err(drawing_error)?;
    // plotters picks its own round tick values within the ranges; an axis of whole
    // numbers (rounds, steps) labels only the whole ones.
    let x_label = |v: &f64| if chart.integer_x && v.fract().abs() > 1e-9 { String::new() } else { x.label(*v) };
    cc.configure_mesh()
        .x_labels(x.ticks.len())
        .y_labels(y.ticks.len())
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_label_formatter(&x_label)
        .label_style((FONT, TICK_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(drawing_error)?;
    for (i, series) in chart.series.iter().enumerate() {
        let style = color(i).stroke_width(2);
        for segment in segments(&series.points) {
            if segment.len() > 1 {
                cc.draw_series(LineSeries::new(segment.iter().copied(), style)).map_err(drawing_error)?;
            }
            if chart.markers || segment.len() == 1 {
                cc.draw_series(segment.iter().map(|&p| marker(i, p))).map_err(drawing_error)?;
            }
        }
    }
    // The legend, one row per series, from the top of the plot down.
    for (i, series) in chart.series.iter().enumerate() {
        let y = (TITLE_SPACE + MARGIN + i as u32 * LEGEND_ROW + LEGEND_ROW / 2) as i32;
        let x0 = MARGIN as i32 / 2;
        let style = color(i).stroke_width(2);
        legend_area.draw(&PathElement::new(vec![(x0, y), (x0 + LEGEND_SWATCH, y)], style)).map_err(drawing_error)?;
        if chart.markers {
            legend_area.draw(&marker(i, (x0 + LEGEND_SWATCH / 2, y))).map_err(drawing_error)?;
        }
        let label = Text::new(series.name.clone(), (x0 + LEGEND_SWATCH + 8, y - 8), (FONT, LABEL_SIZE));
        legend_area.draw(&label).map_err(drawing_error)?;
    }
    root.present().map_err(drawing_error)
}

/// Series `i`'s marker at `at`: a filled circle for the first ten colours, then
/// triangles, then crosses, so series that share a colour still differ.
fn marker<DB: DrawingBackend, C: Clone + 'static>(i: usize, at: C) -> DynElement<'static, DB, C> {
    let style = color(i).filled();
    match (i / PALETTE.len()) % 3 {
        0 => Circle::new(at, 4, style).into_dyn(),
        1 => TriangleMarker::new(at, 5, style).into_dyn(),
        _ => Cross::new(at, 4, color(i).stroke_width(2)).into_dyn(),
    }
}

/// The chart as an SVG document.
pub fn to_svg(chart: &LineChart) -> Result<String> {
    let geometry = Geometry::of(chart)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (geometry.width, geometry.height)).into_drawing_area();
        draw(chart, &root, &geometry)?;
    }
    Ok(svg)
}

/// The chart as an RGB image.
pub fn to_png(chart: &LineChart) -> Result<RgbImage> {
    let geometry = Geometry::of(chart)?;
    let mut pixels = vec![255u8; geometry.width as usize * geometry.height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (geometry.width, geometry.height)).into_drawing_area();
        draw(chart, &root, &geometry)?;
    }
    RgbImage::from_raw(geometry.width, geometry.height, pixels).ok_or_else(|| drawing_error("buffer size"))
}

#[cfg(test)]
mod tests {
    use super::super::chart::Series;
    use super::*;

    fn chart(series: Vec<Series>) -> LineChart {
        let mut c = LineChart::new("Accuracy per round", "round", "accuracy");
        c.series = series;
        c.integer_x = true;
        c
    }

    fn rounds(values: &[Option<f64>]) -> Vec<(f64, Option<f64>)> {
        values.iter().enumerate().map(|(i, v)| (i as f64, *v)).collect()
    }

    /// Pixels within a small distance of `rgb` in columns `x0..x1`.
    fn count(img: &RgbImage, rgb: [u8; 3], x0: u32, x1: u32) -> usize {
        img.enumerate_pixels()
            .filter(|(x, _, p)| {
                (x0..x1).contains(x) && p.0.iter().zip(rgb).all(|(a, b)| (i32::from(*a) - i32::from(b)).abs() <= 30)
            })
            .count()
    }

    #[test]
    fn every_series_is_drawn_in_its_colour_in_the_plot_and_the_legend() {
        let c = chart(vec![
            Series::new("overall", rounds(&[Some(0.5), Some(0.6), Some(0.7)])),
            Series::new("macro", rounds(&[Some(0.4), Some(0.45), Some(0.65)])),
            Series::new("ocr", rounds(&[Some(0.3), Some(0.8), Some(0.75)])),
        ]);
        let img = to_png(&c).unwrap();
        let g = Geometry::of(&c).unwrap();
        assert_eq!((img.width(), img.height()), (g.width, g.height));
        let plot_end = g.width - g.legend_width;
        for (i, rgb) in PALETTE.iter().take(3).enumerate() {
            let (plot, legend) = (count(&img, *rgb, 0, plot_end), count(&img, *rgb, plot_end, g.width));
            assert!(plot > 200 && legend > 20, "series {i}: {plot} pixels in the plot, {legend} in the legend");
        }
        // The title: dark pixels in the band above the plot.
        let dark = img.enumerate_pixels().filter(|(_, y, p)| *y < TITLE_SPACE && p.0.iter().all(|&v| v < 100)).count();
        assert!(dark > 100, "{dark} dark pixels in the title band");
    }

    #[test]
    fn many_categories_get_a_legend_row_each_and_a_taller_image() {
        let series: Vec<Series> =
            (0..25).map(|i| Series::new(format!("category {i}"), rounds(&[Some(i as f64 / 25.0)]))).collect();
        let c = chart(series);
        let img = to_png(&c).unwrap();
        let g = Geometry::of(&c).unwrap();
        assert!(img.height() >= TITLE_SPACE + 25 * LEGEND_ROW, "{}", img.height());
        for (i, rgb) in PALETTE.iter().enumerate() {
            assert!(count(&img, *rgb, g.width - g.legend_width, g.width) > 10, "legend colour {i}");
        }
    }

    #[test]
    fn gaps_a_lonely_point_and_no_data_still_draw() {
        let mut gappy = chart(vec![Series::new("overall", rounds(&[Some(0.5), None, Some(f64::NAN), Some(0.7)]))]);
        gappy.markers = false;
        let img = to_png(&gappy).unwrap();
        let g = Geometry::of(&gappy).unwrap();
        // Both lonely points are marked though the chart has no markers.
        assert!(count(&img, PALETTE[0], 0, g.width - g.legend_width) > 40);
        assert!(to_png(&chart(Vec::new())).is_ok() && to_svg(&chart(Vec::new())).is_ok());
        let one_round = chart(vec![Series::new("overall", vec![(0.0, Some(0.5))])]);
        assert!(to_png(&one_round).is_ok());
    }

    #[test]
    fn the_svg_keeps_its_text_as_text() {
        let svg = to_svg(&chart(vec![Series::new("charts & <tables>", rounds(&[Some(0.5), Some(0.6)]))])).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{}", &svg[..80.min(svg.len())]);
        for text in ["Accuracy per round", "round", "accuracy", "charts &amp; &lt;tables&gt;"] {
            assert!(svg.contains(text), "{text:?} is not in the SVG");
        }
    }
}
