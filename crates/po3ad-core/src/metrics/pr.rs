//! Precision–recall curve and average precision, as scikit-learn's
//! `precision_recall_curve` and `average_precision_score`.

use super::curve::binary_clf_curve;
use crate::Result;

/// Precision–recall points `(precision, recall, thresholds)` in scikit-learn's order:
/// thresholds ascending, one per distinct score; `precision` and `recall` have one more
/// entry, the final `(1, 0)` point with no threshold.
///
/// Errors when lengths differ, a score is not finite, or only one class is present.
pub fn pr_curve(labels: &[bool], scores: &[f64]) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let c = binary_clf_curve(labels, scores)?;
    let m = c.tps.len();
    let tp_total = c.tps[m - 1];
    let mut precision = Vec::with_capacity(m + 1);
    let mut recall = Vec::with_capacity(m + 1);
    let mut thresholds = Vec::with_capacity(m);
    for i in (0..m).rev() {
        // tps + fps >= 1 at every threshold, so no division by zero.
        precision.push(c.tps[i] / (c.tps[i] + c.fps[i]));
        recall.push(c.tps[i] / tp_total);
        thresholds.push(c.thresholds[i]);
    }
    precision.push(1.0);
    recall.push(0.0);
    Ok((precision, recall, thresholds))
}

/// Average precision `Σₙ (Rₙ − Rₙ₋₁) Pₙ` over distinct thresholds (a step sum, no
/// interpolation), as scikit-learn's `average_precision_score`.
pub fn average_precision(labels: &[bool], scores: &[f64]) -> Result<f64> {
    let (precision, recall, _) = pr_curve(labels, scores)?;
    // scikit-learn: -sum(diff(recall) * precision[:-1]).
    Ok(-recall
        .windows(2)
        .zip(&precision)
        .map(|(r, p)| (r[1] - r[0]) * p)
        .sum::<f64>())
}
