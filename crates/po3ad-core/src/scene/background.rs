//! Background removal for a scan of a part in a cell: the table it rests on, the
//! fixture that holds it and other objects in view are taken out before registration,
//! so that registration fitness, scores and regions concern the part only.
//!
//! Steps, each reported:
//! 1. optional crop box (scan coordinates);
//! 2. the dominant plane by RANSAC (deterministic seed), refined by least squares on its
//!    inliers, taken for a support plane only when it is larger than the part (a part's
//!    own flat face is not); its inliers, and the points below it, are removed;
//! 3. connected components of what is left (radius tied to the median point spacing);
//!    the component whose extent best matches the expected part extent is kept, with
//!    any smaller pieces that fit inside the part's extent together with it (a one-sided
//!    view can fall apart at self-occlusions). Without an expected extent the largest
//!    component is kept.
//!
//! The RANSAC loop and the union-find are written here: the crate's k-d tree does the
//! neighbour queries, and no small crate offers a seeded plane RANSAC on plain arrays.

use crate::geometry::{DisjointSets, KdTree};
use crate::{Error, PointCloud, Result};
use nalgebra::{Matrix3, SymmetricEigen, Vector3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Settings of [`remove_background`]; `Default` is what a command uses.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BackgroundConfig {
    /// Seed of the plane RANSAC.
    pub seed: u64,
    /// Keep only points inside this box `(min, max)` first.
    pub crop: Option<([f32; 3], [f32; 3])>,
    /// The part's size (bounding-box diagonal, scan units), e.g. the template's.
    pub expected_extent: Option<f32>,
    /// RANSAC hypotheses.
    pub plane_iterations: usize,
    /// Inlier distance of the plane; `None`: 2 x the median point spacing.
    pub plane_threshold: Option<f32>,
    /// The plane must hold at least this fraction of the (cropped) points.
    pub min_plane_fraction: f32,
    /// Also remove points more than the threshold below the plane (table legs, floor).
    pub remove_below_plane: bool,
    /// Neighbour radius of the connected components; `None`: 3 x the median spacing of
    /// the points left after the support plane.
    pub cluster_radius: Option<f32>,
    /// Components with fewer points are noise and always removed.
    pub min_component: usize,
}

impl Default for BackgroundConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            crop: None,
            expected_extent: None,
            plane_iterations: 500,
            plane_threshold: None,
            min_plane_fraction: 0.1,
            remove_below_plane: true,
            cluster_radius: None,
            min_component: 10,
        }
    }
}

/// A plane `normal · p + offset = 0`, `normal` a unit vector pointing to the side the
/// part is on.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Plane {
    pub normal: [f32; 3],
    pub offset: f32,
}

impl Plane {
    /// Signed distance of `p` (positive on the part's side).
    pub fn distance(&self, p: [f32; 3]) -> f32 {
        dot(self.normal, p) + self.offset
    }
}

/// What [`remove_background`] did. Indices refer to the input cloud.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct BackgroundReport {
    /// Input indices of the part's points (increasing): the returned cloud's points.
    pub kept: Vec<u32>,
    /// Input indices of everything removed (increasing).
    pub removed: Vec<u32>,
    /// The support plane, when one was found and removed.
    pub plane: Option<Plane>,
    /// Points outside the crop box.
    pub cropped: usize,
    /// Points on the support plane.
    pub plane_points: usize,
    /// Points below the support plane.
    pub below_plane: usize,
    /// Points in components other than the part (fixtures, other objects, noise).
    pub other_points: usize,
    /// Connected components found after the plane (noise-sized ones included).
    pub components: usize,
    /// Median nearest-neighbour spacing the radii were derived from.
    pub spacing: f32,
    /// Component radius used.
    pub radius: f32,
    /// Bounding-box diagonal of the kept points.
    pub part_extent: f32,
}

