//! Scores from predicted offsets: a point's score is |o_x| + |o_y| + |o_z| of its
//! predicted offset; an object's score is the mean of its point scores (SPEC.md), or,
//! where a preset says so, the mean of its highest `top_fraction` of point scores.

use super::nearest::NearestTemplate;
use crate::model::{collate, ModelConfig, Po3adNet};
use po3ad_core::frame::TrainingFrame;
use po3ad_core::PointCloud;
use po3ad_sparse::SparseBackend;
use serde::{Deserialize, Serialize};

/// How point scores become an object score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[clap(rename_all = "snake_case")]
pub enum ObjectScore {
    /// Mean of all point scores (the paper's).
    Mean,
    /// Mean of the highest `top_fraction` of point scores: a small defect is not
    /// averaged away by the rest of the object (the curvature baseline's rule).
    TopMean,
}

/// `rule` applied to `point_scores`; `top_fraction` only matters for `TopMean`.
pub fn aggregate(point_scores: &[f32], rule: ObjectScore, top_fraction: f64) -> f64 {
    match rule {
        ObjectScore::Mean => mean(point_scores),
        ObjectScore::TopMean => top_mean(point_scores, top_fraction),
    }
}

/// Mean of the `ceil(len · fraction)` highest values (at least one).
pub fn top_mean(values: &[f32], fraction: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut s = values.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    let top = ((s.len() as f64 * fraction).ceil() as usize).clamp(1, s.len());
    s[..top].iter().map(|&v| v as f64).sum::<f64>() / top as f64
}

/// Anything that scores every point of a normalized test cloud.
pub trait Scorer {
    /// Per-point scores for each cloud (clouds already placed in the scorer's frame,
    /// see [`super::placement`]).
    fn score_points(&self, clouds: &[&PointCloud]) -> anyhow::Result<Vec<Vec<f32>>>;
    /// Object score from point scores.
    fn object_score(&self, point_scores: &[f32]) -> f64;
    fn name(&self) -> &str;
    /// Whether scans must be in the training pose to be scored (so `--frame auto`
    /// registers them).
    fn pose_dependent(&self) -> bool {
        false
    }
    /// The training frame the detector recorded, if any.
    fn frame(&self) -> Option<&TrainingFrame> {
        None
    }
    /// The settings that decide the scores' scale (detector and its test-time rules),
    /// recorded with a calibration so thresholds are never applied to other scores.
    fn scoring(&self) -> String {
        self.name().to_string()
    }
}

/// PO3AD: run the network, take the L1 norm of each predicted offset.
pub struct ModelScorer<B: SparseBackend> {
    pub model: Po3adNet<B>,
    pub config: ModelConfig,
    pub device: B::Device,
    pub object_rule: ObjectScore,
    pub top_fraction: f64,
    /// Trained with rotation augmentation (pose-invariant by training).
    pub rotation_trained: bool,
    pub frame: Option<TrainingFrame>,
    /// The nearest-template distance fused into the point score with this weight
    /// (`test.nearest_weight`; 0 = off).
    pub nearest: Option<(NearestTemplate, f32)>,
}

impl<B: SparseBackend> ModelScorer<B> {
    /// A scorer using the model and test settings of `preset` and the training frame
    /// the model recorded.
    pub fn new(
        model: Po3adNet<B>,
        preset: &crate::train::Preset,
        frame: Option<TrainingFrame>,
        device: &B::Device,
    ) -> Self {
        Self {
            model,
            config: preset.model.clone(),
            device: device.clone(),
            object_rule: preset.test.object_score,
            top_fraction: preset.test.top_fraction,
            rotation_trained: preset.train.rotate,
            frame,
            nearest: None,
        }
    }

    /// Fuse `detector`'s distances into the point scores with weight `weight`.
    pub fn with_nearest(mut self, detector: NearestTemplate, weight: f32) -> Self {
        self.nearest = (weight > 0.0).then_some((detector, weight));
        self
    }
}

/// L1 norms of rows of a row-major `[n, 3]` buffer.
pub fn l1_rows(flat: &[f32]) -> Vec<f32> {
    flat.chunks_exact(3)
        .map(|o| o[0].abs() + o[1].abs() + o[2].abs())
        .collect()
}

pub fn mean(values: &[f32]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64
}

impl<B: SparseBackend> Scorer for ModelScorer<B> {
    fn score_points(&self, clouds: &[&PointCloud]) -> anyhow::Result<Vec<Vec<f32>>> {
        let sets: Vec<&[[f32; 3]]> = clouds.iter().map(|c| c.points.as_slice()).collect();
        let batch = collate(&sets, self.config.voxel_size)?;
        let offsets = self.model.forward(&batch, &self.device)?;
        let flat: Vec<f32> = offsets
            .into_data()
            .convert::<f32>()
            .into_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading predicted offsets: {e:?}"))?;
        let scores = l1_rows(&flat);
        let mut out = Vec::with_capacity(clouds.len());
        let mut start = 0;
        for (&n, cloud) in batch.counts.iter().zip(clouds) {
            let mut s = scores[start..start + n].to_vec();
            if let Some((detector, w)) = &self.nearest {
                for (v, d) in s.iter_mut().zip(detector.distances(&cloud.points)) {
                    *v = (1.0 - w) * *v + w * d;
                }
            }
            out.push(s);
            start += n;
        }
        Ok(out)
    }

    fn object_score(&self, point_scores: &[f32]) -> f64 {
        aggregate(point_scores, self.object_rule, self.top_fraction)
    }

    fn name(&self) -> &str {
        "po3ad"
    }

    fn pose_dependent(&self) -> bool {
        !self.rotation_trained
    }

    fn frame(&self) -> Option<&TrainingFrame> {
        self.frame.as_ref()
    }

    fn scoring(&self) -> String {
        let rule = match self.object_rule {
            ObjectScore::Mean => "mean".to_string(),
            ObjectScore::TopMean => format!("top_mean({})", self.top_fraction),
        };
        let w = self.nearest.as_ref().map_or(0.0, |(_, w)| *w);
        format!("po3ad object_score={rule} nearest_weight={w}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_by_hand() {
        let s = [1.0f32, 5.0, 3.0, 2.0];
        assert_eq!(aggregate(&s, ObjectScore::Mean, 0.5), 2.75);
        // ceil(4 · 0.5) = 2 highest: (5 + 3) / 2.
        assert_eq!(aggregate(&s, ObjectScore::TopMean, 0.5), 4.0);
        // At least one value, at most all.
        assert_eq!(top_mean(&s, 0.0), 5.0);
        assert_eq!(top_mean(&s, 2.0), 2.75);
        assert_eq!(top_mean(&[], 0.1), 0.0);
    }
}
