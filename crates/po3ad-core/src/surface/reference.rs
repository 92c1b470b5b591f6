//! The reference surface built from the pooled training clouds: nodes on a voxel grid,
//! each with a quadric patch fitted to the pooled points around it and a noise floor
//! measured by leave-one-out (each training cloud's points against the patch fitted to
//! the others).

use super::patch::Patch;
use crate::geometry::{voxelize, KdTree};
use crate::{Error, Result};
use nalgebra::{Matrix3, Vector3};
use rayon::prelude::*;

/// A pooled training point: position, unit normal, which cloud it came from.
pub(crate) struct Pooled {
    pub points: Vec<[f32; 3]>,
    pub normals: Vec<[f32; 3]>,
    pub source: Vec<u32>,
    pub n_sources: usize,
}

/// One node: its patch and its raw (unregularized) leave-one-out sigma.
pub(crate) struct Node {
    pub patch: Patch,
    pub sigma: f32,
}

fn v3(p: [f32; 3]) -> Vector3<f32> {
    Vector3::new(p[0], p[1], p[2])
}

/// PCA normal of `pts` (smallest-eigenvalue eigenvector of the covariance), signed to
/// agree with `hint`. `None` when degenerate.
fn pca_normal(pts: &[Vector3<f32>], hint: Vector3<f32>) -> Option<(Vector3<f32>, Vector3<f32>)> {
    if pts.len() < 3 {
        return None;
    }
    let c = pts.iter().sum::<Vector3<f32>>() / pts.len() as f32;
    let mut cov = Matrix3::<f32>::zeros();
    for p in pts {
        let d = p - c;
        cov += d * d.transpose();
    }
    let eig = cov.symmetric_eigen();
    let i = eig.eigenvalues.imin();
    let mut n: Vector3<f32> = eig.eigenvectors.column(i).into();
    if !n.iter().all(|x| x.is_finite()) || n.norm() < 1e-6 {
        return None;
    }
    n = n.normalize();
    if n.dot(&hint) < 0.0 {
        n = -n;
    }
    Some((c, n))
}

/// Build the nodes: one per occupied voxel of side `voxel` of the pooled points,
/// patches fitted to the pooled points within `fit_radius` of the node.
pub(crate) fn build_nodes(pool: &Pooled, voxel: f32, fit_radius: f32) -> Result<Vec<Node>> {
    let vox = voxelize(&pool.points, voxel)?;
    let tree = KdTree::new(&pool.points);
    let nodes: Vec<Option<Node>> = vox
        .representative
        .par_iter()
        .map(|&rep| {
            let seed = pool.points[rep as usize];
            let near = tree.within(seed, fit_radius);
            let pts: Vec<Vector3<f32>> = near.iter().map(|&(i, _)| v3(pool.points[i])).collect();
            // The normal hint: the mean of the given normals (outward) nearby.
            let hint: Vector3<f32> = near.iter().map(|&(i, _)| v3(pool.normals[i])).sum();
            let hint = if hint.norm() > 1e-6 {
                hint.normalize()
            } else {
                v3(pool.normals[rep as usize])
            };
            let (centroid, normal) = pca_normal(&pts, hint)?;
            let patch = Patch::fit(centroid, normal, &pts, fit_radius)?;
            let sigma = leave_one_out_sigma(pool, &near, &patch, fit_radius);
            Some(Node { patch, sigma })
        })
        .collect();
    let nodes: Vec<Node> = nodes.into_iter().flatten().collect();
    if nodes.is_empty() {
        return Err(Error::Invalid(
            "surface: no reference patch could be fitted (training clouds too sparse?)".into(),
        ));
    }
    Ok(nodes)
}

/// RMS distance of each training cloud's points near the node to the patch fitted to
/// the other clouds' points (same frame as `patch`). With one cloud only, the RMS
/// residual of the patch itself, scaled up for the 6 fitted parameters. `NaN` when
/// nothing could be measured (the caller fills it from neighbours).
fn leave_one_out_sigma(
    pool: &Pooled,
    near: &[(usize, f32)],
    patch: &Patch,
    fit_radius: f32,
) -> f32 {
    let reach = fit_radius;
    let (mut sum, mut count) = (0.0f64, 0usize);
    if pool.n_sources >= 2 {
        let mut sources: Vec<u32> = near.iter().map(|&(i, _)| pool.source[i]).collect();
        sources.sort_unstable();
        sources.dedup();
        if sources.len() >= 2 {
            for &s in &sources {
                let others: Vec<Vector3<f32>> = near
                    .iter()
                    .filter(|&&(i, _)| pool.source[i] != s)
                    .map(|&(i, _)| v3(pool.points[i]))
                    .collect();
                let Some(fit) = Patch::fit(patch.center, patch.normal, &others, fit_radius) else {
                    continue;
                };
                // Only the inner half of the neighbourhood is judged, where the
                // others' patch is constrained on all sides.
                for &(i, d2) in near {
                    if pool.source[i] == s && d2 <= 0.25 * fit_radius * fit_radius {
                        let r = fit.signed_distance(v3(pool.points[i]), reach);
                        sum += f64::from(r * r);
                        count += 1;
                    }
                }
            }
        }
    }
    if count >= 3 {
        return (sum / count as f64).sqrt() as f32;
    }
    let n = near.len();
    if n <= 6 {
        return f32::NAN;
    }
    let ss: f64 = near
        .iter()
        .map(|&(i, _)| f64::from(patch.signed_distance(v3(pool.points[i]), reach)).powi(2))
        .sum();
    (ss / (n - 6) as f64).sqrt() as f32
}

