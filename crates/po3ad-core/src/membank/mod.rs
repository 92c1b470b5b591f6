//! Memory-bank detectors, the comparison methods of the PO3AD paper that need no
//! pretrained network: features of the training clouds are stored in a bank, and a
//! scan point's anomaly score is how far its feature is from the bank.
//!
//! | kind | feature | bank | point score |
//! |---|---|---|---|
//! | [`BtfRaw`] | position (voxel-thinned) | all training points | distance to nearest |
//! | [`BtfFpfh`] | (multi-scale) FPFH | all training descriptors | distance to nearest |
//! | [`PatchCore`] | (multi-scale) FPFH | greedy coreset ([`coreset`]) | distance to nearest; object score re-weighted by the bank's neighbourhood |
//! | [`RegBank`] | position + FPFH | all training descriptors | feature distance to the bank entries *near the same place*, plus the position distance |
//!
//! BTF: Horwitz & Hoshen 2023, "Back to the Feature". PatchCore: Roth et al. 2022.
//! RegBank follows Reg3D-AD's idea (Liu et al. 2023: register, then compare with a
//! point-and-feature bank) with FPFH in place of its pretrained network.
//!
//! Frames: [`BtfRaw`] and [`RegBank`] compare positions, so training clouds and scans
//! must be in one frame (the training frame; the caller registers scans). [`BtfFpfh`]
//! and [`PatchCore`] are pose-invariant but not scale-invariant: scans must be in the
//! training clouds' units (e.g. the training frame's scale, any pose).
//!
//! Every detector scores a voxel-thinned copy of the scan ([`crate::features`]) and
//! interpolates the scores back to every scan point (inverse-distance weighting over
//! the nearest scored points). The object score is the largest point score, as the
//! published methods report, or the mean of the highest fraction ([`ObjectScore`]).
//! Detectors are serde-serializable; search trees are rebuilt on load.

pub mod btf;
pub mod coreset;
pub mod index;
pub mod patchcore;
pub mod regbank;

pub use btf::{BtfFpfh, BtfRaw};
pub use coreset::greedy_coreset;
pub use index::{FeatureIndex, IndexKind};
pub use patchcore::PatchCore;
pub use regbank::RegBank;

use crate::features::DescriptorConfig;
use crate::geometry::KdTree;
use crate::{Error, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// How per-point scores become one object score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ObjectScore {
    /// The largest point score (the published methods).
    #[default]
    Max,
    /// The mean of the highest `fraction` of point scores (at least one).
    TopMean { fraction: f64 },
}

impl ObjectScore {
    /// Apply to a scan's point scores (0 for an empty slice).
    pub fn apply(&self, scores: &[f32]) -> f32 {
        match *self {
            ObjectScore::Max => scores.iter().copied().fold(0.0f32, f32::max),
            ObjectScore::TopMean { fraction } => {
                if scores.is_empty() {
                    return 0.0;
                }
                let mut s = scores.to_vec();
                s.sort_by(|a, b| b.total_cmp(a));
                let k = ((s.len() as f64 * fraction).ceil() as usize).clamp(1, s.len());
                (s[..k].iter().map(|&x| x as f64).sum::<f64>() / k as f64) as f32
            }
        }
    }
}

/// Settings shared by the memory-bank detectors (each uses the fields it needs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BankConfig {
    /// Thinning, normals and FPFH radii (BtfRaw uses only `voxel`).
    pub descriptor: DescriptorConfig,
    pub object: ObjectScore,
    /// Scored points averaged (inverse-distance weights) into each scan point's score.
    pub interpolation_k: usize,
    /// k-d tree or brute-force bank search.
    pub index: IndexKind,
    /// PatchCore: fraction of the bank kept by the greedy coreset.
    pub coreset_fraction: f64,
    /// PatchCore: bank neighbours `b` of the nearest entry used to re-weight the
    /// object score (0 = no re-weighting).
    pub reweight_k: usize,
    /// RegBank: bank entries nearest in position whose features are compared.
    pub position_k: usize,
    /// RegBank: weight of the (normalised) position distance beside the feature term.
    pub position_weight: f32,
    /// Score each scan with its estimated normals and with them all flipped, keeping
    /// the sign whose scores have the lower median (see
    /// [`crate::features::describe_both_signs`]); the sign is decided on a quarter of
    /// the points, so this adds about half a bank search to the FPFH kinds' scoring.
    pub try_flipped_normals: bool,
    pub seed: u64,
}

impl Default for BankConfig {
    fn default() -> Self {
        Self {
            descriptor: DescriptorConfig::default(),
            object: ObjectScore::Max,
            interpolation_k: 3,
            index: IndexKind::Auto,
            coreset_fraction: 0.1,
            reweight_k: 3,
            position_k: 16,
            position_weight: 1.0,
            try_flipped_normals: true,
            seed: 42,
        }
    }
}

