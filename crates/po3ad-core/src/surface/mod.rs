//! The `surface` detector: a training-free anomaly score from the distance of each scan
//! point to a reference *surface* (not to the nearest training point), in units of the
//! surface's own measured variability, plus missing material.
//!
//! Owns: fitting the reference from training clouds that are already in one common
//! frame ([`SurfaceModel::fit`]), and scoring a scan that the caller has already placed
//! in that frame ([`SurfaceModel::score`]). Registration, file I/O and model storage
//! belong to the caller (the model is plain serde data).
//!
//! # Fit
//! - Training meshes are sampled (`mesh_samples` points each); the unit of every size
//!   below is `h`, the median nearest-neighbour spacing of the training clouds, so the
//!   settings hold in millimetres as in unit-sphere units.
//! - The pooled training points are thinned to nodes on a voxel grid (`node_voxel`·h);
//!   each node gets a quadric height patch ([`patch`]) fitted to the pooled points within
//!   `fit_radius`·h, with its PCA normal signed by the training normals (outward).
//! - Noise floor per node: leave-one-out, each training cloud's points against the patch
//!   fitted to the other clouds (with a single cloud, the fit residual), then the median
//!   over nearby nodes and a floor ([`reference`]).
//!
//! # Score
//! - Each scan point's signed distance to the closest of the patches of its
//!   `blend_nodes` nearest nodes (the distance to their union; `patch_rule` = blend
//!   averages them instead), + along the outward normal (bulge), − into the part (dent).
//! - First a trimmed, damped point-to-plane ICP onto the nodes ([`pose`]) that may also
//!   scale the scan by up to `refine_max_scale` about the part's centre: the scan was
//!   registered onto one training template, each training cloud was scaled into the
//!   unit sphere on its own, and a part a little larger than that template would
//!   otherwise light up along its whole outline (on the dev benchmark's plate and
//!   gears, a 2 % size difference between templates did exactly that).
//! - Smoothing over the scan's own neighbourhood at each of `smooth_scales` × the scan's
//!   spacing: the mean signed distance `m` of `n` points is divided by
//!   `√(σ_ref² + σ_scan² / n)`, where σ_ref is the node's floor and σ_scan the scan's own
//!   high-frequency noise (robust spread of the points about their neighbourhood mean);
//!   the largest |z| over the scales is kept.
//! - Local z: the same mean minus the mean over `local_radius`·h of surrounding surface
//!   (the neighbours whose reference normal is within `local_max_angle_deg` of the
//!   point's: across a sharp edge lies another face), divided by the local floor
//!   measured the same way on the training clouds. It sees a
//!   scratch or shallow dent that the part-to-part variation (a template a little larger
//!   than another) would drown in the absolute z; the larger |z| of the two is kept.
//! - Missing material ([`missing`]) is scored on the same z scale and put onto the scan
//!   points at each gap's rim; a point's score is the larger of the two.
//! - Object score: the larger of the mean of the top `top_fraction` point scores and
//!   `gap_weight` × the mean of the `gap_top` largest gap z-scores.

mod density;
mod missing;
mod patch;
mod pose;
mod reference;

