//! Rigid registration of a scan (any pose, possibly a one-sided partial view) to a
//! reference template in the training frame.
//!
//! Crates considered (2025): `modern-icp` 0.13 (generic ICP incl. point-to-plane,
//! but no global registration, its own `kdtree` plus `statistical`/`tracing`/
//! `num-traits`, edition 2024, nalgebra-typed point clouds) and
//! `threecrate-algorithms` 0.12 (FPFH + RANSAC, but RANSAC draws from `rand::rng()`,
//! so it is not reproducible, and it pulls `threecrate-core`, `ndarray`, `rstar`,
//! `kdtree`, `itertools`, `anyhow`: a heavy cold build on 2-core CI). Neither takes
//! `&[[f32; 3]]` slices directly. This module is written from the papers on top of
//! what the crate already has (kiddo k-d tree via [`crate::geometry::KdTree`],
//! nalgebra SVD / Cholesky, rayon, ChaCha8): no new dependency.
//!
//! # Pipeline ([`register`])
//! 1. Voxel-downsample the scan twice: `voxel_size` (features, RANSAC, coarse ICP)
//!    and `fine_voxel_size` (final ICP and the quality measures).
//! 2. Scan normals: PCA over `normal_k` neighbours with
//!    [`crate::geometry::estimate_normals`] (minimum-spanning-tree orientation). FPFH
//!    depends on the normal sign, and the sign of a one-sided view (a flat face, a
//!    view into a bowl) cannot be read off the scan, so both signs are used; only a
//!    whole, closed scan whose normals came out consistently outward ([`closed`]:
//!    mean normal near zero, no silhouette rim, no patches of opposite sign) is
//!    matched with the outward sign alone (`closed_scan_one_sign`: half the RANSAC
//!    and candidates). A scan that is one view (one surface per line of sight in some
//!    direction, [`view_sign`]) has each connected piece turned to face the scanner
//!    (`view_signed_normals`): propagation leaves a concave piece (the inside of a
//!    vessel seen through its mouth) inward and a separate convex one outward.
//! 3. FPFH (33 bins, [`fpfh`]) of scan and template (the template's are computed
//!    once, in [`RegistrationTarget::new`], on PCA normals signed by the given ones,
//!    so both sides use the same estimator; the other sign's scan features are the
//!    first's with the θ and φ histograms reversed, [`fpfh::flip_normals_sign`]; a
//!    scan's FPFH are summed at its keypoints only); exact nearest template feature
//!    for every scan keypoint (optionally mutual), once per sign, by matrix products
//!    ([`crate::dense_nn`]).
//! 4. RANSAC ([`global`]) with *guided* 3-point samples (the 2nd and 3rd
//!    correspondences drawn among those length-compatible with the ones drawn), Kabsch
//!    fit, scored by correspondence inliers; `4 × ransac_candidates` distinct
//!    hypotheses are prescreened by overlap on a 500-point subsample and the best
//!    `ransac_candidates` refined by point-to-plane ICP on `coarse_icp_points` of the
//!    coarse scan ([`icp`]; optionally pairing only points whose normals agree); the
//!    candidates run in parallel.
//! 5. Every refined candidate (both signs) is scored on the fine scan by overlap
//!    (`fitness`), residual and *coverage* ([`visibility`]: the share of the template
//!    surface facing the implied viewpoint that the scan shows), which a view slipped
//!    onto a look-alike face or a half-tooth slip loses. While the best is not
//!    confident (gate passed, fitness and coverage ≥ `confident_fitness`; checked
//!    after each sign's candidates, `stop_per_sign`) up to `retries` more RANSAC
//!    rounds run with the next seeds. Still not confident, a template symmetric about
//!    an axis (a turned part) gets one more round per sign in which each match may
//!    turn about that axis ([`turned`], `turned_search`), and the best four are
//!    refined again with each thin-wall pair check (`thin_wall_retry`); all compete
//!    by score. Last, the best two are composed with the template's near-symmetries
//!    ([`near_symmetry`]: a gear turned by some teeth), the compositions that overlap
//!    the scan best are refined, and this repeats while it finds a clearly better pose
//!    that is not confident (`near_symmetry_rounds`: near-symmetries chain).
//! 6. The best two get a final fine ICP pass, weighted by Tukey's biweight with
//!    `robust_kernel` (a real defect does not pull the pose); the better is kept.
//! 7. Quality gate: `registered = fitness >= min_fitness && inlier_rmse <= max_rmse
//!    && coverage >= min_coverage`, `fitness` = fraction of fine scan points with a
//!    template point within `max_correspondence_distance`, measured relative to the
//!    *scan* so a partial view that fits well scores high. For a part with symmetries
//!    every equivalent pose fits equally: the gate looks at the residual, never at
//!    the pose ([`truth`] measures poses against a known truth, symmetry-aware).
//!
//! Everything is deterministic for a given `seed` (rayon work is collected in order,
//! RANSAC uses fixed per-chunk ChaCha8 streams). Errors ([`crate::Error::Invalid`])
//! only for unusable input: empty, non-finite, degenerate (all points in fewer than
//! three voxels), mismatched normals or a bad configuration; a scan that simply does
//! not match comes back `Ok` with `registered == false` and a `reason`.

mod closed;
mod fpfh;
mod global;
mod icp;
mod near_symmetry;
mod rigid;
pub mod truth;
mod turned;
mod view_sign;
mod visibility;

use crate::geometry::{estimate_normals, voxel_downsample, KdTree};
use crate::{Error, PointCloud, Result};
use fpfh::Feature;
use icp::IcpTarget;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use rigid::{Rigid, V3};
use serde::{Deserialize, Serialize};
pub use truth::{
    evaluate_pose, part_size, pose_error, read_transforms_csv, ExternalTransforms, PoseError,
    Symmetry,
};

