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
use super::rigid::{dot, kabsch, sub, Rigid, V3};
use crate::dense_nn::{self, CentredBank};
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

/// The valid features of a list (all, or those listed in `keep`) as flat rows, with
/// the index of each row in the full list.
struct FeatureRows {
    idx: Vec<u32>,
    values: Vec<f32>,
}

impl FeatureRows {
    fn new(features: &[Feature], valid: &[bool], keep: Option<&[u32]>) -> Self {
        let idx: Vec<u32> = match keep {
            Some(k) => k.iter().copied().filter(|&i| valid[i as usize]).collect(),
            None => (0..features.len() as u32)
                .filter(|&i| valid[i as usize])
                .collect(),
        };
        let values = idx
            .iter()
            .flat_map(|&i| features[i as usize].iter().copied())
            .collect();
        Self { idx, values }
    }
}

/// Features prepared for exact nearest-neighbour search by matrix products
/// ([`crate::dense_nn`]; a k-d tree does not prune in 33 dimensions).
pub(crate) struct FeatureBank {
    rows: FeatureRows,
    prepared: CentredBank,
}

impl FeatureBank {
    /// The features listed in `keep` (all when `None`) that are `valid`.
    pub(crate) fn new(features: &[Feature], valid: &[bool], keep: Option<&[u32]>) -> Self {
        Self::from_rows(FeatureRows::new(features, valid, keep))
    }

    fn from_rows(rows: FeatureRows) -> Self {
        let prepared = CentredBank::new(&rows.values, DIM);
        Self { rows, prepared }
    }

    fn is_empty(&self) -> bool {
        self.rows.idx.is_empty()
    }

    /// For each row of `queries` (`DIM` values a row), the index of the nearest
    /// feature of this bank (ties go to the lower index).
    fn nearest(&self, queries: &[f32]) -> Vec<u32> {
        dense_nn::nearest_many(&self.prepared, &self.rows.values, queries)
            .into_iter()
            .map(|(row, _)| self.rows.idx[row])
            .collect()
    }
}

/// For every valid source feature listed in `src_keep`, the valid target feature
/// nearest in L2 (`tgt`, exact). With `mutual`, keep a pair only when the source is
/// also the target's nearest; if that leaves fewer than `min_mutual` pairs the one-way
/// matches are returned instead.
pub(crate) fn match_features(
    src: &[Feature],
    src_valid: &[bool],
    src_keep: &[u32],
    tgt: &FeatureBank,
    mutual: bool,
    min_mutual: usize,
) -> Vec<(u32, u32)> {
    let src_rows = FeatureRows::new(src, src_valid, Some(src_keep));
    if src_rows.idx.is_empty() || tgt.is_empty() {
        return Vec::new();
    }
    let one_way: Vec<(u32, u32)> = src_rows
        .idx
        .iter()
        .copied()
        .zip(tgt.nearest(&src_rows.values))
        .collect();
    if !mutual {
        return one_way;
    }
    // The source side is searched only for the mutual check.
    let src_bank = FeatureBank::from_rows(src_rows);
    // back[k] is the nearest source of target tgt.rows.idx[k].
    let tgt_idx = &tgt.rows.idx;
    let back = src_bank.nearest(&tgt.rows.values);
    let mut back_of = vec![u32::MAX; tgt_idx.iter().max().map_or(0, |&m| m as usize + 1)];
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

/// A RANSAC hypothesis: the transform and its correspondence inlier count.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hypothesis {
    pub t: Rigid,
    pub inliers: usize,
}

/// The correspondences' points and normals gathered once, coordinates in separate
/// arrays: counting a hypothesis' inliers (the RANSAC loop's inner loop, run for every
/// sample) then reads memory in order and vectorizes, where indexing the point lists
/// through the pairs could not.
struct Pairs {
    src: [Vec<f32>; 3],
    tgt: [Vec<f32>; 3],
    src_n: Vec<V3>,
    tgt_n: Vec<V3>,
}

