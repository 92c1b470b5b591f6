//! Back to the Feature (Horwitz & Hoshen 2023) on point clouds: a bank of every
//! training point's feature, a scan point scored by the distance to its nearest bank
//! feature. [`BtfRaw`]: the feature is the position (so it needs scans in the training
//! frame); [`BtfFpfh`]: the (multi-scale) FPFH descriptor (pose-invariant).

use super::{
    check_scan, check_training, describe_and_score, interpolate, BankConfig, FeatureIndex,
};
use crate::features::{describe, thin, Described};
use crate::{PointCloud, Result};
use serde::{Deserialize, Serialize};

/// BTF with raw coordinates as features.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BtfRaw {
    pub config: BankConfig,
    bank: FeatureIndex,
}

impl BtfRaw {
    /// Bank = every training cloud thinned to `config.descriptor.voxel`, pooled.
    pub fn fit(training: &[PointCloud], config: &BankConfig) -> Result<Self> {
        config.validate()?;
        check_training(training)?;
        let mut values = Vec::new();
        for c in training.iter().filter(|c| !c.is_empty()) {
            let t = thin(&c.points, None, config.descriptor.voxel)?;
            values.extend(t.points.iter().flatten());
        }
        Ok(Self {
            config: config.clone(),
            bank: FeatureIndex::new(3, values, config.index)?,
        })
    }

    /// Bank entries.
    pub fn len(&self) -> usize {
        self.bank.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bank.is_empty()
    }

    /// Per-point scores of `scan` (training frame) and the object score.
    pub fn score(&self, scan: &[[f32; 3]]) -> Result<(Vec<f32>, f32)> {
        check_scan(scan)?;
        let t = thin(scan, None, self.config.descriptor.voxel)?;
        let q: Vec<f32> = t.points.iter().flatten().copied().collect();
        let s: Vec<f32> = self
            .bank
            .nearest_many(&q)?
            .into_iter()
            .map(|(_, d2)| d2.sqrt())
            .collect();
        let point = interpolate(&t.points, &s, scan, self.config.interpolation_k);
        let object = self.config.object.apply(&point);
        Ok((point, object))
    }
}

/// Describe every training cloud and pool the descriptors; also returns how many
/// descriptors each cloud gave (RegBank needs the owners).
pub(super) fn describe_training(
    training: &[PointCloud],
    config: &BankConfig,
) -> Result<(Vec<Described>, usize)> {
    let mut out = Vec::new();
    for c in training.iter().filter(|c| !c.is_empty()) {
        out.push(describe(
            &c.points,
            c.normals.as_deref(),
            &config.descriptor,
        )?);
    }
    Ok((out, config.descriptor.dim()))
}

/// BTF with FPFH descriptors as features.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BtfFpfh {
    pub config: BankConfig,
    bank: FeatureIndex,
}

impl BtfFpfh {
    /// Bank = the descriptors of every training cloud ([`describe`]), pooled.
    pub fn fit(training: &[PointCloud], config: &BankConfig) -> Result<Self> {
        config.validate()?;
        check_training(training)?;
        let (described, dim) = describe_training(training, config)?;
        let values: Vec<f32> = described.into_iter().flat_map(|d| d.features).collect();
        Ok(Self {
            config: config.clone(),
            bank: FeatureIndex::new(dim, values, config.index)?,
        })
    }

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
        let object = self.config.object.apply(&point);
        Ok((point, object))
    }
}