/// Settings for [`register`] / [`refine`], in the units of the points. Defaults suit
/// parts normalised to the unit sphere (radius ≈ 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistrationConfig {
    /// Voxel size of the coarse copies used for normals, FPFH, RANSAC and coarse ICP.
    pub voxel_size: f32,
    /// Voxel size of the fine scan copy used for the final ICP pass and for
    /// `fitness` / `inlier_rmse` (the template is kept at half this size).
    pub fine_voxel_size: f32,
    /// Neighbours for PCA normals on the coarse copies (10 at `voxel_size` spacing
    /// reaches about 2 voxels).
    pub normal_k: usize,
    /// FPFH neighbourhood radius (about 5 voxels).
    pub fpfh_radius: f32,
    /// Scan points (of the coarse copy) whose features are matched, at most; a
    /// seeded random subset when there are more (matching cost is linear in this).
    pub max_keypoints: usize,
    /// Keep only mutual nearest feature pairs (falls back to one-way matches when
    /// fewer than 30 survive).
    pub mutual_filter: bool,
    /// RANSAC samples drawn (each is 3 correspondences).
    pub ransac_iterations: usize,
    /// Distance under which a correspondence counts as a RANSAC inlier.
    pub ransac_inlier_distance: f32,
    /// Edge-length similarity a sample must reach (shorter / longer, in (0, 1]).
    pub edge_similarity: f32,
    /// Distinct RANSAC hypotheses refined with ICP.
    pub ransac_candidates: usize,
    /// ICP's final rejection distance, and the overlap radius for `fitness`.
    pub max_correspondence_distance: f32,
    /// Points used by the final ICP and by the quality measures, at most (an even
    /// stride through the fine copy; [`refine`]'s coarse pass uses half as many).
    pub max_icp_points: usize,
    /// Points each candidate's coarse ICP uses, at most (an even stride through the
    /// coarse copy). The coarse pass only has to bring a candidate into the right
    /// basin; 1000 points (3000 until session 13) cost a third of the time with no
    /// loss of accuracy on the dev benchmark (notes/registration.md, session 13).
    pub coarse_icp_points: usize,
    /// Pair a scan point with a template point in the coarse ICP only when their
    /// normals agree within 60° (the scan's normal sign settled per candidate): a thin
    /// wall's far face, within the correspondence distance of the near one, then no
    /// longer pulls the scan into it. Off by default: it took the dev benchmark's noisy
    /// one-sided plate views from 70 to 100 % but lost a bowl seen on a table (the
    /// test `scanner_intake::a_part_on_a_table_…`), whose normals do not agree in sign
    /// with the template's (notes/registration.md, session 13).
    pub icp_normal_check: bool,
    /// Pair a scan point with a template point in the coarse ICP only when the
    /// template's outward normal there is within 120° of the mean over the pairs (a
    /// one-sided scan sees one hemisphere of the part's normals; the far face of a thin
    /// wall points the other way). Needs no normal sign from the scan, so it holds for
    /// scans whose normals disagree with the template's. Skipped for whole-part scans
    /// (their pairs' normals average out).
    pub icp_view_check: bool,
    /// Point-to-plane ICP iterations on the coarse scan (per hypothesis).
    pub icp_iterations: usize,
    /// Point-to-plane ICP iterations on the fine scan (best hypothesis only).
    pub fine_icp_iterations: usize,
    /// Quality gate: least acceptable overlap (fraction of scan points).
    pub min_fitness: f32,
    /// Quality gate: largest acceptable inlier RMS distance.
    pub max_rmse: f32,
    /// RANSAC seed; equal seeds give bit-identical results.
    pub seed: u64,
    /// Extra global rounds (RANSAC with the next seed, both normal signs) run while
    /// the best pose is not [confident](Self::confident_fitness); a count, not a time
    /// limit, so the result stays the same on any machine.
    pub retries: usize,
    /// Overlap and coverage above which a pose that passes the gate is taken without
    /// further rounds.
    pub confident_fitness: f32,
    /// Weight the final ICP pass with Tukey's biweight (a defect does not pull the pose).
    pub robust_kernel: bool,
    /// Quality gate: least acceptable coverage (fraction of the template surface the
    /// scan should show from its implied viewpoint that it does show; 0 = not gated).
    pub min_coverage: f32,
    /// Also try the best poses composed with the template's near-symmetries (a gear
    /// turned by some teeth, a part turned over: poses the features cannot tell apart;
    /// [`RegistrationTarget::near_symmetry_count`]).
    pub near_symmetries: bool,
    /// A near-symmetric pose replaces the found one only when its score (fitness and
    /// coverage, less the residual) is higher by more than this. Default 0: they join
    /// the candidates unconditionally and the better fit wins. A margin of 0.01 was measured in session 10 (notes/registration.md):
    /// it kept the faceted torus and vase on the pose first found, but it also kept 2
    /// of 20 one-sided gear views on a half-tooth slip the true pose beats by less
    /// than 0.01, so the gain on the turned parts (one scan each, whose alternatives
    /// fit as well as the truth) does not pay for it.
    pub near_symmetry_margin: f32,
    /// Rounds of composing the best poses with the near-symmetries: after the first,
    /// another runs only while the last one found a clearly better (by 0.01) best pose
    /// that is still not confident (near-symmetries chain: a one-sided gear view whose
    /// global poses were all off by a tooth slip and a turn needs two). 3 since session
    /// 19, chosen on the dev benchmark: with the denser ranking of the compositions,
    /// one-sided ≥ truth 96.7 / 98.3 / 97.5 → 97.5 / 98.3 / 98.3 % (partial,
    /// partial-free, hard), no scan lost, no time added (notes/registration.md).
    pub near_symmetry_rounds: usize,
    /// Match a whole, closed scan whose normals are consistently outward with the
    /// outward sign only (half the RANSAC and candidate ICPs). One-sided views, and
    /// closed scans whose normals could not be oriented, always use both signs.
    pub closed_scan_one_sign: bool,
    /// Check for a [confident](Self::confident_fitness) pose after each normal sign's
    /// candidates, not only after each round: a one-sided view that the scan's own sign
    /// already places with confidence skips the other sign's RANSAC and candidates.
    /// On since session 16, chosen on the dev benchmark: the same ≥ truth status for
    /// all 600 scans of the five-track run, the same `surface` AUROCs to 0.001, and
    /// one-sided views 1.4–1.9× faster (notes/registration.md, session 16). Session 15
    /// had measured a loss for `surface` (hard track 0.929 → 0.915) with that session's
    /// features, which no longer shows.
    pub stop_per_sign: bool,
    /// When no pose is confident after every round, refine the best four again with
    /// each thin-wall pair check (as `icp_view_check` and `icp_normal_check` pair) and
    /// let them compete by score: a one-sided plate view pulled into its far face
    /// lands back on its own, while a scan the checks mislead (the bowl on a table)
    /// keeps its unchecked pose. Confident scans (most) pay nothing. On since session
    /// 17, chosen on the dev benchmark: one-sided ≥ truth 94.2 / 96.7 / 95.8 → 95.0 /
    /// 97.5 / 95.8 %, no scan lost (notes/registration.md, session 17).
    pub thin_wall_retry: bool,
    /// A scan that is one view (one surface per line of sight in some direction, see
    /// `view_sign`) has each connected piece of its normals turned to face the scanner
    /// (the signs within a piece stay as propagated). On since session 18, chosen on
    /// the dev benchmark: one-sided ≥ truth 95.8 / 97.5 / 97.5 → 96.7 / 98.3 / 97.5 %
    /// (partial, partial-free, hard), no scan lost (notes/registration.md).
    pub view_signed_normals: bool,
    /// When no pose is confident and the template is turned (symmetric about an
    /// axis), one more RANSAC round per sign with matches free to turn about it
    /// (`turned`). On since session 18: views down into the real vase 1 → 4 of 4
    /// (test `views_down_into_a_vase_register`); no dev scan's status changed (its one
    /// such view was already fixed by `view_signed_normals`), one-sided time +11 %.
    pub turned_search: bool,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        Self {
            voxel_size: 0.03,
            fine_voxel_size: 0.02,
            normal_k: 10,
            fpfh_radius: 0.15,
            max_keypoints: 2000,
            mutual_filter: false,
            ransac_iterations: 100_000,
            ransac_inlier_distance: 0.06,
            edge_similarity: 0.9,
            ransac_candidates: 6,
            max_correspondence_distance: 0.04,
            max_icp_points: 6000,
            coarse_icp_points: 1000,
            icp_normal_check: false,
            icp_view_check: false,
            icp_iterations: 30,
            fine_icp_iterations: 15,
            min_fitness: 0.75,
            max_rmse: 0.008,
            seed: 0,
            retries: 2,
            confident_fitness: 0.9,
            robust_kernel: true,
            min_coverage: 0.0,
            near_symmetries: true,
            near_symmetry_margin: 0.0,
            near_symmetry_rounds: 3,
            closed_scan_one_sign: true,
            stop_per_sign: true,
            thin_wall_retry: true,
            view_signed_normals: true,
            turned_search: true,
        }
    }
}

