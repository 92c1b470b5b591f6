//! The offset loss: `L = L_dist + L_dir` (paper eq. 1–3), with switches for the
//! paper's Variant 1 (L_dist only) and Variant 2 (L_dir only).

use burn::prelude::{Backend, Tensor};
use serde::{Deserialize, Serialize};

/// ε in both norms of the cosine term (paper: 1e-8).
const DIR_EPS: f32 = 1e-8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossConfig {
    pub use_dist: bool,
    pub use_dir: bool,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            use_dist: true,
            use_dir: true,
        }
    }
}

/// The scalar loss to differentiate and its two parts for logging.
pub struct LossParts<B: Backend> {
    pub total: Tensor<B, 1>,
    pub dist: Tensor<B, 1>,
    pub dir: Tensor<B, 1>,
}

/// `pred`, `target`: `[points, 3]`.
/// L_dist = mean over points of Σ_xyz |pred − target|;
/// L_dir = −mean over points of cos(pred, target), with ε added to both norms so a
/// zero target contributes 0 (it still counts in the mean).
pub fn offset_loss<B: Backend>(
    pred: Tensor<B, 2>,
    target: Tensor<B, 2>,
    cfg: &LossConfig,
) -> LossParts<B> {
    let dist = (pred.clone() - target.clone()).abs().sum_dim(1).mean();
    let t_norm = target
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .sqrt()
        .add_scalar(DIR_EPS);
    let p_norm = pred
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .sqrt()
        .add_scalar(DIR_EPS);
    let cos = (target / t_norm * (pred / p_norm)).sum_dim(1);
    let dir = cos.mean().neg();
    let total = match (cfg.use_dist, cfg.use_dir) {
        (true, true) => dist.clone() + dir.clone(),
        (true, false) => dist.clone(),
        (false, true) => dir.clone(),
        (false, false) => dist.clone().mul_scalar(0.0),
    };
    LossParts { total, dist, dir }
}
