//! Fine pose refinement of a scan against the reference surface itself: trimmed
//! point-to-plane ICP onto the nearest node's tangent plane.
//!
//! The caller registers scans onto one training template; the reference surface is the
//! pool of all templates, whose mean pose differs from that one template's by a
//! fraction of the template-to-template variation. That offset is the same for every
//! scan of a part and would show up as a low-frequency distance; a few ICP steps onto
//! the reference remove it. Trimming (residuals beyond `TRIM` × the median are not
//! used) keeps defects from pulling the pose.

use crate::geometry::KdTree;
use nalgebra::{Matrix3, Matrix6, Rotation3, Vector3, Vector6};

/// Residuals beyond this multiple of the median |residual| do not pull the pose.
const TRIM: f32 = 3.0;

/// A rigid motion `p' = R p + t`.
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

/// Refine the pose of `points` (a subsample of the scan) against the planes
/// `(centers[i], normals[i])` found through `tree`, ignoring points farther than
/// `max_distance` from every node. Returns the motion (identity when there is too
/// little to fit).
pub(crate) fn refine(
    points: &[[f32; 3]],
    centers: &[[f32; 3]],
    normals: &[[f32; 3]],
    tree: &KdTree,
    max_distance: f32,
    iterations: usize,
) -> Motion {
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
        let mut ata = Matrix6::<f64>::zeros();
        let mut atb = Vector6::<f64>::zeros();
        for (q, n, r) in &pairs {
            if r.abs() > cut {
                continue;
            }
            let c = q.cross(n);
            let j = Vector6::new(c.x, c.y, c.z, n.x, n.y, n.z).cast::<f64>();
            ata += j * j.transpose();
            atb -= j * f64::from(*r);
        }
        let Some(ch) = ata.cholesky() else { break };
        let x = ch.solve(&atb).cast::<f32>();
        let step_r = Rotation3::new(Vector3::new(x[0], x[1], x[2])).into_inner();
        let step_t = Vector3::new(x[3], x[4], x[5]);
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
