//! Normal signs of a scan taken from one side: each connected piece turned to face the
//! scanner.
//!
//! [`estimate_normals`] orients each connected piece of a scan (of its kNN graph) by a
//! vote: normals should point away from the piece's centroid on average. That is the
//! outward sign for a closed surface or a convex patch, and the inward one for a
//! concave piece: looking into the dev Vase, the inner wall, floor and rim came out
//! inward while the base flange, a separate piece, came out outward, so neither global
//! sign gave the features the template has and RANSAC found only the part upside down.
//!
//! A one-sided view (one scanner position: a depth image) shows only surfaces that face
//! the scanner, so every piece's outward normals point towards it on balance. Such a
//! scan is recognised by its geometry, not its normals: along some direction `v` it has
//! one surface per line of sight ([`layered_share`]), where a scan merged from several
//! sides has a front and a back on almost every line whichever way it is seen. Only
//! then is each piece's sign voted again, by `Σ n·v`; the signs within a piece stay as
//! propagated, so the result differs from [`estimate_normals`]' only by whole pieces
//! (a connected scan only by its global sign, which registration tries both ways).
//!
//! [`estimate_normals`]: crate::geometry::estimate_normals

use super::rigid::{dot, norm, perpendicular_pair, V3};
use crate::geometry::{DisjointSets, KdTree};

/// Largest share of points on lines of sight with two surfaces, in the direction with
/// fewest, for a scan taken as one view. A depth image has none. The synthetic scanner
/// keeps a far surface within its depth tolerance (6 sample spacings, under
/// [`LAYER_GAP_VOXELS`]); the dev one-sided views reach 0.08 in their best direction.
/// Whole and merged scans have a back behind nearly every front in every direction.
const MAX_LAYERED: f32 = 0.15;

/// A gap along the line of sight, in coarse voxels, that separates two surfaces.
const LAYER_GAP_VOXELS: f32 = 8.0;

/// Line-of-sight cells, in coarse voxels across (a few points each).
const CELL_VOXELS: f32 = 2.0;

/// Directions tried (a Fibonacci half-sphere: about 15° apart).
const DIRECTIONS: usize = 96;

/// Least `|Σ n·v| / Σ |n·v|` of a piece turned to face the view: its normals clearly
/// lean one way (a patch of a one-sided view: near 1; the two faces of a thin closed
/// piece: near 0).
const PIECE_LEAN: f64 = 0.5;

/// Rounds of "vote the pieces, then take their mean normal as the view".
const VOTE_ROUNDS: usize = 3;

/// The normals of `points` with each connected piece (of the `k`-nearest-neighbour
/// graph, as [`estimate_normals`](crate::geometry::estimate_normals) orients them)
/// turned to face the scanner, if the scan is one view; `None` otherwise. `voxel` is
/// the points' spacing (the coarse voxel size).
pub(crate) fn view_signed(points: &[V3], normals: &[V3], k: usize, voxel: f32) -> Option<Vec<V3>> {
    if points.len() < 3 || points.len() != normals.len() {
        return None;
    }
    let v = one_view_direction(points, normals, voxel)?;
    let pieces = pieces(points, k);
    let n_pieces = pieces.iter().copied().max().map_or(0, |m| m + 1);
    let mut out = normals.to_vec();
    let mut v = v;
    for _ in 0..VOTE_ROUNDS {
        let mut vote = vec![(0.0f64, 0.0f64); n_pieces];
        for (n, &c) in normals.iter().zip(&pieces) {
            let d = dot(*n, v) as f64;
            vote[c].0 += d;
            vote[c].1 += d.abs();
        }
        for ((o, n), &c) in out.iter_mut().zip(normals).zip(&pieces) {
            // A piece that does not clearly lean one way along `v` (both faces of a
            // thin closed piece, a patch seen edge-on) keeps the sign it had.
            let (sum, total) = vote[c];
            let s = if sum.abs() >= PIECE_LEAN * total && sum < 0.0 {
                -1.0
            } else {
                1.0
            };
            *o = [s * n[0], s * n[1], s * n[2]];
        }
        // The visible outward normals average to (nearly) the viewing direction.
        let mean = out
            .iter()
            .fold([0.0f32; 3], |a, n| [a[0] + n[0], a[1] + n[1], a[2] + n[2]]);
        let l = norm(mean);
        if !l.is_finite() || l <= 1e-6 {
            break;
        }
        v = [mean[0] / l, mean[1] / l, mean[2] / l];
    }
    // Which way the whole view faces is not in its geometry (registration tries both
    // signs); keep `estimate_normals`' convention, normals away from the centroid on
    // balance, now over the whole scan, so the sign tried first is the one it was.
    let n = points.len() as f64;
    let c = points.iter().fold([0.0f64; 3], |a, p| {
        [
            a[0] + p[0] as f64 / n,
            a[1] + p[1] as f64 / n,
            a[2] + p[2] as f64 / n,
        ]
    });
    let away: f64 = points
        .iter()
        .zip(&out)
        .map(|(p, m)| {
            (0..3)
                .map(|a| (p[a] as f64 - c[a]) * m[a] as f64)
                .sum::<f64>()
        })
        .sum();
    if away < 0.0 {
        for m in &mut out {
            *m = [-m[0], -m[1], -m[2]];
        }
    }
    Some(out)
}