impl Pairs {
    fn new(src: &[V3], src_n: &[V3], tgt: &[V3], tgt_n: &[V3], corrs: &[(u32, u32)]) -> Self {
        let src_at = |a: usize| corrs.iter().map(|c| src[c.0 as usize][a]).collect();
        let tgt_at = |a: usize| corrs.iter().map(|c| tgt[c.1 as usize][a]).collect();
        Self {
            src: std::array::from_fn(src_at),
            tgt: std::array::from_fn(tgt_at),
            src_n: corrs.iter().map(|c| src_n[c.0 as usize]).collect(),
            tgt_n: corrs.iter().map(|c| tgt_n[c.1 as usize]).collect(),
        }
    }

    fn len(&self) -> usize {
        self.src_n.len()
    }

    fn src(&self, k: usize) -> V3 {
        [self.src[0][k], self.src[1][k], self.src[2][k]]
    }

    fn tgt(&self, k: usize) -> V3 {
        [self.tgt[0][k], self.tgt[1][k], self.tgt[2][k]]
    }

    /// Pairs that `t` brings within `sqrt(tau2)`.
    fn count_inliers(&self, t: &Rigid, tau2: f32) -> usize {
        let r = t.rotation_array();
        let tr = t.translation_array();
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { self.count_inliers_avx2(&r, &tr, tau2) };
        }
        self.count_inliers_portable(&r, &tr, tau2)
    }

    /// The same loop compiled for AVX2 (8 lanes instead of SSE2's 4; no FMA, so every
    /// lane rounds exactly as the portable loop does and counts are identical).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn count_inliers_avx2(&self, r: &[[f32; 3]; 3], tr: &[f32; 3], tau2: f32) -> usize {
        self.count_inliers_portable(r, tr, tau2)
    }

    #[inline(always)]
    fn count_inliers_portable(&self, r: &[[f32; 3]; 3], tr: &[f32; 3], tau2: f32) -> usize {
        let [sx, sy, sz] = &self.src;
        let [tx, ty, tz] = &self.tgt;
        // Zipped slices (no bounds checks) and a u32 count: the loop vectorizes.
        let mut count = 0u32;
        for (((((&x, &y), &z), &ux), &uy), &uz) in sx.iter().zip(sy).zip(sz).zip(tx).zip(ty).zip(tz)
        {
            let dx = r[0][0] * x + r[0][1] * y + r[0][2] * z + tr[0] - ux;
            let dy = r[1][0] * x + r[1][1] * y + r[1][2] * z + tr[1] - uy;
            let dz = r[2][0] * x + r[2][1] * y + r[2][2] * z + tr[2] - uz;
            count += u32::from(dx * dx + dy * dy + dz * dz < tau2);
        }
        count as usize
    }
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
    let pairs = Pairs::new(src, src_n, tgt, tgt_n, corrs);
    let top = run_chunks(p, |rng| one_sample(&pairs, p, rng));
    // Refit each on all its inliers (least squares over many pairs beats 3 points).
    let tau2 = p.inlier_distance * p.inlier_distance;
    let mut refined: Vec<Hypothesis> = top
        .into_iter()
        .map(|h| {
            let inl: Vec<(V3, V3)> = (0..pairs.len())
                .map(|k| (pairs.src(k), pairs.tgt(k)))
                .filter(|&(s, t)| dist2(h.t.apply(s), t) < tau2)
                .collect();
            refit(h, &inl, |t| pairs.count_inliers(t, tau2))
        })
        .collect();
    refined.sort_by_key(|h| std::cmp::Reverse(h.inliers));
    refined
}