impl RegistrationConfig {
    fn validate(&self) -> Result<()> {
        let pos = [
            ("voxel_size", self.voxel_size),
            ("fine_voxel_size", self.fine_voxel_size),
            ("fpfh_radius", self.fpfh_radius),
            ("ransac_inlier_distance", self.ransac_inlier_distance),
            (
                "max_correspondence_distance",
                self.max_correspondence_distance,
            ),
            ("max_rmse", self.max_rmse),
        ];
        for (name, v) in pos {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::Invalid(format!(
                    "registration: {name} must be positive and finite, got {v}"
                )));
            }
        }
        if !(self.edge_similarity > 0.0 && self.edge_similarity <= 1.0) {
            return Err(Error::Invalid(format!(
                "registration: edge_similarity must be in (0, 1], got {}",
                self.edge_similarity
            )));
        }
        for (name, v) in [
            ("confident_fitness", self.confident_fitness),
            ("min_coverage", self.min_coverage),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(Error::Invalid(format!(
                    "registration: {name} must be in [0, 1], got {v}"
                )));
            }
        }
        if !(self.min_fitness.is_finite() && (0.0..=1.0).contains(&self.min_fitness)) {
            return Err(Error::Invalid(format!(
                "registration: min_fitness must be in [0, 1], got {}",
                self.min_fitness
            )));
        }
        if self.max_keypoints < 3 || self.max_icp_points < 12 || self.coarse_icp_points < 12 {
            return Err(Error::Invalid(format!(
                "registration: max_keypoints (>= 3) / max_icp_points (>= 12) / \
                 coarse_icp_points (>= 12) too small: {} / {} / {}",
                self.max_keypoints, self.max_icp_points, self.coarse_icp_points
            )));
        }
        if self.normal_k < 3 {
            return Err(Error::Invalid(format!(
                "registration: normal_k must be at least 3, got {}",
                self.normal_k
            )));
        }
        Ok(())
    }
}

/// A rigid transform `p' = R p + t` taking scan coordinates to the template frame,
/// with its quality measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// Row-major rotation matrix `R`.
    pub rotation: [[f32; 3]; 3],
    pub translation: [f32; 3],
    /// Fraction of (fine-downsampled) scan points with a template point within
    /// `max_correspondence_distance` after alignment.
    pub fitness: f32,
    /// RMS distance from those inlier points to the template surface: point-to-plane
    /// distance to the tangent plane (template normal) of the nearest template point,
    /// so it does not grow with the spacing of the template's samples.
    pub inlier_rmse: f32,
    /// Fraction of the template surface facing the scan's implied viewpoint (all of
    /// it for an all-round scan) that has a scan point within
    /// `max_correspondence_distance`: low when a view slipped onto a look-alike face.
    #[serde(default)]
    pub coverage: f32,
    /// `fitness >= min_fitness && inlier_rmse <= max_rmse && coverage >= min_coverage`.
    pub registered: bool,
    /// Why `registered` is false (`None` when it is true).
    pub reason: Option<String>,
}

impl Registration {
    /// The identity transform, not evaluated (`fitness` 0, `registered` false): the
    /// natural initial guess for [`refine`].
    pub fn identity() -> Self {
        Self::from_rigid(
            &Rigid::identity(),
            0.0,
            0.0,
            false,
            Some("not evaluated".into()),
        )
    }

    /// A transform from a rotation (row-major) and translation, not evaluated.
    pub fn from_transform(rotation: [[f32; 3]; 3], translation: [f32; 3]) -> Self {
        Self {
            rotation,
            translation,
            fitness: 0.0,
            inlier_rmse: 0.0,
            coverage: 0.0,
            registered: false,
            reason: Some("not evaluated".into()),
        }
    }

    /// `R p + t`.
    pub fn apply(&self, p: [f32; 3]) -> [f32; 3] {
        self.rigid().apply(p)
    }

    /// `R v` (for normals and directions).
    pub fn apply_vector(&self, v: [f32; 3]) -> [f32; 3] {
        let r = &self.rotation;
        std::array::from_fn(|i| r[i][0] * v[0] + r[i][1] * v[1] + r[i][2] * v[2])
    }

    /// The inverse transform (template frame → scan frame), same quality fields.
    pub fn inverse(&self) -> Self {
        let rt = self.rigid().r.transpose();
        let t = -(rt * self.rigid().t);
        Self {
            coverage: self.coverage,
            ..Self::from_rigid(
                &Rigid { r: rt, t },
                self.fitness,
                self.inlier_rmse,
                self.registered,
                self.reason.clone(),
            )
        }
    }

    /// Rotation angle of `R`, in radians.
    pub fn rotation_angle(&self) -> f32 {
        rigid::rotation_angle(&self.rigid().r) as f32
    }

    fn rigid(&self) -> Rigid {
        Rigid::from_arrays(&self.rotation, &self.translation)
    }

    fn from_rigid(
        t: &Rigid,
        fitness: f32,
        inlier_rmse: f32,
        registered: bool,
        reason: Option<String>,
    ) -> Self {
        Self {
            rotation: t.rotation_array(),
            translation: t.translation_array(),
            fitness: finite_or_zero(fitness),
            inlier_rmse: finite_or_zero(inlier_rmse),
            coverage: 0.0,
            registered,
            reason,
        }
    }
}

fn finite_or_zero(x: f32) -> f32 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

/// The template side, prepared once per model: coarse points with FPFH features for
/// matching, and a finer copy with normals (and its k-d tree) for ICP and scoring.
pub struct RegistrationTarget {
    /// Feature settings the features were computed with (must match at `register`).
    voxel_size: f32,
    normal_k: usize,
    fpfh_radius: f32,
    fine_voxel_size: f32,
    coarse_points: Vec<V3>,
    coarse_normals: Vec<V3>,
    /// The coarse points' valid FPFH features, ready for matching.
    features: global::FeatureBank,
    fine_points: Vec<V3>,
    fine_normals: Vec<V3>,
    fine_tree: KdTree,
    /// The template at the scan's fine spacing (`fine_voxel_size`), with normals: the
    /// surface [`Registration::coverage`] counts. A quarter of the fine copy's points
    /// (half its spacing), so a quarter of the queries per scored candidate; measured
    /// no less accurate on the dev benchmark (notes/registration.md, session 13).
    cover_points: Vec<V3>,
    cover_normals: Vec<V3>,
    /// The template's near-symmetries ([`near_symmetry`]), found on first use.
    near_symmetries: std::sync::OnceLock<Vec<Rigid>>,
    /// The template's axis of turning symmetry ([`turned`]), found on first use.
    turned_axis: std::sync::OnceLock<Option<turned::Axis>>,
}

impl std::fmt::Debug for RegistrationTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationTarget")
            .field("coarse_points", &self.coarse_points.len())
            .field("fine_points", &self.fine_points.len())
            .field("voxel_size", &self.voxel_size)
            .field("fpfh_radius", &self.fpfh_radius)
            .finish()
    }
}

/// RANSAC keeps this many times `ransac_candidates` hypotheses for the prescreen.
const PRESCREEN: usize = 4;
/// Scan points (even stride of the coarse copy) the prescreen measures overlap on.
const PRESCREEN_POINTS: usize = 500;

/// The best global poses each composed with every near-symmetry of the template.
const NEAR_SYMMETRY_SEEDS: usize = 2;
/// Of those compositions, this many (best overlap first) are refined and scored.
const NEAR_SYMMETRY_TRIES: usize = 4;
/// Compositions ranked again on a denser probe ([`NEAR_SYMMETRY_PROBE_POINTS`]) before
/// the best [`NEAR_SYMMETRY_TRIES`] are refined.
const NEAR_SYMMETRY_SHORTLIST: usize = 12;
/// Scan points (even stride of the coarse copy) of that denser probe.
const NEAR_SYMMETRY_PROBE_POINTS: usize = 2000;
/// Another round of composing needs a best pose better in score by at least this much.
const NEAR_SYMMETRY_GAIN: f32 = 0.01;
/// The turned-part RANSAC runs `1 / this` of `ransac_iterations` per sign: its samples
/// cost more (turning, and inliers counted with square roots) and it is a fallback.
const TURNED_ITERATION_SHARE: usize = 10;

