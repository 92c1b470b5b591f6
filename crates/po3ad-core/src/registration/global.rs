//! Global registration without an initial guess: feature correspondences (nearest
//! neighbour in FPFH space), then RANSAC over 3-correspondence samples.
//!
//! A sample is drawn *guided*: the 2nd and 3rd correspondences are redrawn (a few
//! times) until (a) their source and target edges to the ones already drawn agree in
//! length within the similarity ratio (a rigid motion keeps lengths) and (b) no edge
//! is shorter than `min_edge` (a tiny triangle gives an unstable rotation); a sample
//! is dropped when (c) after the fit a sampled normal pair disagrees by more than 60°
//! (sign ignored). Survivors are scored by the number of correspondences
//! brought within `inlier_distance`. The best few *distinct* hypotheses (rotation or
//! translation apart) are kept, each refitted on its inliers, for the caller to
//! refine with ICP.
//!
//! Determinism: iterations are split into a fixed number of chunks, each drawing from
//! its own ChaCha8 stream (`seed`, stream = chunk index); chunks run on rayon but
//! are merged in chunk order, so the result does not depend on the thread count.

use super::fpfh::{Feature, DIM};
use super::rigid::{dot, kabsch, norm, sub, Rigid, V3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Fixed chunking of the RANSAC iterations (not tied to the thread count).
const CHUNKS: usize = 16;
/// Two hypotheses closer than this (radians) and `2 × inlier_distance` in
/// translation count as the same one.
const SAME_ANGLE: f64 = 0.1;
/// cos 60°: largest accepted angle between a fitted source normal and its target's.
const NORMAL_COS: f32 = 0.5;
/// Draws allowed to find a compatible 2nd (and 3rd) correspondence per sample.
const GUIDED_TRIES: usize = 24;

pub(crate) struct RansacParams {
    pub iterations: usize,
    pub inlier_distance: f32,
    pub edge_similarity: f32,
    pub min_edge: f32,
    pub keep: usize,
    pub seed: u64,
}

/// For every valid source feature listed in `src_keep`, the valid target feature nearest in L2 (brute
/// force, parallel over sources; ties go to the lower index). With `mutual`, keep a
/// pair only when the source is also the target's nearest; if that leaves fewer than
/// `min_mutual` pairs the one-way matches are returned instead.
pub(crate) fn match_features(
    src: &[Feature],
    src_valid: &[bool],
    src_keep: &[u32],
    tgt: &[Feature],
    tgt_valid: &[bool],
    mutual: bool,
    min_mutual: usize,
) -> Vec<(u32, u32)> {
    let src_idx: Vec<u32> = src_keep
        .iter()
        .copied()
        .filter(|&i| src_valid[i as usize])
        .collect();
    let tgt_idx: Vec<u32> = (0..tgt.len() as u32)
        .filter(|&j| tgt_valid[j as usize])
        .collect();
    if src_idx.is_empty() || tgt_idx.is_empty() {
        return Vec::new();
    }
    let tgt_tree = FeatureTree::new(tgt, &tgt_idx);
    let one_way: Vec<(u32, u32)> = src_idx
        .par_iter()
        .map(|&i| (i, tgt_tree.nearest(&src[i as usize])))
        .collect();
    if !mutual {
        return one_way;
    }
    let src_tree = FeatureTree::new(src, &src_idx);
    let back: Vec<u32> = tgt_idx
        .par_iter()
        .map(|&j| src_tree.nearest(&tgt[j as usize]))
        .collect();
    // back[k] is the nearest source of target tgt_idx[k].
    let mut back_of = vec![u32::MAX; tgt.len()];
    for (k, &j) in tgt_idx.iter().enumerate() {
        back_of[j as usize] = back[k];
    }
    let both: Vec<(u32, u32)> = one_way
        .iter()
        .copied()
        .filter(|&(i, j)| back_of[j as usize] == i)
        .collect();
    if both.len() >= min_mutual {
        both
    } else {
        one_way
    }
}

/// Exact nearest neighbour in feature space over a subset of features, brute force
/// (a k-d tree does not prune in 33 dimensions). The squared distance uses eight
/// independent partial sums so the compiler can vectorise it; ties go to the lower
/// position in `idx`.
struct FeatureTree<'a> {
    set: &'a [Feature],
    idx: &'a [u32],
}

impl<'a> FeatureTree<'a> {
    fn new(set: &'a [Feature], idx: &'a [u32]) -> Self {
        Self { set, idx }
    }

    fn nearest(&self, q: &Feature) -> u32 {
        let mut best = (f32::INFINITY, u32::MAX);
        for &j in self.idx {
            let d = dist2_feature(q, &self.set[j as usize]);
            if d < best.0 {
                best = (d, j);
            }
        }
        best.1
    }
}

#[inline]
fn dist2_feature(a: &Feature, b: &Feature) -> f32 {
    let mut acc = [0.0f32; 8];
    for k in 0..4 {
        for l in 0..8 {
            let e = a[8 * k + l] - b[8 * k + l];
            acc[l] += e * e;
        }
    }
    let e = a[DIM - 1] - b[DIM - 1];
    acc.iter().sum::<f32>() + e * e
}

/// A RANSAC hypothesis: the transform and its correspondence inlier count.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hypothesis {
    pub t: Rigid,
    pub inliers: usize,
}

