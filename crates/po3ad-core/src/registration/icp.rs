//! Point-to-plane ICP (Chen & Medioni 1992) against a target with normals, and the
//! overlap / residual evaluation used by the quality gate.
//!
//! Each iteration pairs every moved source point with its nearest target point,
//! drops pairs farther than the current distance (it shrinks geometrically from
//! `d_start` to `d_end` over the first half of the iterations, then stays at `d_end`),
//! and solves the linearised problem: minimise Σ ((R p + t − q)·n)² with
//! R ≈ I + [ω]×, i.e. residual r = (p' − q)·n and Jacobian [p' × n, n], through the
//! 6×6 normal equations (Cholesky, with a tiny Levenberg damping so rotations about a
//! symmetry axis, which the data cannot see, stay put instead of blowing up).

use super::rigid::{exp_so3, Rigid, V3};
use crate::geometry::KdTree;
use nalgebra::{Matrix6, Vector3, Vector6};
use rayon::prelude::*;

pub(crate) struct IcpTarget<'a> {
    pub points: &'a [V3],
    pub normals: &'a [V3],
    pub tree: &'a KdTree,
}

/// Run point-to-plane ICP from `init`; returns the refined transform.
pub(crate) fn point_to_plane(
    src: &[V3],
    tgt: &IcpTarget,
    init: Rigid,
    iterations: usize,
    d_start: f32,
    d_end: f32,
) -> Rigid {
    point_to_plane_weighted(
        src,
        PairRule::All,
        tgt,
        init,
        iterations,
        d_start,
        d_end,
        false,
    )
}

/// Which nearest-point pairs an ICP iteration uses (besides the distance cut).
#[derive(Debug, Clone, Copy)]
pub(crate) enum PairRule<'a> {
    /// Every pair.
    All,
    /// Pairs whose normals agree: the source's own normals (one per source point, one
    /// consistent sign of unknown side), see [`point_to_plane_weighted`].
    ScanNormals(&'a [V3]),
    /// Pairs whose *target* normal faces the view: a one-sided scan shows surfaces
    /// facing its scanner, so the outward normals of the template points it pairs
    /// with lie in one hemisphere around their mean; a pair whose target normal points
    /// more than [`VIEW_MAX_ANGLE`] away from that mean joins the scan to a face it
    /// cannot have seen (the far side of a thin wall). Needs no sign from the scan.
    /// Applied only when the pairs' mean normal is at least [`VIEW_MIN_MEAN`] long
    /// (a whole-part scan's normals cancel out).
    FacingView,
}

/// Least length of the pairs' mean target normal for [`PairRule::FacingView`] to
/// apply: normals spread uniformly over a hemisphere average to 0.5, over a closed
/// surface to 0.
const VIEW_MIN_MEAN: f64 = 0.25;
/// Cosine of the largest angle between a pair's target normal and the pairs' mean
/// normal under [`PairRule::FacingView`]: 120°, so surfaces seen at a grazing angle
/// (the mean is not the scanner's direction) stay, and a face turned away goes.
const VIEW_MAX_ANGLE: f64 = -0.5;

/// Least cosine between a source normal (moved, sign settled) and its pair's target
/// normal for the pair to be used: 60°.
const NORMAL_AGREE: f32 = 0.5;

/// One pair's linearised term: Jacobian row, plane residual, the normals' agreement
/// (with [`PairRule::ScanNormals`]), the target point's index.
type PairTerm = (Vector6<f64>, f64, f32, usize);

/// Tukey biweight tuning constant (95 % efficiency under Gaussian residuals).
const TUKEY_C: f64 = 4.685;
/// 1 / Φ⁻¹(3/4): the MAD of a Gaussian sample times this is its standard deviation.
const MAD_TO_SIGMA: f64 = 1.4826;