/// The best poses refined again with the thin-wall pair checks when none is confident.
const THIN_WALL_SEEDS: usize = 4;

/// Coarse copies with fewer points than this cannot give meaningful features.
const MIN_COARSE_POINTS: usize = 16;

impl RegistrationTarget {
    /// Fraction of `points` (scan frame) that lie within `distance` of the template's
    /// (fine) samples once moved by `reg`: whether a piece of a scene belongs to the
    /// part a registration found. 0 for no points.
    pub fn near_fraction(&self, points: &[[f32; 3]], reg: &Registration, distance: f32) -> f32 {
        if points.is_empty() {
            return 0.0;
        }
        let d2 = distance * distance;
        let near = points
            .iter()
            .filter(|&&p| self.fine_tree.nearest(reg.apply(p)).1 <= d2)
            .count();
        near as f32 / points.len() as f32
    }

    /// [`Registration::coverage`] of `points` (scan frame) under `reg`'s pose: how much
    /// of the template surface facing the implied viewpoint they show. Lets a caller
    /// measure the coverage of more points than were registered (the pieces of a
    /// one-sided view that fell apart) without registering again.
    pub fn coverage_of(
        &self,
        points: &[[f32; 3]],
        reg: &Registration,
        cfg: &RegistrationConfig,
    ) -> Result<f32> {
        check_points("scan", points)?;
        let moved = moved_fine(points, reg, cfg)?;
        Ok(visibility::coverage(
            &moved,
            &self.icp_target(),
            self.cover_surface(),
            cfg.max_correspondence_distance,
            2.0 * cfg.fine_voxel_size,
        ))
    }

    /// How much of the template surface facing `view` (a direction in the scan frame,
    /// towards the scanner) the whole `scene` (scan frame, every point the scanner
    /// saw) contradicts under `reg`'s pose: the fraction of it lying nearer the scanner
    /// than what the scene shows at the same place, i.e. where the scanner saw through
    /// the part as posed. Near 0 for the true pose; large for a pose that fits the part
    /// to a look-alike piece of clutter. Errors on an empty or non-finite scene.
    pub fn seen_through(
        &self,
        scene: &[[f32; 3]],
        reg: &Registration,
        view: [f32; 3],
        cfg: &RegistrationConfig,
    ) -> Result<f32> {
        check_points("scene", scene)?;
        let moved = moved_fine(scene, reg, cfg)?;
        Ok(visibility::seen_through(
            &moved,
            &self.icp_target(),
            reg.apply_vector(view),
            2.0 * cfg.fine_voxel_size,
        ))
    }

    /// Prepare a template (`points` with one unit `normals` each, outward).
    ///
    /// Errors on an empty template, non-finite values, a normal count that does not
    /// match, zero normals, a bad configuration, or a template too small to describe
    /// (fewer than 16 voxels of `voxel_size`).
    pub fn new(
        points: &[[f32; 3]],
        normals: &[[f32; 3]],
        cfg: &RegistrationConfig,
    ) -> Result<Self> {
        cfg.validate()?;
        check_points("reference", points)?;
        if normals.len() != points.len() {
            return Err(Error::Invalid(format!(
                "registration: reference has {} points but {} normals",
                points.len(),
                normals.len()
            )));
        }
        let mut unit = Vec::with_capacity(normals.len());
        for (i, n) in normals.iter().enumerate() {
            let l = rigid::norm(*n);
            if !(l.is_finite() && l > 1e-12) {
                return Err(Error::Invalid(format!(
                    "registration: reference normal {i} is {n:?} (zero or not finite)"
                )));
            }
            unit.push([n[0] / l, n[1] / l, n[2] / l]);
        }
        let cloud = PointCloud {
            points: points.to_vec(),
            normals: Some(unit),
            labels: None,
            faces: Vec::new(),
        };
        let fine = voxel_downsample(&cloud, 0.5 * cfg.fine_voxel_size)?;
        let cover = voxel_downsample(&cloud, cfg.fine_voxel_size)?;
        let coarse = voxel_downsample(&cloud, cfg.voxel_size)?;
        if coarse.len() < MIN_COARSE_POINTS {
            return Err(Error::Invalid(format!(
                "registration: reference covers only {} voxels of size {} (degenerate or \
                 not in unit-sphere units?)",
                coarse.len(),
                cfg.voxel_size
            )));
        }
        let given = coarse.normals.clone().unwrap_or_default();
        let mut coarse_normals = estimate_normals(&coarse.points, cfg.normal_k)?;
        for (n, g) in coarse_normals.iter_mut().zip(given.iter()) {
            if rigid::dot(*n, *g) < 0.0 {
                *n = [-n[0], -n[1], -n[2]];
            }
        }
        let tree = KdTree::new(&coarse.points);
        let neighbours = fpfh::neighbourhoods(&coarse.points, &tree, cfg.fpfh_radius);
        let (features, valid) = fpfh::fpfh(
            &coarse.points,
            &coarse_normals,
            &neighbours,
            cfg.fpfh_radius,
            None,
        );
        let features = global::FeatureBank::new(&features, &valid, None);
        let fine_tree = KdTree::new(&fine.points);
        Ok(Self {
            voxel_size: cfg.voxel_size,
            normal_k: cfg.normal_k,
            fpfh_radius: cfg.fpfh_radius,
            fine_voxel_size: cfg.fine_voxel_size,
            coarse_points: coarse.points,
            coarse_normals,
            features,
            fine_normals: fine.normals.unwrap_or_default(),
            fine_points: fine.points,
            fine_tree,
            cover_normals: cover.normals.unwrap_or_default(),
            cover_points: cover.points,
            near_symmetries: std::sync::OnceLock::new(),
            turned_axis: std::sync::OnceLock::new(),
        })
    }

    /// Number of points in the coarse (feature) copy.
    pub fn coarse_len(&self) -> usize {
        self.coarse_points.len()
    }

    /// Number of points in the fine (ICP / scoring) copy.
    pub fn fine_len(&self) -> usize {
        self.fine_points.len()
    }

    /// See [`near_symmetry`]; found once, at the correspondence distance of twice the
    /// fine voxel (the default ratio of the two settings).
    fn near_symmetries(&self) -> &[Rigid] {
        self.near_symmetries
            .get_or_init(|| near_symmetry::find(&self.icp_target(), 2.0 * self.fine_voxel_size))
    }

    /// See [`turned::find_axis`]; found once, like the near-symmetries.
    fn turned_axis(&self) -> Option<&turned::Axis> {
        self.turned_axis
            .get_or_init(|| turned::find_axis(&self.icp_target(), 2.0 * self.fine_voxel_size))
            .as_ref()
    }

    /// Number of near-symmetries of the template (found on first call, ~0.2 s).
    pub fn near_symmetry_count(&self) -> usize {
        self.near_symmetries().len()
    }

    /// The surface sample coverage is measured on.
    fn cover_surface(&self) -> visibility::Surface<'_> {
        (&self.cover_points, &self.cover_normals)
    }

    fn icp_target(&self) -> IcpTarget<'_> {
        IcpTarget {
            points: &self.fine_points,
            normals: &self.fine_normals,
            tree: &self.fine_tree,
        }
    }

    fn check_config(&self, cfg: &RegistrationConfig) -> Result<()> {
        cfg.validate()?;
        if cfg.voxel_size != self.voxel_size
            || cfg.normal_k != self.normal_k
            || cfg.fpfh_radius != self.fpfh_radius
            || cfg.fine_voxel_size != self.fine_voxel_size
        {
            return Err(Error::Invalid(
                "registration: the target was prepared with a different voxel_size / \
                 fine_voxel_size / normal_k / fpfh_radius than this config"
                    .into(),
            ));
        }
        Ok(())
    }
}

