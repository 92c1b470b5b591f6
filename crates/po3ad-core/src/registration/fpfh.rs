//! Fast Point Feature Histograms (Rusu, Blodow & Beetz 2009, "Fast Point Feature
//! Histograms (FPFH) for 3D registration", ICRA), 33 bins, written from the paper.
//!
//! For a point pair the *source* is the point whose normal is more aligned with the
//! line joining them (this makes the triple independent of pair order). With `u` the
//! source normal, `d` the unit vector source → target, `v = d × u / |d × u|`,
//! `w = u × v` and `n` the target normal, the pair gives three angles:
//! `α = v·n`, `φ = u·d`, `θ = atan2(w·n, u·n)`. Each is histogrammed into 11 bins.
//!
//! SPFH(p): the three 11-bin histograms of p paired with every neighbour within the
//! radius, each normalised to sum 100. FPFH(p) = SPFH(p) + normalised Σₖ SPFH(pₖ)/dₖ
//! (the paper's distance weighting; the weighted sum is renormalised to 100 per
//! angle so features do not depend on the neighbour count).
//!
//! Features depend on the sign of the normals: callers orient them consistently (see
//! `registration::mod`).

use super::rigid::{cross, dot, norm, sub, V3};
use crate::geometry::KdTree;
use rayon::prelude::*;

pub(crate) const BINS: usize = 11;
pub(crate) const DIM: usize = 3 * BINS;
pub(crate) type Feature = [f32; DIM];

/// Fewer neighbours than this within the radius: the feature is unreliable and the
/// point is not used for matching.
pub(crate) const MIN_NEIGHBOURS: usize = 5;

/// Every point's neighbours within a radius, itself left out, as `(index, distance)` in
/// the k-d tree's order: what FPFH sums over, also read by the closed-scan test
/// (`super::closed`), which looks at the same radius.
pub(crate) type Neighbourhoods = Vec<Vec<(u32, f32)>>;

/// [`Neighbourhoods`] of `points` (`tree` built over them) within `radius`.
pub(crate) fn neighbourhoods(points: &[V3], tree: &KdTree, radius: f32) -> Neighbourhoods {
    points
        .par_iter()
        .enumerate()
        .map(|(i, &p)| {
            tree.within_unsorted(p, radius)
                .into_iter()
                .filter(|&(j, _)| j != i)
                .map(|(j, d2)| (j as u32, d2.sqrt()))
                .collect()
        })
        .collect()
}

/// FPFH of every point (`at: None`) or of the listed points only (`Some`: the others'
/// features are left zero), and whether each point had enough neighbours to be
/// trusted. `neighbours` are the points' [`neighbourhoods`] within `radius`; `normals`
/// are unit vectors. A scan's features are matched at a few thousand keypoints only:
/// their FPFH needs the SPFH of every neighbour, but the weighted sum is then made for
/// the keypoints alone.
pub(crate) fn fpfh(
    points: &[V3],
    normals: &[V3],
    neighbours: &[Vec<(u32, f32)>],
    radius: f32,
    at: Option<&[u32]>,
) -> (Vec<Feature>, Vec<bool>) {
    let spfh = spfh_all(points, normals, neighbours);
    let min_w = radius * 1e-2;
    let one = |i: usize| {
        let mut acc = [0.0f32; DIM];
        for &(j, d) in &neighbours[i] {
            let w = 1.0 / d.max(min_w);
            for (a, s) in acc.iter_mut().zip(spfh[j as usize].iter()) {
                *a += w * s;
            }
        }
        normalise_blocks(&mut acc);
        for (a, s) in acc.iter_mut().zip(spfh[i].iter()) {
            *a += s;
        }
        acc
    };
    let features: Vec<Feature> = match at {
        None => (0..points.len()).into_par_iter().map(one).collect(),
        Some(list) => {
            let computed: Vec<Feature> = list.par_iter().map(|&i| one(i as usize)).collect();
            let mut all = vec![[0.0f32; DIM]; points.len()];
            for (&i, f) in list.iter().zip(computed) {
                all[i as usize] = f;
            }
            all
        }
    };
    let valid = neighbours
        .iter()
        .map(|nb| nb.len() >= MIN_NEIGHBOURS)
        .collect();
    (features, valid)
}

