//! Missing material: reference nodes the scan should have covered but did not.
//!
//! 1. Every node's gap `g` = distance to the nearest scan point.
//! 2. Which nodes the scan should cover: all of them for a scan of the whole part; for
//!    a one-sided scan (few nodes covered) only those visible from the scan's viewpoint,
//!    estimated as the mean reference normal of the covered nodes, with an
//!    orthographic depth buffer over the nodes (front-most within a tolerance) and a
//!    margin on the facing angle so the silhouette, where the estimate is least sure,
//!    never counts.
//!    A one-sided scan's gap must also be ringed by scan points (no empty sector wider
//!    than `max_open_angle` around it in its tangent plane): the estimated viewpoint is
//!    never exact, and the edge of what the scanner saw has scan points on one side only.
//!    A one-sided scan's gap is also dropped when its cone of sight towards the camera
//!    holds scanned material: it is hidden behind the part, or at the bottom of a
//!    slot too narrow for a triangulating scanner, not missing. A hole or a
//!    broken-off piece leaves that cone empty.
//! 3. A gap's surprise: for a scan sampling its surface at areal density `ρ`, an empty
//!    disc of radius `g` has probability `exp(−ρπg²)`; its Gaussian-equivalent z-score
//!    is `g √(2πρ)`, so gaps and surface distances share one scale.
//!    With N expected nodes, the largest of N random gaps has z² ≈ 2 ln N; that much is
//!    taken off (z' = √(z² − 2 ln N)), so a scan without a gap scores about 0.
//! 4. The z' of every expected node above `min_z` is put onto the scan points at the
//!    gap's rim (within `g + margin` of the node), so heatmaps and point metrics see it.

use crate::geometry::KdTree;
use nalgebra::Vector3;
use rayon::prelude::*;
use std::collections::HashMap;

/// Depth-buffer cell, in node spacings (as the synth's one-sided scans: a few nodes
/// per cell), and the depth tolerance in cells.
const CELL_PER_SPACING: f32 = 2.0;
const DEPTH_TOL_CELLS: f32 = 3.0;

/// Settings, already in model units.
pub(crate) struct GapParams {
    /// Node spacing (the node voxel).
    pub node_spacing: f32,
    /// A node counts as covered when a scan point is within this distance.
    pub cover_radius: f32,
    /// Below this fraction of covered nodes the scan is taken as one-sided.
    pub one_sided_coverage: f32,
    /// One-sided: least cosine between a node's normal and the view direction.
    pub view_min_cos: f32,
    /// Least z for a gap to be put onto its rim.
    pub min_z: f32,
    /// Rim reach beyond the gap, model units.
    pub rim_margin: f32,
    /// Scan density (points per unit area).
    pub density: f32,
    /// One-sided scans: a gap counts only if its rim leaves no empty sector wider than
    /// this (radians).
    pub max_open_angle: f32,
    /// One-sided scans: half-angle (radians) of the cone of sight a node needs clear
    /// of scanned material to be expected.
    pub sight_half_angle: f32,
}

/// What the gap search found.
pub(crate) struct Gaps {
    /// Per scan point: the largest gap z whose rim it is on (0 when none).
    pub rim: Vec<f32>,
    /// Nodes the scan should have covered.
    pub expected: usize,
    /// Of those, nodes with a gap z above `min_z`.
    pub missing: usize,
    /// The estimated view direction (towards the camera), for one-sided scans.
    pub view: Option<[f32; 3]>,
    /// z of every expected node with a gap above `min_z`, descending.
    pub gap_z: Vec<f32>,
}

/// Unit vector along `v`, or `None` for a (nearly) zero vector.
fn unit(v: Vector3<f32>) -> Option<Vector3<f32>> {
    let n = v.norm();
    (n > 1e-9).then(|| v / n)
}

/// Which nodes are visible from direction `view`: facing it by at least `min_cos`
/// and front-most in their depth-buffer cell within the tolerance.
fn visible(
    centers: &[[f32; 3]],
    normals: &[[f32; 3]],
    view: Vector3<f32>,
    p: &GapParams,
) -> Vec<bool> {
    let helper = if view.x.abs() < 0.9 {
        Vector3::x()
    } else {
        Vector3::y()
    };
    let a = view.cross(&helper).normalize();
    let b = view.cross(&a);
    let cell = CELL_PER_SPACING * p.node_spacing;
    let key = |c: Vector3<f32>| {
        (
            (c.dot(&a) / cell).floor() as i64,
            (c.dot(&b) / cell).floor() as i64,
        )
    };
    let mut front: HashMap<(i64, i64), f32> = HashMap::new();
    for c in centers {
        let c = Vector3::from(*c);
        let d = c.dot(&view);
        front
            .entry(key(c))
            .and_modify(|f| *f = f.max(d))
            .or_insert(d);
    }
    let tol = DEPTH_TOL_CELLS * cell;
    centers
        .iter()
        .zip(normals)
        .map(|(c, n)| {
            let c = Vector3::from(*c);
            let facing = Vector3::from(*n).dot(&view) >= p.view_min_cos;
            facing && front.get(&key(c)).is_some_and(|&f| c.dot(&view) >= f - tol)
        })
        .collect()
}