fn check_points(what: &str, points: &[[f32; 3]]) -> Result<()> {
    if points.is_empty() {
        return Err(Error::Invalid(format!(
            "registration: {what} cloud is empty"
        )));
    }
    if let Some(i) = points.iter().position(|p| p.iter().any(|v| !v.is_finite())) {
        return Err(Error::Invalid(format!(
            "registration: {what} point {i} is not finite: {:?}",
            points[i]
        )));
    }
    Ok(())
}

/// Downsample a scan; errors when everything falls into fewer than 3 voxels.
/// The fine copy of `points` (scan frame) moved into the template frame by `reg`.
fn moved_fine(
    points: &[[f32; 3]],
    reg: &Registration,
    cfg: &RegistrationConfig,
) -> Result<Vec<V3>> {
    let fine = downsample_scan(points, cfg.fine_voxel_size)?;
    Ok(fine.iter().map(|&p| reg.apply(p)).collect())
}

fn downsample_scan(points: &[[f32; 3]], voxel: f32) -> Result<Vec<V3>> {
    let d = voxel_downsample(&PointCloud::from_points(points.to_vec()), voxel)?;
    if d.len() < 3 {
        return Err(Error::Invalid(format!(
            "registration: degenerate scan: its {} points occupy only {} voxel(s) of size {voxel}",
            points.len(),
            d.len()
        )));
    }
    Ok(d.points)
}

/// At most `cap` points, evenly strided (deterministic, keeps the spatial spread of
/// a voxel-ordered cloud).
fn stride(points: &[V3], cap: usize) -> Vec<V3> {
    stride_indices(points.len(), cap)
        .into_iter()
        .map(|i| points[i])
        .collect()
}

/// The indices [`stride`] keeps of `n` points.
fn stride_indices(n: usize, cap: usize) -> Vec<usize> {
    if n <= cap || cap == 0 {
        return (0..n).collect();
    }
    (0..cap).map(|k| k * n / cap).collect()
}

/// A scan's fine copy (`fine_voxel_size`) as the quality measures use it: overlap and
/// residual on an even stride of at most `max_icp_points` (`fit`), coverage against
/// all of it (`tree`). Coverage asks whether every template point has a scan point
/// within the correspondence distance, which a stride through a large part's copy
/// cannot answer: on the dev gear (11k fine points, 6000 kept) a whole scan in its
/// true pose covered only 84 % of the template, so it never looked certain and every
/// gear scan ran all the retry rounds (notes/registration.md, session 15).
struct FineScan {
    fit: Vec<V3>,
    /// Over the whole copy, in the scan's frame: coverage moves the template's points
    /// into it instead of building a tree over the moved scan for every pose scored.
    tree: KdTree,
}

impl FineScan {
    fn new(all: Vec<V3>, cfg: &RegistrationConfig) -> Self {
        Self {
            fit: stride(&all, cfg.max_icp_points),
            tree: KdTree::new(&all),
        }
    }
}

/// `min(n, cap)` distinct indices below `n`, increasing: all of them, or a seeded
/// random subset (partial Fisher–Yates).
fn sample_indices(n: usize, cap: usize, seed: u64) -> Vec<u32> {
    let mut all: Vec<u32> = (0..n as u32).collect();
    if n <= cap {
        return all;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6b65_7970_6f69_6e74);
    for k in 0..cap {
        let j = rng.random_range(k..n);
        all.swap(k, j);
    }
    all.truncate(cap);
    all.sort_unstable();
    all
}

/// A candidate pose with its fine-level quality.
#[derive(Clone, Copy, Debug)]
struct Scored {
    t: Rigid,
    fitness: f32,
    rmse: f32,
    coverage: f32,
}

impl Scored {
    /// Ranks candidates: overlap (the scan lies on the template) and coverage (the
    /// template surfaces the scan should show are there) equally, the residual as a
    /// mild penalty. A half-tooth slip or a view slipped onto a look-alike face keeps
    /// most of its overlap but loses coverage and residual.
    fn score(&self, cfg: &RegistrationConfig) -> f32 {
        0.5 * (self.fitness + self.coverage) - 0.25 * self.rmse / cfg.max_correspondence_distance
    }

    fn passes(&self, cfg: &RegistrationConfig) -> bool {
        self.fitness >= cfg.min_fitness
            && self.rmse <= cfg.max_rmse
            && self.coverage >= cfg.min_coverage
    }

    /// Good enough to stop searching.
    fn confident(&self, cfg: &RegistrationConfig) -> bool {
        self.passes(cfg)
            && self.fitness >= cfg.confident_fitness
            && self.coverage >= cfg.confident_fitness
    }
}

fn score_of(
    fine: &FineScan,
    target: &RegistrationTarget,
    t: Rigid,
    cfg: &RegistrationConfig,
) -> Scored {
    // One nearest-point search serves overlap, residual and the implied viewpoint.
    let moved: Vec<V3> = fine.fit.iter().map(|&p| t.apply(p)).collect();
    let tgt = target.icp_target();
    let matches = icp::nearest_all(&moved, &tgt);
    let dist = cfg.max_correspondence_distance;
    let (fitness, rmse) = icp::evaluate_matched(&moved, &matches, &tgt, dist);
    let back = t.inverse();
    let lim = dist * dist;
    let covered = |p: V3| fine.tree.nearest(back.apply(p)).1 <= lim;
    let coverage = visibility::coverage_matched(
        &matches,
        &tgt,
        target.cover_surface(),
        dist,
        2.0 * cfg.fine_voxel_size,
        &covered,
    );
    Scored {
        t,
        fitness,
        rmse,
        coverage,
    }
}

/// The better of two poses: one that passes the quality gate beats one that does not
/// (a broken-off piece can buy a tilted pose more overlap at a residual over
/// `max_rmse`, notes/registration.md session 13); otherwise the higher score, `a` on
/// a tie.
fn better(a: Option<Scored>, b: Scored, cfg: &RegistrationConfig) -> Scored {
    match a {
        Some(a) => match (a.passes(cfg), b.passes(cfg)) {
            (true, false) => a,
            (false, true) => b,
            _ if a.score(cfg) >= b.score(cfg) => a,
            _ => b,
        },
        None => b,
    }
}

fn finish(s: Option<Scored>, cfg: &RegistrationConfig, why_none: &str) -> Registration {
    let Some(s) = s.filter(|s| s.t.is_finite()) else {
        return Registration::from_rigid(
            &Rigid::identity(),
            0.0,
            0.0,
            false,
            Some(why_none.into()),
        );
    };
    let reason = if s.coverage < cfg.min_coverage {
        Some(format!(
            "coverage {:.3} < min_coverage {:.3}: template surfaces the scan should show are \
             missing",
            s.coverage, cfg.min_coverage
        ))
    } else if s.fitness < cfg.min_fitness {
        Some(format!(
            "fitness {:.3} < min_fitness {:.3}: too little of the scan lies on the template \
             (another part, clutter, or a large defect such as a break)",
            s.fitness, cfg.min_fitness
        ))
    } else if s.rmse > cfg.max_rmse {
        Some(format!(
            "inlier RMSE {:.4} > max_rmse {:.4}",
            s.rmse, cfg.max_rmse
        ))
    } else {
        None
    };
    Registration {
        coverage: finite_or_zero(s.coverage),
        ..Registration::from_rigid(&s.t, s.fitness, s.rmse, reason.is_none(), reason)
    }
}

