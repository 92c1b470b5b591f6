//! Object-level decisions on a labelled test set: precision / recall / F1 at a given
//! threshold (anomalous ⇔ score strictly above it, as [`super::calibration`] decides),
//! and F1-max, the best F1 over every threshold (the test set's own optimum, which a
//! calibrated threshold chosen without labels can only approach).

use serde::Serialize;

/// Precision, recall and F1 of "anomalous ⇔ score > threshold".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Decision {
    pub threshold: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub true_negatives: usize,
}

/// Counts and rates at `threshold`. Precision is 0 when nothing is flagged (sklearn's
/// `zero_division=0`), recall 0 without anomalous samples, F1 0 when both are 0.
pub fn decide(labels: &[bool], scores: &[f64], threshold: f64) -> Decision {
    let (mut tp, mut fp, mut fn_, mut tn) = (0, 0, 0, 0);
    for (&l, &s) in labels.iter().zip(scores) {
        match (l, s > threshold) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (false, false) => tn += 1,
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    Decision {
        threshold,
        precision,
        recall,
        f1,
        true_positives: tp,
        false_positives: fp,
        false_negatives: fn_,
        true_negatives: tn,
    }
}

/// The best F1 over all thresholds: every cut between distinct scores (flag the scores
/// ≥ each distinct score; the returned threshold is the next lower distinct score, or
/// −∞ below the lowest, so that [`decide`]'s strict rule reproduces the cut). NaN
/// scores are never flagged. None without samples.
pub fn f1_max(labels: &[bool], scores: &[f64]) -> Option<Decision> {
    let mut distinct: Vec<f64> = scores.iter().copied().filter(|s| !s.is_nan()).collect();
    distinct.sort_by(|a, b| b.total_cmp(a));
    distinct.dedup();
    let mut best: Option<Decision> = None;
    for (i, _) in distinct.iter().enumerate() {
        let below = distinct.get(i + 1).copied().unwrap_or(f64::NEG_INFINITY);
        let d = decide(labels, scores, below);
        if best.is_none_or(|b| d.f1 > b.f1) {
            best = Some(d);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_hand() {
        let labels = [true, true, false, false, true];
        let scores = [0.9, 0.4, 0.5, 0.1, 0.7];
        // > 0.45: flags 0.9 (tp), 0.5 (fp), 0.7 (tp); misses 0.4.
        let d = decide(&labels, &scores, 0.45);
        assert_eq!((d.true_positives, d.false_positives), (2, 1));
        assert_eq!((d.false_negatives, d.true_negatives), (1, 1));
        assert!((d.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((d.recall - 2.0 / 3.0).abs() < 1e-12);
        // Cuts by hand (flag the top k): k = 1: F1 = 2·1·(1/3)/(4/3) = 0.5; k = 2:
        // P = 1, R = 2/3, F1 = 0.8; k = 3 (adds 0.5, normal): P = R = 2/3; k = 4 (adds
        // 0.4): P = 3/4, R = 1, F1 = 6/7; k = 5: P = 3/5, R = 1, F1 = 0.75. Best: k = 4,
        // reproduced by "score > 0.1".
        let best = f1_max(&labels, &scores).unwrap();
        assert!((best.f1 - 6.0 / 7.0).abs() < 1e-12, "{best:?}");
        assert_eq!(best.threshold, 0.1);
        assert_eq!(decide(&labels, &scores, best.threshold).f1, best.f1);
        assert!(f1_max(&[], &[]).is_none());
    }
}
