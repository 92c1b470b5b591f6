//! Per-point local shape descriptors for the memory-bank detectors ([`crate::membank`]):
//! FPFH ([`fpfh`], Open3D's conventions), multi-scale FPFH (several radii
//! concatenated), and [`describe`], the one road from a raw cloud to descriptors
//! (voxel downsampling, PCA normals, FPFH) so that training clouds and scans are
//! described identically.

pub mod fpfh;

pub use fpfh::{fpfh, multi_scale_fpfh, FPFH_BINS, FPFH_DIM};

use crate::geometry::{estimate_normals, voxel_downsample};
use crate::{Error, PointCloud, Result};
use serde::{Deserialize, Serialize};

/// How a cloud is turned into descriptors, in the units of the points (defaults suit
/// parts in the unit-sphere training frame; BTF's recipe: feature radius = 5 voxels).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DescriptorConfig {
    /// Voxel size the cloud is thinned to before description (one descriptor a voxel).
    pub voxel: f32,
    /// Neighbours for PCA normals on the thinned cloud.
    pub normal_k: usize,
    /// FPFH radii; several = multi-scale (33 values per radius, concatenated).
    pub radii: Vec<f32>,
    /// Neighbourhood cap per radius (Open3D's hybrid search `max_nn`).
    pub max_nn: usize,
}

impl Default for DescriptorConfig {
    fn default() -> Self {
        Self {
            voxel: 0.04,
            normal_k: 10,
            radii: vec![0.2],
            max_nn: 100,
        }
    }
}

impl DescriptorConfig {
    /// Descriptor length: 33 per radius.
    pub fn dim(&self) -> usize {
        FPFH_DIM * self.radii.len()
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.voxel.is_finite() && self.voxel > 0.0) {
            return Err(Error::Invalid(format!(
                "descriptor: voxel must be positive and finite, got {}",
                self.voxel
            )));
        }
        if self.normal_k < 3 || self.max_nn < 2 || self.radii.is_empty() {
            return Err(Error::Invalid(format!(
                "descriptor: need normal_k >= 3, max_nn >= 2 and a radius (got {}, {}, {:?})",
                self.normal_k, self.max_nn, self.radii
            )));
        }
        if let Some(r) = self.radii.iter().find(|r| !(r.is_finite() && **r > 0.0)) {
            return Err(Error::Invalid(format!(
                "descriptor: radii must be positive and finite, got {r}"
            )));
        }
        Ok(())
    }
}

/// A thinned cloud with one descriptor per point (row-major, `dim` values a row).
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    pub points: Vec<[f32; 3]>,
    pub features: Vec<f32>,
    pub dim: usize,
}

/// Thin `points` to `cfg.voxel`, estimate PCA normals (flipped to agree with `normals`
/// when given, e.g. a mesh's outward normals), and compute the (multi-scale) FPFH.
///
/// Errors on an empty or non-finite cloud, a normals count that does not match, a bad
/// configuration, or a cloud that thins to fewer than `normal_k` points.
pub fn describe(
    points: &[[f32; 3]],
    normals: Option<&[[f32; 3]]>,
    cfg: &DescriptorConfig,
) -> Result<Described> {
    let (thinned, est) = thin_with_normals(points, normals, cfg)?;
    let features = multi_scale_fpfh(&thinned, &est, &cfg.radii, cfg.max_nn)?;
    Ok(Described {
        points: thinned,
        features,
        dim: cfg.dim(),
    })
}

/// [`describe`] of a scan without normals, twice: with the estimated normals and with
/// every normal flipped. A one-sided scan's normals are oriented by a vote (away from
/// the scan's centroid) that comes out inward for some views, and FPFH depends on the
/// sign, so a caller keeps the description that matches its bank better (as
/// registration does).
///
/// The flipped description is not computed again: negating both normals of a pair
/// keeps its source point and maps `(θ, α, φ)` to `(−θ, α, −φ)` (see
/// [`fpfh`]'s pair features), so every histogram block of θ and φ is reversed bin for
/// bin and the α block stays ([`flip_normals_sign`]).
pub fn describe_both_signs(points: &[[f32; 3]], cfg: &DescriptorConfig) -> Result<[Described; 2]> {
    let (thinned, est) = thin_with_normals(points, None, cfg)?;
    let a = multi_scale_fpfh(&thinned, &est, &cfg.radii, cfg.max_nn)?;
    let b = flip_normals_sign(&a);
    let dim = cfg.dim();
    Ok([
        Described {
            points: thinned.clone(),
            features: a,
            dim,
        },
        Described {
            points: thinned,
            features: b,
            dim,
        },
    ])
}

/// The (multi-scale) FPFH rows of the same points with every normal negated: the θ
/// and φ blocks of each radius reversed, the α block kept. Exact, but for a pair angle
/// that falls exactly on a bin edge.
pub fn flip_normals_sign(features: &[f32]) -> Vec<f32> {
    let mut out = features.to_vec();
    for radius in out.chunks_exact_mut(FPFH_DIM) {
        radius[..FPFH_BINS].reverse();
        radius[2 * FPFH_BINS..].reverse();
    }
    out
}

/// Points and their normals.
type PointsAndNormals = (Vec<[f32; 3]>, Vec<[f32; 3]>);

/// Thinned points and their PCA normals (signed by the given normals when present).
fn thin_with_normals(
    points: &[[f32; 3]],
    normals: Option<&[[f32; 3]]>,
    cfg: &DescriptorConfig,
) -> Result<PointsAndNormals> {
    cfg.validate()?;
    let thinned = thin(points, normals, cfg.voxel)?;
    if thinned.len() < cfg.normal_k {
        return Err(Error::Invalid(format!(
            "descriptor: the cloud covers only {} voxels of size {} (fewer than normal_k = {}); \
             is it in the training frame's units?",
            thinned.len(),
            cfg.voxel,
            cfg.normal_k
        )));
    }
    let mut est = estimate_normals(&thinned.points, cfg.normal_k)?;
    if let Some(given) = &thinned.normals {
        for (n, g) in est.iter_mut().zip(given) {
            if n[0] * g[0] + n[1] * g[1] + n[2] * g[2] < 0.0 {
                *n = [-n[0], -n[1], -n[2]];
            }
        }
    }
    Ok((thinned.points, est))
}

/// Voxel-thin a cloud (with its normals when given), checking the input first.
pub fn thin(points: &[[f32; 3]], normals: Option<&[[f32; 3]]>, voxel: f32) -> Result<PointCloud> {
    if points.is_empty() {
        return Err(Error::Invalid("descriptor: the cloud has no points".into()));
    }
    if let Some(n) = normals {
        if n.len() != points.len() {
            return Err(Error::Invalid(format!(
                "descriptor: {} points but {} normals",
                points.len(),
                n.len()
            )));
        }
    }
    if points.iter().flatten().any(|c| !c.is_finite()) {
        return Err(Error::Invalid(
            "descriptor: the cloud has non-finite coordinates".into(),
        ));
    }
    let cloud = PointCloud {
        points: points.to_vec(),
        normals: normals.map(<[_]>::to_vec),
        labels: None,
        faces: Vec::new(),
    };
    voxel_downsample(&cloud, voxel)
}
