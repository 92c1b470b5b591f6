//! The numbers the report's tables show beyond what results.json holds: F1-max and
//! the counts at the calibrated threshold over the scans in scores.csv, and one row per
//! defect kind (that kind's scans ranked against every normal scan).

use super::results_dir::CategoryRun;
use crate::metrics::{average_precision, roc_auc};

/// Confusion counts of "anomalous ⇔ score > threshold" (NaN scores never flagged).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub tn: usize,
}

impl Counts {
    pub fn at(labels: &[bool], scores: &[f64], threshold: f64) -> Self {
        let mut c = Self::default();
        for (&l, &s) in labels.iter().zip(scores) {
            match (l, s > threshold) {
                (true, true) => c.tp += 1,
                (false, true) => c.fp += 1,
                (true, false) => c.fn_ += 1,
                (false, false) => c.tn += 1,
            }
        }
        c
    }
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The best F1 over all cuts between distinct scores, and the cut: the next lower
/// distinct score (−∞ below the lowest), so that "score > cut" reproduces it.
pub fn f1_max(labels: &[bool], scores: &[f64]) -> Option<(f64, f64)> {
    let mut distinct: Vec<f64> = scores.iter().copied().filter(|s| !s.is_nan()).collect();
    distinct.sort_by(|a, b| b.total_cmp(a));
    distinct.dedup();
    let mut best: Option<(f64, f64)> = None;
    for i in 0..distinct.len() {
        let cut = distinct.get(i + 1).copied().unwrap_or(f64::NEG_INFINITY);
        let f1 = Counts::at(labels, scores, cut).f1();
        if best.is_none_or(|b| f1 > b.0) {
            best = Some((f1, cut));
        }
    }
    best
}

/// One defect kind's row.
#[derive(Debug, Clone, PartialEq)]
pub struct KindRow {
    pub kind: String,
    pub scans: usize,
    /// This kind's scans against all normal scans; NaN when not computable.
    pub object_auroc: f64,
    pub object_ap: f64,
    /// From curves.json, when the run wrote it.
    pub point_auroc: Option<f64>,
    pub point_ap: Option<f64>,
    /// Scans of this kind flagged at the calibrated threshold.
    pub flagged: Option<usize>,
}

/// Rows for each defect kind of the defective scans, in name order, then one row
/// `normal` (its `flagged` = false alarms). Empty when no scan is defective.
pub fn kind_rows(run: &CategoryRun) -> Vec<KindRow> {
    let normal: Vec<f64> = run
        .samples
        .iter()
        .filter(|s| !s.anomalous)
        .map(|s| s.object_score)
        .collect();
    let mut kinds: Vec<&str> = run
        .samples
        .iter()
        .filter(|s| s.anomalous)
        .map(|s| s.defect.as_str())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let flagged = |scores: &[f64]| {
        run.threshold
            .map(|t| scores.iter().filter(|&&s| s > t).count())
    };
    let mut rows: Vec<KindRow> = kinds
        .iter()
        .map(|&kind| {
            let own: Vec<f64> = run
                .samples
                .iter()
                .filter(|s| s.anomalous && s.defect == kind)
                .map(|s| s.object_score)
                .collect();
            let labels: Vec<bool> = normal
                .iter()
                .map(|_| false)
                .chain(own.iter().map(|_| true))
                .collect();
            let scores: Vec<f64> = normal.iter().chain(&own).copied().collect();
            let curve = run
                .point_curves
                .as_ref()
                .and_then(|c| c.point_by_kind.get(kind));
            KindRow {
                kind: kind.to_string(),
                scans: own.len(),
                object_auroc: roc_auc(&labels, &scores).unwrap_or(f64::NAN),
                object_ap: average_precision(&labels, &scores).unwrap_or(f64::NAN),
                point_auroc: curve.map(|c| c.auroc),
                point_ap: curve.map(|c| c.ap),
                flagged: flagged(&own),
            }
        })
        .collect();
    if !rows.is_empty() {
        rows.push(KindRow {
            kind: "normal".into(),
            scans: normal.len(),
            object_auroc: f64::NAN,
            object_ap: f64::NAN,
            point_auroc: None,
            point_ap: None,
            flagged: flagged(&normal),
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f1_max_by_hand() {
        let labels = [true, true, false, false, true];
        let scores = [0.9, 0.4, 0.5, 0.1, 0.7];
        // Flag the top 4 (cut 0.1): P = 3/4, R = 1, F1 = 6/7, the best cut (see
        // src/eval/decisions.rs for all five by hand).
        let (f1, cut) = f1_max(&labels, &scores).unwrap();
        assert!((f1 - 6.0 / 7.0).abs() < 1e-12);
        assert_eq!(cut, 0.1);
        let c = Counts::at(&labels, &scores, 0.45);
        assert_eq!((c.tp, c.fp, c.fn_, c.tn), (2, 1, 1, 1));
        assert!(f1_max(&[], &[]).is_none());
    }
}
