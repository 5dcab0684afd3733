//! The report's charts: accuracy, kept fraction and training loss, per round.

use super::chart::{LineChart, Series};
use super::rows::Report;

/// Overall, macro and per-category eval accuracy against the round.
pub fn accuracy_chart(report: &Report) -> LineChart {
    let mut chart = LineChart::new("Judge accuracy per round", "round", "accuracy");
    chart.integer_x = true;
    let per_round = |value: &dyn Fn(&super::ReportRow) -> Option<f64>| {
        report.rows.iter().map(|r| (r.round as f64, value(r))).collect::<Vec<_>>()
    };
    chart.series.push(Series::new("overall", per_round(&|r| r.eval_overall)));
    chart.series.push(Series::new("macro", per_round(&|r| r.eval_macro)));
    for c in &report.categories {
        chart.series.push(Series::new(c.clone(), per_round(&|r| r.categories.get(c).copied())));
    }
    chart
}

/// The fraction of synthetic pairs the filter kept, against the round.
pub fn kept_fraction_chart(report: &Report) -> LineChart {
    let mut chart = LineChart::new("Pairs kept by the filter", "round", "kept fraction");
    chart.integer_x = true;
    let points = report.rows.iter().map(|r| (r.round as f64, r.kept_fraction)).collect();
    chart.series.push(Series::new("kept fraction", points));
    chart
}

/// The training loss against the step, one line per round that trained.
pub fn loss_chart(report: &Report) -> LineChart {
    let mut chart = LineChart::new("Training loss", "step", "loss");
    chart.integer_x = true;
    chart.markers = false;
    for (round, curve) in &report.loss_curves {
        let points = curve.iter().map(|p| (p.step as f64, Some(p.loss))).collect();
        chart.series.push(Series::new(format!("round {round}"), points));
    }
    chart
}