use crate::geometry::{ensure_normals, sample_surface, KdTree};
use crate::{Error, PointCloud, Result};
use nalgebra::Vector3;
use patch::Patch;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use reference::Pooled;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Settings of the surface detector. Lengths marked "× h" are multiples of the
/// training clouds' median point spacing, "× s" of the scan's spacing
/// (`1/√density`). Defaults are the best measured on the dev benchmark
/// (notes/surface.md says which were chosen there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SurfaceConfig {
    /// Surface samples drawn from each training mesh (clouds are used as they are).
    pub mesh_samples: usize,
    /// Neighbours for PCA normals of training clouds that carry none.
    pub normal_k: usize,
    /// Node voxel size (× h).
    pub node_voxel: f32,
    /// Radius of the pooled points a node's patch is fitted to (× h).
    pub fit_radius: f32,
    /// Radius over which node noise floors are median-filtered (× h).
    pub sigma_radius: f32,
    /// Noise floor at least this fraction of the median floor over the part.
    pub sigma_floor_rel: f32,
    /// Nearest nodes whose patches a scan point is measured against.
    pub blend_nodes: usize,
    /// How those patches give one distance: the closest patch (distance to the union
    /// of the patches, right at edges where neighbouring patches belong to different
    /// faces), or a Gaussian-weighted blend.
    pub patch_rule: PatchRule,
    /// Radius of the surrounding surface a local deviation is measured against (× h);
    /// 0 turns the local z off.
    pub local_radius: f32,
    /// Every this-many-th training point is used to measure the local noise floor.
    pub local_stride: usize,
    /// The surrounding surface of the local z is the neighbourhood's points whose
    /// reference normal is within this angle (degrees) of the point's own: across a
    /// sharp edge lies another face, whose deviations (a side wall of a template a
    /// little larger than another) say nothing about this face. 180 = every neighbour.
    pub local_max_angle_deg: f32,
    /// Neighbourhood radii for smoothing a scan's distances (× s).
    pub smooth_scales: Vec<f32>,
    /// Score missing material.
    pub missing: bool,
    /// A node counts as covered by the scan within this distance (× s).
    pub cover_radius: f32,
    /// Scans covering fewer nodes than this fraction are taken as one-sided.
    pub one_sided_coverage: f32,
    /// One-sided scans: nodes facing the estimated viewpoint by less than this cosine
    /// are not expected to be seen.
    pub view_min_cos: f32,
    /// One-sided scans: a gap counts only when its rim leaves no empty angular sector
    /// wider than this (degrees) around it.
    pub max_open_angle_deg: f32,
    /// One-sided scans: a node is expected to be seen only when a cone of this
    /// half-angle (degrees) from it towards the camera holds no scan points: a
    /// triangulating scanner's projector and camera both need a clear view (their
    /// base angle is typically 15–30°), so the bottom of a slot it cannot see into is
    /// not taken for missing material. 0 = a thin ray.
    pub sight_half_angle_deg: f32,
    /// Gaps with a z-score at or below this are ignored.
    pub gap_min_z: f32,
    /// A gap's score reaches scan points up to this far beyond it (× s).
    pub rim_margin: f32,
    /// Fraction of the highest point scores averaged into the object score.
    pub top_fraction: f32,
    /// Largest gap z-scores averaged into the object score's gap term.
    pub gap_top: usize,
    /// Weight of the gap term in the object score (0: point scores only).
    pub gap_weight: f32,
    /// Trimmed point-to-plane ICP steps onto the reference before scoring (0: the scan
    /// is scored where the caller put it).
    pub refine_iterations: usize,
    /// Scan points (an even stride) used by that refinement, at most.
    pub refine_points: usize,
    /// The refinement may also scale the scan about the part's centre by up to this
    /// relative amount (0: rigid only): templates of one part differ in size, and a
    /// scan scored against the pooled reference should not light up along its whole
    /// outline for it.
    pub refine_max_scale: f32,
    /// The refinement also moves the scan rigidly (else it only scales it).
    pub refine_rigid: bool,
    /// Seed of the mesh sampling.
    pub seed: u64,
}

impl Default for SurfaceConfig {
    fn default() -> Self {
        Self {
            mesh_samples: 30_000,
            normal_k: 16,
            node_voxel: 2.0,
            fit_radius: 4.0,
            sigma_radius: 2.5,
            sigma_floor_rel: 0.3,
            blend_nodes: 4,
            patch_rule: PatchRule::Closest,
            local_radius: 12.0,
            local_stride: 4,
            local_max_angle_deg: 45.0,
            smooth_scales: vec![1.0, 2.5],
            missing: true,
            cover_radius: 2.0,
            one_sided_coverage: 0.65,
            view_min_cos: 0.5,
            max_open_angle_deg: 120.0,
            sight_half_angle_deg: 15.0,
            gap_min_z: 1.0,
            rim_margin: 2.0,
            top_fraction: 0.01,
            gap_top: 3,
            gap_weight: 1.0,
            refine_iterations: 6,
            refine_points: 3000,
            refine_max_scale: 0.05,
            refine_rigid: true,
            seed: 42,
        }
    }
}

