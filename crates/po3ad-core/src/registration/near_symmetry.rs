//! The template's *near*-symmetries: rigid self-maps that put most, but not all, of the
//! template back on itself (a gear turned by some teeth whose hub holes then miss, a
//! flanged part turned over). They are exactly the confusions a feature-based global
//! step makes: the local features cannot tell the two poses apart, only the few
//! places where the part is not symmetric can. So [`super::register`] tries each
//! near-symmetry composed with its best pose and lets the fine score decide.
//!
//! Found once per template (lazily, on the first registration): a sweep of rotations
//! about each principal axis through the centroid, alone and after a half-turn about
//! another principal axis (turning the part over), each scored by the overlap of a
//! subsample of the template with itself; the local maxima above [`SWEEP_FITNESS`] are
//! refined with point-to-plane ICP and kept when they still overlap by
//! [`NEAR_FITNESS`] and did not slide back to the identity.
//!
//! Written here rather than taken from a crate: it is a small search over this
//! module's own ICP and k-d tree.

use super::icp::{self, IcpTarget};
use super::rigid::{exp_so3, principal_frame, rotation_angle, Rigid, V3};
use nalgebra::{Matrix3, Vector3};
use rayon::prelude::*;

/// Angular step of the sweep (degrees); at the unit-sphere scale a step moves a point
/// on the rim by 0.035, inside the sweep's overlap distance.
const STEP_DEG: f64 = 2.0;
/// Template points the self-overlap is measured on.
const SELF_POINTS: usize = 400;
/// Overlap (within twice the correspondence distance) a sweep candidate needs.
const SWEEP_FITNESS: f32 = 0.6;
/// Overlap (within the correspondence distance) a refined near-symmetry must keep.
const NEAR_FITNESS: f32 = 0.75;
/// Candidates closer than this (degrees) to a better one are the same.
const SAME_DEG: f64 = 6.0;
/// Most near-symmetries kept (the best by overlap): a 60-tooth gear needs them all.
const MAX_KEPT: usize = 64;
/// Most sweep maxima refined.
const MAX_REFINED: usize = 96;

/// Near-symmetries of the template in `target` (its own frame), best overlap first,
/// the identity excluded. `dist` is the correspondence distance.
pub(crate) fn find(target: &IcpTarget, dist: f32) -> Vec<Rigid> {
    let pts = target.points;
    if pts.len() < 3 {
        return Vec::new();
    }
    let (c, axes) = principal_frame(pts);
    let axis = |k: usize| -> Vector3<f64> { axes.column(k).into_owned().normalize() };
    let about = |r: Matrix3<f64>| Rigid { r, t: c - r * c };
    let src: Vec<V3> = super::stride(pts, SELF_POINTS);

    // Rotations about each principal axis, alone and after turning the part over.
    let steps = (360.0 / STEP_DEG).round() as usize;
    let mut turns: Vec<Matrix3<f64>> = vec![Matrix3::identity()];
    for k in 0..3 {
        turns.push(exp_so3(&(axis(k) * std::f64::consts::PI)));
    }
    let mut cands: Vec<Rigid> = Vec::new();
    for (f, flip) in turns.iter().enumerate() {
        for a in 0..3 {
            if f == a + 1 {
                continue; // a turn about the flip's own axis is already in the plain sweep
            }
            for s in 0..steps {
                if f == 0 && s == 0 {
                    continue; // the identity
                }
                let angle = (s as f64 * STEP_DEG).to_radians();
                cands.push(about(exp_so3(&(axis(a) * angle)) * flip));
            }
        }
    }
    let lim = 4.0 * dist * dist;
    let mut scored: Vec<(f32, Rigid)> = cands
        .par_iter()
        .map(|t| (overlap(&src, target, t, lim), *t))
        .filter(|(f, _)| *f >= SWEEP_FITNESS)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let maxima = suppress(scored.into_iter().map(|(_, t)| t), MAX_REFINED);

    let mut refined: Vec<(f32, Rigid)> = maxima
        .par_iter()
        .filter_map(|&cand| {
            let t = icp::point_to_plane(&src, target, cand, 20, 2.0 * dist, dist);
            let fit = overlap(&src, target, &t, dist * dist);
            let moved =
                rotation_angle(&t.r).to_degrees() > SAME_DEG || (t.t).norm() > 2.0 * dist as f64;
            (fit >= NEAR_FITNESS && moved && t.is_finite()).then_some((fit, t))
        })
        .collect();
    refined.sort_by(|a, b| b.0.total_cmp(&a.0));
    suppress(refined.into_iter().map(|(_, t)| t), MAX_KEPT)
}

/// Fraction of `src` within `sqrt(lim2)` of the target after `t` (serial: the caller
/// parallelizes over candidates).
fn overlap(src: &[V3], target: &IcpTarget, t: &Rigid, lim2: f32) -> f32 {
    let near = src
        .iter()
        .filter(|&&p| target.tree.nearest(t.apply(p)).1 <= lim2)
        .count();
    near as f32 / src.len().max(1) as f32
}

/// Keep poses in order, dropping any within [`SAME_DEG`] of a kept one, at most `cap`.
fn suppress(poses: impl Iterator<Item = Rigid>, cap: usize) -> Vec<Rigid> {
    let same = SAME_DEG.to_radians();
    let mut kept: Vec<Rigid> = Vec::new();
    for t in poses {
        if kept.len() >= cap {
            break;
        }
        if kept.iter().all(|k| k.angle_to(&t) >= same) {
            kept.push(t);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::KdTree;

    /// A flat square plate (grid of 60 × 60 points) with a small tab on one edge: its
    /// quarter turns put all of it but the tab back on itself.
    fn plate_with_tab() -> (Vec<V3>, Vec<V3>) {
        let mut pts = Vec::new();
        let mut nrm = Vec::new();
        let n = 60;
        for i in 0..n {
            for j in 0..n {
                let x = -0.8 + 1.6 * i as f32 / (n - 1) as f32;
                let y = -0.8 + 1.6 * j as f32 / (n - 1) as f32;
                pts.push([x, y, 0.0]);
                nrm.push([0.0, 0.0, 1.0]);
            }
        }
        // A small tab on one side breaks the plate's half-turn symmetry a little.
        for i in 0..8 {
            for j in 0..8 {
                pts.push([0.8 + 0.02 * i as f32, -0.1 + 0.025 * j as f32, 0.0]);
                nrm.push([0.0, 0.0, 1.0]);
            }
        }
        (pts, nrm)
    }

    #[test]
    fn a_square_plate_with_a_tab_has_its_quarter_turns_as_near_symmetries() {
        let (pts, nrm) = plate_with_tab();
        let tree = KdTree::new(&pts);
        let target = IcpTarget {
            points: &pts,
            normals: &nrm,
            tree: &tree,
        };
        let near = find(&target, 0.04);
        // In-plane quarter turns (90°, 180°, 270° about z) nearly map the square onto
        // itself; the tab holds 64 of 3664 points, so each overlaps by about 98 %.
        for want in [90.0f64, 180.0, 270.0] {
            let r = exp_so3(&(Vector3::z() * want.to_radians()));
            let hit = near
                .iter()
                .any(|t| rotation_angle(&(t.r.transpose() * r)).to_degrees() < 3.0);
            assert!(hit, "missing the {want}° turn about z in {near:?}");
        }
        assert!(near
            .iter()
            .all(|t| rotation_angle(&t.r).to_degrees() > SAME_DEG));
    }
}