/// Register `scan` (same units as the template, any pose, no normals needed) to
/// `target`: global FPFH + RANSAC, then point-to-plane ICP. See the module docs.
///
/// Errors on empty / non-finite / degenerate scans or a config whose feature
/// settings differ from the ones `target` was built with. A scan that does not match
/// is `Ok` with `registered == false` and a `reason`.
pub fn register(
    scan: &[[f32; 3]],
    target: &RegistrationTarget,
    cfg: &RegistrationConfig,
) -> Result<Registration> {
    target.check_config(cfg)?;
    check_points("scan", scan)?;
    let coarse = downsample_scan(scan, cfg.voxel_size)?;
    let fine = FineScan::new(downsample_scan(scan, cfg.fine_voxel_size)?, cfg);
    if coarse.len() < MIN_COARSE_POINTS {
        let s = score_of(&fine, target, Rigid::identity(), cfg);
        let mut r = finish(Some(s), cfg, "");
        r.registered = false;
        r.reason = Some(format!(
            "scan covers only {} voxels of size {}: too small to register",
            coarse.len(),
            cfg.voxel_size
        ));
        return Ok(r);
    }
    let normals = estimate_normals(&coarse, cfg.normal_k)?;
    let tree = KdTree::new(&coarse);
    let neighbours = fpfh::neighbourhoods(&coarse, &tree, cfg.fpfh_radius);
    let one_sign = cfg.closed_scan_one_sign
        && closed::is_closed_outward(&coarse, &normals, &neighbours, cfg.fpfh_radius);
    // A one-sided view: each connected piece turned to face the scanner (`view_sign`).
    let normals = if one_sign || !cfg.view_signed_normals {
        normals
    } else {
        view_sign::view_signed(&coarse, &normals, cfg.normal_k, cfg.voxel_size).unwrap_or(normals)
    };
    let keypoints = sample_indices(coarse.len(), cfg.max_keypoints, cfg.seed);
    // FPFH depends on the normal sign, and the sign of a one-sided view (a flat face,
    // a concave bowl) cannot be read off the scan: both signs' features unless the scan
    // is closed (the second read off the first, `fpfh::flip_normals_sign`).
    let (features, valid) = fpfh::fpfh(
        &coarse,
        &normals,
        &neighbours,
        cfg.fpfh_radius,
        Some(&keypoints),
    );
    let scan = ScanCopies::new(coarse, &normals, fine, cfg);
    let flipped = (!one_sign).then(|| {
        let n: Vec<V3> = normals.iter().map(|v| [-v[0], -v[1], -v[2]]).collect();
        let f = fpfh::flip_normals_sign(&features);
        Side::new(n, &f, &valid, &keypoints, target, cfg)
    });
    let sides: Vec<Side> = std::iter::once(Side::new(
        normals, &features, &valid, &keypoints, target, cfg,
    ))
    .chain(flipped)
    .collect();

    let mut pool: Vec<Scored> = Vec::new();
    let mut notes = Vec::new();
    'rounds: for round in 0..=cfg.retries {
        let seed = cfg.seed.wrapping_add(round as u64);
        for (k, side) in sides.iter().enumerate() {
            match global_candidates(&scan, side, target, cfg, seed) {
                Ok(c) => pool.extend(c),
                Err(note) => notes.push(note),
            }
            if cfg.stop_per_sign || k + 1 == sides.len() {
                rank_pool(&mut pool, cfg);
                if pool.first().is_some_and(|b| b.confident(cfg)) {
                    break 'rounds;
                }
            }
        }
    }
    turned_candidates(&mut pool, &scan, &sides, target, cfg);
    thin_wall_candidates(&mut pool, &scan, target, cfg);
    near_symmetric_candidates(&mut pool, &scan, target, cfg);
    // The fine pass can reorder close candidates (a slip and the truth differ by less
    // than the coarse scale): refine the best two, keep the better.
    let refined: Vec<Scored> = pool
        .par_iter()
        .take(2)
        .map(|s| fine_pass(&scan.fine, target, *s, cfg))
        .collect();
    let mut best: Option<Scored> = None;
    for s in refined {
        best = Some(better(best, s, cfg));
    }
    let why_none = format!("global registration found no pose: {}", notes.join("; "));
    Ok(finish(best, cfg, &why_none))
}

/// The best poses composed with each of the template's near-symmetries: the pose the
/// features could not tell from the found one. The few whose overlap on a small
/// subsample comes closest to the found pose's are refined and scored like any global
/// candidate, and join the pool (which is sorted again). While that finds a clearly
/// better best pose that is not confident yet, the new best poses are composed again
/// (at most `near_symmetry_rounds` rounds): near-symmetries chain, and a noisy
/// one-sided gear view whose global poses were all off by two of them reaches the
/// truth only in two steps (notes/registration.md, session 19).
fn near_symmetric_candidates(
    pool: &mut Vec<Scored>,
    scan: &ScanCopies,
    target: &RegistrationTarget,
    cfg: &RegistrationConfig,
) {
    if !cfg.near_symmetries {
        return;
    }
    let syms = target.near_symmetries();
    if syms.is_empty() || pool.is_empty() {
        return;
    }
    let probes = (
        stride(&scan.coarse, PRESCREEN_POINTS),
        stride(&scan.coarse, NEAR_SYMMETRY_PROBE_POINTS),
    );
    let tol = cfg.ransac_inlier_distance;
    let mut expanded: Vec<Rigid> = Vec::new();
    for _ in 0..cfg.near_symmetry_rounds {
        let before = pool[0].score(cfg);
        let seeds: Vec<Rigid> = pool
            .iter()
            .take(NEAR_SYMMETRY_SEEDS)
            .map(|s| s.t)
            .filter(|t| !expanded.iter().any(|e| same_pose(e, t, tol)))
            .collect();
        if seeds.is_empty() {
            return;
        }
        expanded.extend_from_slice(&seeds);
        let extra = compose_near_symmetries(&seeds, syms, &probes, before, scan, target, cfg);
        pool.extend(extra);
        rank_pool(pool, cfg);
        // Go on only when a pose not composed yet took the lead by a clear margin and
        // is still not confident: a turned part's equivalent poses trade the lead by
        // hairs, which is no reason to compose again.
        let best = &pool[0];
        if best.score(cfg) < before + NEAR_SYMMETRY_GAIN
            || best.confident(cfg)
            || expanded.iter().any(|e| same_pose(e, &best.t, tol))
        {
            return;
        }
    }
}

