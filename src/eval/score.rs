//! Scores from predicted offsets: a point's score is |o_x| + |o_y| + |o_z| of its
//! predicted offset; an object's score is the mean of its point scores.

use crate::model::{collate, ModelConfig, Po3adNet};
use po3ad_core::PointCloud;
use po3ad_sparse::SparseBackend;

/// Anything that scores every point of a normalized test cloud.
pub trait Scorer {
    /// Per-point scores for each cloud (clouds already preprocessed for testing).
    fn score_points(&self, clouds: &[&PointCloud]) -> anyhow::Result<Vec<Vec<f32>>>;
    /// Object score from point scores.
    fn object_score(&self, point_scores: &[f32]) -> f64;
    fn name(&self) -> &str;
}

/// PO3AD: run the network, take the L1 norm of each predicted offset.
pub struct ModelScorer<B: SparseBackend> {
    pub model: Po3adNet<B>,
    pub config: ModelConfig,
    pub device: B::Device,
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
        for &n in &batch.counts {
            out.push(scores[start..start + n].to_vec());
            start += n;
        }
        Ok(out)
    }

    fn object_score(&self, point_scores: &[f32]) -> f64 {
        mean(point_scores)
    }

    fn name(&self) -> &str {
        "po3ad"
    }
}