/// Split `cloud` into the part and its background (see the module doc). Errors on an
/// empty cloud, non-positive settings, or when nothing is left.
pub fn remove_background(
    cloud: &PointCloud,
    cfg: &BackgroundConfig,
) -> Result<(PointCloud, BackgroundReport)> {
    let split = SceneSplit::new(cloud, cfg)?;
    split
        .candidates(cfg.expected_extent, 1)?
        .into_iter()
        .next()
        .ok_or_else(|| {
            Error::Invalid(format!(
                "background removal found no object of at least {} points",
                cfg.min_component
            ))
        })
}

/// A scan with its support plane removed and the rest cut into connected components:
/// what does not depend on the part's expected size, so that several size (unit)
/// hypotheses and several candidate parts can be tried without redoing it.
#[derive(Debug, Clone)]
pub struct SceneSplit<'a> {
    cloud: &'a PointCloud,
    /// Input indices of the points above the plane, inside the crop box.
    alive: Vec<usize>,
    /// Their coordinates (`rest[k] = cloud.points[alive[k]]`).
    rest: Vec<[f32; 3]>,
    /// Components of `rest` (indices into it) of at least `min_component` points,
    /// largest first.
    comps: Vec<Vec<usize>>,
    /// The plane / crop / spacing figures every candidate shares.
    base: BackgroundReport,
}

impl<'a> SceneSplit<'a> {
    /// Crop, remove the support plane and find the components (module doc, steps 1–3).
    pub fn new(cloud: &'a PointCloud, cfg: &BackgroundConfig) -> Result<Self> {
        if cloud.is_empty() {
            return Err(Error::Invalid(
                "background removal of an empty cloud".into(),
            ));
        }
        if cfg
            .expected_extent
            .is_some_and(|e| !(e > 0.0 && e.is_finite()))
        {
            return Err(Error::Invalid(
                "expected part extent must be a positive number".into(),
            ));
        }
        let pts = &cloud.points;
        let mut base = BackgroundReport::default();
        let mut alive: Vec<usize> = match cfg.crop {
            Some((lo, hi)) => (0..pts.len())
                .filter(|&i| (0..3).all(|a| pts[i][a] >= lo[a] && pts[i][a] <= hi[a]))
                .collect(),
            None => (0..pts.len()).collect(),
        };
        base.cropped = pts.len() - alive.len();
        if alive.is_empty() {
            return Err(Error::Invalid(
                "the crop box holds none of the scan's points".into(),
            ));
        }
        let sub: Vec<[f32; 3]> = alive.iter().map(|&i| pts[i]).collect();
        let spacing = median_spacing(&sub);
        base.spacing = spacing;
        let threshold = cfg
            .plane_threshold
            .unwrap_or(2.0 * spacing)
            .max(f32::MIN_POSITIVE);

        if let Some(plane) = support_plane(&sub, threshold, cfg) {
            let mut rest = Vec::with_capacity(alive.len());
            for &i in &alive {
                let d = plane.distance(pts[i]);
                if d.abs() <= threshold {
                    base.plane_points += 1;
                } else if d < 0.0 && cfg.remove_below_plane {
                    base.below_plane += 1;
                } else {
                    rest.push(i);
                }
            }
            base.plane = Some(plane);
            alive = rest;
        }
        if alive.is_empty() {
            return Err(Error::Invalid(
                "background removal left no points above the support plane".into(),
            ));
        }

        let rest: Vec<[f32; 3]> = alive.iter().map(|&i| pts[i]).collect();
        // The radius follows the spacing of what is left (the objects), not of the
        // whole scan: a table is often sampled more coarsely than the part, and a radius
        // from its spacing joins a fixture a few part spacings away to the part.
        let radius = cfg
            .cluster_radius
            .unwrap_or_else(|| 3.0 * median_spacing(&rest))
            .max(f32::MIN_POSITIVE);
        base.radius = radius;
        let mut comps = components(&rest, radius);
        base.components = comps.len();
        let min_size = cfg.min_component.max(1);
        comps.retain(|c| c.len() >= min_size);
        if comps.is_empty() {
            return Err(Error::Invalid(format!(
                "background removal found no object of at least {} points",
                cfg.min_component
            )));
        }
        Ok(Self {
            cloud,
            alive,
            rest,
            comps,
            base,
        })
    }

