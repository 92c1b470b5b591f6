//! PatchCore (Roth et al. 2022, "Towards Total Recall in Industrial Anomaly
//! Detection") on FPFH descriptors: the bank is a greedy coreset of the training
//! descriptors ([`super::coreset`]); a point's score is the distance to its nearest
//! coreset entry `m*`; the object score is the largest point score `s*` re-weighted by
//! how isolated `m*` is in the bank:
//! `w = 1 − exp(s*) / Σ_{m ∈ N_b(m*)} exp(‖f − m‖)` (`N_b(m*)`: the `b` entries nearest
//! to `m*`, itself included), computed as `1 − 1 / Σ exp(‖f − m‖ − s*)` so that it
//! cannot overflow. With [`super::ObjectScore::TopMean`] no re-weighting is applied.

use super::btf::describe_training;
use super::{
    check_scan, check_training, coreset::greedy_coreset, describe_and_score, interpolate,
    BankConfig,
};
use super::{FeatureIndex, ObjectScore};
use crate::{PointCloud, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PatchCore {
    pub config: BankConfig,
    bank: FeatureIndex,
    /// Descriptors before the coreset (reported, not stored).
    pub full_len: usize,
}

impl PatchCore {
    /// Describe the training clouds, keep `coreset_fraction` of the descriptors (at
    /// least one) by greedy coreset selection.
    pub fn fit(training: &[PointCloud], config: &BankConfig) -> Result<Self> {
        config.validate()?;
        check_training(training)?;
        let (described, dim) = describe_training(training, config)?;
        let all: Vec<f32> = described.into_iter().flat_map(|d| d.features).collect();
        let n = all.len() / dim;
        let count = ((n as f64 * config.coreset_fraction).ceil() as usize).max(1);
        let keep = greedy_coreset(&all, dim, count, config.seed)?;
        let mut values = Vec::with_capacity(keep.len() * dim);
        for i in keep {
            values.extend_from_slice(&all[i * dim..(i + 1) * dim]);
        }
        Ok(Self {
            config: config.clone(),
            bank: FeatureIndex::new(dim, values, config.index)?,
            full_len: n,
        })
    }

    /// Coreset entries.
    pub fn len(&self) -> usize {
        self.bank.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bank.is_empty()
    }

    /// Per-point scores of `scan` (training units, any pose) and the object score.
    pub fn score(&self, scan: &[[f32; 3]]) -> Result<(Vec<f32>, f32)> {
        check_scan(scan)?;
        let (d, s) = describe_and_score(scan, &self.config, |d| {
            Ok(self
                .bank
                .nearest_many(&d.features)?
                .into_iter()
                .map(|(_, d2)| d2.sqrt())
                .collect())
        })?;
        let point = interpolate(&d.points, &s, scan, self.config.interpolation_k);
        let object = match self.config.object {
            ObjectScore::Max if self.config.reweight_k > 0 => {
                // The scored point with the largest s*, first on ties.
                let mut top = 0;
                for (i, &v) in s.iter().enumerate() {
                    if v > s[top] {
                        top = i;
                    }
                }
                let f = &d.features[top * d.dim..(top + 1) * d.dim];
                let m_star = self.bank.row(self.bank.nearest(f)?.0);
                let mut sum = 0.0f64;
                for (j, _) in self.bank.knn(m_star, self.config.reweight_k)? {
                    let dist = super::index::squared_distance(f, self.bank.row(j)).sqrt();
                    sum += ((dist - s[top]) as f64).exp();
                }
                let w = if sum > 0.0 { 1.0 - 1.0 / sum } else { 1.0 };
                (w * s[top] as f64) as f32
            }
            other => other.apply(&point),
        };
        Ok((point, object))
    }
}
