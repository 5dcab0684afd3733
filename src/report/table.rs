//! The report as a table: aligned plain text for the terminal, and Markdown.

use super::rows::Report;

const MISSING: &str = "-";

fn count(v: Option<usize>) -> String {
    v.map_or(MISSING.into(), |v| v.to_string())
}

fn fraction(v: Option<f64>) -> String {
    v.map_or(MISSING.into(), |v| format!("{v:.3}"))
}

fn loss(v: Option<f64>) -> String {
    v.map_or(MISSING.into(), |v| format!("{v:.4}"))
}

/// The header and cells of the table, as strings; numeric columns are every column
/// (all are right-aligned).
pub fn cells(report: &Report) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header: Vec<String> =
        ["round", "synth pairs", "kept", "SFT examples", "final loss", "eval overall", "eval macro", "eval guesses"]
            .map(String::from)
            .to_vec();
    header.extend(report.categories.iter().cloned());
    let rows = report
        .rows
        .iter()
        .map(|r| {
            let mut cells = vec![
                r.round.to_string(),
                count(r.synth_pairs),
                fraction(r.kept_fraction),
                count(r.sft_examples),
                loss(r.final_loss),
                fraction(r.eval_overall),
                fraction(r.eval_macro),
                fraction(r.eval_guesses),
            ];
            cells.extend(report.categories.iter().map(|c| fraction(r.categories.get(c).copied())));
            cells
        })
        .collect();
    (header, rows)
}

/// The table as aligned plain text (columns separated by two spaces).
pub fn to_text(report: &Report) -> String {
    let (header, rows) = cells(report);
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].chars().count()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:>w$}")).collect();
        parts.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(&header);
    for r in &rows {
        out += &line(r);
    }
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The table in Markdown, with a heading naming the run.
pub fn to_markdown(report: &Report) -> String {
    let (header, rows) = cells(report);
    let mut out = format!("# Report of {}\n\n", md_escape(&report.run.display().to_string()));
    let row =
        |cells: &[String]| format!("| {} |\n", cells.iter().map(|c| md_escape(c)).collect::<Vec<_>>().join(" | "));
    out += &row(&header);
    out += &format!("|{}\n", "---:|".repeat(header.len()));
    for r in &rows {
        out += &row(r);
    }
    out += "\nCharts: ![accuracy](accuracy.png) ![kept fraction](kept_fraction.png) ![loss](loss.png)\n";
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::report::ReportRow;

    fn sample() -> Report {
        let row = |round, kept: Option<f64>, cats: &[(&str, f64)]| ReportRow {
            round,
            synth_pairs: kept.map(|_| 120),
            kept_fraction: kept,
            sft_examples: kept.map(|_| 40),
            final_loss: kept.map(|_| 0.81234),
            eval_overall: Some(0.5),
            eval_macro: Some(0.25),
            eval_guesses: kept.map(|_| 0.125),
            categories: cats.iter().map(|(n, a)| (n.to_string(), *a)).collect::<BTreeMap<_, _>>(),
        };
        Report {
            run: "runs/a|b".into(),
            categories: vec!["math".into(), "ocr".into()],
            rows: vec![row(0, None, &[("math", 0.5)]), row(1, Some(0.375), &[("math", 0.6), ("ocr", 1.0)])],
            loss_curves: vec![],
        }
    }

    #[test]
    fn text_table_has_a_column_per_category_and_dashes_for_missing() {
        let text = to_text(&sample());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("round  synth pairs") && lines[0].ends_with("math    ocr"), "{}", lines[0]);
        let r0: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(r0, ["0", "-", "-", "-", "-", "0.500", "0.250", "-", "0.500", "-"]);
        let r1: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(r1, ["1", "120", "0.375", "40", "0.8123", "0.500", "0.250", "0.125", "0.600", "1.000"]);
        // Right-aligned: every line has the same width.
        assert!(lines.iter().all(|l| l.len() == lines[0].len()), "{text}");
    }

    #[test]
    fn markdown_table_is_well_formed() {
        let md = to_markdown(&sample());
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(rows.len(), 4, "{md}");
        let pipes = |l: &str| l.matches('|').count() - l.matches("\\|").count();
        assert!(rows.iter().all(|r| pipes(r) == 11), "{md}");
        assert!(md.contains("runs/a\\|b"));
        assert!(rows[2].starts_with("| 0 | - | - |"));
    }
}
