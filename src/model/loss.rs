//! The offset loss: `L = L_dist + L_dir` (paper eq. 1–3), with switches for the
//! paper's Variant 1 (L_dist only) and Variant 2 (L_dir only).

use burn::prelude::{Backend, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossConfig {
    pub use_dist: bool,
    pub use_dir: bool,
    /// ε added to both norms of the cosine term (paper: 1e-8). The cosine's gradient
    /// grows like 1/(|o_pre| + ε): with ε = 1e-8 and near-zero predictions (early
    /// training, a zero-initialised head) it dwarfs L_dist's in Adam's normalisation, so
    /// magnitudes (the anomaly score) learn slowly. A larger ε, comparable to real
    /// offsets, caps it and makes the term reward growing along the target.
    pub dir_eps: f32,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            use_dist: true,
            use_dir: true,
            dir_eps: 1e-8,
        }
    }
}

/// Row norms `[n, 1]` whose gradient at a zero row is 0 (as `torch.norm`'s), not the
/// NaN a plain `sqrt` gives there: the squared norm is clamped to 1e-24 first, far below
/// the ε that is added afterwards. (`x * x`, not `powf_scalar(2)`, whose backward is NaN
/// at 0 on burn 0.21.)
fn safe_norm<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    (x.clone() * x).sum_dim(1).clamp_min(1e-24).sqrt()
}

/// |x| with gradient sign(x) (0 at 0), like PyTorch's; burn 0.21's `abs` backward
/// divides by |x| and gives NaN at exactly 0 — which every untouched point hits once
/// the prediction matches its zero target.
fn safe_abs<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    x.clone() * x.sign().detach()
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
    let dist = safe_abs(pred.clone() - target.clone()).sum_dim(1).mean();
    let t_norm = safe_norm(target.clone()).add_scalar(cfg.dir_eps);
    let p_norm = safe_norm(pred.clone()).add_scalar(cfg.dir_eps);
    let cos = ((target / t_norm) * pred).sum_dim(1) / p_norm;
    let dir = cos.mean().neg();
    let total = match (cfg.use_dist, cfg.use_dir) {
        (true, true) => dist.clone() + dir.clone(),
        (true, false) => dist.clone(),
        (false, true) => dir.clone(),
        (false, false) => dist.clone().mul_scalar(0.0),
    };
    LossParts { total, dist, dir }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::prelude::TensorData;

    type B = Autodiff<Flex>;

    fn t(rows: &[[f32; 3]]) -> Tensor<B, 2> {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), 3]), &Default::default())
    }

    #[test]
    fn values_match_a_hand_computation() {
        let pred = t(&[[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.5, 0.5, 0.0]]);
        let target = t(&[[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]);
        let parts = offset_loss(pred, target, &LossConfig::default());
        // L_dist: (0 + 2 + 1.0) / 3; L_dir: -(1 + 0 + cos45°) / 3.
        let dist: f32 = parts.dist.into_scalar();
        let dir: f32 = parts.dir.into_scalar();
        assert!((dist - 1.0).abs() < 1e-6, "{dist}");
        let expect = -(1.0 + std::f32::consts::FRAC_1_SQRT_2) / 3.0;
        assert!((dir - expect).abs() < 1e-6, "{dir} vs {expect}");
    }

    #[test]
    fn dir_eps_damps_the_cosine_of_small_predictions() {
        let cfg = LossConfig {
            dir_eps: 0.01,
            ..Default::default()
        };
        let pred = t(&[[0.01, 0.0, 0.0], [0.0, 0.0, 0.0]]);
        let target = t(&[[0.1, 0.0, 0.0], [0.0, 0.0, 0.0]]);
        let dir: f32 = offset_loss(pred, target, &cfg).dir.into_scalar();
        // Point 1: (0.1 / 0.11) · 0.01 / 0.02; point 2 contributes 0; mean over 2.
        let expect = -(0.1 / 0.11) * (0.01 / 0.02) / 2.0;
        assert!((dir - expect).abs() < 1e-6, "{dir} vs {expect}");
    }

    #[test]
    fn gradient_is_finite_at_zero_prediction() {
        let pred = t(&[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]).require_grad();
        let target = t(&[[0.0, 0.0, 0.1], [0.0, 0.0, 0.0]]);
        let parts = offset_loss(pred.clone(), target, &LossConfig::default());
        let grads = parts.total.backward();
        let g = pred
            .grad(&grads)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    }
}
