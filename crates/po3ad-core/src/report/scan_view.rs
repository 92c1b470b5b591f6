//! A scan's points and point scores, subsampled, for the HTML report's 3D viewer.
//! Heat-map PLY files carry colours, not scores, and may hold millions of points; the
//! test run writes this small file beside each heat map so the report can colour the
//! points itself and stay a few megabytes.

use super::write::write_output;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// At most this many points per view file.
pub const VIEW_MAX_POINTS: usize = 4000;

/// File name suffix of a scan's view: `heatmaps/<name>.view.json`.
pub const VIEW_SUFFIX: &str = ".view.json";

/// Subsampled points and their scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanView {
    pub points: Vec<[f32; 3]>,
    /// NaN (a point without a score: background, invalid) is written as JSON null.
    #[serde(deserialize_with = "nan_from_null")]
    pub scores: Vec<f32>,
    /// Points in the scan before subsampling.
    pub total_points: usize,
}

/// JSON has no NaN: serde_json writes it as null, and null reads back as NaN here.
fn nan_from_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<f32>, D::Error> {
    let v = Vec::<Option<f32>>::deserialize(d)?;
    Ok(v.into_iter().map(|s| s.unwrap_or(f32::NAN)).collect())
}

impl ScanView {
    /// At most `max` of the points: the highest-scoring quarter of the budget (so a
    /// small defect stays visible) plus an even stride over the rest. Deterministic;
    /// keeps the points' order. Errors when the lengths differ.
    pub fn subsample(points: &[[f32; 3]], scores: &[f32], max: usize) -> Result<Self> {
        if points.len() != scores.len() {
            return Err(Error::Invalid(format!(
                "scan view: {} points but {} scores",
                points.len(),
                scores.len()
            )));
        }
        let n = points.len();
        let mut keep = vec![n <= max; n];
        if n > max {
            let mut by_score: Vec<usize> = (0..n).collect();
            // Highest first; NaN (points without a score: background, invalid) last.
            let key = |i: usize| {
                if scores[i].is_nan() {
                    f32::NEG_INFINITY
                } else {
                    scores[i]
                }
            };
            by_score.sort_by(|&a, &b| key(b).total_cmp(&key(a)));
            let top = max / 4;
            for &i in &by_score[..top] {
                keep[i] = true;
            }
            let rest = max - top;
            // `rest` indices spread evenly over 0..n (some may repeat a top point).
            for k in 0..rest {
                keep[k * n / rest] = true;
            }
        }
        let idx: Vec<usize> = (0..n).filter(|&i| keep[i]).collect();
        Ok(Self {
            points: idx.iter().map(|&i| points[i]).collect(),
            scores: idx.iter().map(|&i| scores[i]).collect(),
            total_points: n,
        })
    }
}

/// The view file of scan `name` in heat-map folder `dir`.
pub fn scan_view_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}{VIEW_SUFFIX}"))
}

/// Write `dir/<name>.view.json`: at most [`VIEW_MAX_POINTS`] points with their scores,
/// coordinates rounded to 1e-4 (far below what a 720-pixel view resolves; it keeps the
/// file about half as big).
pub fn write_scan_view(dir: &Path, name: &str, points: &[[f32; 3]], scores: &[f32]) -> Result<()> {
    let mut view = ScanView::subsample(points, scores, VIEW_MAX_POINTS)?;
    for p in &mut view.points {
        for c in p.iter_mut() {
            *c = (*c * 1e4).round() / 1e4;
        }
    }
    let text =
        serde_json::to_string(&view).map_err(|e| Error::Invalid(format!("scan view: {e}")))?;
    write_output(&scan_view_path(dir, name), text.as_bytes())
}

/// Read a view file written by [`write_scan_view`].
pub fn read_scan_view(path: &Path) -> Result<ScanView> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let v: ScanView = serde_json::from_str(&text).map_err(|e| Error::Format {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    if v.points.len() != v.scores.len() {
        return Err(Error::Format {
            path: path.to_path_buf(),
            msg: format!("{} points but {} scores", v.points.len(), v.scores.len()),
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsample_keeps_the_hottest_points_and_the_budget() {
        let n = 10_000;
        let points: Vec<[f32; 3]> = (0..n).map(|i| [i as f32, 0.0, 0.0]).collect();
        let mut scores = vec![0.0f32; n];
        // A 7-point defect in the middle that a plain stride would mostly miss.
        for s in &mut scores[5001..5008] {
            *s = 1.0;
        }
        let v = ScanView::subsample(&points, &scores, 100).unwrap();
        assert!(v.points.len() <= 100);
        assert_eq!(v.scores.iter().filter(|&&s| s == 1.0).count(), 7);
        assert_eq!(v.total_points, n);
        // Order kept, points and scores still paired.
        assert!(v.points.windows(2).all(|w| w[0][0] < w[1][0]));
        for (p, s) in v.points.iter().zip(&v.scores) {
            assert_eq!(*s, scores[p[0] as usize]);
        }
        let small = ScanView::subsample(&points[..50], &scores[..50], 100).unwrap();
        assert_eq!(small.points.len(), 50);
        assert!(ScanView::subsample(&points, &scores[..3], 100).is_err());
    }
}