    /// Every point of the scan (table, fixtures and clutter included): what the
    /// scanner saw, against which a candidate part's pose can be checked.
    pub fn scene_points(&self) -> &[[f32; 3]] {
        &self.cloud.points
    }

    /// The direction the scene was scanned from ([`super::view::scan_direction`]),
    /// when a support plane was found (the scanner is on the part's side of it).
    pub fn scan_direction(&self) -> Option<[f32; 3]> {
        let plane = self.base.plane?;
        super::view::scan_direction(&self.cloud.points, plane.normal, self.base.spacing)
    }

    /// Up to `max` candidate parts, best size match first: each a component (with the
    /// smaller pieces that fit inside the part's extent together with it, module doc
    /// step 3) as a cloud with its report. Without an expected extent only the largest
    /// component is a candidate. Errors on a non-positive `expected`.
    pub fn candidates(
        &self,
        expected: Option<f32>,
        max: usize,
    ) -> Result<Vec<(PointCloud, BackgroundReport)>> {
        if expected.is_some_and(|e| !(e > 0.0 && e.is_finite())) {
            return Err(Error::Invalid(
                "expected part extent must be a positive number".into(),
            ));
        }
        Ok(self
            .ranked(expected)
            .into_iter()
            .take(max)
            .map(|primary| self.part(&grow(&self.rest, &self.comps, primary, expected)))
            .collect())
    }

    /// The components (ids `0..self.components()`, of at least `min_component` points)
    /// in the order they are tried as the part: closest in extent to `expected` first;
    /// without `expected`, the largest only.
    pub fn ranked(&self, expected: Option<f32>) -> Vec<usize> {
        rank(&self.rest, &self.comps, expected)
    }

    /// How many components of at least `min_component` points there are.
    pub fn components(&self) -> usize {
        self.comps.len()
    }

    /// The points of component `k`.
    pub fn component(&self, k: usize) -> Vec<[f32; 3]> {
        self.comps[k].iter().map(|&i| self.rest[i]).collect()
    }

    /// Bounding-box diagonal of component `k`.
    pub fn component_extent(&self, k: usize) -> f32 {
        component_extent(&self.rest, &self.comps[k])
    }

    /// The part made of components `ids`, with its report (everything else removed).
    pub fn part_of(&self, ids: &[usize]) -> (PointCloud, BackgroundReport) {
        let chosen: Vec<usize> = ids
            .iter()
            .flat_map(|&k| self.comps[k].iter().copied())
            .collect();
        self.part(&chosen)
    }

    /// The part made of `chosen` (indices into `rest`).
    fn part(&self, chosen: &[usize]) -> (PointCloud, BackgroundReport) {
        let pts = &self.cloud.points;
        let mut kept: Vec<u32> = chosen.iter().map(|&k| self.alive[k] as u32).collect();
        kept.sort_unstable();
        let mut report = self.base.clone();
        report.other_points = self.alive.len() - kept.len();
        let mut is_kept = vec![false; pts.len()];
        for &k in &kept {
            is_kept[k as usize] = true;
        }
        report.removed = (0..pts.len() as u32)
            .filter(|&i| !is_kept[i as usize])
            .collect();
        let idx: Vec<usize> = kept.iter().map(|&i| i as usize).collect();
        let part = self.cloud.select(&idx);
        report.part_extent = diagonal(&part.points);
        report.kept = kept;
        (part, report)
    }
}