impl SurfaceConfig {
    /// Values out of range (settings files reach this).
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("node_voxel", self.node_voxel),
            ("fit_radius", self.fit_radius),
            ("sigma_radius", self.sigma_radius),
            ("cover_radius", self.cover_radius),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::Invalid(format!(
                    "surface: {name} must be positive and finite, got {v}"
                )));
            }
        }
        let unit = [
            ("sigma_floor_rel", self.sigma_floor_rel),
            ("one_sided_coverage", self.one_sided_coverage),
            ("view_min_cos", self.view_min_cos),
            ("top_fraction", self.top_fraction),
        ];
        for (name, v) in unit {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(Error::Invalid(format!(
                    "surface: {name} must be in [0, 1], got {v}"
                )));
            }
        }
        let non_negative = [
            ("gap_min_z", self.gap_min_z),
            ("rim_margin", self.rim_margin),
            ("local_radius", self.local_radius),
            ("gap_weight", self.gap_weight),
            ("refine_max_scale", self.refine_max_scale),
        ];
        if !(self.local_max_angle_deg.is_finite()
            && (0.0..=180.0).contains(&self.local_max_angle_deg))
        {
            return Err(Error::Invalid(format!(
                "surface: local_max_angle_deg must be in [0, 180], got {}",
                self.local_max_angle_deg
            )));
        }
        if !(self.sight_half_angle_deg.is_finite()
            && (0.0..80.0).contains(&self.sight_half_angle_deg))
        {
            return Err(Error::Invalid(format!(
                "surface: sight_half_angle_deg must be in [0, 80), got {}",
                self.sight_half_angle_deg
            )));
        }
        for (name, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Invalid(format!(
                    "surface: {name} must be finite and not negative, got {v}"
                )));
            }
        }
        if self.smooth_scales.is_empty()
            || self
                .smooth_scales
                .iter()
                .any(|s| !(s.is_finite() && *s >= 0.0))
        {
            return Err(Error::Invalid(format!(
                "surface: smooth_scales must be one or more finite, non-negative radii, got {:?}",
                self.smooth_scales
            )));
        }
        if self.blend_nodes == 0 || self.normal_k < 3 {
            return Err(Error::Invalid(format!(
                "surface: blend_nodes must be at least 1 and normal_k at least 3, got {} / {}",
                self.blend_nodes, self.normal_k
            )));
        }
        Ok(())
    }
}

/// See [`SurfaceConfig::patch_rule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatchRule {
    Closest,
    Blend,
}

/// The fitted reference surface: one quadric patch and noise floor per node, in the
/// training frame. Compact plain data (12 floats a node) for serde.
#[derive(Serialize, Deserialize)]
pub struct SurfaceModel {
    config: SurfaceConfig,
    /// Median point spacing `h` of the training clouds, model units.
    spacing: f32,
    /// Training clouds the reference was pooled from.
    n_training: usize,
    centers: Vec<[f32; 3]>,
    normals: Vec<[f32; 3]>,
    coef: Vec<[f32; 5]>,
    sigma: Vec<f32>,
    /// Noise floor of local deviations (about the mean over `local_radius`); empty
    /// when the local z is off.
    sigma_local: Vec<f32>,
    /// The nodes' k-d tree, built on first use (not stored).
    #[serde(skip)]
    tree: OnceLock<KdTree>,
}

impl std::fmt::Debug for SurfaceModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SurfaceModel")
            .field("nodes", &self.centers.len())
            .field("spacing", &self.spacing)
            .field("n_training", &self.n_training)
            .finish()
    }
}

