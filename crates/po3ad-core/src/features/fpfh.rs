//! Fast Point Feature Histograms (Rusu, Blodow & Beetz 2009), 33 bins, with Open3D's
//! conventions (`compute_fpfh_feature`) so that the memory-bank detectors see the same
//! numbers as the published baselines, which all call Open3D:
//!
//! - neighbours of a point: every other point within `radius`, the nearest `max_nn − 1`
//!   when there are more (Open3D's hybrid search returns at most `max_nn` points, the
//!   point itself first);
//! - pair features `(θ, α, φ)`: the *source* of a pair is the point whose normal makes
//!   the smaller angle with the joining line; with `u` its normal, `d` the unit vector
//!   to the other point, `v = d × u / |d × u|`, `w = u × v`, `n` the other normal:
//!   `α = v·n`, `φ = u·d`, `θ = atan2(w·n, u·n)`. A pair with no Darboux frame
//!   (normal along the line, coincident points) counts as `(0, 0, 0)`, as in Open3D;
//! - SPFH(p): each angle histogrammed into 11 bins over `[−π, π]` / `[−1, 1]`, every
//!   pair adding `100 / neighbours`;
//! - FPFH(p) = SPFH(p) + Σₖ SPFH(pₖ)/‖p − pₖ‖², the sum renormalised to 100 per
//!   11-bin block (Open3D weights by the *squared* distance, the paper by the
//!   distance).
//!
//! Computed in f64 (points widened from f32) as Open3D does. Features depend on the
//! sign of the normals: callers orient them consistently.
//!
//! `registration::fpfh` holds an older, private variant (weights by distance, skips
//! degenerate pairs); it could switch to this one.

use crate::geometry::KdTree;
use crate::{Error, Result};
use rayon::prelude::*;
use std::f64::consts::PI;

/// Bins per angle.
pub const FPFH_BINS: usize = 11;
/// Length of one FPFH descriptor.
pub const FPFH_DIM: usize = 3 * FPFH_BINS;

type D3 = [f64; 3];

