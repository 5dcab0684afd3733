//! `vlmjudge report RUN/`: a table of a run's rounds (synth pairs, kept fraction, SFT
//! examples, final loss, eval accuracy overall, macro and per category), its curves as
//! SVG and PNG charts (plotters), and `report.html`, one page with all of it.
//!
//! ```no_run
//! let report = vlmjudge::report::report("run".as_ref())?;
//! print!("{}", vlmjudge::report::to_text(&report));
//! for path in vlmjudge::report::write_report("run".as_ref(), &report)? {
//!     println!("wrote {}", path.display());
//! }
//! # Ok::<(), vlmjudge::Error>(())
//! ```

mod chart;
mod charts;
mod html;
mod plot;
mod rows;
mod table;

use std::path::{Path, PathBuf};

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, RgbImage};

pub use chart::{Axis, LineChart, Series, PALETTE};
pub use charts::{accuracy_chart, kept_fraction_chart, loss_chart};
pub use html::to_html;
pub use plot::{to_png, to_svg};
pub use rows::{report, Report, ReportRow};
pub use table::{to_markdown, to_text};

use crate::fsutil::write_atomic;
use crate::Result;

/// The files [`write_report`] writes into the run directory.
pub const REPORT_MD: &str = "report.md";
pub const REPORT_JSON: &str = "report.json";
pub const REPORT_HTML: &str = "report.html";
/// The charts' file stems: each is written as `<stem>.svg` and `<stem>.png`.
pub const ACCURACY: &str = "accuracy";
pub const KEPT_FRACTION: &str = "kept_fraction";
pub const LOSS: &str = "loss";

/// Writes `image` as a PNG file, atomically.
pub fn write_png(path: &Path, image: &RgbImage) -> Result<()> {
    write_atomic(path, |w| {
        PngEncoder::new(w)
            .write_image(image.as_raw(), image.width(), image.height(), ExtendedColorType::Rgb8)
            .map_err(std::io::Error::other)
    })
}

/// Writes the report into `run`: `report.md`, `report.json` (`categories` and `rows`),
/// the charts `accuracy`, `kept_fraction` and `loss` as SVG and PNG, and
/// `report.html`, each atomically. Returns the paths written.
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

    let charts =
        [(ACCURACY, accuracy_chart(report)), (KEPT_FRACTION, kept_fraction_chart(report)), (LOSS, loss_chart(report))];
    let mut svgs = Vec::new();
    for (stem, chart) in charts {
        let svg = to_svg(&chart)?;
        let path = run.join(format!("{stem}.svg"));
        write_atomic(&path, |w| w.write_all(svg.as_bytes()))?;
        written.push(path);
        let path = run.join(format!("{stem}.png"));
        write_png(&path, &to_png(&chart)?)?;
        written.push(path);
        svgs.push((chart.title.clone(), svg));
    }

    let page = run.join(REPORT_HTML);
    let html = to_html(report, &svgs);
    write_atomic(&page, |w| w.write_all(html.as_bytes()))?;
    written.push(page);
    Ok(written)
}
