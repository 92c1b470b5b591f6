//! Global registration onto a *turned* template (a vase, a cup, a ring: symmetric about
//! an axis), where plain RANSAC fails.
//!
//! A feature match on a turned part is right only up to a turn about the axis: the
//! FPFH of a point on the vase's inner wall is the same all round, so its nearest
//! template feature lies at any azimuth. Looking down into the dev Vase, a tenth of
//! the matches had the right height and radius but only 3–10 of 2000 the right
//! azimuth too, so no 3-match sample was consistent and RANSAC found only poses
//! upside down (notes/registration.md, session 18).
//!
//! Here each match's target point is free to turn about the axis. A sample fixes the
//! first match as drawn (any azimuth is as good as another: the turns are symmetries),
//! turns the second's target point to the azimuth where its distance to the first
//! equals the scan's (two mirror solutions: one drawn), and the third's where both
//! distances agree. A hypothesis is scored by the matches it brings to the right
//! height and radius, whatever their azimuth.
//!
//! The axis is found on the template once ([`find_axis`]): a principal axis through
//! the centroid about which turns by several unrelated angles each put the template
//! back on itself.

use super::global::{Hypothesis, RansacParams};
use super::icp::{self, IcpTarget};
use super::rigid::{
    cross, dot, exp_so3, kabsch, norm, perpendicular_pair, principal_frame, widen, Rigid, V3,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Turns (degrees) that must each put the template back on itself: unrelated to each
/// other and to small gear-tooth or bolt-circle pitches.
const TEST_TURNS: [f64; 4] = [29.0, 67.0, 113.0, 180.0];
/// Overlap each test turn must reach (within the correspondence distance).
const AXIS_FITNESS: f32 = 0.9;
/// Template points the test turns are measured on.
const AXIS_POINTS: usize = 600;
/// Draws allowed to find a compatible 2nd (and 3rd) match per sample.
const GUIDED_TRIES: usize = 24;
/// cos 60°: largest accepted angle between a fitted source normal and its target's.
const NORMAL_COS: f32 = 0.5;

/// An axis: a point on it and a unit direction, with two unit vectors across it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Axis {
    c: V3,
    w: V3,
    u: V3,
    v: V3,
}

impl Axis {
    fn new(c: V3, w: V3) -> Self {
        let (u, v) = perpendicular_pair(w);
        Self { c, w, u, v }
    }

    /// Radius and height of `p`, and the unit vector from the axis towards it (any,
    /// on the axis itself).
    fn radial(&self, p: V3) -> (f32, f32, V3) {
        let d = [p[0] - self.c[0], p[1] - self.c[1], p[2] - self.c[2]];
        let z = dot(d, self.w);
        let q = [
            d[0] - z * self.w[0],
            d[1] - z * self.w[1],
            d[2] - z * self.w[2],
        ];
        let r = norm(q);
        let e = if r > 1e-9 {
            [q[0] / r, q[1] / r, q[2] / r]
        } else {
            self.u
        };
        (r, z, e)
    }

    /// A normal given by its radial, tangential and axial parts, at the azimuth of the
    /// unit radial vector `e`.
    fn normal_at(&self, parts: V3, e: V3) -> V3 {
        let t = cross(self.w, e);
        std::array::from_fn(|a| parts[0] * e[a] + parts[1] * t[a] + parts[2] * self.w[a])
    }

    /// Radius, azimuth and height of `p`.
    fn cyl(&self, p: V3) -> (f32, f32, f32) {
        let d = [p[0] - self.c[0], p[1] - self.c[1], p[2] - self.c[2]];
        let (x, y) = (dot(d, self.u), dot(d, self.v));
        ((x * x + y * y).sqrt(), y.atan2(x), dot(d, self.w))
    }

    /// The unit vector from the axis at azimuth `phi`.
    fn across(&self, phi: f32) -> V3 {
        let (s, co) = phi.sin_cos();
        std::array::from_fn(|a| co * self.u[a] + s * self.v[a])
    }

    /// The point at radius `r` along the unit radial vector `e`, height `z`.
    fn at(&self, r: f32, e: V3, z: f32) -> V3 {
        std::array::from_fn(|a| self.c[a] + r * e[a] + z * self.w[a])
    }