/// Median distance to the nearest other point over (at most) 2000 evenly spread points.
fn median_spacing(points: &[[f32; 3]]) -> f32 {
    if points.len() < 2 {
        return 0.0;
    }
    let tree = KdTree::new(points);
    let step = (points.len() / 2000).max(1);
    let mut d: Vec<f32> = points
        .iter()
        .step_by(step)
        .filter_map(|&p| tree.knn(p, 2).get(1).map(|&(_, d2)| d2.sqrt()))
        .collect();
    d.sort_by(f32::total_cmp);
    d.get(d.len() / 2).copied().unwrap_or(0.0)
}

/// The dominant plane, if it qualifies as a support plane (see the module doc).
fn support_plane(points: &[[f32; 3]], threshold: f32, cfg: &BackgroundConfig) -> Option<Plane> {
    let n = points.len();
    if n < 3 || cfg.plane_iterations == 0 {
        return None;
    }
    // Hypotheses are scored on an evenly spread subset; the winner is refit on all.
    let step = (n / 5000).max(1);
    let sample: Vec<[f32; 3]> = points.iter().step_by(step).copied().collect();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut best: Option<(usize, Plane)> = None;
    for _ in 0..cfg.plane_iterations {
        let [a, b, c] = [0; 3].map(|_| points[rng.random_range(0..n)]);
        let Some(plane) = plane_through(a, b, c) else {
            continue;
        };
        let count = sample
            .iter()
            .filter(|&&p| plane.distance(p).abs() <= threshold)
            .count();
        if best.as_ref().is_none_or(|(c, _)| count > *c) {
            best = Some((count, plane));
        }
    }
    let (_, rough) = best?;
    let inliers: Vec<[f32; 3]> = points
        .iter()
        .copied()
        .filter(|&p| rough.distance(p).abs() <= threshold)
        .collect();
    let mut plane = fit_plane(&inliers).unwrap_or(rough);
    let on: Vec<[f32; 3]> = points
        .iter()
        .copied()
        .filter(|&p| plane.distance(p).abs() <= threshold)
        .collect();
    if (on.len() as f32) < cfg.min_plane_fraction * n as f32 {
        return None;
    }
    let off: Vec<[f32; 3]> = points
        .iter()
        .copied()
        .filter(|&p| plane.distance(p).abs() > threshold)
        .collect();
    // A support plane is larger than what stands on it; a part's own face is not.
    let reference = cfg.expected_extent.unwrap_or_else(|| diagonal(&off));
    if diagonal(&on) < 1.2 * reference {
        return None;
    }
    // Point the normal to the side holding more of the other points.
    let above = off.iter().filter(|&&p| plane.distance(p) > 0.0).count();
    if above * 2 < off.len() {
        plane.normal = plane.normal.map(|v| -v);
        plane.offset = -plane.offset;
    }
    Some(plane)
}

fn plane_through(a: [f32; 3], b: [f32; 3], c: [f32; 3]) -> Option<Plane> {
    let u = sub3(b, a);
    let v = sub3(c, a);
    let n = [
        u[1] * v[2] - u[2] * v[1],
        u[2] * v[0] - u[0] * v[2],
        u[0] * v[1] - u[1] * v[0],
    ];
    let len = dot(n, n).sqrt();
    if !(len > 0.0 && len.is_finite()) {
        return None;
    }
    let normal = n.map(|x| x / len);
    Some(Plane {
        normal,
        offset: -dot(normal, a),
    })
}

/// Least-squares plane: through the centroid, normal = smallest-eigenvalue direction.
fn fit_plane(points: &[[f32; 3]]) -> Option<Plane> {
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mut c = Vector3::<f64>::zeros();
    for p in points {
        c += Vector3::new(p[0] as f64, p[1] as f64, p[2] as f64);
    }
    c /= n;
    let mut cov = Matrix3::<f64>::zeros();
    for p in points {
        let d = Vector3::new(p[0] as f64, p[1] as f64, p[2] as f64) - c;
        cov += d * d.transpose();
    }
    let eig = SymmetricEigen::new(cov);
    let k = eig.eigenvalues.imin();
    let v = eig.eigenvectors.column(k);
    let normal = [v[0] as f32, v[1] as f32, v[2] as f32];
    if !normal.iter().all(|x| x.is_finite()) {
        return None;
    }
    Some(Plane {
        normal,
        offset: -(v[0] * c[0] + v[1] * c[1] + v[2] * c[2]) as f32,
    })
}