/// The features the same points would get with every normal negated, without a second
/// pass: negating both normals of a pair keeps its source point (the one whose normal
/// is closer to the joining line, by |cos|) and maps (θ, α, φ) to (−θ, α, −φ), and
/// the θ and φ bins are symmetric about 0, so each θ and φ histogram is reversed.
/// (A value exactly on a bin edge may land one bin over; measure zero.)
pub(crate) fn flip_normals_sign(features: &[Feature]) -> Vec<Feature> {
    features
        .iter()
        .map(|f| {
            let mut g = *f;
            g[..BINS].reverse();
            g[2 * BINS..].reverse();
            g
        })
        .collect()
}

/// SPFH of every point from its neighbour list (symmetric: `j` lists `i` when `i`
/// lists `j`, as a radius query's lists are). A pair gives the same triple whichever
/// point comes first ([`pair_feature`] picks its source by the normals, not by the
/// order), so each pair is computed once and counted for both points, which halves
/// the work. Points are split into fixed chunks, each counting into its own table;
/// the integer counts are summed, so the result does not depend on the split.
fn spfh_all(points: &[V3], normals: &[V3], neighbours: &[Vec<(u32, f32)>]) -> Vec<Feature> {
    let n = points.len();
    let per = n.div_ceil(SPFH_CHUNKS).max(1);
    let tables: Vec<Vec<[u32; DIM]>> = (0..SPFH_CHUNKS)
        .into_par_iter()
        .map(|c| {
            let mut table = vec![[0u32; DIM]; n];
            for i in (c * per)..((c + 1) * per).min(n) {
                for &(j, _) in &neighbours[i] {
                    let j = j as usize;
                    if j <= i {
                        continue;
                    }
                    if let Some(f) = pair_feature(points[i], normals[i], points[j], normals[j]) {
                        for k in bins(f) {
                            table[i][k] += 1;
                            table[j][k] += 1;
                        }
                    }
                }
            }
            table
        })
        .collect();
    (0..n)
        .into_par_iter()
        .map(|i| {
            let mut h = [0.0f32; DIM];
            for t in &tables {
                for (a, &c) in h.iter_mut().zip(t[i].iter()) {
                    *a += c as f32;
                }
            }
            normalise_blocks(&mut h);
            h
        })
        .collect()
}

/// Chunks of points whose pairs are counted in parallel ([`spfh_all`]); a few per
/// thread of a small machine, each with a count table over all points.
const SPFH_CHUNKS: usize = 4;

/// The three histogram slots a pair's `(θ, α, φ)` falls into.
fn bins([t, a, f]: [f32; 3]) -> [usize; 3] {
    [
        bin(t, -std::f32::consts::PI, std::f32::consts::PI),
        BINS + bin(a, -1.0, 1.0),
        2 * BINS + bin(f, -1.0, 1.0),
    ]
}

fn bin(x: f32, lo: f32, hi: f32) -> usize {
    let b = ((x - lo) / (hi - lo) * BINS as f32).floor();
    if b.is_finite() {
        (b.max(0.0) as usize).min(BINS - 1)
    } else {
        0
    }
}

/// Scale each 11-bin block to sum 100 (blocks that are all zero stay zero).
fn normalise_blocks(h: &mut Feature) {
    for block in h.chunks_mut(BINS) {
        let s: f32 = block.iter().sum();
        if s > 0.0 {
            let k = 100.0 / s;
            block.iter_mut().for_each(|x| *x *= k);
        }
    }
}

