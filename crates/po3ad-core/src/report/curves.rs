//! Point-level curve data for the HTML report. The report redraws object-level curves
//! from `scores.csv`, but point-level ROC / PR curves need every test point's score,
//! which only the test run holds. The run collects them scan by scan in a
//! [`PointCurves`] and writes `curves.json`: a few hundred vertices per curve, for all
//! scans and for each defect kind (that kind's scans plus every normal scan), so the
//! file stays small however many points were scored.

use super::write::write_output;
use crate::metrics::{average_precision, pr_curve, roc_auc, roc_curve};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The file [`PointCurves::write`] writes in a results folder.
pub const CURVES_FILE: &str = "curves.json";

/// A curve keeps a vertex only after moving at least 1/`CURVE_RESOLUTION` along either
/// axis since the last one kept: finer than a chart can show, and a few hundred vertices.
const CURVE_RESOLUTION: f64 = 400.0;

/// One ranking's ROC and PR curves (thinned for drawing) and their exact areas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// Area under the full (not thinned) ROC curve.
    pub auroc: f64,
    /// Average precision of the full PR curve.
    pub ap: f64,
    /// `[false positive rate, true positive rate]`, from (0, 0) to (1, 1).
    pub roc: Vec<[f64; 2]>,
    /// `[recall, precision]`, recall rising.
    pub pr: Vec<[f64; 2]>,
}

impl Curve {
    /// Curves of `scores` against `labels` (true = anomalous). Errors like
    /// [`roc_curve`]: different lengths, a non-finite score, or a single class.
    pub fn compute(labels: &[bool], scores: &[f64]) -> Result<Self> {
        let (fpr, tpr, _) = roc_curve(labels, scores)?;
        let (precision, recall, _) = pr_curve(labels, scores)?;
        let roc: Vec<[f64; 2]> = fpr.iter().zip(&tpr).map(|(&x, &y)| [x, y]).collect();
        // pr_curve runs from recall 1 down to 0; draw it rising.
        let pr: Vec<[f64; 2]> = recall
            .iter()
            .zip(&precision)
            .rev()
            .map(|(&r, &p)| [r, p])
            .collect();
        Ok(Self {
            auroc: roc_auc(labels, scores)?,
            ap: average_precision(labels, scores)?,
            roc: thin(&roc),
            pr: thin(&pr),
        })
    }
}

/// Keep the first and last vertex and every vertex at least 1/[`CURVE_RESOLUTION`]
/// (in either coordinate) away from the last one kept.
fn thin(v: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let step = 1.0 / CURVE_RESOLUTION;
    let mut out: Vec<[f64; 2]> = Vec::new();
    for (i, p) in v.iter().enumerate() {
        let far = out
            .last()
            .is_none_or(|q| (p[0] - q[0]).abs() >= step || (p[1] - q[1]).abs() >= step);
        if far || i + 1 == v.len() {
            out.push(*p);
        }
    }
    out
}

/// What `curves.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurveFile {
    /// Every test point of the run.
    pub point: Curve,
    /// Per defect kind: the points of that kind's scans and of all normal scans.
    pub point_by_kind: BTreeMap<String, Curve>,
}

impl CurveFile {
    /// Write `dir/curves.json` (atomically), where the report looks for it.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let text =
            serde_json::to_string(self).map_err(|e| Error::Invalid(format!("curves JSON: {e}")))?;
        write_output(&dir.join(CURVES_FILE), text.as_bytes())
    }
}

/// Collects per-point labels and scores scan by scan during a test run.
#[derive(Debug, Default)]
pub struct PointCurves {
    normal: (Vec<bool>, Vec<f64>),
    by_kind: BTreeMap<String, (Vec<bool>, Vec<f64>)>,
}