/// RANSAC over `corrs` (source index, target index). Returns up to `keep` distinct
/// hypotheses, best first, each refitted on its inlier correspondences.
pub(crate) fn ransac(
    src: &[V3],
    src_n: &[V3],
    tgt: &[V3],
    tgt_n: &[V3],
    corrs: &[(u32, u32)],
    p: &RansacParams,
) -> Vec<Hypothesis> {
    if corrs.len() < 3 || p.keep == 0 {
        return Vec::new();
    }
    let per_chunk = p.iterations.div_ceil(CHUNKS);
    let chunk_lists: Vec<Vec<Hypothesis>> = (0..CHUNKS)
        .into_par_iter()
        .map(|c| {
            let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
            rng.set_stream(c as u64);
            let mut top = Vec::new();
            for _ in 0..per_chunk {
                if let Some(h) = one_sample(src, src_n, tgt, tgt_n, corrs, p, &mut rng) {
                    insert(&mut top, h, p.keep, p.inlier_distance);
                }
            }
            top
        })
        .collect();
    let mut top = Vec::new();
    for list in chunk_lists {
        for h in list {
            insert(&mut top, h, p.keep, p.inlier_distance);
        }
    }
    // Refit each on all its inliers (least squares over many pairs beats 3 points).
    let mut refined: Vec<Hypothesis> = top
        .into_iter()
        .map(|h| {
            let tau2 = p.inlier_distance * p.inlier_distance;
            let inl: Vec<(V3, V3)> = corrs
                .iter()
                .map(|&(i, j)| (src[i as usize], tgt[j as usize]))
                .filter(|&(s, t)| dist2(h.t.apply(s), t) < tau2)
                .collect();
            match kabsch(inl.iter().copied()) {
                Some(t2) => {
                    let n2 = count_inliers(&t2, src, tgt, corrs, tau2);
                    if n2 >= h.inliers {
                        Hypothesis { t: t2, inliers: n2 }
                    } else {
                        h
                    }
                }
                None => h,
            }
        })
        .collect();
    refined.sort_by_key(|h| std::cmp::Reverse(h.inliers));
    refined
}

fn one_sample(
    src: &[V3],
    src_n: &[V3],
    tgt: &[V3],
    tgt_n: &[V3],
    corrs: &[(u32, u32)],
    p: &RansacParams,
    rng: &mut ChaCha8Rng,
) -> Option<Hypothesis> {
    let n = corrs.len();
    let s_of = |k: usize| src[corrs[k].0 as usize];
    let t_of = |k: usize| tgt[corrs[k].1 as usize];
    // A rigid motion keeps lengths: a pair is compatible when its source and target
    // edges are both long enough and of similar length.
    let compatible = |x: usize, y: usize| {
        let ds = norm(sub(s_of(x), s_of(y)));
        let dt = norm(sub(t_of(x), t_of(y)));
        ds >= p.min_edge && dt >= p.min_edge && ds.min(dt) >= p.edge_similarity * ds.max(dt)
    };
    // Guided sampling: the 2nd and 3rd correspondences are drawn among those
    // compatible with the ones already drawn. With repetitive geometry (gear teeth)
    // few matches are right; drawing three at once finds an all-right triple with
    // probability ~p³, drawing compatible ones ~p·p/(p+q)·p/(p+q²) (q: chance a wrong
    // match is compatible), orders of magnitude more often.
    let a = rng.random_range(0..n);
    let b = (0..GUIDED_TRIES)
        .map(|_| rng.random_range(0..n))
        .find(|&k| k != a && compatible(a, k))?;
    let c = (0..GUIDED_TRIES)
        .map(|_| rng.random_range(0..n))
        .find(|&k| k != a && k != b && compatible(a, k) && compatible(b, k))?;
    let s = [a, b, c].map(s_of);
    let t = [a, b, c].map(t_of);
    let fit = kabsch(s.iter().copied().zip(t.iter().copied()))?;
    for k in [a, b, c] {
        let ns = src_n[corrs[k].0 as usize];
        let v = fit.r * super::rigid::widen(ns);
        let rn = [v[0] as f32, v[1] as f32, v[2] as f32];
        if dot(rn, tgt_n[corrs[k].1 as usize]).abs() < NORMAL_COS {
            return None;
        }
    }
    let tau2 = p.inlier_distance * p.inlier_distance;
    let inliers = count_inliers(&fit, src, tgt, corrs, tau2);
    Some(Hypothesis { t: fit, inliers })
}

fn count_inliers(t: &Rigid, src: &[V3], tgt: &[V3], corrs: &[(u32, u32)], tau2: f32) -> usize {
    let r = t.rotation_array();
    let tr = t.translation_array();
    corrs
        .iter()
        .filter(|&&(i, j)| {
            let s = src[i as usize];
            let q = [
                r[0][0] * s[0] + r[0][1] * s[1] + r[0][2] * s[2] + tr[0],
                r[1][0] * s[0] + r[1][1] * s[1] + r[1][2] * s[2] + tr[1],
                r[2][0] * s[0] + r[2][1] * s[1] + r[2][2] * s[2] + tr[2],
            ];
            dist2(q, tgt[j as usize]) < tau2
        })
        .count()
}

#[inline]
fn dist2(a: V3, b: V3) -> f32 {
    let d = sub(a, b);
    dot(d, d)
}

/// Keep `top` sorted by inlier count (descending, earlier insert wins ties), at most
/// `keep` long, and free of near-duplicates.
fn insert(top: &mut Vec<Hypothesis>, h: Hypothesis, keep: usize, inlier_distance: f32) {
    if h.inliers < 3 {
        return;
    }
    let same = |o: &Hypothesis| {
        o.t.angle_to(&h.t) < SAME_ANGLE && (o.t.t - h.t.t).norm() < 2.0 * inlier_distance as f64
    };
    if let Some(k) = top.iter().position(same) {
        if top[k].inliers >= h.inliers {
            return;
        }
        top.remove(k);
    }
    if top.len() >= keep && top.last().is_some_and(|l| l.inliers >= h.inliers) {
        return;
    }
    let pos = top.partition_point(|o| o.inliers >= h.inliers);
    top.insert(pos, h);
    top.truncate(keep);
}