/// One round of [`near_symmetric_candidates`]: `seeds` composed with every
/// near-symmetry, the best [`NEAR_SYMMETRY_TRIES`] by overlap (on the small probe, then
/// a shortlist on the dense one) refined and scored. `found` is the best score so far
/// (for `near_symmetry_margin`).
fn compose_near_symmetries(
    seeds: &[Rigid],
    syms: &[Rigid],
    (probe, dense): &(Vec<V3>, Vec<V3>),
    found: f32,
    scan: &ScanCopies,
    target: &RegistrationTarget,
    cfg: &RegistrationConfig,
) -> Vec<Scored> {
    let icp_t = target.icp_target();
    let mut tries: Vec<(f32, Rigid)> = seeds
        .iter()
        .flat_map(|s| syms.iter().map(move |m| m.after(s)))
        .map(|t| {
            let (fit, _) = icp::evaluate(probe, &icp_t, &t, cfg.max_correspondence_distance);
            (fit, t)
        })
        .collect();
    tries.sort_by(|a, b| b.0.total_cmp(&a.0));
    // The small probe ranks a gear's many tooth turns almost alike (on a noisy one-sided
    // view of the dev gear the right one came 7th of 94): a shortlist is ranked again
    // on a denser probe (12 × 2000 queries, a few ms).
    tries.truncate(NEAR_SYMMETRY_SHORTLIST);
    let mut tries: Vec<(f32, Rigid)> = tries
        .par_iter()
        .map(|&(_, t)| {
            let (fit, _) = icp::evaluate(dense, &icp_t, &t, cfg.max_correspondence_distance);
            (fit, t)
        })
        .collect();
    tries.sort_by(|a, b| b.0.total_cmp(&a.0));
    tries.truncate(NEAR_SYMMETRY_TRIES);
    let margin = cfg.near_symmetry_margin;
    tries
        .par_iter()
        .map(|&(_, t)| coarse_icp_scored(scan, target, t, cfg))
        .filter(|s| s.t.is_finite())
        // With a margin, only a clear gain joins; without, they compete as any candidate
        // (the fine pass over the best two may still prefer one scoring a hair lower).
        .filter(|s| margin <= 0.0 || s.score(cfg) > found + margin)
        .collect()
}

/// When no pose is confident and the template is turned (symmetric about an axis),
/// one more RANSAC round per sign with each match free to turn about the axis
/// ([`turned`]): plain RANSAC needs three matches at the right azimuth, which a turned
/// part's features rarely give.
fn turned_candidates(
    pool: &mut Vec<Scored>,
    scan: &ScanCopies,
    sides: &[Side],
    target: &RegistrationTarget,
    cfg: &RegistrationConfig,
) {
    if !cfg.turned_search || pool.first().is_some_and(|b| b.confident(cfg)) {
        return;
    }
    let Some(axis) = target.turned_axis() else {
        return;
    };
    for side in sides {
        if side.corrs.len() < 3 {
            continue;
        }
        let hyps = turned::ransac(
            &scan.coarse,
            &side.normals,
            &target.coarse_points,
            &target.coarse_normals,
            &side.corrs,
            axis,
            &ransac_params(cfg, cfg.seed, TURNED_ITERATION_SHARE),
        );
        pool.extend(refine_hypotheses(scan, target, &hyps, cfg));
    }
    rank_pool(pool, cfg);
}

/// When no pose is confident, the best few refined again with the thin-wall pair
/// checks ([`icp::PairRule::FacingView`], and the scan-normal check): a one-sided view of
/// a plate pulled into its far face by the unchecked ICP lands on its own face. They
/// join the pool and win only by score, so a scan the checks mislead (a bowl on a
/// table, whose rim shows both walls) keeps the unchecked pose.
fn thin_wall_candidates(
    pool: &mut Vec<Scored>,
    scan: &ScanCopies,
    target: &RegistrationTarget,
    cfg: &RegistrationConfig,
) {
    if !cfg.thin_wall_retry || pool.is_empty() || pool[0].confident(cfg) {
        return;
    }
    // The rule the candidates were refined with already (`icp_view_check` /
    // `icp_normal_check` on) would only repeat them.
    let mut rules = Vec::new();
    if !cfg.icp_normal_check && !cfg.icp_view_check {
        rules.push(icp::PairRule::FacingView);
    }
    if !cfg.icp_normal_check {
        rules.push(icp::PairRule::ScanNormals(&scan.icp_normals));
    }
    let tries: Vec<(Rigid, icp::PairRule)> = pool
        .iter()
        .take(THIN_WALL_SEEDS)
        .flat_map(|s| rules.iter().map(move |&rule| (s.t, rule)))
        .collect();
    let extra: Vec<Scored> = tries
        .into_par_iter()
        .map(|(t, rule)| coarse_icp_scored_with(scan, target, t, rule, cfg))
        .filter(|s| s.t.is_finite())
        .collect();
    pool.extend(extra);
    rank_pool(pool, cfg);
}

/// Best score first, near-duplicates of a better pose dropped.
fn rank_pool(pool: &mut Vec<Scored>, cfg: &RegistrationConfig) {
    pool.sort_by(|a, b| b.score(cfg).total_cmp(&a.score(cfg)));
    dedup_poses(pool, cfg.ransac_inlier_distance);
}

/// The scan's working copies (scan frame), made once per [`register`] call.
struct ScanCopies {
    /// The `voxel_size` copy: features, RANSAC, the prescreen.
    coarse: Vec<V3>,
    /// An even stride through it for the coarse ICP, with its normals (one consistent
    /// sign, unknown whether outward: ICP settles it per candidate).
    icp: Vec<V3>,
    icp_normals: Vec<V3>,
    /// The `fine_voxel_size` copy: final ICP (its `fit` stride) and scoring.
    fine: FineScan,
}

impl ScanCopies {
    fn new(coarse: Vec<V3>, normals: &[V3], fine: FineScan, cfg: &RegistrationConfig) -> Self {
        let picks = stride_indices(coarse.len(), cfg.coarse_icp_points);
        Self {
            icp: picks.iter().map(|&i| coarse[i]).collect(),
            icp_normals: picks.iter().map(|&i| normals[i]).collect(),
            coarse,
            fine,
        }
    }
}

/// Scan normals of one sign and the feature correspondences they give (computed once,
/// reused by every RANSAC round).
struct Side {
    normals: Vec<V3>,
    corrs: Vec<(u32, u32)>,
}

impl Side {
    fn new(
        normals: Vec<V3>,
        features: &[Feature],
        valid: &[bool],
        keypoints: &[u32],
        target: &RegistrationTarget,
        cfg: &RegistrationConfig,
    ) -> Self {
        let corrs = global::match_features(
            features,
            valid,
            keypoints,
            &target.features,
            cfg.mutual_filter,
            30,
        );
        Self { normals, corrs }
    }
}

/// Two poses within about a degree of each other and half of `tol` apart.
fn same_pose(a: &Rigid, b: &Rigid, tol: f32) -> bool {
    a.angle_to(b) < 0.02 && (a.t - b.t).norm() < tol as f64 * 0.5
}

/// Drop candidates that are near-duplicates of a better one (kept in order).
fn dedup_poses(pool: &mut Vec<Scored>, tol: f32) {
    let mut kept: Vec<Scored> = Vec::with_capacity(pool.len());
    for s in pool.drain(..) {
        let same = kept.iter().any(|k| same_pose(&k.t, &s.t, tol));
        if !same {
            kept.push(s);
        }
    }
    *pool = kept;
}

/// One global round with one normal sign: match features, RANSAC, point-to-plane ICP
/// of every hypothesis on the coarse scan, each scored on the fine scan. `Err`
/// carries a note on why nothing was found.
fn global_candidates(
    scan: &ScanCopies,
    side: &Side,
    target: &RegistrationTarget,
    cfg: &RegistrationConfig,
    seed: u64,
) -> std::result::Result<Vec<Scored>, String> {
    let corrs = &side.corrs;
    if corrs.len() < 3 {
        return Err(format!("{} feature correspondences", corrs.len()));
    }
    let hyps = global::ransac(
        &scan.coarse,
        &side.normals,
        &target.coarse_points,
        &target.coarse_normals,
        corrs,
        &ransac_params(cfg, seed, 1),
    );
    if hyps.is_empty() {
        return Err(format!(
            "no RANSAC hypothesis from {} correspondences",
            corrs.len()
        ));
    }
    Ok(refine_hypotheses(scan, target, &hyps, cfg))
}

