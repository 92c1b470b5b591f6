//! Registration measured against a known pose: the template's own symmetries and the
//! error of an estimated pose to the nearest pose that is equivalent under them.
//!
//! A part with an N-tooth gear, a bolt circle or a turned profile has several (or
//! infinitely many) poses that put the scan on the template equally well; the data
//! cannot tell them apart, so an estimate is judged against the *nearest* of them.
//!
//! Symmetry detection ([`Symmetry::detect`]): the template is registered onto
//! itself from candidate rotations, by `360°/k` about each principal axis through
//! its centroid (`k = 2..=MAX_ORDER`). A candidate is refined with point-to-plane ICP
//! (the in-plane principal axes of a gear are arbitrary, so a flip candidate is only
//! near a true one) and accepted when it puts the whole template back on itself:
//! overlap ≥ 97 % within 1.5 × the template's own sample gap (at least half the
//! correspondence distance: a sparse template's moved points land between its
//! samples), residual ≤ 0.25 fine voxels. An axis on which nearly every order is
//! accepted is a *continuous* symmetry axis (turned parts). The accepted discrete
//! rotations are closed into a group one at a time, best residual first, and one is
//! kept only if every element of the group it closes with those kept is accepted as
//! well: a part symmetric only within the tolerance (a torus squeezed by a template's
//! scale jitter) accepts small turns whose sums it does not.

use super::icp;
use super::rigid::{exp_so3, principal_frame, widen, Rigid};
use super::{Registration, RegistrationConfig, RegistrationTarget};
use nalgebra::{Matrix3, UnitQuaternion, Vector3};

/// Highest rotation order tried about each principal axis.
pub const MAX_ORDER: usize = 64;
/// Largest group kept after closure (a 64-tooth gear with flips has 128 elements).
const MAX_GROUP: usize = 512;
/// Two group elements closer than this (radians) are the same.
const SAME_ELEMENT: f64 = 0.5 * std::f64::consts::PI / 180.0;
/// Points of the template used for the self-registrations.
const SELF_POINTS: usize = 1500;
/// Overlap a symmetry must reach on the template itself.
const SELF_FITNESS: f32 = 0.97;

/// The rigid self-maps of a template (in its frame).
#[derive(Debug, Clone, PartialEq)]
pub struct Symmetry {
    /// Centroid of the template; every symmetry rotates about an axis through it.
    pub center: [f32; 3],
    /// Discrete symmetries as row-major rotations about `center`, the identity first.
    /// Rotations about `continuous_axis` are not listed (they are all symmetries).
    pub rotations: Vec<[[f32; 3]; 3]>,
    /// A unit axis (through `center`) about which every rotation is a symmetry.
    pub continuous_axis: Option<[f32; 3]>,
    /// Every rotation about `center` is a symmetry (a sphere).
    pub isotropic: bool,
}

impl Symmetry {
    /// No symmetry besides the identity.
    pub fn none(center: [f32; 3]) -> Self {
        Self {
            center,
            rotations: vec![Rigid::identity().rotation_array()],
            continuous_axis: None,
            isotropic: false,
        }
    }

    /// Number of discrete elements (1 = asymmetric apart from a continuous axis).
    pub fn order(&self) -> usize {
        self.rotations.len()
    }

    /// Short human-readable summary, e.g. `"C∞ + 2 discrete"` or `"12 discrete"`.
    pub fn describe(&self) -> String {
        if self.isotropic {
            return "isotropic".into();
        }
        match self.continuous_axis {
            Some(_) => format!("continuous axis + {} discrete", self.order()),
            None => format!("{} discrete", self.order()),
        }
    }