    fn point(&self, r: f32, phi: f32, z: f32) -> V3 {
        self.at(r, self.across(phi), z)
    }
}

/// The template's axis of turning symmetry, if it has one (see the module docs).
pub(crate) fn find_axis(tgt: &IcpTarget, dist: f32) -> Option<Axis> {
    let pts = tgt.points;
    if pts.len() < 3 {
        return None;
    }
    let (c, axes) = principal_frame(pts);
    let probe = super::stride(pts, AXIS_POINTS);
    (0..3)
        .map(|k| axes.column(k).into_owned().normalize())
        .map(|w| {
            let worst = TEST_TURNS
                .iter()
                .map(|deg| {
                    let r = exp_so3(&(w * deg.to_radians()));
                    let t = Rigid { r, t: c - r * c };
                    icp::evaluate(&probe, tgt, &t, dist).0
                })
                .fold(f32::INFINITY, f32::min);
            (worst, w)
        })
        .filter(|(worst, _)| *worst >= AXIS_FITNESS)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, w)| {
            Axis::new(
                [c[0] as f32, c[1] as f32, c[2] as f32],
                [w[0] as f32, w[1] as f32, w[2] as f32],
            )
        })
}

/// RANSAC over `corrs` (scan index, template index) with each template point free to
/// turn about `axis`. Up to `p.keep` distinct hypotheses, best first, each refitted on
/// its inliers (their template points turned to where the hypothesis puts the scan).
pub(crate) fn ransac(
    src: &[V3],
    src_n: &[V3],
    tgt: &[V3],
    tgt_n: &[V3],
    corrs: &[(u32, u32)],
    axis: &Axis,
    p: &RansacParams,
) -> Vec<Hypothesis> {
    if corrs.len() < 3 || p.keep == 0 {
        return Vec::new();
    }
    let s: Vec<V3> = corrs.iter().map(|c| src[c.0 as usize]).collect();
    let sn: Vec<V3> = corrs.iter().map(|c| src_n[c.0 as usize]).collect();
    let t: Vec<(f32, f32, f32)> = corrs.iter().map(|c| axis.cyl(tgt[c.1 as usize])).collect();
    let tn: Vec<V3> = corrs
        .iter()
        .map(|c| {
            let (_, _, e) = axis.radial(tgt[c.1 as usize]);
            let n = tgt_n[c.1 as usize];
            [dot(n, e), dot(n, cross(axis.w, e)), dot(n, axis.w)]
        })
        .collect();
    let m = Matches {
        s,
        sn,
        t,
        tn,
        axis: *axis,
    };
    let top = super::global::run_chunks(p, |rng| m.sample(p, rng));
    let tau2 = p.inlier_distance * p.inlier_distance;
    let mut refined: Vec<Hypothesis> = top
        .into_iter()
        .map(|h| {
            let pairs: Vec<(V3, V3)> = (0..m.s.len())
                .filter_map(|k| m.turned_inlier(&h.t, k, tau2))
                .collect();
            super::global::refit(h, &pairs, |t| m.count(t, tau2))
        })
        .collect();
    refined.sort_by_key(|h| std::cmp::Reverse(h.inliers));
    refined
}

/// The matches: scan points and normals, template points in cylinder coordinates and
/// template normals as radial, tangential and axial parts (both kept as they turn).
struct Matches {
    s: Vec<V3>,
    sn: Vec<V3>,
    t: Vec<(f32, f32, f32)>,
    tn: Vec<V3>,
    axis: Axis,
}

impl Matches {
    /// Azimuths of template point `k` turned so that its distance to `fixed` is
    /// `d2.sqrt()` (none, one or two).
    fn azimuths(&self, k: usize, fixed: V3, d2: f32) -> [Option<f32>; 2] {
        let (r, _, z) = self.t[k];
        let (rf, phif, zf) = self.axis.cyl(fixed);
        let dz = z - zf;
        let denom = 2.0 * r * rf;
        if denom <= 1e-9 {
            return [None, None];
        }
        let cos = (r * r + rf * rf + dz * dz - d2) / denom;
        if cos.abs() > 1.0 {
            return [None, None];
        }
        let a = cos.acos();
        [Some(phif + a), Some(phif - a)]
    }

