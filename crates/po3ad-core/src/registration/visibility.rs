//! Coverage: how much of the template that a scan *should* show it does show, under a
//! candidate pose. This is the measure that tells a one-sided view apart from the same
//! view slipped onto a look-alike face: overlap (`fitness`) only asks whether the scan
//! lies on the template, which a slipped view of a flat or repetitive face also does;
//! coverage asks whether the template surfaces facing the implied camera are there.
//!
//! Implied camera: the mean outward template normal at the scan's matched points. When
//! it is short (the normals cancel: a scan of the whole part) every template point
//! should be seen. Otherwise the template points visible from that direction are
//! found with an orthographic depth buffer, as a scanner sees them: facing the camera
//! (n·v > [`FACING_COS`]) and within a few cells of the front-most point of their cell.
//! Coverage is the fraction of those with a scan point within the overlap distance.

use super::icp::IcpTarget;
use super::rigid::{dot, V3};
use crate::geometry::{DepthImage, KdTree};
use rayon::prelude::*;

/// Mean normal length below which the scan counts as all-round (not one-sided).
const ONE_SIDED_MEAN_NORMAL: f32 = 0.3;
/// Template points at grazing angles are often missing in real one-sided scans; only
/// surfaces turned towards the camera by more than ~66° off grazing count.
const FACING_COS: f32 = 0.4;
/// Depth tolerance of the buffer, in cells.
const DEPTH_TOL_CELLS: f32 = 3.0;

/// Points and their outward normals.
pub(crate) type Surface<'a> = (&'a [V3], &'a [V3]);

/// Coverage of the template surface `sample` by the already-moved scan points `moved`
/// (see the module docs); `tgt` finds each scan point's template normal (the implied
/// camera). `cell` is the depth-buffer cell size (about twice the sample's spacing).
pub(crate) fn coverage(
    moved: &[V3],
    tgt: &IcpTarget,
    sample: Surface,
    max_dist: f32,
    cell: f32,
) -> f32 {
    let matches = super::icp::nearest_all(moved, tgt);
    let tree = KdTree::new(moved);
    let near = |p: V3| tree.nearest(p).1 <= max_dist * max_dist;
    coverage_matched(&matches, tgt, sample, max_dist, cell, &near)
}

/// [`coverage`] with each moved scan point's nearest template point (and squared
/// distance) already found ([`super::icp::nearest_all`]; the implied camera is read
/// off them, so a subsample of the scan does), and `covered(p)` telling whether a
/// template point `p` has a scan point within `max_dist` (a caller that registers
/// many poses of one scan keeps one tree over the unmoved scan and moves `p` instead).
pub(crate) fn coverage_matched(
    matches: &[(usize, f32)],
    tgt: &IcpTarget,
    sample: Surface,
    max_dist: f32,
    cell: f32,
    covered: &(dyn Fn(V3) -> bool + Sync),
) -> f32 {
    let (points, normals) = sample;
    if matches.is_empty() || points.is_empty() {
        return 0.0;
    }
    let lim = max_dist * max_dist;
    let matched = matches
        .iter()
        .map(|&(j, d2)| (j != usize::MAX && d2 <= lim).then(|| tgt.normals[j]));
    let (mut sum, mut k) = ([0.0f64; 3], 0usize);
    for n in matched.flatten() {
        for a in 0..3 {
            sum[a] += n[a] as f64;
        }
        k += 1;
    }
    if k == 0 {
        return 0.0;
    }
    let len = (sum[0] * sum[0] + sum[1] * sum[1] + sum[2] * sum[2]).sqrt();
    let visible: Vec<usize> = if len / (k as f64) < ONE_SIDED_MEAN_NORMAL as f64 {
        (0..points.len()).collect()
    } else {
        let v = sum.map(|c| (c / len) as f32);
        visible_from(points, normals, v, cell)
    };
    if visible.is_empty() {
        return 0.0;
    }
    let covered = visible.par_iter().filter(|&&i| covered(points[i])).count();
    covered as f32 / visible.len() as f32
}

/// Fraction of the template surface that a scanner looking along `view` would see first
/// (see [`visible_from`]) but that lies in front of what the scene image shows in its
/// cell by more than the depth tolerance: the scanner looked through where the pose puts
/// the part. Template points over empty cells (nothing seen there) say nothing. A part
/// in its true pose scores near 0 (rims and missing material only); a pose that fits a
/// look-alike piece of the scene leaves the rest of the part floating where the scanner
/// saw the table or the part behind it. `scene` and `view` are in the template's frame.
pub(crate) fn seen_through(scene: &[V3], tgt: &IcpTarget, view: V3, cell: f32) -> f32 {
    let visible = visible_from(tgt.points, tgt.normals, view, cell);
    if visible.is_empty() || scene.is_empty() {
        return 0.0;
    }
    let image = DepthImage::new(scene, view, cell);
    let tol = DEPTH_TOL_CELLS * cell;
    let through = visible
        .iter()
        .filter(|&&i| image.in_front(tgt.points[i]).is_some_and(|d| d > tol))
        .count();
    through as f32 / visible.len() as f32
}

/// Indices of `points` seen from direction `view` (unit, object → camera).
pub(crate) fn visible_from(points: &[V3], normals: &[V3], view: V3, cell: f32) -> Vec<usize> {
    let image = DepthImage::new(points, view, cell);
    let tol = DEPTH_TOL_CELLS * cell;
    (0..points.len())
        .filter(|&i| {
            dot(normals[i], view) > FACING_COS
                && image.in_front(points[i]).is_some_and(|d| d >= -tol)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_behind_another_is_hidden() {
        // Two parallel squares facing +z, one behind the other: only the front one.
        let mut pts = Vec::new();
        for z in [0.0f32, -0.5] {
            for i in 0..10 {
                for j in 0..10 {
                    pts.push([i as f32 * 0.02, j as f32 * 0.02, z]);
                }
            }
        }
        let nrm = vec![[0.0, 0.0, 1.0]; pts.len()];
        let vis = visible_from(&pts, &nrm, [0.0, 0.0, 1.0], 0.04);
        assert_eq!(vis, (0..100).collect::<Vec<_>>());
        assert!(visible_from(&pts, &nrm, [0.0, 0.0, -1.0], 0.04).is_empty());
    }
}
