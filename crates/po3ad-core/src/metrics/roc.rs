//! ROC curve and the area under it, as scikit-learn's `roc_curve` (with its default
//! `drop_intermediate=True`) and `roc_auc_score`.

use super::curve::binary_clf_curve;
use crate::Result;

/// ROC curve points `(fpr, tpr, thresholds)`, as scikit-learn's `roc_curve` with
/// `drop_intermediate=True`: points collinear with their neighbours are dropped, a
/// first point `(0, 0)` with threshold `+inf` is prepended. `labels[i]` is true for an
/// anomalous sample; a higher score means more anomalous.
///
/// Errors when lengths differ, a score is not finite, or only one class is present.
pub fn roc_curve(labels: &[bool], scores: &[f64]) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let c = binary_clf_curve(labels, scores)?;
    let m = c.fps.len();
    // Keep the ends and every point where the curve bends (non-zero second difference
    // in either coordinate).
    let keep: Vec<usize> = (0..m)
        .filter(|&i| {
            if m <= 2 || i == 0 || i == m - 1 {
                return true;
            }
            let bend = |v: &[f64]| v[i + 1] - 2.0 * v[i] + v[i - 1] != 0.0;
            bend(&c.fps) || bend(&c.tps)
        })
        .collect();
    let (fp_total, tp_total) = (c.fps[m - 1], c.tps[m - 1]);
    let mut fpr = Vec::with_capacity(keep.len() + 1);
    let mut tpr = Vec::with_capacity(keep.len() + 1);
    let mut thresholds = Vec::with_capacity(keep.len() + 1);
    fpr.push(0.0);
    tpr.push(0.0);
    thresholds.push(f64::INFINITY);
    for i in keep {
        fpr.push(c.fps[i] / fp_total);
        tpr.push(c.tps[i] / tp_total);
        thresholds.push(c.thresholds[i]);
    }
    Ok((fpr, tpr, thresholds))
}

/// Area under the ROC curve by the trapezoidal rule over [`roc_curve`]'s points, as
/// scikit-learn's `roc_auc_score` for binary labels (ties count one half).
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> Result<f64> {
    let (fpr, tpr, _) = roc_curve(labels, scores)?;
    Ok(fpr
        .windows(2)
        .zip(tpr.windows(2))
        .map(|(x, y)| (x[1] - x[0]) * (y[1] + y[0]) / 2.0)
        .sum())
}