fn widen(p: [f32; 3]) -> D3 {
    [p[0] as f64, p[1] as f64, p[2] as f64]
}
fn sub(a: D3, b: D3) -> D3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn dot(a: D3, b: D3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn cross(a: D3, b: D3) -> D3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn norm(a: D3) -> f64 {
    dot(a, a).sqrt()
}

/// Checks shared by the public entry points.
fn check(points: &[[f32; 3]], normals: &[[f32; 3]], radius: f32, max_nn: usize) -> Result<()> {
    if normals.len() != points.len() {
        return Err(Error::Invalid(format!(
            "fpfh: {} points but {} normals",
            points.len(),
            normals.len()
        )));
    }
    if !(radius.is_finite() && radius > 0.0) {
        return Err(Error::Invalid(format!(
            "fpfh: radius must be positive and finite, got {radius}"
        )));
    }
    if max_nn < 2 {
        return Err(Error::Invalid(format!(
            "fpfh: max_nn must be at least 2 (the point and one neighbour), got {max_nn}"
        )));
    }
    if let Some(i) = points
        .iter()
        .chain(normals)
        .position(|p| p.iter().any(|c| !c.is_finite()))
    {
        return Err(Error::Invalid(format!(
            "fpfh: non-finite point or normal at row {}",
            i % points.len().max(1)
        )));
    }
    Ok(())
}

/// FPFH of every point (see the module docs). `normals` are unit vectors, one per
/// point; `radius` in the units of the points; `max_nn` caps the neighbourhood
/// (Open3D's `KDTreeSearchParamHybrid(radius, max_nn)`; pass `usize::MAX` for a pure
/// radius search). A point with no neighbour gets an all-zero descriptor.
pub fn fpfh(
    points: &[[f32; 3]],
    normals: &[[f32; 3]],
    radius: f32,
    max_nn: usize,
) -> Result<Vec<[f32; FPFH_DIM]>> {
    check(points, normals, radius, max_nn)?;
    let tree = KdTree::new(points);
    Ok(fpfh_with_tree(points, normals, &tree, radius, max_nn))
}

/// Multi-scale FPFH: the descriptors for each radius in `radii`, concatenated per
/// point (`33 · radii.len()` values a point), row-major.
pub fn multi_scale_fpfh(
    points: &[[f32; 3]],
    normals: &[[f32; 3]],
    radii: &[f32],
    max_nn: usize,
) -> Result<Vec<f32>> {
    if radii.is_empty() {
        return Err(Error::Invalid("fpfh: at least one radius is needed".into()));
    }
    for &r in radii {
        check(points, normals, r, max_nn)?;
    }
    let tree = KdTree::new(points);
    let per_radius: Vec<Vec<[f32; FPFH_DIM]>> = radii
        .iter()
        .map(|&r| fpfh_with_tree(points, normals, &tree, r, max_nn))
        .collect();
    let dim = FPFH_DIM * radii.len();
    let mut out = Vec::with_capacity(points.len() * dim);
    for i in 0..points.len() {
        for f in &per_radius {
            out.extend_from_slice(&f[i]);
        }
    }
    Ok(out)
}

fn fpfh_with_tree(
    points: &[[f32; 3]],
    normals: &[[f32; 3]],
    tree: &KdTree,
    radius: f32,
    max_nn: usize,
) -> Vec<[f32; FPFH_DIM]> {
    let r2 = (radius as f64) * (radius as f64);
    // Neighbours with exact f64 squared distances, nearest first, self removed.
    // kiddo works in f32, so search a hair wider and decide membership in f64.
    let neighbours: Vec<Vec<(u32, f64)>> = points
        .par_iter()
        .enumerate()
        .map(|(i, &p)| {
            let pw = widen(p);
            let mut nb: Vec<(u32, f64)> = tree
                .within(p, radius * (1.0 + 1e-5))
                .into_iter()
                .map(|(j, _)| {
                    (
                        j as u32,
                        dot(sub(widen(points[j]), pw), sub(widen(points[j]), pw)),
                    )
                })
                .filter(|&(_, d2)| d2 < r2)
                .collect();
            nb.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            // Open3D keeps max_nn results, the point itself among them.
            nb.truncate(max_nn);
            nb.retain(|&(j, _)| j as usize != i);
            if nb.len() == max_nn {
                nb.pop();
            }
            nb
        })
        .collect();
    let spfh: Vec<[f64; FPFH_DIM]> = (0..points.len())
        .into_par_iter()
        .map(|i| spfh_one(points, normals, i, &neighbours[i]))
        .collect();
    (0..points.len())
        .into_par_iter()
        .map(|i| {
            let mut acc = [0.0f64; FPFH_DIM];
            if neighbours[i].is_empty() {
                return [0.0f32; FPFH_DIM];
            }
            for &(j, d2) in &neighbours[i] {
                if d2 == 0.0 {
                    continue;
                }
                for (a, s) in acc.iter_mut().zip(spfh[j as usize].iter()) {
                    *a += s / d2;
                }
            }
            for block in acc.chunks_mut(FPFH_BINS) {
                let s: f64 = block.iter().sum();
                if s != 0.0 {
                    block.iter_mut().for_each(|x| *x *= 100.0 / s);
                }
            }
            let mut out = [0.0f32; FPFH_DIM];
            for k in 0..FPFH_DIM {
                out[k] = (acc[k] + spfh[i][k]) as f32;
            }
            out
        })
        .collect()
}

fn spfh_one(
    points: &[[f32; 3]],
    normals: &[[f32; 3]],
    i: usize,
    nb: &[(u32, f64)],
) -> [f64; FPFH_DIM] {
    let mut h = [0.0f64; FPFH_DIM];
    if nb.is_empty() {
        return h;
    }
    let inc = 100.0 / nb.len() as f64;
    let (p, n) = (widen(points[i]), widen(normals[i]));
    for &(j, _) in nb {
        let j = j as usize;
        let [t, a, f] = pair_feature(p, n, widen(points[j]), widen(normals[j]));
        h[bin(11.0 * (t + PI) / (2.0 * PI))] += inc;
        h[FPFH_BINS + bin(11.0 * (a + 1.0) * 0.5)] += inc;
        h[2 * FPFH_BINS + bin(11.0 * (f + 1.0) * 0.5)] += inc;
    }
    h
}

/// Bin index from a value already scaled to `[0, 11]`, clamped as Open3D does.
fn bin(x: f64) -> usize {
    let b = x.floor();
    if b.is_nan() || b < 0.0 {
        0
    } else {
        (b as usize).min(FPFH_BINS - 1)
    }
}

/// `(θ, α, φ)` of a pair; `(0, 0, 0)` when there is no Darboux frame.
fn pair_feature(p1: D3, n1: D3, p2: D3, n2: D3) -> [f64; 3] {
    let mut d = sub(p2, p1);
    let len = norm(d);
    if len == 0.0 {
        return [0.0; 3];
    }
    let c1 = dot(n1, d) / len;
    let c2 = dot(n2, d) / len;
    // The source is the point whose normal is closer to the line (larger |cos|);
    // Open3D compares the angles, acos(|c1|) > acos(|c2|), i.e. |c1| < |c2|.
    let (u, n, phi) = if c1.abs().acos() > c2.abs().acos() {
        d = [-d[0], -d[1], -d[2]];
        (n2, n1, -c2)
    } else {
        (n1, n2, c1)
    };
    let v = cross(d, u);
    let vl = norm(v);
    if vl == 0.0 {
        return [0.0; 3];
    }
    let v = [v[0] / vl, v[1] / vl, v[2] / vl];
    let w = cross(u, v);
    [dot(w, n).atan2(dot(u, n)), dot(v, n), phi]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_feature_does_not_depend_on_pair_order() {
        let (p1, n1) = ([0.0, 0.0, 0.0], [0.0, 0.0, 1.0]);
        let l = norm([0.2, 0.1, 0.97]);
        let (p2, n2) = ([0.1, 0.05, 0.02], [0.2 / l, 0.1 / l, 0.97 / l]);
        let a = pair_feature(p1, n1, p2, n2);
        let b = pair_feature(p2, n2, p1, n1);
        for k in 0..3 {
            assert!((a[k] - b[k]).abs() < 1e-12, "{a:?} vs {b:?}");
        }
        assert_eq!(pair_feature(p1, n1, p1, n2), [0.0; 3]);
    }

    #[test]
    fn lonely_point_gets_zero_and_blocks_sum_to_200() {
        let pts = [
            [0.0, 0.0, 0.0],
            [0.1, 0.0, 0.01],
            [0.0, 0.1, 0.02],
            [5.0, 5.0, 5.0],
        ];
        let nrm = [[0.0, 0.0, 1.0]; 4];
        let f = fpfh(&pts, &nrm, 0.5, usize::MAX).unwrap();
        assert_eq!(f[3], [0.0; FPFH_DIM]);
        for block in f[0].chunks(FPFH_BINS) {
            let s: f32 = block.iter().sum();
            assert!((s - 200.0).abs() < 1e-3, "block sums to {s}");
        }
        assert!(fpfh(&pts, &nrm[..3], 0.5, 10).is_err());
        assert!(fpfh(&pts, &nrm, 0.0, 10).is_err());
    }
}