/// RANSAC settings from the configuration, with `1 / share` of its iterations.
fn ransac_params(cfg: &RegistrationConfig, seed: u64, share: usize) -> global::RansacParams {
    global::RansacParams {
        iterations: cfg.ransac_iterations / share.max(1),
        inlier_distance: cfg.ransac_inlier_distance,
        edge_similarity: cfg.edge_similarity,
        min_edge: 2.0 * cfg.voxel_size,
        keep: PRESCREEN * cfg.ransac_candidates.max(1),
        seed,
    }
}

/// RANSAC hypotheses prescreened by overlap, the best `ransac_candidates` refined by
/// the coarse ICP and scored.
fn refine_hypotheses(
    scan: &ScanCopies,
    target: &RegistrationTarget,
    hyps: &[global::Hypothesis],
    cfg: &RegistrationConfig,
) -> Vec<Scored> {
    let icp_t = target.icp_target();
    // Prescreen: RANSAC ranks by correspondence inliers, which repetitive geometry
    // (teeth, bolt circles) fools; overlap of a small even subsample at the overlap
    // distance is cheap and closer to what counts. The best `ransac_candidates` go on.
    let probe = stride(&scan.coarse, PRESCREEN_POINTS);
    let mut pre: Vec<(f32, usize)> = hyps
        .iter()
        .enumerate()
        .map(|(k, h)| {
            let (fit, _) = icp::evaluate(&probe, &icp_t, &h.t, cfg.max_correspondence_distance);
            (fit, k)
        })
        .collect();
    pre.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let chosen: Vec<global::Hypothesis> = pre
        .iter()
        .take(cfg.ransac_candidates.max(1))
        .map(|&(_, k)| hyps[k])
        .collect();
    // One task per candidate (each ICP iteration over a few thousand points is too
    // small a task to split well over the threads); collected in order.
    chosen
        .par_iter()
        .map(|h| coarse_icp_scored(scan, target, h.t, cfg))
        .filter(|s| s.t.is_finite())
        .collect()
}

/// A candidate pose refined by point-to-plane ICP on the coarse scan's ICP subset, from
/// twice the RANSAC inlier distance down to the correspondence distance, and scored
/// on the fine scan: the step every global candidate goes through.
fn coarse_icp_scored(
    scan: &ScanCopies,
    target: &RegistrationTarget,
    init: Rigid,
    cfg: &RegistrationConfig,
) -> Scored {
    let rule = if cfg.icp_normal_check {
        icp::PairRule::ScanNormals(&scan.icp_normals)
    } else if cfg.icp_view_check {
        icp::PairRule::FacingView
    } else {
        icp::PairRule::All
    };
    coarse_icp_scored_with(scan, target, init, rule, cfg)
}

/// [`coarse_icp_scored`] with the pairing rule given.
fn coarse_icp_scored_with(
    scan: &ScanCopies,
    target: &RegistrationTarget,
    init: Rigid,
    rule: icp::PairRule<'_>,
    cfg: &RegistrationConfig,
) -> Scored {
    let d_start = (2.0 * cfg.ransac_inlier_distance).max(cfg.max_correspondence_distance);
    let t = icp::point_to_plane_weighted(
        &scan.icp,
        rule,
        &target.icp_target(),
        init,
        cfg.icp_iterations,
        d_start,
        cfg.max_correspondence_distance,
        false,
    );
    score_of(&scan.fine, target, t, cfg)
}

/// Final ICP on the fine scan (Tukey-weighted with `robust_kernel`); kept only if it
/// does not score worse.
fn fine_pass(
    fine: &FineScan,
    target: &RegistrationTarget,
    s: Scored,
    cfg: &RegistrationConfig,
) -> Scored {
    if cfg.fine_icp_iterations == 0 {
        return s;
    }
    let t = icp::point_to_plane_weighted(
        &fine.fit,
        icp::PairRule::All,
        &target.icp_target(),
        s.t,
        cfg.fine_icp_iterations,
        cfg.max_correspondence_distance,
        0.5 * cfg.max_correspondence_distance,
        cfg.robust_kernel,
    );
    better(Some(s), score_of(fine, target, t, cfg), cfg)
}

/// ICP only, from `init` (e.g. aligning training templates to each other, or a
/// previous pose): coarse then fine point-to-plane passes, same quality gate as
/// [`register`]. The initial guess should be within roughly 20–30° and a tenth of
/// the part size of the answer.
pub fn refine(
    source: &[[f32; 3]],
    target: &RegistrationTarget,
    init: &Registration,
    cfg: &RegistrationConfig,
) -> Result<Registration> {
    target.check_config(cfg)?;
    check_points("source", source)?;
    let init_t = init.rigid();
    if !init_t.is_finite() {
        return Err(Error::Invalid(
            "registration: initial transform is not finite".into(),
        ));
    }
    let coarse = stride(
        &downsample_scan(source, cfg.voxel_size)?,
        cfg.max_icp_points / 2,
    );
    let fine = FineScan::new(downsample_scan(source, cfg.fine_voxel_size)?, cfg);
    let d_start = (3.0 * cfg.max_correspondence_distance).max(2.0 * cfg.ransac_inlier_distance);
    let t = icp::point_to_plane(
        &coarse,
        &target.icp_target(),
        init_t.orthonormalized(),
        cfg.icp_iterations,
        d_start,
        cfg.max_correspondence_distance,
    );
    let s = better(
        Some(score_of(&fine, target, init_t, cfg)),
        score_of(&fine, target, t, cfg),
        cfg,
    );
    Ok(finish(Some(fine_pass(&fine, target, s, cfg)), cfg, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_scan_in_its_true_pose_covers_the_template_however_few_points_the_fit_uses() {
        // An ellipsoid sampled finely; the quality measures' stride keeps 500 points,
        // far too few to lie within the correspondence distance of every template
        // point, yet coverage counts all of the scan's fine copy.
        let (p, n) = ellipsoid_sampled(60_000);
        let cfg = RegistrationConfig {
            max_icp_points: 500,
            ..RegistrationConfig::default()
        };
        let target = RegistrationTarget::new(&p, &n, &cfg).unwrap();
        let (scan, _) = ellipsoid_sampled(40_000);
        let r = evaluate_pose(&scan, &target, &Registration::identity(), &cfg).unwrap();
        assert!(r.coverage > 0.99, "coverage {}", r.coverage);
        assert!(r.fitness > 0.99, "fitness {}", r.fitness);
        // The stride alone covers about a third of it (0.32 measured).
        let fine = FineScan::new(downsample_scan(&scan, cfg.fine_voxel_size).unwrap(), &cfg);
        assert_eq!(fine.fit.len(), 500);
        assert!(fine.tree.len() > 10 * fine.fit.len());
    }

    /// `n` points spread evenly over the ellipsoid with semi-axes 1, 0.7, 0.5 (a
    /// Fibonacci lattice on the sphere, stretched), with unit outward normals.
    pub(super) fn ellipsoid_sampled(n: usize) -> (Vec<V3>, Vec<V3>) {
        let ax = [1.0f32, 0.7, 0.5];
        let golden = std::f32::consts::PI * (3.0 - 5.0f32.sqrt());
        (0..n)
            .map(|i| {
                let z = 1.0 - 2.0 * (i as f32 + 0.5) / n as f32;
                let r = (1.0 - z * z).sqrt();
                let u = [
                    r * (golden * i as f32).cos(),
                    r * (golden * i as f32).sin(),
                    z,
                ];
                let g = [u[0] / ax[0], u[1] / ax[1], u[2] / ax[2]];
                let l = rigid::norm(g);
                (
                    [ax[0] * u[0], ax[1] * u[1], ax[2] * u[2]],
                    [g[0] / l, g[1] / l, g[2] / l],
                )
            })
            .unzip()
    }
}
