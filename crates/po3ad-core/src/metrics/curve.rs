//! The shared core of every ranking metric: counts of true and false positives at
//! each distinct score threshold, highest threshold first (scikit-learn's
//! `_binary_clf_curve`).

use crate::{Error, Result};
use rayon::slice::ParallelSliceMut;

/// Cumulative counts at each distinct score, scores descending. Counts are integers
/// held in `f64` (exact below 2^53), as scikit-learn's float cumulative sums are.
pub(crate) struct ClfCurve {
    pub fps: Vec<f64>,
    pub tps: Vec<f64>,
    pub thresholds: Vec<f64>,
}

/// Validate inputs the way scikit-learn does for binary ranking metrics.
fn check(labels: &[bool], scores: &[f64]) -> Result<()> {
    if labels.len() != scores.len() {
        return Err(Error::Invalid(format!(
            "{} labels but {} scores",
            labels.len(),
            scores.len()
        )));
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(Error::Invalid(format!(
            "score {i} is {}; scores must be finite",
            scores[i]
        )));
    }
    let positives = labels.iter().filter(|&&l| l).count();
    if positives == 0 || positives == labels.len() {
        return Err(Error::Invalid(format!(
            "ranking metrics need both classes; got {positives} anomalous of {}",
            labels.len()
        )));
    }
    Ok(())
}

pub(crate) fn binary_clf_curve(labels: &[bool], scores: &[f64]) -> Result<ClfCurve> {
    check(labels, scores)?;
    let mut order: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    // Descending score; the order inside a tie does not matter because a threshold
    // only ever takes whole tie groups. Parallel sort: point-level pools are large.
    order.par_sort_unstable_by(|a, b| b.0.total_cmp(&a.0));

    let mut curve = ClfCurve {
        fps: Vec::new(),
        tps: Vec::new(),
        thresholds: Vec::new(),
    };
    let (mut tp, mut fp) = (0u64, 0u64);
    for (i, &(s, l)) in order.iter().enumerate() {
        if l {
            tp += 1;
        } else {
            fp += 1;
        }
        // `!=` (not total_cmp) so that -0.0 and 0.0 form one group, as in numpy.
        let last_of_group = order.get(i + 1).is_none_or(|next| next.0 != s);
        if last_of_group {
            curve.tps.push(tp as f64);
            curve.fps.push(fp as f64);
            curve.thresholds.push(s);
        }
    }
    Ok(curve)
}