/// As [`point_to_plane`]; with `robust`, every pair is weighted by Tukey's biweight
/// of its plane residual, `w = (1 − (r/c)²)²` for `|r| < c`, 0 beyond, with
/// `c = 4.685 σ̂` and `σ̂` the residuals' MAD scale (never below `d_end / 20`, so a
/// perfect fit does not reject everything). A defect (a bulge, a dent: residuals of
/// several σ̂ over a small part of the scan) then stops pulling the pose, where
/// squared residuals would let it tilt the whole scan towards it.
///
/// With `src_normals` (one per source point, one consistent sign of unknown side), a
/// pair counts only when the moved source normal, times the sign that agrees with most
/// of the first iteration's pairs, is within 60° of the target normal
/// ([`NORMAL_AGREE`]): the far face of a thin wall (a plate, a vase) lies within the
/// early correspondence distances of the near one, and nearest-point pairs with both
/// faces pull a one-sided view into the wall, tilted.
#[allow(clippy::too_many_arguments)]
pub(crate) fn point_to_plane_weighted(
    src: &[V3],
    rule: PairRule,
    tgt: &IcpTarget,
    init: Rigid,
    iterations: usize,
    d_start: f32,
    d_end: f32,
    robust: bool,
) -> Rigid {
    let mut cur = init;
    let half = (iterations / 2).max(1);
    let src_normals = match rule {
        PairRule::ScanNormals(n) if n.len() == src.len() => Some(n),
        _ => None,
    };
    let facing_view = matches!(rule, PairRule::FacingView);
    // The sign that makes the source normals agree with the target's (a scan's own
    // normals have no known outward side), settled on the first iteration's pairs.
    let mut sign: Option<f32> = None;
    for it in 0..iterations {
        let frac = (it as f32 / half as f32).min(1.0);
        let d = d_start * (d_end / d_start).powf(frac);
        let d2 = d * d;
        let rot = cur.rotation_array();
        // Per-point terms in parallel, summed in order (deterministic).
        let terms: Vec<Option<PairTerm>> = src
            .par_iter()
            .enumerate()
            .map(|(i, &p)| {
                let q = cur.apply(p);
                let (j, dd) = tgt.tree.nearest(q);
                if j == usize::MAX || dd > d2 {
                    return None;
                }
                let agree = src_normals.map_or(1.0, |ns| {
                    let m = ns[i];
                    let moved: V3 = std::array::from_fn(|a| {
                        rot[a][0] * m[0] + rot[a][1] * m[1] + rot[a][2] * m[2]
                    });
                    super::rigid::dot(moved, tgt.normals[j])
                });
                let n = super::rigid::widen(tgt.normals[j]);
                let pq = Vector3::new(q[0] as f64, q[1] as f64, q[2] as f64);
                let r = (pq - super::rigid::widen(tgt.points[j])).dot(&n);
                let c = pq.cross(&n);
                Some((
                    Vector6::new(c[0], c[1], c[2], n[0], n[1], n[2]),
                    r,
                    agree,
                    j,
                ))
            })
            .collect();
        // Normal compatibility: a pair whose normals disagree joins a point to the
        // wrong face (the far side of a thin wall, the next tooth) and is dropped.
        let s = match (src_normals, sign) {
            (None, _) => 0.0,
            (Some(_), Some(s)) => s,
            (Some(_), None) => {
                let sum: f64 = terms.iter().flatten().map(|t| t.2 as f64).sum();
                let s = if sum < 0.0 { -1.0 } else { 1.0 };
                sign = Some(s);
                s
            }
        };
        // The view: the pairs' mean target normal (see `PairRule::FacingView`).
        let view = facing_view
            .then(|| {
                let (sum, count) = terms
                    .iter()
                    .flatten()
                    .fold((Vector3::<f64>::zeros(), 0usize), |(s, c), t| {
                        (s + super::rigid::widen(tgt.normals[t.3]), c + 1)
                    });
                let mean = sum / count.max(1) as f64;
                (mean.norm() >= VIEW_MIN_MEAN).then(|| mean.normalize())
            })
            .flatten();
        let terms: Vec<(Vector6<f64>, f64)> = terms
            .into_iter()
            .flatten()
            .filter(|t| src_normals.is_none() || s * t.2 >= NORMAL_AGREE)
            .filter(|t| {
                view.is_none_or(|v| super::rigid::widen(tgt.normals[t.3]).dot(&v) >= VIEW_MAX_ANGLE)
            })
            .map(|(j, r, _, _)| (j, r))
            .collect();
        let c = if robust {
            let mut abs: Vec<f64> = terms.iter().map(|(_, r)| r.abs()).collect();
            let mid = abs.len() / 2;
            let med = if abs.is_empty() {
                0.0
            } else {
                *abs.select_nth_unstable_by(mid, f64::total_cmp).1
            };
            (TUKEY_C * MAD_TO_SIGMA * med).max(d_end as f64 / 20.0)
        } else {
            f64::INFINITY
        };
        let mut a = Matrix6::<f64>::zeros();
        let mut b = Vector6::<f64>::zeros();
        let mut count = 0usize;
        for (j, r) in terms {
            let w = if robust {
                let u = r / c;
                if u.abs() >= 1.0 {
                    continue;
                }
                (1.0 - u * u) * (1.0 - u * u)
            } else {
                1.0
            };
            a += w * (j * j.transpose());
            b += w * (j * r);
            count += 1;
        }
        if count < 6 {
            break;
        }
        let damping = 1e-9 * a.trace().max(1e-12);
        for k in 0..6 {
            a[(k, k)] += damping;
        }
        let Some(chol) = a.cholesky() else { break };
        let x = chol.solve(&(-b));
        if !x.iter().all(|v| v.is_finite()) {
            break;
        }
        let w = Vector3::new(x[0], x[1], x[2]);
        let step = Rigid {
            r: exp_so3(&w),
            t: Vector3::new(x[3], x[4], x[5]),
        };
        cur = step.after(&cur).orthonormalized();
        if w.norm() < 1e-7 && Vector3::new(x[3], x[4], x[5]).norm() < 1e-7 && frac >= 1.0 {
            break;
        }
    }
    cur
}