/// The RANSAC loop: `p.iterations` draws of `sample` split into fixed chunks, each on
/// its own ChaCha8 stream, the best `p.keep` distinct hypotheses kept (merged in chunk
/// order: the same for any thread count).
pub(crate) fn run_chunks(
    p: &RansacParams,
    sample: impl Fn(&mut ChaCha8Rng) -> Option<Hypothesis> + Sync,
) -> Vec<Hypothesis> {
    let per_chunk = p.iterations.div_ceil(CHUNKS);
    let chunk_lists: Vec<Vec<Hypothesis>> = (0..CHUNKS)
        .into_par_iter()
        .map(|c| {
            let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
            rng.set_stream(c as u64);
            let mut top = Vec::new();
            for _ in 0..per_chunk {
                if let Some(h) = sample(&mut rng) {
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
    top
}

/// `h` refitted (Kabsch) on its inlier pairs, kept only if `count` gives the refit at
/// least as many inliers.
pub(crate) fn refit(
    h: Hypothesis,
    inliers: &[(V3, V3)],
    count: impl Fn(&Rigid) -> usize,
) -> Hypothesis {
    match kabsch(inliers.iter().copied()) {
        Some(t) => {
            let n = count(&t);
            if n >= h.inliers {
                Hypothesis { t, inliers: n }
            } else {
                h
            }
        }
        None => h,
    }
}

fn one_sample(pairs: &Pairs, p: &RansacParams, rng: &mut ChaCha8Rng) -> Option<Hypothesis> {
    let n = pairs.len();
    // A rigid motion keeps lengths: a pair is compatible when its source and target
    // edges are both long enough and of similar length (compared squared: this test
    // runs dozens of times per sample, a square root twice each time was a tenth of
    // the RANSAC time).
    let min_edge2 = p.min_edge * p.min_edge;
    let similar2 = p.edge_similarity * p.edge_similarity;
    let compatible = |x: usize, y: usize| {
        let ds = dist2(pairs.src(x), pairs.src(y));
        let dt = dist2(pairs.tgt(x), pairs.tgt(y));
        ds >= min_edge2 && dt >= min_edge2 && ds.min(dt) >= similar2 * ds.max(dt)
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
    let s = [a, b, c].map(|k| pairs.src(k));
    let t = [a, b, c].map(|k| pairs.tgt(k));
    let fit = kabsch(s.iter().copied().zip(t.iter().copied()))?;
    for k in [a, b, c] {
        let v = fit.r * super::rigid::widen(pairs.src_n[k]);
        let rn = [v[0] as f32, v[1] as f32, v[2] as f32];
        if dot(rn, pairs.tgt_n[k]).abs() < NORMAL_COS {
            return None;
        }
    }
    let tau2 = p.inlier_distance * p.inlier_distance;
    let inliers = pairs.count_inliers(&fit, tau2);
    Some(Hypothesis { t: fit, inliers })
}

#[inline]
fn dist2(a: V3, b: V3) -> f32 {
    let d = sub(a, b);
    dot(d, d)
}

/// Keep `top` sorted by inlier count (descending, earlier insert wins ties), at most
/// `keep` long, and free of near-duplicates.
pub(crate) fn insert(top: &mut Vec<Hypothesis>, h: Hypothesis, keep: usize, inlier_distance: f32) {
    // A full list whose last entry has as many inliers turns `h` away whatever the
    // duplicate test says (a duplicate in the list has at least as many too): skip
    // that test, the costly part, for the many samples that cannot enter.
    if h.inliers < 3 || (top.len() >= keep && top.last().is_some_and(|l| l.inliers >= h.inliers)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inlier_counts_match_a_direct_count_on_every_code_path() {
        // 1001 pairs (not a multiple of any vector width): targets are the sources
        // moved by a known motion plus offsets, a third of them beyond the distance.
        let t = Rigid {
            r: super::super::rigid::exp_so3(&nalgebra::Vector3::new(0.3, -0.8, 0.5)),
            t: nalgebra::Vector3::new(0.2, -0.1, 0.4),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (mut src, mut tgt) = (Vec::new(), Vec::new());
        for k in 0..1001 {
            let p: V3 = std::array::from_fn(|_| rng.random_range(-1.0f32..1.0));
            let q = t.apply(p);
            let off = if k % 3 == 0 { 0.2 } else { 0.01 };
            tgt.push([q[0] + off, q[1] - off, q[2]]);
            src.push(p);
        }
        let n = vec![[0.0, 0.0, 1.0]; src.len()];
        let corrs: Vec<(u32, u32)> = (0..src.len() as u32).map(|k| (k, k)).collect();
        let pairs = Pairs::new(&src, &n, &tgt, &n, &corrs);
        let tau = 0.06f32;
        let direct = (0..src.len())
            .filter(|&k| dist2(t.apply(src[k]), tgt[k]) < tau * tau)
            .count();
        assert_eq!(direct, 667);
        assert_eq!(pairs.count_inliers(&t, tau * tau), direct);
        let (r, tr) = (t.rotation_array(), t.translation_array());
        assert_eq!(pairs.count_inliers_portable(&r, &tr, tau * tau), direct);
    }
}