/// The scores of one scan; every per-point vector is in scan order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurfaceScores {
    /// The point score (for metrics and heatmaps): max(|z|, rim gap z).
    pub point: Vec<f32>,
    /// Signed distance to the reference surface along its outward normal, averaged over
    /// the finest smoothing neighbourhood, model units (+ bulge, − dent).
    pub signed: Vec<f32>,
    /// Signed z-score of the distance (the scale with the largest |z|).
    pub z: Vec<f32>,
    /// Gap z-score put onto the point as part of a gap's rim (0 when none).
    pub gap: Vec<f32>,
    /// Object score.
    pub object: f32,
    /// The scan's own noise σ (model units) used in the z-scores.
    pub noise_sigma: f32,
    /// The scan's spacing `1/√density`, model units.
    pub scan_spacing: f32,
    /// Estimated viewpoint direction for a one-sided scan; `None` for a whole scan.
    pub view: Option<[f32; 3]>,
    /// Reference nodes the scan should have covered.
    pub expected_nodes: usize,
    /// Of those, nodes on a gap (missing material) above `gap_min_z`.
    pub missing_nodes: usize,
    /// Largest gap z-score (0 when none).
    pub max_gap_z: f32,
    /// The refinement applied before scoring, `p' = R p + t` (row-major `R`: a
    /// rotation times the fitted scale, which is the cube root of its determinant); the
    /// identity when `refine_iterations` is 0.
    pub refine_rotation: [[f32; 3]; 3],
    pub refine_translation: [f32; 3],
}

/// One scan point measured against the reference.
struct Measured {
    /// Signed distance (see [`SurfaceModel::distance`]).
    d: f32,
    /// Absolute and local noise floors there.
    sigma: f32,
    sigma_local: f32,
    /// The node whose patch gave the distance (the nearest node for the blend rule).
    node: usize,
}

fn v3(p: [f32; 3]) -> Vector3<f32> {
    Vector3::new(p[0], p[1], p[2])
}

fn check_points(what: &str, points: &[[f32; 3]]) -> Result<()> {
    if points.is_empty() {
        return Err(Error::Invalid(format!("surface: {what} has no points")));
    }
    if let Some(i) = points.iter().position(|p| p.iter().any(|c| !c.is_finite())) {
        return Err(Error::Invalid(format!(
            "surface: {what} point {i} is not finite ({:?})",
            points[i]
        )));
    }
    Ok(())
}

/// Mean of the highest `fraction` of `values` (at least one value).
pub(crate) fn top_mean(values: &[f32], fraction: f32) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mut s = values.to_vec();
    let top = ((s.len() as f32 * fraction).ceil() as usize).clamp(1, s.len());
    s.select_nth_unstable_by(top - 1, |a, b| b.total_cmp(a));
    s[..top].iter().map(|&v| f64::from(v)).sum::<f64>() as f32 / top as f32
}

