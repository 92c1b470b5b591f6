//! Registration + memory bank (the idea of Reg3D-AD, Liu et al. 2023, with FPFH in
//! place of its pretrained network): scans arrive registered into the training frame,
//! and a scan point's descriptor is compared only with the bank entries *near the same
//! place* on the part, so a shape that is normal somewhere else on the part (a flat
//! patch where a fillet belongs) still stands out.
//!
//! Point score = `min_{j ∈ N_k(p)} ‖f − f_j‖ / σ_f + λ · ‖p − p_nearest‖ / σ_p`, with
//! `N_k(p)` the `position_k` bank entries nearest to the point's position, `λ` =
//! `position_weight`, and the scales `σ_f`, `σ_p` measured on the training clouds at
//! fit time: the median of the same two terms for every bank entry against the *other*
//! training clouds (against its own cloud, itself left out, when there is only one),
//! so both terms read "how many times a normal template-to-template difference".

use super::btf::describe_training;
use super::index::squared_distance;
use super::{
    check_scan, check_training, describe_and_score, interpolate, BankConfig, FeatureIndex,
    IndexKind,
};
use crate::geometry::KdTree;
use crate::{Error, PointCloud, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegBank {
    pub config: BankConfig,
    /// Bank positions (training frame), searched by k-d tree.
    positions: FeatureIndex,
    /// One descriptor per position (only rows are read, so no tree).
    features: FeatureIndex,
    /// Typical feature distance between training clouds at the same place.
    pub feature_scale: f32,
    /// Typical position distance between training clouds.
    pub position_scale: f32,
}

/// The two raw terms for descriptor `f` at `p` against `bank` positions / features.
fn terms(
    p: [f32; 3],
    f: &[f32],
    k: usize,
    knn: impl Fn([f32; 3], usize) -> Vec<(usize, f32)>,
    feature_row: impl Fn(usize) -> Vec<f32>,
) -> (f32, f32) {
    let nb = knn(p, k);
    let pos = nb.first().map_or(f32::INFINITY, |x| x.1.sqrt());
    let feat = nb
        .iter()
        .map(|&(j, _)| squared_distance(f, &feature_row(j)))
        .fold(f32::INFINITY, f32::min)
        .sqrt();
    (feat, pos)
}

fn median(mut v: Vec<f32>) -> f32 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

impl RegBank {
    /// Describe the training clouds (all in the training frame), keep position and
    /// descriptor of every thinned point, and measure the two scales.
    pub fn fit(training: &[PointCloud], config: &BankConfig) -> Result<Self> {
        config.validate()?;
        check_training(training)?;
        let (described, dim) = describe_training(training, config)?;
        let k = config.position_k;
        // Scales: each cloud's entries against the other clouds.
        let trees: Vec<KdTree> = described.iter().map(|d| KdTree::new(&d.points)).collect();
        let mut feat_terms = Vec::new();
        let mut pos_terms = Vec::new();
        for (c, d) in described.iter().enumerate() {
            let pairs: Vec<(f32, f32)> = (0..d.points.len())
                .into_par_iter()
                .map(|i| {
                    let f = &d.features[i * dim..(i + 1) * dim];
                    let mut best = (f32::INFINITY, f32::INFINITY);
                    for (o, od) in described.iter().enumerate() {
                        if o == c && described.len() > 1 {
                            continue;
                        }
                        let own = o == c;
                        let (ft, pt) = terms(
                            d.points[i],
                            f,
                            k,
                            |p, k| {
                                let mut nb = trees[o].knn(p, k + usize::from(own));
                                if own {
                                    nb.retain(|&(j, _)| j != i);
                                }
                                nb
                            },
                            |j| od.features[j * dim..(j + 1) * dim].to_vec(),
                        );
                        best = (best.0.min(ft), best.1.min(pt));
                    }
                    best
                })
                .collect();
            feat_terms.extend(pairs.iter().map(|x| x.0));
            pos_terms.extend(pairs.iter().map(|x| x.1));
        }
        let feature_scale = median(feat_terms);
        let position_scale = median(pos_terms);
        let feature_scale = if feature_scale > 0.0 {
            feature_scale
        } else {
            1.0
        };
        let position_scale = if position_scale > 0.0 {
            position_scale
        } else {
            config.descriptor.voxel
        };
        let mut pos = Vec::new();
        let mut feats = Vec::new();
        for d in described {
            pos.extend(d.points.iter().flatten());
            feats.extend(d.features);
        }
        Ok(Self {
            config: config.clone(),
            positions: FeatureIndex::new(3, pos, config.index)?,
            features: FeatureIndex::new(dim, feats, IndexKind::Brute)?,
            feature_scale,
            position_scale,
        })
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Per-point scores of `scan` (registered into the training frame) and the object
    /// score.
    pub fn score(&self, scan: &[[f32; 3]]) -> Result<(Vec<f32>, f32)> {
        check_scan(scan)?;
        if self.positions.len() != self.features.len() {
            return Err(Error::Invalid(format!(
                "reg-bank: {} positions but {} descriptors (corrupt file?)",
                self.positions.len(),
                self.features.len()
            )));
        }
        let (d, s) = describe_and_score(scan, &self.config, |d| {
            if d.dim != self.features.dim() {
                return Err(Error::Invalid(format!(
                    "reg-bank: descriptors of {} values, the bank's have {}",
                    d.dim,
                    self.features.dim()
                )));
            }
            Ok((0..d.points.len())
                .into_par_iter()
                .map(|i| {
                    let (ft, pt) = terms(
                        d.points[i],
                        &d.features[i * d.dim..(i + 1) * d.dim],
                        self.config.position_k,
                        |p, k| self.positions.knn(&p, k).unwrap_or_default(),
                        |j| self.features.row(j).to_vec(),
                    );
                    ft / self.feature_scale + self.config.position_weight * pt / self.position_scale
                })
                .collect())
        })?;
        let point = interpolate(&d.points, &s, scan, self.config.interpolation_k);
        let object = self.config.object.apply(&point);
        Ok((point, object))
    }
}