/// The direction the scan's normals face most (`Σ |n·v|`) among those along which it
/// has (almost) one surface per line of sight; `None` if there is none. Up to sign.
/// Directions are tried most-facing first (the scanner's is usually among the first),
/// so a one-sided view costs a few depth tests and only a scan that is no view costs
/// them all.
fn one_view_direction(points: &[V3], normals: &[V3], voxel: f32) -> Option<V3> {
    let facing = |d: V3| -> f64 { normals.iter().map(|n| dot(*n, d).abs() as f64).sum() };
    let mut dirs: Vec<(f64, V3)> = half_sphere(DIRECTIONS)
        .into_iter()
        .map(|d| (facing(d), d))
        .collect();
    dirs.sort_by(|a, b| b.0.total_cmp(&a.0));
    dirs.into_iter()
        .map(|(_, d)| d)
        .find(|&d| layered_share(points, d, voxel) <= MAX_LAYERED)
}

/// Share of the points whose line of sight along `v` (a cell of `CELL_VOXELS` voxels
/// across) holds two surfaces: depths, sorted, with a gap wider than
/// `LAYER_GAP_VOXELS` voxels.
pub(crate) fn layered_share(points: &[V3], v: V3, voxel: f32) -> f32 {
    if points.is_empty() {
        return 0.0;
    }
    let (u, w) = perpendicular_pair(v);
    let cell = CELL_VOXELS * voxel;
    let gap = LAYER_GAP_VOXELS * voxel;
    let mut keyed: Vec<((i64, i64), f32)> = points
        .iter()
        .map(|&p| {
            (
                (
                    (dot(p, u) / cell).floor() as i64,
                    (dot(p, w) / cell).floor() as i64,
                ),
                dot(p, v),
            )
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut layered = 0usize;
    let mut start = 0;
    while start < keyed.len() {
        let mut end = start + 1;
        let mut split = false;
        while end < keyed.len() && keyed[end].0 == keyed[start].0 {
            split |= keyed[end].1 - keyed[end - 1].1 > gap;
            end += 1;
        }
        if split {
            layered += end - start;
        }
        start = end;
    }
    layered as f32 / points.len() as f32
}

/// Connected pieces of the symmetric `k`-nearest-neighbour graph: a piece index per
/// point, numbered in order of first appearance.
fn pieces(points: &[V3], k: usize) -> Vec<usize> {
    let tree = KdTree::new(points);
    let mut sets = DisjointSets::new(points.len());
    for (i, &p) in points.iter().enumerate() {
        for (j, _) in tree.knn(p, k) {
            sets.union(i, j);
        }
    }
    let mut index = vec![usize::MAX; points.len()];
    let mut next = 0;
    (0..points.len())
        .map(|i| {
            let r = sets.find(i);
            if index[r] == usize::MAX {
                index[r] = next;
                next += 1;
            }
            index[r]
        })
        .collect()
}

/// `n` directions spread evenly over the upper half-sphere (a Fibonacci lattice).
fn half_sphere(n: usize) -> Vec<V3> {
    let golden = std::f32::consts::PI * (3.0 - 5.0f32.sqrt());
    (0..n)
        .map(|i| {
            let z = (i as f32 + 0.5) / n as f32;
            let r = (1.0 - z * z).max(0.0).sqrt();
            let a = golden * i as f32;
            [r * a.cos(), r * a.sin(), z]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{estimate_normals, normalize_unit_sphere, sample_surface};
    use crate::synth::{builtin, scan::partial_scan};
    use rand::SeedableRng;

    /// Points spread evenly over the unit sphere (`half_sphere` and its mirror image)
    /// with outward normals; `cap` keeps only the upper half.
    fn sphere(n: usize, cap: bool) -> (Vec<V3>, Vec<V3>) {
        let half = half_sphere(n / 2);
        let lower = half.iter().map(|p| [-p[0], -p[1], -p[2]]);
        let points: Vec<V3> = if cap {
            half.clone()
        } else {
            half.iter().copied().chain(lower).collect()
        };
        (points.clone(), points)
    }

    #[test]
    fn a_view_has_one_surface_per_line_of_sight_and_a_whole_part_two() {
        let (cap, _) = sphere(8000, true);
        assert_eq!(layered_share(&cap, [0.0, 0.0, 1.0], 0.03), 0.0);
        // Spacing 0.018: each line-of-sight cell holds front and back points.
        let (whole, n) = sphere(40_000, false);
        for v in [[0.0, 0.0, 1.0], [0.6, 0.0, 0.8], [0.0, 1.0, 0.0]] {
            let s = layered_share(&whole, v, 0.03);
            // Near its outline front and back come within the gap (0.725 along z).
            assert!(s > 0.5, "whole sphere along {v:?}: {s}");
        }
        assert!(view_signed(&whole, &n, 10, 0.03).is_none());
    }

    #[test]
    fn a_view_into_a_vase_gets_its_pieces_turned_to_face_the_scanner() {
        // The built-in vase seen from above and aside (~27°): the inside seen through
        // the mouth and the outside are pieces whose propagated signs disagree (the
        // inside is concave, so "away from its centroid" is inward); facing the
        // scanner, the visible outward normals agree up to one global sign.
        let mut mesh = builtin("vase").unwrap();
        normalize_unit_sphere(&mut mesh).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let dense = sample_surface(&mesh, 40_000, &mut rng).unwrap();
        let truth_normals = dense.normals.clone().unwrap();
        let tree = KdTree::new(&dense.points);
        let scan = partial_scan(&dense, [0.5, 0.0, 1.0], 0.01).unwrap();
        let voxel = 0.03;
        let points = crate::geometry::voxel_downsample(
            &crate::PointCloud::from_points(scan.points.clone()),
            voxel,
        )
        .unwrap()
        .points;
        let truth: Vec<V3> = points
            .iter()
            .map(|&p| truth_normals[tree.nearest(p).0])
            .collect();
        let agreement = |n: &[V3]| {
            let same = n
                .iter()
                .zip(&truth)
                .filter(|(a, b)| dot(**a, **b) > 0.0)
                .count();
            let f = same as f32 / n.len() as f32;
            f.max(1.0 - f)
        };
        let propagated = estimate_normals(&points, 10).unwrap();
        let signed = view_signed(&points, &propagated, 10, voxel).expect("one view");
        let (before, after) = (agreement(&propagated), agreement(&signed));
        // Measured when written: 0.902 propagated, 0.991 view-signed.
        assert!(before < 0.95, "propagated signs agree {before}");
        assert!(
            after > 0.98,
            "view-signed agree {after} (propagated {before})"
        );
    }
}