    /// Detect the symmetries of `target` (see the module docs). Takes about a second
    /// for a typical template; meant for evaluation, not for every scan.
    pub fn detect(target: &RegistrationTarget, cfg: &RegistrationConfig) -> Self {
        let pts = &target.fine_points;
        let (c, axes) = principal_frame(pts);
        let center = [c[0] as f32, c[1] as f32, c[2] as f32];
        let src = super::stride(pts, SELF_POINTS);
        let tol = 0.25 * cfg.fine_voxel_size;
        let dist = cfg.max_correspondence_distance;
        // A symmetry moves the sample's points between the template's samples, so how
        // near they land is set by the template's own spacing, which for a sparse
        // template is wider than the fine voxel: 15k random points on a unit part
        // leave gaps of 0.03–0.05, and half the correspondence distance (0.02) then
        // found only 87 % of a hexagonal prism on itself after a 60° turn.
        let near = (0.5 * dist).max(MATCH_SPACINGS * sample_gap(&src, &target.icp_target()));
        let about = |axis: &Vector3<f64>, angle: f64| -> Rigid {
            let r = exp_so3(&(axis * angle));
            Rigid { r, t: c - r * c }
        };
        let accept = |cand: Rigid| -> Option<(Rigid, f32)> {
            let (fit0, _) = icp::evaluate(&src, &target.icp_target(), &cand, 2.0 * dist);
            if fit0 < 0.6 {
                return None;
            }
            // Already a symmetry (a turn about a continuous axis): taken as it is, since
            // ICP has nothing to correct there and may slide back to the identity.
            let (fit_c, rmse_c) = icp::evaluate(&src, &target.icp_target(), &cand, near);
            if fit_c >= SELF_FITNESS && rmse_c <= tol {
                return Some((cand, rmse_c));
            }
            let t =
                icp::point_to_plane(&src, &target.icp_target(), cand, 20, 2.0 * dist, 0.5 * dist);
            let (fit, rmse) = icp::evaluate(&src, &target.icp_target(), &t, near);
            // ICP may slide back to the identity (always a fit): the refined map must
            // stay nearer the candidate than the identity.
            let stayed = t.angle_to(&cand) < 0.5 * super::rigid::rotation_angle(&cand.r);
            (fit >= SELF_FITNESS && rmse <= tol && stayed).then_some((t, rmse))
        };
        let mut generators: Vec<(Rigid, f32)> = Vec::new();
        let mut continuous: Vec<Vector3<f64>> = Vec::new();
        for k in 0..3 {
            let axis: Vector3<f64> = axes.column(k).into_owned().normalize();
            let mut found = Vec::new();
            for order in 2..=MAX_ORDER {
                let angle = 2.0 * std::f64::consts::PI / order as f64;
                if let Some(t) = accept(about(&axis, angle)) {
                    found.push(t);
                }
            }
            if found.len() * 10 >= (MAX_ORDER - 1) * 9 {
                continuous.push(axis);
            } else {
                generators.extend(found);
            }
        }
        if continuous.len() >= 2 {
            return Self {
                center,
                rotations: vec![Rigid::identity().rotation_array()],
                continuous_axis: None,
                isotropic: true,
            };
        }
        let continuous_axis = continuous.first().copied();
        // Rotations about the continuous axis add nothing: drop them.
        if let Some(a) = continuous_axis {
            generators.retain(|(g, _)| {
                let w = rotation_vector(&g.r);
                w.norm() < SAME_ELEMENT || w.normalize().cross(&a).norm() > 0.05
            });
        }
        // A generator is kept only when every element of the group it closes with the
        // ones already kept puts the template back on itself, best fitting first. A
        // part that is nearly symmetric within the tolerance passes single turns that
        // do not compose: a torus squeezed 3 % (a template's scale jitter) accepts
        // every turn up to 30° about its axis but not their sum, 90°, so those turns
        // are no symmetry; closing them anyway gave it 477 "symmetries".
        let c_rigid = |r: &Matrix3<f64>| Rigid {
            r: *r,
            t: c - r * c,
        };
        generators.sort_by(|a, b| a.1.total_cmp(&b.1));
        let axis = continuous_axis.as_ref();
        let mut kept: Vec<Rigid> = Vec::new();
        let mut rotations = vec![Matrix3::identity()];
        for (g, _) in generators {
            if rotations.iter().any(|e| same_modulo(e, &g.r, axis)) {
                continue;
            }
            kept.push(g);
            let closed = close_group(&kept, axis);
            let holds = closed.len() < MAX_GROUP
                && closed.iter().all(|r| {
                    rotations.iter().any(|e| same_modulo(e, r, axis))
                        || accept(c_rigid(r)).is_some()
                });
            if holds {
                rotations = closed;
            } else {
                kept.pop();
            }
        }
        Self {
            center,
            rotations: rotations.iter().map(to_array).collect(),
            continuous_axis: continuous_axis.map(|a| [a[0] as f32, a[1] as f32, a[2] as f32]),
            isotropic: false,
        }
    }
}

