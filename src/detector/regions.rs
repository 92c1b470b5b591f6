//! Anomalous regions of one scan: connected clusters of the points whose score is
//! above the point threshold.
//!
//! Rule: two such points are connected when they lie within `radius` of each other
//! (single linkage; [`RegionConfig::radius`], by default 2 × the median
//! nearest-neighbour spacing of the whole scan); clusters with fewer than
//! `min_points` (10) points are dropped as speckle. Each region reports its point
//! count, centroid and axis-aligned bounding box in the coordinates it was given (the
//! scan's own file coordinates in `predict`), largest first (ties: higher peak score
//! first, then the lower first point index).

use po3ad_core::geometry::KdTree;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionConfig {
    /// Link distance; None: `spacing_factor` × the median nearest-neighbour spacing.
    pub radius: Option<f32>,
    pub spacing_factor: f32,
    /// Smallest cluster reported.
    pub min_points: usize,
}

impl Default for RegionConfig {
    fn default() -> Self {
        Self {
            radius: None,
            spacing_factor: 2.0,
            min_points: 10,
        }
    }
}

/// One connected cluster of over-threshold points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Region {
    pub points: usize,
    pub centroid: [f32; 3],
    /// Bounding-box size along x, y, z.
    pub extent: [f32; 3],
    pub bbox_min: [f32; 3],
    pub bbox_max: [f32; 3],
    pub max_score: f32,
    pub mean_score: f32,
    /// How far the region stands above the point threshold τ: Σ (score / τ − 1) over
    /// its points (Σ (score − τ) when τ ≤ 0). Calibration sets the level a region must
    /// pass to be reported ([`significant`]).
    pub excess: f32,
}

/// The regions whose [`Region::excess`] is above `min_excess` (all of them with None).
pub fn significant(regions: Vec<Region>, min_excess: Option<f64>) -> Vec<Region> {
    match min_excess {
        None => regions,
        Some(t) => regions
            .into_iter()
            .filter(|r| r.excess as f64 > t)
            .collect(),
    }
}

/// Median distance from a point to its nearest other point (over at most 4096 points,
/// evenly strided); 0 with fewer than two points.
pub fn median_spacing(points: &[[f32; 3]]) -> f32 {
    if points.len() < 2 {
        return 0.0;
    }
    let tree = KdTree::new(points);
    let step = points.len().div_ceil(4096).max(1);
    let mut d: Vec<f32> = points
        .iter()
        .step_by(step)
        .filter_map(|&p| tree.knn(p, 2).get(1).map(|&(_, d2)| d2.sqrt()))
        .collect();
    d.sort_by(f32::total_cmp);
    d.get(d.len() / 2).copied().unwrap_or(0.0)
}

/// The regions of `points` whose `scores` exceed `threshold` (strictly), largest first.
pub fn find_regions(
    points: &[[f32; 3]],
    scores: &[f32],
    threshold: f32,
    cfg: &RegionConfig,
) -> Vec<Region> {
    find_regions_with_members(points, scores, threshold, cfg)
        .into_iter()
        .map(|(r, _)| r)
        .collect()
}

/// [`find_regions`] with each region's point indices.
pub fn find_regions_with_members(
    points: &[[f32; 3]],
    scores: &[f32],
    threshold: f32,
    cfg: &RegionConfig,
) -> Vec<(Region, Vec<usize>)> {
    let hot: Vec<usize> = (0..points.len().min(scores.len()))
        .filter(|&i| scores[i] > threshold)
        .collect();
    if hot.is_empty() {
        return Vec::new();
    }
    let radius = cfg
        .radius
        .unwrap_or_else(|| cfg.spacing_factor * median_spacing(points));
    let hot_points: Vec<[f32; 3]> = hot.iter().map(|&i| points[i]).collect();
    let tree = KdTree::new(&hot_points);
    let mut seen = vec![false; hot.len()];
    let mut regions = Vec::new();
    let mut first_index = Vec::new();
    for start in 0..hot.len() {
        if seen[start] {
            continue;
        }
        seen[start] = true;
        let mut members = vec![start];
        let mut next = 0;
        while next < members.len() {
            let q = hot_points[members[next]];
            next += 1;
            for (j, _) in tree.within(q, radius) {
                if !seen[j] {
                    seen[j] = true;
                    members.push(j);
                }
            }
        }
        if members.len() >= cfg.min_points.max(1) {
            first_index.push(hot[start]);
            let region = summarize(&members, &hot, points, scores, threshold);
            regions.push((region, members.iter().map(|&m| hot[m]).collect::<Vec<_>>()));
        }
    }
    let mut order: Vec<usize> = (0..regions.len()).collect();
    order.sort_by(|&a, &b| {
        regions[b]
            .0
            .points
            .cmp(&regions[a].0.points)
            .then(regions[b].0.max_score.total_cmp(&regions[a].0.max_score))
            .then(first_index[a].cmp(&first_index[b]))
    });
    order.into_iter().map(|i| regions[i].clone()).collect()
}

fn summarize(
    members: &[usize],
    hot: &[usize],
    points: &[[f32; 3]],
    scores: &[f32],
    threshold: f32,
) -> Region {
    let mut lo = [f32::INFINITY; 3];
    let mut hi = [f32::NEG_INFINITY; 3];
    let mut sum = [0.0f64; 3];
    let (mut max_score, mut score_sum, mut excess) = (f32::NEG_INFINITY, 0.0f64, 0.0f64);
    for &m in members {
        let i = hot[m];
        for a in 0..3 {
            lo[a] = lo[a].min(points[i][a]);
            hi[a] = hi[a].max(points[i][a]);
            sum[a] += points[i][a] as f64;
        }
        max_score = max_score.max(scores[i]);
        score_sum += scores[i] as f64;
        excess += if threshold > 0.0 {
            (scores[i] / threshold) as f64 - 1.0
        } else {
            (scores[i] - threshold) as f64
        };
    }
    let n = members.len() as f64;
    Region {
        points: members.len(),
        centroid: [
            (sum[0] / n) as f32,
            (sum[1] / n) as f32,
            (sum[2] / n) as f32,
        ],
        extent: [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]],
        bbox_min: lo,
        bbox_max: hi,
        max_score,
        mean_score: (score_sum / n) as f32,
        excess: excess as f32,
    }
}