impl PointCurves {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one scored scan: `defect` and `anomalous` as in `scores.csv`, `labels` the
    /// cloud's per-point ground truth (`None` = all normal), `scores` its point scores.
    pub fn add_scan(
        &mut self,
        defect: &str,
        anomalous: bool,
        labels: Option<&[u8]>,
        scores: &[f32],
    ) {
        let (l, s) = if anomalous {
            self.by_kind.entry(defect.to_string()).or_default()
        } else {
            &mut self.normal
        };
        match labels {
            Some(labels) => l.extend(labels.iter().map(|&x| x != 0)),
            None => l.extend(std::iter::repeat_n(false, scores.len())),
        }
        s.extend(scores.iter().map(|&v| v as f64));
    }

    /// The curves. Errors when the points of all scans together lack a class or have
    /// a non-finite score; a kind whose curve cannot be computed is left out.
    pub fn finish(&self) -> Result<CurveFile> {
        let mut labels = self.normal.0.clone();
        let mut scores = self.normal.1.clone();
        let mut point_by_kind = BTreeMap::new();
        for (kind, (l, s)) in &self.by_kind {
            labels.extend(l);
            scores.extend(s);
            let kl: Vec<bool> = self.normal.0.iter().chain(l).copied().collect();
            let ks: Vec<f64> = self.normal.1.iter().chain(s).copied().collect();
            if let Ok(c) = Curve::compute(&kl, &ks) {
                point_by_kind.insert(kind.clone(), c);
            }
        }
        if labels.len() != scores.len() {
            return Err(Error::Invalid(format!(
                "point curves: {} labels for {} scores (a scan's labels and scores differ in length)",
                labels.len(),
                scores.len()
            )));
        }
        Ok(CurveFile {
            point: Curve::compute(&labels, &scores)?,
            point_by_kind,
        })
    }

    /// Write [`Self::finish`] as `dir/curves.json` (atomically).
    pub fn write(&self, dir: &Path) -> Result<()> {
        self.finish()?.write(dir)
    }
}

/// `dir/curves.json` if the run wrote one.
pub fn read_curves(dir: &Path) -> Result<Option<CurveFile>> {
    let path = dir.join(CURVES_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::Format {
            path,
            msg: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_ends_and_bounds_the_size() {
        // A staircase of 10 000 tiny steps from (0,0) to (1,1).
        let v: Vec<[f64; 2]> = (0..=10_000)
            .map(|i| [i as f64 / 10_000.0, (i / 2) as f64 / 5_000.0])
            .collect();
        let t = thin(&v);
        assert_eq!(t.first(), Some(&[0.0, 0.0]));
        assert_eq!(t.last(), Some(&[1.0, 1.0]));
        assert!(t.len() <= 2 * CURVE_RESOLUTION as usize + 2, "{}", t.len());
        assert!(t.len() >= CURVE_RESOLUTION as usize / 2, "{}", t.len());
    }

    #[test]
    fn per_kind_curves_pair_each_kind_with_the_normal_scans() {
        let mut pc = PointCurves::new();
        pc.add_scan("good", false, None, &[0.1, 0.2, 0.3]);
        // A perfectly separated kind and one ranked upside down.
        pc.add_scan("bulge", true, Some(&[0, 1, 1]), &[0.1, 0.9, 0.8]);
        pc.add_scan("hole", true, Some(&[1, 0]), &[0.0, 0.25]);
        let f = pc.finish().unwrap();
        assert_eq!(f.point_by_kind["bulge"].auroc, 1.0);
        // hole: its one anomalous point (0.0) is below all 4 normal points (0.1, 0.2,
        // 0.3, 0.25) → AUROC 0.
        assert_eq!(f.point_by_kind["hole"].auroc, 0.0);
        // All 8 points: anomalous {0.9, 0.8, 0.0} vs normal {0.1, 0.2, 0.3, 0.1, 0.25}:
        // pairs won = 5 + 5 + 0 = 10 of 15.
        assert!((f.point.auroc - 10.0 / 15.0).abs() < 1e-12);
        assert_eq!(f.point.roc.first(), Some(&[0.0, 0.0]));
        assert_eq!(f.point.roc.last(), Some(&[1.0, 1.0]));
    }
}
