//! What a line chart shows: a title, axis labels, series of points with gaps, and the
//! axis ranges with "nice" tick values. [`super::plot`] draws it.

/// Distinct colours for series (a qualitative palette), cycled when there are more
/// series than colours; the marker shape changes at each cycle.
pub const PALETTE: [[u8; 3]; 10] = [
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