/// Regularize the raw sigmas: the median over the nodes within `radius` (a single
/// node's estimate rests on a few dozen points), then floored at `floor_rel` × the
/// median over all nodes and at `floor_abs`, so that a region that happens to fit
/// perfectly does not turn every scan's tiny deviation there into a large z-score.
pub(crate) fn regularize_sigma(
    centers: &[[f32; 3]],
    raw: &[f32],
    radius: f32,
    floor_rel: f32,
    floor_abs: f32,
) -> Vec<f32> {
    let tree = KdTree::new(centers);
    let smoothed: Vec<f32> = centers
        .par_iter()
        .map(|&c| {
            let mut v: Vec<f32> = tree
                .within(c, radius)
                .iter()
                .map(|&(i, _)| raw[i])
                .filter(|x| x.is_finite())
                .collect();
            median(&mut v).unwrap_or(f32::NAN)
        })
        .collect();
    let mut all: Vec<f32> = smoothed.iter().copied().filter(|x| x.is_finite()).collect();
    let global = median(&mut all).unwrap_or(floor_abs);
    let floor = (floor_rel * global).max(floor_abs);
    smoothed
        .iter()
        .map(|&s| {
            if s.is_finite() {
                s.max(floor)
            } else {
                global.max(floor)
            }
        })
        .collect()
}

/// The mean of `d` over the neighbours `near` of point `i` whose normal is within the
/// angle of cosine `min_cos` of point `i`'s (all of them for `None`): the surrounding
/// surface of the local z, on the point's own face. 0 when none qualifies.
pub(crate) fn same_face_mean(
    near: &[(usize, f32)],
    i: usize,
    d: &[f32],
    normals: &[Vector3<f32>],
    min_cos: Option<f32>,
) -> f32 {
    let n_i = normals[i];
    let (sum, n) = near
        .iter()
        .filter(|&&(j, _)| min_cos.is_none_or(|c| n_i.dot(&normals[j]) >= c))
        .fold((0.0f32, 0usize), |(s, n), &(j, _)| (s + d[j], n + 1));
    sum / n.max(1) as f32
}

/// Median of finite values (reorders `v`); `None` when empty.
pub(crate) fn median(v: &mut [f32]) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    let mid = v.len() / 2;
    v.select_nth_unstable_by(mid, f32::total_cmp);
    Some(v[mid])
}

/// Raw local noise floor per node: how much a training cloud's own signed distances
/// vary about their mean over `radius` (the band the scorer's local z looks at), RMS
/// over the cloud points whose nearest node it is. `distance` is the fitted reference's
/// signed distance; every `stride`-th point is judged (the means use all points). The
/// clouds were part of the fit, which pulls their residuals in by about (n−1)/n in
/// variance; that is undone. `NaN` where no point was judged.
pub(crate) fn local_sigma(
    pool: &Pooled,
    centers: &[[f32; 3]],
    radius: f32,
    stride: usize,
    distance: &(dyn Fn([f32; 3]) -> (f32, usize) + Sync),
    node_normals: &[[f32; 3]],
    min_cos: Option<f32>,
) -> Vec<f32> {
    let node_tree = KdTree::new(centers);
    let mut sum = vec![0.0f64; centers.len()];
    let mut count = vec![0usize; centers.len()];
    for s in 0..pool.n_sources as u32 {
        let idx: Vec<usize> = (0..pool.points.len())
            .filter(|&i| pool.source[i] == s)
            .collect();
        let pts: Vec<[f32; 3]> = idx.iter().map(|&i| pool.points[i]).collect();
        let measured: Vec<(f32, usize)> = pts.par_iter().map(|&p| distance(p)).collect();
        let d: Vec<f32> = measured.iter().map(|m| m.0).collect();
        let normals: Vec<Vector3<f32>> = measured.iter().map(|m| v3(node_normals[m.1])).collect();
        let tree = KdTree::new(&pts);
        let judged: Vec<(usize, f32)> = (0..pts.len())
            .into_par_iter()
            .step_by(stride.max(1))
            .map(|i| {
                let m = same_face_mean(
                    &tree.within_unsorted(pts[i], radius),
                    i,
                    &d,
                    &normals,
                    min_cos,
                );
                (node_tree.nearest(pts[i]).0, d[i] - m)
            })
            .collect();
        for (node, b) in judged {
            if node < centers.len() {
                sum[node] += f64::from(b * b);
                count[node] += 1;
            }
        }
    }
    let n = pool.n_sources as f64;
    let inflate = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
    sum.iter()
        .zip(&count)
        .map(|(&s, &c)| {
            if c == 0 {
                f32::NAN
            } else {
                (s / c as f64 * inflate).sqrt() as f32
            }
        })
        .collect()
}
