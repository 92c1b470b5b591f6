//! Fine pose refinement of a scan against the reference surface itself: trimmed
//! point-to-plane ICP onto the nearest node's tangent plane.
//!
//! The caller registers scans onto one training template; the reference surface is the
//! pool of all templates, whose mean pose differs from that one template's by a
//! fraction of the template-to-template variation. That offset is the same for every
//! scan of a part and would show up as a low-frequency distance; a few ICP steps onto
//! the reference remove it. Trimming (residuals beyond `TRIM` × the median are not
//! used) keeps defects from pulling the pose; damping keeps directions the surface does
//! not pin down where they were.
//!
//! It may also scale the scan about the frame's origin (the part's centre), within a
//! bound: each training cloud was scaled into the unit sphere on its own, the scan
//! only by its template's factor, so a part of another size than that template (the
//! dev benchmark's templates differ by up to 2 % per axis) would otherwise show its
//! whole outline as displaced. Where the view cannot tell scale from shift (one flat
//! face), the damping leaves both where they were.

use crate::geometry::KdTree;
use nalgebra::{Matrix3, Rotation3, SMatrix, SVector, Vector3};

/// Residuals beyond this multiple of the median |residual| do not pull the pose.
const TRIM: f32 = 3.0;

/// Levenberg–Marquardt damping of the rigid unknowns, relative to the data's mean
/// weight on them (0.01 and 0.1 measured on the dev benchmark's free-pose cylinder, an
/// open tube: 0.854 / 0.927 object AUROC against 0.802 undamped; notes/surface.md
/// "Session 14").
const DAMPING: f64 = 0.1;

/// A similarity motion `p' = R p + t`, `R` a rotation times a scale close to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Motion {
    pub r: Matrix3<f32>,
    pub t: Vector3<f32>,
}

impl Motion {
    pub fn identity() -> Self {
        Self {
            r: Matrix3::identity(),
            t: Vector3::zeros(),
        }
    }

    pub fn apply(&self, p: [f32; 3]) -> [f32; 3] {
        let q = self.r * Vector3::new(p[0], p[1], p[2]) + self.t;
        [q.x, q.y, q.z]
    }
}

/// How far and how the refinement may move a scan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// Scan points farther than this from every node are not used.
    pub max_distance: f32,
    pub iterations: usize,
    /// Largest relative scale change (0: none).
    pub max_scale: f32,
    /// Rotation and shift too (else scale only).
    pub rigid: bool,
}

/// Refine the pose of `points` (a subsample of the scan) against the planes
/// `(centers[i], normals[i])` found through `tree`, ignoring points farther than
/// `max_distance` from every node. Returns the motion (identity when there is too
/// little to fit).
pub(crate) fn refine(
    points: &[[f32; 3]],
    centers: &[[f32; 3]],
    normals: &[[f32; 3]],
    tree: &KdTree,
    settings: &Settings,
) -> Motion {
    let Settings {
        max_distance,
        iterations,
        max_scale,
        rigid,
    } = *settings;
    let mut m = Motion::identity();
    for _ in 0..iterations {
        let pairs: Vec<(Vector3<f32>, Vector3<f32>, f32)> = points
            .iter()
            .filter_map(|&p| {
                let q = Vector3::from(m.apply(p));
                let (i, d2) = tree.nearest(q.into());
                (d2 <= max_distance * max_distance).then(|| {
                    let n = Vector3::from(normals[i]);
                    (q, n, n.dot(&(q - Vector3::from(centers[i]))))
                })
            })
            .collect();
        if pairs.len() < 12 {
            break;
        }
        let mut abs: Vec<f32> = pairs.iter().map(|x| x.2.abs()).collect();
        let mid = abs.len() / 2;
        abs.select_nth_unstable_by(mid, f32::total_cmp);
        let cut = TRIM * abs[mid].max(1e-12);
        // Unknowns: rotation (3), shift (3), log-scale about the frame's origin (the
        // part's centre); the scale is held at 1 by a stiff prior when not asked for.
        let mut ata = SMatrix::<f64, 7, 7>::zeros();
        let mut atb = SVector::<f64, 7>::zeros();
        for (q, n, r) in &pairs {
            if r.abs() > cut {
                continue;
            }
            let c = q.cross(n);
            let j = SVector::<f32, 7>::from([c.x, c.y, c.z, n.x, n.y, n.z, n.dot(q)]).cast::<f64>();
            ata += j * j.transpose();
            atb -= j * f64::from(*r);
        }
        // Damping (Levenberg–Marquardt, on the step, not the value): a direction the
        // surface does not pin down (the slide along an open tube's axis, the turn
        // about it, scale against shift on one flat face) stays where the
        // registration put it rather than being steered by noise.
        let damping = DAMPING * (0..6).map(|k| ata[(k, k)]).sum::<f64>() / 6.0;
        for k in 0..6 {
            ata[(k, k)] += damping;
        }
        let current = f64::from(m.r.determinant().cbrt()).ln();
        if max_scale > 0.0 {
            // Relative to the scale's own weight: on a thin plate the faces' n·q is
            // small, and the rigid unknowns' mean weight would freeze the scale.
            ata[(6, 6)] *= 1.0 + DAMPING;
        } else {
            ata[(6, 6)] += 1e12;
            atb[6] -= 1e12 * current;
        }
        if !rigid {
            // Scale only: the registration's rotation and shift stand.
            for k in 0..6 {
                ata[(k, k)] += 1e12;
            }
        }
        let Some(ch) = ata.cholesky() else { break };
        let x = ch.solve(&atb).cast::<f32>();
        let step_r = Rotation3::new(Vector3::new(x[0], x[1], x[2])).into_inner();
        let step_t = Vector3::new(x[3], x[4], x[5]);
        // Keep the total scale within the bound.
        let total = (current as f32 + x[6]).clamp(-max_scale, max_scale);
        let step_s = (total - current as f32).exp();
        let step_r = step_r * step_s;
        m = Motion {
            r: step_r * m.r,
            t: step_r * m.t + step_t,
        };
        if x.norm() < 1e-7 {
            break;
        }
    }
    m
}
