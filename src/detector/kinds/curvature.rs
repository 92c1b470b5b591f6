//! A cheap reference detector measured on the same data: surface variation
//! λ_min / (λ_0 + λ_1 + λ_2) of each point's k-neighbourhood covariance; an object's
//! score is the mean of its top 1 % point scores. No training.

use crate::detector::registry::{FitOutcome, FitRequest, KindSpec, LoadRequest};
use crate::detector::scorer::Scorer;
use crate::score_rule::top_mean;
use nalgebra::{Matrix3, SymmetricEigen};
use po3ad_core::geometry::KdTree;
use po3ad_core::PointCloud;
use rayon::prelude::*;

pub const KIND: KindSpec = KindSpec {
    name: "curvature",
    about: "surface variation of each point's neighbourhood (training-free, any pose)",
    marker_file: "",
    takes_settings: false,
    fit,
    load,
};

/// Nothing to learn: the folder holds only its `detector.json`.
fn fit(req: FitRequest<'_>) -> anyhow::Result<FitOutcome> {
    let d = CurvatureScorer::default();
    Ok(FitOutcome {
        settings: serde_json::json!({ "k": d.k, "top_fraction": d.top_fraction }),
        files: vec![],
        frame: None,
        summary: format!(
            "curvature detector for '{}': nothing to train (k = {}, top {} %)",
            req.category,
            d.k,
            d.top_fraction * 100.0
        ),
    })
}

fn load(_req: &LoadRequest<'_>) -> anyhow::Result<Box<dyn Scorer + Send>> {
    Ok(Box::new(CurvatureScorer::default()))
}

pub struct CurvatureScorer {
    pub k: usize,
    /// Fraction of highest point scores averaged into the object score.
    pub top_fraction: f64,
}

impl Default for CurvatureScorer {
    fn default() -> Self {
        Self {
            k: 16,
            top_fraction: 0.01,
        }
    }
}

pub fn surface_variation(points: &[[f32; 3]], k: usize) -> Vec<f32> {
    let tree = KdTree::new(points);
    points
        .par_iter()
        .map(|&p| {
            let nn = tree.knn(p, k.max(3));
            let n = nn.len() as f64;
            if nn.len() < 3 {
                return 0.0;
            }
            let mut mean = [0.0f64; 3];
            for &(i, _) in &nn {
                for a in 0..3 {
                    mean[a] += points[i][a] as f64 / n;
                }
            }
            let mut cov = Matrix3::<f64>::zeros();
            for &(i, _) in &nn {
                let d = [
                    points[i][0] as f64 - mean[0],
                    points[i][1] as f64 - mean[1],
                    points[i][2] as f64 - mean[2],
                ];
                for r in 0..3 {
                    for c in 0..3 {
                        cov[(r, c)] += d[r] * d[c] / n;
                    }
                }
            }
            let ev = SymmetricEigen::new(cov).eigenvalues;
            let sum = ev.iter().map(|v| v.max(0.0)).sum::<f64>();
            if sum <= 0.0 {
                return 0.0;
            }
            (ev.iter().fold(f64::INFINITY, |a, &b| a.min(b.max(0.0))) / sum) as f32
        })
        .collect()
}

impl Scorer for CurvatureScorer {
    fn score_points(&self, clouds: &[&PointCloud]) -> anyhow::Result<Vec<Vec<f32>>> {
        Ok(clouds
            .iter()
            .map(|c| surface_variation(&c.points, self.k))
            .collect())
    }

    fn object_score(&self, point_scores: &[f32]) -> f64 {
        top_mean(point_scores, self.top_fraction)
    }

    fn name(&self) -> &str {
        "curvature"
    }

    fn scoring(&self) -> String {
        format!(
            "curvature k={} object_score=top_mean({})",
            self.k, self.top_fraction
        )
    }

    fn settings(&self) -> Vec<(String, String)> {
        vec![
            ("k".into(), self.k.to_string()),
            (
                "object_score".into(),
                format!("top_mean({})", self.top_fraction),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plane_is_flat_and_corner_is_not() {
        // A flat grid: every neighbourhood is planar, λ_min = 0.
        let mut pts = Vec::new();
        for i in 0..20 {
            for j in 0..20 {
                pts.push([i as f32 * 0.01, j as f32 * 0.01, 0.0]);
            }
        }
        let flat = surface_variation(&pts, 12);
        assert!(flat.iter().all(|&v| v < 1e-6));
        // Fold half of it up 90°: points at the fold see two planes.
        let folded: Vec<[f32; 3]> = pts
            .iter()
            .map(|p| {
                if p[0] > 0.1 {
                    [0.1, p[1], p[0] - 0.1]
                } else {
                    *p
                }
            })
            .collect();
        let s = surface_variation(&folded, 12);
        let at_fold = folded
            .iter()
            .zip(&s)
            .filter(|(p, _)| {
                (p[0] - 0.1).abs() < 1e-6 && p[2] < 0.015 && p[1] > 0.05 && p[1] < 0.15
            })
            .map(|(_, &v)| v)
            .fold(0.0f32, f32::max);
        assert!(at_fold > 0.01, "fold variation {at_fold}");
    }

    #[test]
    fn object_score_is_top_percent_mean() {
        let c = CurvatureScorer::default();
        let scores: Vec<f32> = (0..200).map(|i| i as f32).collect();
        // top 1 % of 200 = 2 values: 199 and 198.
        assert_eq!(c.object_score(&scores), 198.5);
    }
}
