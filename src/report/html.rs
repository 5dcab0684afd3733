//! `report.html`: the table and every chart in one page with nothing to fetch (the
//! charts are inline SVG, the style is in the page), to open in a browser or send.

use super::rows::Report;
use super::table::cells;

/// Text for HTML content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body { font-family: system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.4rem; margin-bottom: 0.2rem; }
p.run { color: #666; margin-top: 0; font-family: ui-monospace, monospace; }
.table { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 0.3rem 0.7rem; text-align: right; border-bottom: 1px solid #ddd; white-space: nowrap; }
th { background: #f4f4f4; }
tr:hover td { background: #fafafa; }
figure { margin: 2rem 0; }
figure svg { max-width: 100%; height: auto; }
";

/// The page, with `charts` (title, SVG document) in order.
pub fn to_html(report: &Report, charts: &[(String, String)]) -> String {
    let (header, rows) = cells(report);
    let run = escape(&report.run.display().to_string());
    let mut out = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>vlmjudge report: {run}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <h1>Self-improvement run</h1>\n<p class=\"run\">{run}</p>\n<div class=\"table\">\n<table>\n<thead><tr>"
    );
    for h in &header {
        out += &format!("<th>{}</th>", escape(h));
    }
    out += "</tr></thead>\n<tbody>\n";
    for r in &rows {
        out += "<tr>";
        for c in r {
            out += &format!("<td>{}</td>", escape(c));
        }
        out += "</tr>\n";
    }
    out += "</tbody>\n</table>\n</div>\n";
    for (title, svg) in charts {
        out += &format!("<figure aria-label=\"{}\">\n{}\n</figure>\n", escape(title), svg.trim());
    }
    out += "</body>\n</html>\n";
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::report::ReportRow;

    #[test]
    fn the_page_holds_the_table_and_the_charts_with_its_text_escaped() {
        let report = Report {
            run: "runs/<a&b>".into(),
            categories: vec!["math".into()],
            rows: vec![ReportRow {
                round: 0,
                synth_pairs: None,
                kept_fraction: None,
                sft_examples: None,
                final_loss: None,
                eval_overall: Some(0.5),
                eval_macro: Some(0.5),
                eval_guesses: None,
                categories: BTreeMap::from([("math".to_string(), 0.5)]),
            }],
            loss_curves: vec![],
        };
        let svg = "<svg width=\"10\" height=\"10\"></svg>".to_string();
        let html = to_html(&report, &[("accuracy".into(), svg.clone()), ("loss".into(), svg)]);
        assert!(html.starts_with("<!doctype html>") && html.trim_end().ends_with("</html>"));
        assert!(html.contains("runs/&lt;a&amp;b&gt;") && !html.contains("<a&b>"));
        assert!(html.contains("<th>eval overall</th>") && html.contains("<th>math</th>"));
        assert_eq!(html.matches("<tr>").count(), 2);
        assert_eq!(html.matches("<svg").count(), 2);
        // Nothing to fetch: no external scripts, styles or images.
        assert!(!html.contains("src=") && !html.contains("href="));
    }
}