/// Connected components under "within `radius`", as lists of indices (each sorted),
/// largest first (ties by smallest index).
fn components(points: &[[f32; 3]], radius: f32) -> Vec<Vec<usize>> {
    let tree = KdTree::new(points);
    let mut sets = DisjointSets::new(points.len());
    for (i, &p) in points.iter().enumerate() {
        for (j, _) in tree.within(p, radius) {
            if j > i {
                sets.union(i, j);
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for i in 0..points.len() {
        groups.entry(sets.find(i)).or_default().push(i);
    }
    let mut out: Vec<Vec<usize>> = groups.into_values().collect();
    out.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    out
}

fn component_extent(points: &[[f32; 3]], c: &[usize]) -> f32 {
    let (lo, hi) = bounds(points, c);
    dist(lo, hi)
}

fn misfit(extent: f32, expected: f32) -> f32 {
    (extent.max(f32::MIN_POSITIVE) / expected).ln().abs()
}

/// Components (indices into `comps`) in the order they are tried as the part: closest
/// in extent to `expected` first (ties by size order); without `expected`, the
/// largest only.
fn rank(points: &[[f32; 3]], comps: &[Vec<usize>], expected: Option<f32>) -> Vec<usize> {
    let Some(expected) = expected else {
        return if comps.is_empty() { vec![] } else { vec![0] };
    };
    let mut order: Vec<(f32, usize)> = comps
        .iter()
        .enumerate()
        .map(|(k, c)| (misfit(component_extent(points, c), expected), k))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    order.into_iter().map(|(_, k)| k).collect()
}

/// Indices (into `points`) of the part grown from component `primary`: see the module
/// doc, step 3.
fn grow(
    points: &[[f32; 3]],
    comps: &[Vec<usize>],
    primary: usize,
    expected: Option<f32>,
) -> Vec<usize> {
    let mut part: Vec<usize> = comps[primary].to_vec();
    let Some(expected) = expected else {
        return part;
    };
    let (mut lo, mut hi) = bounds(points, &part);
    for (k, c) in comps.iter().enumerate() {
        if k == primary {
            continue;
        }
        let (clo, chi) = bounds(points, c);
        let ulo = [0, 1, 2].map(|a| lo[a].min(clo[a]));
        let uhi = [0, 1, 2].map(|a| hi[a].max(chi[a]));
        if dist(ulo, uhi) <= 1.1 * expected {
            part.extend_from_slice(c);
            (lo, hi) = (ulo, uhi);
        }
    }
    part
}

fn bounds(points: &[[f32; 3]], idx: &[usize]) -> ([f32; 3], [f32; 3]) {
    let mut lo = [f32::INFINITY; 3];
    let mut hi = [f32::NEG_INFINITY; 3];
    for &i in idx {
        for a in 0..3 {
            lo[a] = lo[a].min(points[i][a]);
            hi[a] = hi[a].max(points[i][a]);
        }
    }
    (lo, hi)
}

fn diagonal(points: &[[f32; 3]]) -> f32 {
    if points.is_empty() {
        return 0.0;
    }
    let idx: Vec<usize> = (0..points.len()).collect();
    let (lo, hi) = bounds(points, &idx);
    dist(lo, hi)
}

fn dist(a: [f32; 3], b: [f32; 3]) -> f32 {
    let d = sub3(a, b);
    dot(d, d).sqrt()
}

fn sub3(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