/// Whether the scan points `near` (indices into `scan`) surround `center` in its
/// tangent plane: no empty angular sector wider than `max_open` radians. A hole is
/// ringed by its rim; the edge of what a one-sided scan saw has points on one side only.
fn surrounded(
    center: [f32; 3],
    normal: [f32; 3],
    near: &[(usize, f32)],
    scan: &[[f32; 3]],
    max_open: f32,
) -> bool {
    let (t1, t2) = super::patch::tangent_basis(Vector3::from(normal));
    let c = Vector3::from(center);
    let mut angles: Vec<f32> = near
        .iter()
        .map(|&(j, _)| {
            let d = Vector3::from(scan[j]) - c;
            d.dot(&t2).atan2(d.dot(&t1))
        })
        .collect();
    if angles.len() < 3 {
        return false;
    }
    angles.sort_by(f32::total_cmp);
    let wrap = angles[0] + std::f32::consts::TAU - angles[angles.len() - 1];
    let widest = angles.windows(2).map(|w| w[1] - w[0]).fold(wrap, f32::max);
    widest <= max_open
}

/// Whether scan points lie in the cone of sight from `center` (normal `normal`)
/// towards the camera (`view`): they hide the node, so the scanner could not have
/// seen it. The cone starts with the radius `p.cover_radius` and widens by
/// `p.sight_half_angle`: a triangulating scanner (laser line, structured light) sees a
/// point only when both its projector and its camera do, so the bottom of a narrow
/// slot between two walls it scanned is not expected even where a thin ray would
/// pass. The cone is followed in steps of its radius from where its axis has left the
/// node's tangent plane by two node spacings plus that radius (so the gap's own rim,
/// near that plane, is never taken for an occluder) to `reach`.
fn hidden_by_scan(
    center: [f32; 3],
    normal: [f32; 3],
    view: Vector3<f32>,
    scan_tree: &KdTree,
    reach: f32,
    p: &GapParams,
) -> bool {
    let c = Vector3::from(center);
    let r0 = p.cover_radius.max(1e-6);
    let widen = p.sight_half_angle.tan().max(0.0);
    let rise = Vector3::from(normal).dot(&view).max(0.1);
    let mut t = (2.0 * p.node_spacing + r0) / rise;
    while t <= reach {
        let q = c + view * t;
        let r = r0 + t * widen;
        if scan_tree.any_within([q.x, q.y, q.z], r) {
            return true;
        }
        t += r;
    }
    false
}

/// Find the gaps of `scan` (with its k-d tree) against the reference nodes.
pub(crate) fn find_gaps(
    centers: &[[f32; 3]],
    normals: &[[f32; 3]],
    scan: &[[f32; 3]],
    scan_tree: &KdTree,
    p: &GapParams,
) -> Gaps {
    let gap: Vec<f32> = centers
        .par_iter()
        .map(|&c| scan_tree.nearest(c).1.sqrt())
        .collect();
    let covered: Vec<bool> = gap.iter().map(|&g| g <= p.cover_radius).collect();
    let n_covered = covered.iter().filter(|&&c| c).count();
    let one_sided = (n_covered as f32) < p.one_sided_coverage * centers.len() as f32;
    let mut view = None;
    let expected: Vec<bool> = if one_sided {
        let sum: Vector3<f32> = normals
            .iter()
            .zip(&covered)
            .filter(|(_, &c)| c)
            .map(|(n, _)| Vector3::from(*n))
            .sum();
        match unit(sum) {
            Some(v) => {
                view = Some([v.x, v.y, v.z]);
                visible(centers, normals, v, p)
            }
            // No preferred direction: nothing can be said about what is missing.
            None => vec![false; centers.len()],
        }
    } else {
        vec![true; centers.len()]
    };
    let z_per_distance = (2.0 * std::f32::consts::PI * p.density).sqrt();
    let n_expected = expected.iter().filter(|&&e| e).count();
    // Every expected node is a chance for a random gap: the largest of N has a
    // squared z near 2 ln N, so that much is taken off (a Bonferroni bound on the
    // Gaussian-equivalent tail), leaving the gap's surprise beyond chance.
    let chance = 2.0 * (n_expected.max(1) as f32).ln();
    // How far a line of sight can meet the scan: across its bounding box.
    let reach = crate::scene::units::extent_of(scan) as f32;
    let view_dir = view.map(Vector3::from);
    let mut rim = vec![0.0f32; scan.len()];
    let mut gap_z = Vec::new();
    for i in 0..centers.len() {
        if !expected[i] {
            continue;
        }
        let raw = gap[i] * z_per_distance;
        let z = (raw * raw - chance).max(0.0).sqrt();
        if z <= p.min_z {
            continue;
        }
        let rim_points = scan_tree.within(centers[i], gap[i] + p.rim_margin);
        if one_sided && !surrounded(centers[i], normals[i], &rim_points, scan, p.max_open_angle) {
            continue;
        }
        if let Some(v) = view_dir {
            if hidden_by_scan(centers[i], normals[i], v, scan_tree, reach, p) {
                continue;
            }
        }
        gap_z.push(z);
        for (j, _) in rim_points {
            rim[j] = rim[j].max(z);
        }
    }
    gap_z.sort_by(|a, b| b.total_cmp(a));
    Gaps {
        rim,
        expected: n_expected,
        missing: gap_z.len(),
        view,
        gap_z,
    }
}