    fn sample(&self, p: &RansacParams, rng: &mut ChaCha8Rng) -> Option<Hypothesis> {
        let n = self.s.len();
        let min_edge2 = p.min_edge * p.min_edge;
        let similar2 = p.edge_similarity * p.edge_similarity;
        let d2 = |a: V3, b: V3| {
            let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
            dot(d, d)
        };
        let a = rng.random_range(0..n);
        let (ra, phia, za) = self.t[a];
        let ta = self.axis.point(ra, phia, za);
        // The second match: its template point turned to the scan's distance from the
        // first (one of the two mirror solutions, drawn).
        let (b, phib) = (0..GUIDED_TRIES).find_map(|_| {
            let k = rng.random_range(0..n);
            let ds = d2(self.s[a], self.s[k]);
            if k == a || ds < min_edge2 {
                return None;
            }
            let sols = self.azimuths(k, ta, ds);
            let pick = sols[rng.random_range(0..2)];
            pick.map(|phi| (k, phi))
        })?;
        let (rb, _, zb) = self.t[b];
        let tb = self.axis.point(rb, phib, zb);
        // The third: turned to the scan's distance from the first, and then checked
        // against its distance from the second.
        let (c, tc, phic) = (0..GUIDED_TRIES).find_map(|_| {
            let k = rng.random_range(0..n);
            if k == a || k == b {
                return None;
            }
            let ds_a = d2(self.s[a], self.s[k]);
            let ds_b = d2(self.s[b], self.s[k]);
            if ds_a < min_edge2 || ds_b < min_edge2 {
                return None;
            }
            let (rc, _, zc) = self.t[k];
            self.azimuths(k, ta, ds_a)
                .into_iter()
                .flatten()
                .find_map(|phi| {
                    let tc = self.axis.point(rc, phi, zc);
                    let dt = d2(tb, tc);
                    (ds_b.min(dt) >= similar2 * ds_b.max(dt)).then_some((k, tc, phi))
                })
        })?;
        let fit = kabsch(
            [(self.s[a], ta), (self.s[b], tb), (self.s[c], tc)]
                .iter()
                .copied(),
        )?;
        for (k, phi) in [(a, phia), (b, phib), (c, phic)] {
            let v = fit.r * widen(self.sn[k]);
            let rn = [v[0] as f32, v[1] as f32, v[2] as f32];
            let target_n = self.axis.normal_at(self.tn[k], self.axis.across(phi));
            if dot(rn, target_n).abs() < NORMAL_COS {
                return None;
            }
        }
        let tau2 = p.inlier_distance * p.inlier_distance;
        Some(Hypothesis {
            t: fit,
            inliers: self.count(&fit, tau2),
        })
    }

    /// Matches that `t` brings within `sqrt(tau2)` of their template point's circle,
    /// with the scan normal within 60° of the template's turned there (signed: each
    /// sign of the scan's normals is tried as a side of its own). Height and radius
    /// alone are two numbers a wrong pose can match for many matches at once.
    fn count(&self, t: &Rigid, tau2: f32) -> usize {
        (0..self.s.len())
            .filter(|&k| self.inlier(t, k, tau2))
            .count()
    }

    fn inlier(&self, t: &Rigid, k: usize, tau2: f32) -> bool {
        self.inlier_across(t, k, tau2).is_some()
    }

    /// For an inlier, the unit radial vector at the azimuth `t` puts scan point `k`.
    fn inlier_across(&self, t: &Rigid, k: usize, tau2: f32) -> Option<V3> {
        let (r, z, e) = self.axis.radial(t.apply(self.s[k]));
        let (rt, _, zt) = self.t[k];
        if (r - rt) * (r - rt) + (z - zt) * (z - zt) >= tau2 {
            return None;
        }
        let n = self.axis.normal_at(self.tn[k], e);
        let m = t.r * widen(self.sn[k]);
        (dot([m[0] as f32, m[1] as f32, m[2] as f32], n) > NORMAL_COS).then_some(e)
    }

    /// Match `k` as a (scan, template) pair with the template point turned to where
    /// `t` puts the scan point, if it is an inlier.
    fn turned_inlier(&self, t: &Rigid, k: usize, tau2: f32) -> Option<(V3, V3)> {
        let e = self.inlier_across(t, k, tau2)?;
        let (rt, _, zt) = self.t[k];
        Some((self.s[k], self.axis.at(rt, e, zt)))
    }
}