impl SurfaceModel {
    /// Fit the reference to `training` clouds (or meshes, which are sampled), all in one
    /// common frame. Clouds without normals get PCA normals oriented outward.
    ///
    /// Errors on no training data, empty or non-finite clouds, a bad configuration, or
    /// clouds too sparse to fit any patch.
    pub fn fit(training: &[PointCloud], cfg: &SurfaceConfig) -> Result<SurfaceModel> {
        cfg.validate()?;
        if training.is_empty() {
            return Err(Error::Invalid("surface: no training clouds".into()));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut pool = Pooled {
            points: Vec::new(),
            normals: Vec::new(),
            source: Vec::new(),
            n_sources: training.len(),
        };
        let mut spacings = Vec::new();
        for (i, cloud) in training.iter().enumerate() {
            check_points(&format!("training cloud {i}"), &cloud.points)?;
            let mut c = if cloud.is_mesh() && cfg.mesh_samples > 0 {
                sample_surface(cloud, cfg.mesh_samples, &mut rng)?
            } else {
                // A mesh used as it is gets its vertex normals from the faces.
                let mut c = cloud.clone();
                ensure_normals(&mut c, cfg.normal_k)?;
                c.faces.clear();
                c
            };
            ensure_normals(&mut c, cfg.normal_k)?;
            let tree = KdTree::new(&c.points);
            if let Some(s) = density::median_spacing(&c.points, &tree) {
                spacings.push(s);
            }
            let normals = c.normals.take().unwrap_or_default();
            pool.source
                .extend(std::iter::repeat_n(i as u32, c.points.len()));
            pool.points.extend(c.points);
            pool.normals.extend(normals);
        }
        let h = reference::median(&mut spacings).ok_or_else(|| {
            Error::Invalid("surface: training clouds have no two distinct points".into())
        })?;
        let nodes = reference::build_nodes(&pool, cfg.node_voxel * h, cfg.fit_radius * h)?;
        let centers: Vec<[f32; 3]> = nodes.iter().map(|n| n.patch.center.into()).collect();
        let raw: Vec<f32> = nodes.iter().map(|n| n.sigma).collect();
        // An absolute floor far below any real variation, so a perfectly repeated
        // synthetic part cannot divide by zero.
        let sigma = reference::regularize_sigma(
            &centers,
            &raw,
            cfg.sigma_radius * h,
            cfg.sigma_floor_rel,
            1e-3 * h,
        );
        let mut model = SurfaceModel {
            config: cfg.clone(),
            spacing: h,
            n_training: training.len(),
            normals: nodes.iter().map(|n| n.patch.normal.into()).collect(),
            coef: nodes.iter().map(|n| n.patch.coef).collect(),
            centers,
            sigma,
            sigma_local: Vec::new(),
            tree: OnceLock::new(),
        };
        if cfg.local_radius > 0.0 {
            let raw = reference::local_sigma(
                &pool,
                &model.centers,
                cfg.local_radius * h,
                cfg.local_stride,
                &|p| {
                    let m = model.distance(p);
                    (m.d, m.node)
                },
                &model.normals,
                model.local_min_cos(),
            );
            model.sigma_local = reference::regularize_sigma(
                &model.centers,
                &raw,
                cfg.sigma_radius * h,
                cfg.sigma_floor_rel,
                1e-3 * h,
            );
        }
        Ok(model)
    }

    pub fn config(&self) -> &SurfaceConfig {
        &self.config
    }

    /// Replace the scoring settings (fit-time settings of a stored model cannot change
    /// what was fitted; only the scoring fields take effect).
    pub fn set_config(&mut self, cfg: SurfaceConfig) -> Result<()> {
        cfg.validate()?;
        self.config = cfg;
        Ok(())
    }

    /// Median training point spacing `h`, model units.
    pub fn spacing(&self) -> f32 {
        self.spacing
    }

    /// Number of reference nodes.
    pub fn len(&self) -> usize {
        self.centers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.centers.is_empty()
    }

    /// Node noise floors (model units), for inspection.
    pub fn noise_floor(&self) -> &[f32] {
        &self.sigma
    }

    /// Checks a model read from a file: consistent lengths, finite numbers.
    pub fn validate(&self) -> Result<()> {
        let n = self.centers.len();
        let ok = n > 0
            && self.normals.len() == n
            && self.coef.len() == n
            && self.sigma.len() == n
            && self.spacing.is_finite()
            && self.spacing > 0.0
            && self.centers.iter().flatten().all(|c| c.is_finite())
            && self.normals.iter().flatten().all(|c| c.is_finite())
            && self.coef.iter().flatten().all(|c| c.is_finite())
            && self.sigma.iter().all(|s| s.is_finite() && *s > 0.0)
            && (self.sigma_local.is_empty() || self.sigma_local.len() == n)
            && self.sigma_local.iter().all(|s| s.is_finite() && *s > 0.0);
        if !ok {
            return Err(Error::Invalid(
                "surface: the stored model is malformed (lengths or non-finite values)".into(),
            ));
        }
        self.config.validate()
    }

    fn tree(&self) -> &KdTree {
        self.tree.get_or_init(|| KdTree::new(&self.centers))
    }

    fn patch(&self, i: usize) -> Patch {
        Patch {
            center: v3(self.centers[i]),
            normal: v3(self.normals[i]),
            coef: self.coef[i],
        }
    }

    /// Signed distance of `q` to the reference and the two noise floors there (absolute,
    /// local), from the nearest nodes' patches by `patch_rule`. Far from every
    /// node (a point floating off the part, a fracture face inside it), the distance
    /// is at least the distance to the nearest node minus the node spacing.
    fn distance(&self, q: [f32; 3]) -> Measured {
        let cfg = &self.config;
        let near = self.tree().knn(q, cfg.blend_nodes);
        let node = cfg.node_voxel * self.spacing;
        let reach = cfg.fit_radius * self.spacing;
        let inv = 1.0 / (2.0 * node * node);
        let (mut sw, mut sd, mut ss, mut sl) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        let d0 = near.first().map_or(0.0, |&(_, d2)| d2);
        let mut best = f32::INFINITY;
        let mut node_of = near.first().map_or(0, |&(i, _)| i);
        for &(i, d2) in &near {
            let di = self.patch(i).signed_distance(v3(q), reach);
            let li = self.sigma_local.get(i).copied().unwrap_or(0.0);
            match cfg.patch_rule {
                PatchRule::Closest => {
                    if di.abs() < best {
                        best = di.abs();
                        node_of = i;
                        (sw, sd, ss, sl) = (1.0, di, self.sigma[i], li);
                    }
                }
                PatchRule::Blend => {
                    // Relative to the nearest node, so far points keep non-zero weights.
                    let w = (-(d2 - d0) * inv).exp();
                    sw += w;
                    sd += w * di;
                    ss += w * self.sigma[i];
                    sl += w * li;
                }
            }
        }
        let d = sd / sw;
        let floor = d0.sqrt() - node;
        let d = if d.abs() < floor {
            floor.copysign(d)
        } else {
            d
        };
        Measured {
            d,
            sigma: ss / sw,
            sigma_local: sl / sw,
            node: node_of,
        }
    }

    /// Cosine limit of [`SurfaceConfig::local_max_angle_deg`] (`None`: no limit).
    fn local_min_cos(&self) -> Option<f32> {
        let a = self.config.local_max_angle_deg;
        (a < 180.0).then(|| a.to_radians().cos())
    }

    /// Score a scan already placed in the model's frame.
    ///
    /// Errors on an empty or non-finite scan, or one too small to have a spacing.
    pub fn score(&self, scan: &[[f32; 3]]) -> Result<SurfaceScores> {
        check_points("scan", scan)?;
        let cfg = &self.config;
        let motion = if cfg.refine_iterations > 0 {
            let step = scan.len().div_ceil(cfg.refine_points.max(1)).max(1);
            let sub: Vec<[f32; 3]> = scan.iter().step_by(step).copied().collect();
            pose::refine(
                &sub,
                &self.centers,
                &self.normals,
                self.tree(),
                &pose::Settings {
                    max_distance: cfg.fit_radius * self.spacing,
                    iterations: cfg.refine_iterations,
                    max_scale: cfg.refine_max_scale,
                    rigid: cfg.refine_rigid,
                },
            )
        } else {
            pose::Motion::identity()
        };
        let moved: Vec<[f32; 3]>;
        let scan = if cfg.refine_iterations > 0 {
            moved = scan.iter().map(|&p| motion.apply(p)).collect();
            &moved[..]
        } else {
            scan
        };
        let tree = KdTree::new(scan);
        let density = density::areal_density(scan, &tree).ok_or_else(|| {
            Error::Invalid(format!(
                "surface: the scan's {} points are too few (or all duplicates) to measure \
                 its spacing",
                scan.len()
            ))
        })?;
        let s = 1.0 / density.sqrt();
        let dist: Vec<Measured> = scan.par_iter().map(|&q| self.distance(q)).collect();
        let d: Vec<f32> = dist.iter().map(|x| x.d).collect();
        let sigma_ref: Vec<f32> = dist.iter().map(|x| x.sigma).collect();
        let sigma_loc: Vec<f32> = dist.iter().map(|x| x.sigma_local).collect();
        let min_cos = self.local_min_cos();
        // The mean over the surrounding surface, for the local z.
        let local = (!self.sigma_local.is_empty() && cfg.local_radius > 0.0).then(|| {
            let r = cfg.local_radius * self.spacing;
            let normals: Vec<Vector3<f32>> =
                dist.iter().map(|m| v3(self.normals[m.node])).collect();
            scan.par_iter()
                .enumerate()
                .map(|(i, &q)| {
                    reference::same_face_mean(&tree.within_unsorted(q, r), i, &d, &normals, min_cos)
                })
                .collect::<Vec<f32>>()
        });

        // Neighbourhood means at every scale.
        let scales: Vec<(Vec<f32>, Vec<f32>)> = cfg
            .smooth_scales
            .iter()
            .map(|&r| {
                scan.par_iter()
                    .map(|&q| {
                        let near = tree.within_unsorted(q, r * s);
                        if near.is_empty() {
                            return (0.0, 1.0);
                        }
                        let m = near.iter().map(|&(j, _)| d[j]).sum::<f32>() / near.len() as f32;
                        (m, near.len() as f32)
                    })
                    .unzip()
            })
            .collect();
        // The scan's own noise: robust spread of the points about the mean of the
        // widest neighbourhood (MAD × 1.4826, corrected for the mean's own share).
        let Some((wide_m, wide_n)) = scales.last() else {
            return Err(Error::Invalid("surface: smooth_scales is empty".into()));
        };
        let mut resid: Vec<f32> = (0..scan.len())
            .map(|i| {
                let n = wide_n[i];
                let corr = if n > 1.0 { (n / (n - 1.0)).sqrt() } else { 1.0 };
                (d[i] - wide_m[i]).abs() * corr
            })
            .collect();
        let noise = 1.4826 * reference::median(&mut resid).unwrap_or(0.0);

        let mut z = vec![0.0f32; scan.len()];
        for (m, n) in &scales {
            for i in 0..scan.len() {
                let scan_var = noise * noise / n[i];
                let zi = m[i] / (sigma_ref[i] * sigma_ref[i] + scan_var).sqrt();
                if zi.abs() > z[i].abs() {
                    z[i] = zi;
                }
                if let Some(wide) = &local {
                    let zl = (m[i] - wide[i]) / (sigma_loc[i] * sigma_loc[i] + scan_var).sqrt();
                    if zl.abs() > z[i].abs() {
                        z[i] = zl;
                    }
                }
            }
        }
        let signed = scales[0].0.clone();

        let gaps = if cfg.missing {
            Some(missing::find_gaps(
                &self.centers,
                &self.normals,
                scan,
                &tree,
                &missing::GapParams {
                    node_spacing: cfg.node_voxel * self.spacing,
                    cover_radius: cfg.cover_radius * s,
                    one_sided_coverage: cfg.one_sided_coverage,
                    view_min_cos: cfg.view_min_cos,
                    min_z: cfg.gap_min_z,
                    rim_margin: cfg.rim_margin * s,
                    density,
                    max_open_angle: cfg.max_open_angle_deg.to_radians(),
                    sight_half_angle: cfg.sight_half_angle_deg.to_radians(),
                },
            ))
        } else {
            None
        };
        let gap = gaps
            .as_ref()
            .map_or_else(|| vec![0.0; scan.len()], |g| g.rim.clone());
        let point: Vec<f32> = z.iter().zip(&gap).map(|(z, g)| z.abs().max(*g)).collect();
        let gap_z = gaps.as_ref().map_or(&[][..], |g| &g.gap_z[..]);
        let gap_term = if gap_z.is_empty() {
            0.0
        } else {
            let k = cfg.gap_top.clamp(1, gap_z.len());
            gap_z[..k].iter().sum::<f32>() / k as f32
        };
        let object = top_mean(&point, cfg.top_fraction).max(cfg.gap_weight * gap_term);
        Ok(SurfaceScores {
            point,
            signed,
            z,
            gap,
            object,
            noise_sigma: noise,
            scan_spacing: s,
            view: gaps.as_ref().and_then(|g| g.view),
            expected_nodes: gaps.as_ref().map_or(0, |g| g.expected),
            missing_nodes: gaps.as_ref().map_or(0, |g| g.missing),
            max_gap_z: gap_z.first().copied().unwrap_or(0.0),
            refine_rotation: std::array::from_fn(|i| std::array::from_fn(|j| motion.r[(i, j)])),
            refine_translation: [motion.t.x, motion.t.y, motion.t.z],
        })
    }
}