/// `(θ, α, φ)` for the pair, or `None` when the points coincide or the normal is
/// parallel to the joining line (no Darboux frame).
fn pair_feature(p1: V3, n1: V3, p2: V3, n2: V3) -> Option<[f32; 3]> {
    let d = sub(p2, p1);
    let len = norm(d);
    if len <= 0.0 {
        return None;
    }
    let d = [d[0] / len, d[1] / len, d[2] / len];
    let (c1, c2) = (dot(n1, d), dot(n2, d));
    // Source = the point whose normal is closer to the line (larger |cos|).
    let (u, n, d, phi) = if c1.abs() >= c2.abs() {
        (n1, n2, d, c1)
    } else {
        (n2, n1, [-d[0], -d[1], -d[2]], -c2)
    };
    let v = cross(d, u);
    let vl = norm(v);
    if vl <= 1e-12 {
        return None;
    }
    let v = [v[0] / vl, v[1] / vl, v[2] / vl];
    let w = cross(u, v);
    let alpha = dot(v, n);
    let theta = dot(w, n).atan2(dot(u, n));
    Some([theta, alpha, phi])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A height field `z = h(x, y)` on a `(2·half + 1)²` grid of spacing `step`, with
    /// its exact unit normals from the gradient `grad(x, y) = (∂h/∂x, ∂h/∂y)`.
    fn height_field(
        half: i32,
        step: (f32, f32),
        h: impl Fn(f32, f32) -> f32,
        grad: impl Fn(f32, f32) -> [f32; 2],
    ) -> (Vec<V3>, Vec<V3>) {
        let mut pts = Vec::new();
        let mut nrm = Vec::new();
        for i in -half..=half {
            for j in -half..=half {
                let (x, y) = (i as f32 * step.0, j as f32 * step.1);
                pts.push([x, y, h(x, y)]);
                let [gx, gy] = grad(x, y);
                let n = [-gx, -gy, 1.0];
                let l = norm(n);
                nrm.push([n[0] / l, n[1] / l, n[2] / l]);
            }
        }
        (pts, nrm)
    }

    #[test]
    fn pair_feature_is_symmetric_in_pair_order() {
        let (p1, n1) = ([0.0, 0.0, 0.0], [0.0, 0.0, 1.0]);
        let (p2, n2) = ([0.1, 0.05, 0.02], [0.2, 0.1, 0.97]);
        let a = pair_feature(p1, n1, p2, n2).unwrap();
        let b = pair_feature(p2, n2, p1, n1).unwrap();
        for k in 0..3 {
            assert!((a[k] - b[k]).abs() < 1e-6, "{a:?} vs {b:?}");
        }
        assert!(pair_feature(p1, n1, p1, n2).is_none());
    }

    #[test]
    fn features_match_a_direct_per_point_computation_and_keypoints_match_all() {
        // A wavy patch with exact normals; the reference computes each point's SPFH
        // from its own neighbour list (every pair twice) and sums FPFH per point.
        let (pts, nrm) = height_field(
            14,
            (0.037, 0.041),
            |x, y| 0.3 * (3.0 * x).sin() * (2.0 * y).cos(),
            |x, y| {
                [
                    0.9 * (3.0 * x).cos() * (2.0 * y).cos(),
                    -0.6 * (3.0 * x).sin() * (2.0 * y).sin(),
                ]
            },
        );
        let tree = KdTree::new(&pts);
        let r = 0.15;
        let nbs = neighbourhoods(&pts, &tree, r);
        let (f, valid) = fpfh(&pts, &nrm, &nbs, r, None);
        let nb = |i: usize| -> Vec<(usize, f32)> {
            tree.within(pts[i], r)
                .into_iter()
                .filter(|&(j, _)| j != i)
                .map(|(j, d2)| (j, d2.sqrt()))
                .collect()
        };
        let spfh: Vec<Feature> = (0..pts.len())
            .map(|i| {
                let mut h = [0.0f32; DIM];
                for (j, _) in nb(i) {
                    if let Some(t) = pair_feature(pts[i], nrm[i], pts[j], nrm[j]) {
                        for k in bins(t) {
                            h[k] += 1.0;
                        }
                    }
                }
                normalise_blocks(&mut h);
                h
            })
            .collect();
        let mut worst = 0.0f32;
        for i in 0..pts.len() {
            let mut acc = [0.0f32; DIM];
            for (j, d) in nb(i) {
                let w = 1.0 / d.max(r * 1e-2);
                for (a, s) in acc.iter_mut().zip(spfh[j].iter()) {
                    *a += w * s;
                }
            }
            normalise_blocks(&mut acc);
            for (k, a) in acc.iter().enumerate() {
                worst = worst.max((a + spfh[i][k] - f[i][k]).abs());
            }
            assert_eq!(valid[i], nb(i).len() >= MIN_NEIGHBOURS);
        }
        // Only the summation order differs (the bins hold 100-scaled shares).
        assert!(
            worst < 1e-3,
            "features differ from the direct computation by {worst}"
        );
        // Keypoints only: the same values there, zero elsewhere.
        let keys: Vec<u32> = (0..pts.len() as u32).step_by(7).collect();
        let (g, valid_g) = fpfh(&pts, &nrm, &nbs, r, Some(&keys));
        assert_eq!(valid, valid_g);
        for i in 0..pts.len() {
            if i % 7 == 0 {
                assert_eq!(f[i], g[i]);
            } else {
                assert!(g[i].iter().all(|&v| v == 0.0));
            }
        }
    }

    #[test]
    fn flipped_features_match_features_of_negated_normals() {
        // A saddle patch with exact normals; FPFH recomputed with every normal negated.
        let (pts, nrm) = height_field(
            12,
            (0.043, 0.047),
            |x, y| 0.8 * x * x - 0.6 * y * y + 0.3 * x * y,
            |x, y| [1.6 * x + 0.3 * y, 0.3 * x - 1.2 * y],
        );
        let neg: Vec<V3> = nrm.iter().map(|n| [-n[0], -n[1], -n[2]]).collect();
        let tree = KdTree::new(&pts);
        let (f, v) = fpfh(&pts, &nrm, &neighbourhoods(&pts, &tree, 0.2), 0.2, None);
        let (g, w) = fpfh(&pts, &neg, &neighbourhoods(&pts, &tree, 0.2), 0.2, None);
        assert_eq!(v, w);
        let flipped = flip_normals_sign(&f);
        let mut worst = 0.0f32;
        for (a, b) in flipped.iter().zip(&g) {
            let d: f32 = a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum();
            worst = worst.max(d);
        }
        // Each block sums to 100 (or 200 after the SPFH term): a pair moved one bin
        // over would show as a difference of ~1; none should.
        assert!(worst < 0.05, "flipped differs from recomputed by {worst}");
        // And the flip is not the identity here (the patch is not symmetric).
        let moved: f32 = f
            .iter()
            .zip(&flipped)
            .map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>())
            .sum();
        assert!(moved > 100.0, "flip changed only {moved}");
    }

    #[test]
    fn features_are_rotation_invariant() {
        // A curved patch z = x² − 0.5 y², exact normals.
        let (pts, nrm) = height_field(
            10,
            (0.05, 0.05),
            |x, y| x * x - 0.5 * y * y,
            |x, y| [2.0 * x, -y],
        );
        let r = super::super::rigid::exp_so3(&nalgebra::Vector3::new(0.4, 1.0, -0.7));
        let rot = |p: V3| {
            let v = r * super::super::rigid::widen(p);
            [v[0] as f32, v[1] as f32, v[2] as f32]
        };
        let pts2: Vec<V3> = pts.iter().map(|&p| rot(p)).collect();
        let nrm2: Vec<V3> = nrm.iter().map(|&p| rot(p)).collect();
        let all =
            |p: &[V3], n: &[V3]| fpfh(p, n, &neighbourhoods(p, &KdTree::new(p), 0.2), 0.2, None);
        let (f1, v1) = all(&pts, &nrm);
        let (f2, v2) = all(&pts2, &nrm2);
        assert_eq!(v1, v2);
        let centre = 220; // (0, 0)
        let diff: f32 = f1[centre]
            .iter()
            .zip(f2[centre].iter())
            .map(|(a, b)| (a - b).abs())
            .sum();
        assert!(diff < 5.0, "feature moved by {diff}");
    }
}