impl BankConfig {
    pub fn validate(&self) -> Result<()> {
        self.descriptor.validate()?;
        if self.interpolation_k == 0 || self.position_k == 0 {
            return Err(Error::Invalid(
                "memory bank: interpolation_k and position_k must be at least 1".into(),
            ));
        }
        if self.reweight_k == 1 {
            return Err(Error::Invalid(
                "memory bank: reweight_k must be 0 (off) or at least 2 (the nearest entry \
                 and one neighbour)"
                    .into(),
            ));
        }
        if !(self.coreset_fraction > 0.0 && self.coreset_fraction <= 1.0) {
            return Err(Error::Invalid(format!(
                "memory bank: coreset_fraction must be in (0, 1], got {}",
                self.coreset_fraction
            )));
        }
        if !(self.position_weight.is_finite() && self.position_weight >= 0.0) {
            return Err(Error::Invalid(format!(
                "memory bank: position_weight must be finite and >= 0, got {}",
                self.position_weight
            )));
        }
        if let ObjectScore::TopMean { fraction } = self.object {
            if !(fraction > 0.0 && fraction <= 1.0) {
                return Err(Error::Invalid(format!(
                    "memory bank: top-mean fraction must be in (0, 1], got {fraction}"
                )));
            }
        }
        Ok(())
    }
}

/// Checks a scan before scoring: not empty, finite.
fn check_scan(scan: &[[f32; 3]]) -> Result<()> {
    if scan.is_empty() {
        return Err(Error::Invalid("memory bank: the scan has no points".into()));
    }
    if scan.iter().flatten().any(|c| !c.is_finite()) {
        return Err(Error::Invalid(
            "memory bank: the scan has non-finite coordinates".into(),
        ));
    }
    Ok(())
}

/// Checks the training set: at least one non-empty cloud.
fn check_training(training: &[crate::PointCloud]) -> Result<()> {
    if training.is_empty() || training.iter().all(|c| c.is_empty()) {
        return Err(Error::Invalid(
            "memory bank: no training points to build a bank from".into(),
        ));
    }
    Ok(())
}

/// Scores of the scored (thinned) points carried to every scan point: inverse-distance
/// weights over the `k` nearest scored points; a scan point that *is* a scored point
/// gets its score exactly.
pub fn interpolate(scored: &[[f32; 3]], scores: &[f32], scan: &[[f32; 3]], k: usize) -> Vec<f32> {
    let tree = KdTree::new(scored);
    scan.par_iter()
        .map(|&p| {
            let nb = tree.knn(p, k.max(1));
            if nb.is_empty() {
                return 0.0;
            }
            if nb[0].1 == 0.0 {
                return scores[nb[0].0];
            }
            let (mut num, mut den) = (0.0f64, 0.0f64);
            for (j, d2) in nb {
                let w = 1.0 / (d2 as f64).sqrt();
                num += w * scores[j] as f64;
                den += w;
            }
            (num / den) as f32
        })
        .collect()
}

/// Every how-many-th described point decides the normal sign (see
/// [`describe_and_score`]); scans with fewer than [`SIGN_SAMPLE_MIN`] described points
/// are decided on all of them.
const SIGN_SAMPLE_STRIDE: usize = 4;
const SIGN_SAMPLE_MIN: usize = 400;

/// Describe `scan` ([`crate::features::describe`], or both normal signs when the
/// configuration asks) and score the description(s) with `score`; returns the
/// description and its scores. With both signs, the sign whose scores have the lower
/// median over every [`SIGN_SAMPLE_STRIDE`]-th point is kept and only its description
/// is scored whole: the bank search is the cost, and a quarter of the points settles
/// the median as well as all of them on any real scan.
fn describe_and_score<F>(
    scan: &[[f32; 3]],
    cfg: &BankConfig,
    score: F,
) -> Result<(crate::features::Described, Vec<f32>)>
where
    F: Fn(&crate::features::Described) -> Result<Vec<f32>>,
{
    if !cfg.try_flipped_normals {
        let d = crate::features::describe(scan, None, &cfg.descriptor)?;
        let s = score(&d)?;
        return Ok((d, s));
    }
    let [a, b] = crate::features::describe_both_signs(scan, &cfg.descriptor)?;
    let stride = if a.points.len() < SIGN_SAMPLE_MIN {
        1
    } else {
        SIGN_SAMPLE_STRIDE
    };
    let sample = |d: &crate::features::Described| crate::features::Described {
        points: d.points.iter().copied().step_by(stride).collect(),
        features: d
            .features
            .chunks_exact(d.dim)
            .step_by(stride)
            .flatten()
            .copied()
            .collect(),
        dim: d.dim,
    };
    let median = |v: Vec<f32>| {
        let mut v = v;
        v.sort_by(f32::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let keep = if median(score(&sample(&b))?) < median(score(&sample(&a))?) {
        b
    } else {
        a
    };
    let s = score(&keep)?;
    Ok((keep, s))
}
