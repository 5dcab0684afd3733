//! `vlmjudge report RUN/`: a table of a run's rounds (synth pairs, kept fraction, SFT
//! examples, final loss, eval accuracy overall, macro and per category) and its curves
//! as PNG charts, drawn here with the `image` crate and a built-in bitmap font.
//!
//! ```no_run
//! let report = vlmjudge::report::report("run".as_ref())?;
//! print!("{}", vlmjudge::report::to_text(&report));
//! for path in vlmjudge::report::write_report("run".as_ref(), &report)? {
//!     println!("wrote {}", path.display());
//! }
//! # Ok::<(), vlmjudge::Error>(())
//! ```

pub mod canvas;
mod chart;
mod charts;
pub mod font;
mod rows;
mod table;

use std::path::{Path, PathBuf};

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, RgbImage};

pub use chart::{Axis, LineChart, Series, PALETTE};
pub use charts::{accuracy_chart, kept_fraction_chart, loss_chart};
pub use rows::{report, Report, ReportRow};
pub use table::{to_markdown, to_text};

use crate::fsutil::write_atomic;
use crate::Result;

/// The files [`write_report`] writes into the run directory.
pub const REPORT_MD: &str = "report.md";
pub const REPORT_JSON: &str = "report.json";
pub const ACCURACY_PNG: &str = "accuracy.png";
pub const KEPT_FRACTION_PNG: &str = "kept_fraction.png";
pub const LOSS_PNG: &str = "loss.png";

/// Writes `image` as a PNG file, atomically.
pub fn write_png(path: &Path, image: &RgbImage) -> Result<()> {
    write_atomic(path, |w| {
        PngEncoder::new(w)
            .write_image(image.as_raw(), image.width(), image.height(), ExtendedColorType::Rgb8)
            .map_err(std::io::Error::other)
    })
}

/// Writes the report into `run`: `report.md`, `report.json` (`categories` and `rows`)
/// and the charts `accuracy.png`, `kept_fraction.png` and `loss.png`, each atomically.
/// Returns the paths written.
pub fn write_report(run: &Path, report: &Report) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();

    let md = run.join(REPORT_MD);
    let text = to_markdown(report);
    write_atomic(&md, |w| w.write_all(text.as_bytes()))?;
    written.push(md);

    let json_path = run.join(REPORT_JSON);
    let json = serde_json::json!({ "categories": report.categories, "rows": report.rows });
    crate::data::write_json(&json_path, &json)?;
    written.push(json_path);

    let charts = [
        (ACCURACY_PNG, accuracy_chart(report)),
        (KEPT_FRACTION_PNG, kept_fraction_chart(report)),
        (LOSS_PNG, loss_chart(report)),
    ];
    for (name, chart) in charts {
        let path = run.join(name);
        write_png(&path, &chart.render())?;
        written.push(path);
    }
    Ok(written)
}