/// Overlap and residual of `src` moved by `t`: the fraction of points whose nearest
/// target point lies within `max_dist`, and the RMS *point-to-plane* distance
/// (|(p − q)·n_q|, to the tangent plane of that nearest point) over those points, 0
/// when there are none. The plane distance measures how far the scan is from the
/// template *surface*, without the spacing of the template's samples (a sparser
/// template does not inflate it). The RMS is trimmed: the largest
/// [`RMSE_TRIM`] of the residuals are left out, so that a defect (a bulge, a broken-off
/// corner: a small part of the scan, by definition) does not fail the quality gate of
/// a correct registration, while a wrong pose, which moves most points, still does.
pub(crate) fn evaluate(src: &[V3], tgt: &IcpTarget, t: &Rigid, max_dist: f32) -> (f32, f32) {
    let moved: Vec<V3> = src.iter().map(|&p| t.apply(p)).collect();
    evaluate_matched(&moved, &nearest_all(&moved, tgt), tgt, max_dist)
}

/// The nearest target point of each (already moved) point, with its squared distance
/// (`usize::MAX` when the target is empty): computed once, read by [`evaluate_matched`]
/// and by the coverage measure.
pub(crate) fn nearest_all(moved: &[V3], tgt: &IcpTarget) -> Vec<(usize, f32)> {
    moved.par_iter().map(|&q| tgt.tree.nearest(q)).collect()
}

/// [`evaluate`] of points already moved, with their nearest target points.
pub(crate) fn evaluate_matched(
    moved: &[V3],
    matches: &[(usize, f32)],
    tgt: &IcpTarget,
    max_dist: f32,
) -> (f32, f32) {
    if moved.is_empty() {
        return (0.0, 0.0);
    }
    let lim = max_dist * max_dist;
    let mut residuals: Vec<f64> = moved
        .iter()
        .zip(matches)
        .filter(|&(_, &(j, d2))| j != usize::MAX && d2 <= lim)
        .map(|(&q, &(j, _))| {
            let e = super::rigid::sub(q, tgt.points[j]);
            let r = super::rigid::dot(e, tgt.normals[j]) as f64;
            r * r
        })
        .collect();
    let fitness = residuals.len() as f32 / moved.len() as f32;
    residuals.sort_by(f64::total_cmp);
    let keep = ((residuals.len() as f64 * (1.0 - RMSE_TRIM)).ceil() as usize).min(residuals.len());
    let rmse = if keep > 0 {
        (residuals[..keep].iter().sum::<f64>() / keep as f64).sqrt() as f32
    } else {
        0.0
    };
    (fitness, rmse)
}