/// How many of the template's sample gaps a point moved by a symmetry may land from
/// the nearest sample: for samples spread at random (a Poisson process on the surface)
/// a location's distance to the nearest sample has the same law as a sample's distance
/// to its nearest neighbour, so 1.5 × that law's 99th percentile leaves ~3·10⁻⁵ of a
/// true symmetry's points unmatched.
const MATCH_SPACINGS: f32 = 1.5;

/// The 99th percentile of the distance from each of `src` (template points) to its
/// nearest *other* template point.
fn sample_gap(src: &[[f32; 3]], tgt: &icp::IcpTarget) -> f32 {
    let mut gaps: Vec<f32> = src
        .iter()
        .filter_map(|&p| tgt.tree.knn(p, 2).get(1).map(|&(_, d2)| d2.sqrt()))
        .collect();
    if gaps.is_empty() {
        return 0.0;
    }
    gaps.sort_by(f32::total_cmp);
    gaps[(gaps.len() * 99 / 100).min(gaps.len() - 1)]
}

fn to_array(r: &Matrix3<f64>) -> [[f32; 3]; 3] {
    std::array::from_fn(|i| std::array::from_fn(|j| r[(i, j)] as f32))
}

fn rotation_vector(r: &Matrix3<f64>) -> Vector3<f64> {
    UnitQuaternion::from_matrix(r).scaled_axis()
}

/// Whether `a` and `b` differ only by a rotation about `axis` (or not at all).
fn same_modulo(a: &Matrix3<f64>, b: &Matrix3<f64>, axis: Option<&Vector3<f64>>) -> bool {
    let d = a * b.transpose();
    match axis {
        None => super::rigid::rotation_angle(&d) < SAME_ELEMENT,
        Some(ax) => residual_about(&d, ax).0 < SAME_ELEMENT,
    }
}

/// The group generated by `gens` (rotations only; every symmetry fixes the centroid),
/// identity first, at most [`MAX_GROUP`] elements.
fn close_group(gens: &[Rigid], axis: Option<&Vector3<f64>>) -> Vec<Matrix3<f64>> {
    let mut group = vec![Matrix3::identity()];
    let mut k = 0;
    while k < group.len() && group.len() < MAX_GROUP {
        let g = group[k];
        for h in gens {
            let p = h.r * g;
            if !group.iter().any(|e| same_modulo(e, &p, axis)) {
                group.push(p);
                if group.len() >= MAX_GROUP {
                    break;
                }
            }
        }
        k += 1;
    }
    group
}

/// For a rotation `d`, the smallest angle of `d · Rot(axis, −φ)` over φ, and that φ:
/// with `d`'s quaternion `(w, v)`, `cos(θ/2) = |w cos(φ/2) + (v·a) sin(φ/2)|` is
/// largest at `φ/2 = atan2(v·a, w)`.
fn residual_about(d: &Matrix3<f64>, axis: &Vector3<f64>) -> (f64, f64) {
    let q = UnitQuaternion::from_matrix(d);
    let (w, v) = (q.w, q.imag());
    let va = v.dot(axis);
    let phi = 2.0 * va.atan2(w);
    let c = (w * w + va * va).sqrt().min(1.0);
    (2.0 * c.acos(), phi)
}

/// How far an estimated pose is from the true one.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PoseError {
    /// Rotation error to the nearest symmetric-equivalent true pose, degrees.
    pub rotation_deg: f32,
    /// Distance, at the reference point, between the estimate and that pose.
    pub translation: f32,
    /// Rotation error to the true pose itself (ignoring symmetries), degrees.
    pub raw_rotation_deg: f32,
    /// Translation error at the reference point to the true pose itself.
    pub raw_translation: f32,
}