/// Fraction of the largest residuals [`evaluate`] leaves out of the RMS.
pub(crate) const RMSE_TRIM: f64 = 0.1;

#[cfg(test)]
mod tests {
    use super::*;

    /// A plate 0.1 thick (top face z = 0 facing +z, bottom face z = −0.1 facing −z),
    /// sampled every 0.01, and a one-sided view of its top face every 0.03 whose
    /// normals carry the opposite sign (a scan's sign is arbitrary), started tilted so
    /// that a quarter of it lies nearer the bottom face.
    fn plate_and_view() -> (Vec<V3>, Vec<V3>, Vec<V3>, Vec<V3>, Rigid) {
        let (mut pts, mut nrm) = (Vec::new(), Vec::new());
        for i in 0..=100 {
            for j in 0..=100 {
                let (x, y) = (i as f32 * 0.01 - 0.5, j as f32 * 0.01 - 0.5);
                pts.push([x, y, 0.0]);
                nrm.push([0.0, 0.0, 1.0]);
                pts.push([x, y, -0.1]);
                nrm.push([0.0, 0.0, -1.0]);
            }
        }
        let (mut src, mut src_n) = (Vec::new(), Vec::new());
        for i in 0..=33 {
            for j in 0..=33 {
                src.push([i as f32 * 0.03 - 0.495, j as f32 * 0.03 - 0.495, 0.0]);
                src_n.push([0.0, 0.0, -1.0]);
            }
        }
        // z(x) = −0.03 + 0.08 x after the tilt: x = −0.5 sits at −0.07, nearer the
        // bottom face; x = 0.5 at +0.01.
        let r = super::super::rigid::exp_so3(&Vector3::new(0.0, -0.08f64.atan(), 0.0));
        let init = Rigid {
            r,
            t: Vector3::new(0.0, 0.0, -0.03),
        };
        (pts, nrm, src, src_n, init)
    }

    /// Mean |z| and largest |z| of the view once moved by `t` (0 on the top face).
    fn off_top(src: &[V3], t: &Rigid) -> (f32, f32) {
        let z: Vec<f32> = src.iter().map(|&p| t.apply(p)[2].abs()).collect();
        let mean = z.iter().sum::<f32>() / z.len() as f32;
        (mean, z.iter().cloned().fold(0.0, f32::max))
    }

    #[test]
    fn the_pair_checks_keep_a_view_of_a_thin_plate_off_its_far_face() {
        let (pts, nrm, src, src_n, init) = plate_and_view();
        let tree = KdTree::new(&pts);
        let tgt = IcpTarget {
            points: &pts,
            normals: &nrm,
            tree: &tree,
        };
        let run = |rule| point_to_plane_weighted(&src, rule, &tgt, init, 30, 0.12, 0.04, false);
        let with = run(PairRule::ScanNormals(&src_n));
        let view = run(PairRule::FacingView);
        let without = run(PairRule::All);
        let (mean_view, max_view) = off_top(&src, &view);
        assert!(
            max_view < 1e-3,
            "facing the view: mean {mean_view}, max {max_view}"
        );
        let (mean_with, max_with) = off_top(&src, &with);
        let (mean_without, max_without) = off_top(&src, &without);
        assert!(
            max_with < 1e-3,
            "with the check: mean {mean_with}, max {max_with}"
        );
        assert!(
            max_without > 0.01,
            "without the check the far face should pull: mean {mean_without}, max {max_without}"
        );
    }
}