/// Error of `estimate` against `truth` (both scan → template), allowing any
/// symmetry of the template: the minimum rotation error over the poses `S ∘ truth`,
/// and the distance `|estimate(at) − S*(truth(at))|` for the best `S*`. `at` is a
/// point in scan coordinates, normally the scan's centroid (rotation error then does
/// not leak into the translation error).
pub fn pose_error(
    estimate: &Registration,
    truth: &Registration,
    symmetry: &Symmetry,
    at: [f32; 3],
) -> PoseError {
    let e = estimate.rigid();
    let t = truth.rigid();
    let ea = widen(e.apply(at));
    let ta = widen(t.apply(at));
    let raw_rotation_deg = e.angle_to(&t).to_degrees() as f32;
    let raw_translation = (ea - ta).norm() as f32;
    let c = widen(symmetry.center);
    if symmetry.isotropic {
        let moved = c + e.r * t.r.transpose() * (ta - c);
        return PoseError {
            rotation_deg: 0.0,
            translation: (ea - moved).norm() as f32,
            raw_rotation_deg,
            raw_translation,
        };
    }
    let axis = symmetry.continuous_axis.map(widen);
    let mut best = (f64::INFINITY, f64::INFINITY);
    for s in &symmetry.rotations {
        let s = Matrix3::from_fn(|i, j| s[i][j] as f64);
        let rs = s * t.r;
        let d = e.r * rs.transpose();
        let (angle, extra) = match &axis {
            None => (super::rigid::rotation_angle(&d), Matrix3::identity()),
            Some(a) => {
                let (angle, phi) = residual_about(&d, a);
                (angle, exp_so3(&(a * phi)))
            }
        };
        // Where S* puts truth(at): rotated about the centre by `extra · s`.
        let moved = c + extra * s * (ta - c);
        let trans = (ea - moved).norm();
        if angle < best.0 - 1e-9 || (angle <= best.0 + 1e-9 && trans < best.1) {
            best = (angle, trans);
        }
    }
    PoseError {
        rotation_deg: best.0.to_degrees() as f32,
        translation: best.1 as f32,
        raw_rotation_deg,
        raw_translation,
    }
}

/// Fitness and residual of `scan` under a given `pose` (e.g. the true one), measured
/// exactly as [`super::register`] measures its own result, with the quality gate
/// applied.
pub fn evaluate_pose(
    scan: &[[f32; 3]],
    target: &RegistrationTarget,
    pose: &Registration,
    cfg: &RegistrationConfig,
) -> crate::Result<Registration> {
    target.check_config(cfg)?;
    super::check_points("scan", scan)?;
    let fine = super::FineScan::new(super::downsample_scan(scan, cfg.fine_voxel_size)?, cfg);
    let s = super::score_of(&fine, target, pose.rigid(), cfg);
    Ok(super::finish(Some(s), cfg, ""))
}

/// The part size used for relative translation errors: twice the largest distance
/// of a template point from the template's centroid (2 for a unit-sphere part).
pub fn part_size(target: &RegistrationTarget) -> f32 {
    let pts = &target.fine_points;
    let n = pts.len().max(1) as f64;
    let c = pts.iter().fold(Vector3::zeros(), |a, &p| a + widen(p)) / n;
    2.0 * pts
        .iter()
        .map(|&p| (widen(p) - c).norm())
        .fold(0.0f64, f64::max) as f32
}

/// Transforms found by another method, keyed by `(track, category, file)`, with the
/// seconds each took.
pub type ExternalTransforms =
    std::collections::BTreeMap<(String, String, String), (Registration, f64)>;

/// Read another method's transforms (e.g. `scripts/open3d_register_bench.py`'s
/// output) to measure them as po3ad's are: a CSV with a header and the columns
/// `track, category, file, r00 … r22` (row-major rotation), `tx, ty, tz, seconds`,
/// each transform taking the scan onto the template.
pub fn read_transforms_csv(path: &std::path::Path) -> crate::Result<ExternalTransforms> {
    let bad = |e: &dyn std::fmt::Display| crate::Error::Invalid(format!("{}: {e}", path.display()));
    let mut rd = csv::Reader::from_path(path).map_err(|e| bad(&e))?;
    let mut out = ExternalTransforms::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| bad(&e))?;
        let num = |k: usize| -> crate::Result<f32> {
            rec.get(k)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad(&format!("bad column {k}")))
        };
        let mut r = [[0.0f32; 3]; 3];
        for (i, row) in r.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = num(3 + 3 * i + j)?;
            }
        }
        let t = [num(12)?, num(13)?, num(14)?];
        let secs = num(15)? as f64;
        let key = |k: usize| rec.get(k).unwrap_or_default().to_string();
        out.insert(
            (key(0), key(1), key(2)),
            (Registration::from_transform(r, t), secs),
        );
    }
    Ok(out)
}
