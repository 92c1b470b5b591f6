//! Real3D-AD-style partial scans: what a scanner looking from one side sees of a
//! cloud, plus Gaussian sensor noise.
//!
//! Visibility is decided in two steps: a point must face the camera (normal · view
//! direction > 0), and it must be within a small depth tolerance of the front-most
//! point in its cell of an orthographic depth buffer (so a far wall seen through a
//! cup's opening or behind a near one is hidden). The camera is far away (orthographic),
//! which is close enough for parts a scanner sees from half a metre.

use super::vec3::{any_perpendicular, cross, dot, normalize_or, rotate, V3};
use crate::{Error, PointCloud, Result};
use rand::Rng;
use rand_distr::{Distribution, Normal};
use std::collections::HashMap;

/// Depth-buffer cell size, in multiples of the sample spacing: large enough that every
/// cell of a visible surface holds a few samples.
const CELL_PER_SPACING: f32 = 2.0;
/// Depth tolerance, in cells: surfaces tilted up to about 70° still survive.
const DEPTH_TOL_CELLS: f32 = 3.0;

/// Indices of the points of `cloud` (which needs normals) visible from direction
/// `view` (unit vector from the object towards the camera); `spacing` is the typical
/// distance between neighbouring samples. Indices come in increasing order.
pub fn visible_from(cloud: &PointCloud, view: V3, spacing: f32) -> Result<Vec<usize>> {
    let normals = match &cloud.normals {
        Some(n) if n.len() == cloud.points.len() => n,
        _ => {
            return Err(Error::Invalid(
                "a partial scan needs one normal per point".into(),
            ))
        }
    };
    if !spacing.is_finite() || spacing <= 0.0 {
        return Err(Error::Invalid(format!(
            "scan spacing must be positive, got {spacing}"
        )));
    }
    let view = normalize_or(view, [0.0, 0.0, 1.0]);
    let u = any_perpendicular(view);
    let w = cross(view, u);
    let cell = CELL_PER_SPACING * spacing;
    let key = |p: V3| {
        (
            (dot(p, u) / cell).floor() as i64,
            (dot(p, w) / cell).floor() as i64,
        )
    };
    // Front-most depth per cell (the map is only queried, never iterated).
    let mut front: HashMap<(i64, i64), f32> = HashMap::new();
    for &p in &cloud.points {
        let d = dot(p, view);
        front
            .entry(key(p))
            .and_modify(|f| *f = f.max(d))
            .or_insert(d);
    }
    let tol = DEPTH_TOL_CELLS * cell;
    Ok((0..cloud.points.len())
        .filter(|&i| {
            let p = cloud.points[i];
            dot(normals[i], view) > 0.0 && dot(p, view) >= front[&key(p)] - tol
        })
        .collect())
}

/// The part of `cloud` visible from `view` (labels and normals follow the points).
pub fn partial_scan(cloud: &PointCloud, view: V3, spacing: f32) -> Result<PointCloud> {
    Ok(cloud.select(&visible_from(cloud, view, spacing)?))
}

/// A viewing direction: uniformly random, or, given a `target` normal (a defect that
/// must stay in view), that normal tilted by up to 50° in a random direction.
pub fn random_view<R: Rng>(target: Option<V3>, rng: &mut R) -> V3 {
    match target {
        Some(n) => {
            let n = normalize_or(n, [0.0, 0.0, 1.0]);
            let axis = rotate(
                any_perpendicular(n),
                n,
                rng.random_range(0.0..std::f32::consts::TAU),
            );
            rotate(n, axis, rng.random_range(0.0..50f32.to_radians()))
        }
        None => {
            let z: f32 = rng.random_range(-1.0..1.0);
            let phi: f32 = rng.random_range(0.0..std::f32::consts::TAU);
            let r = (1.0 - z * z).max(0.0).sqrt();
            [r * phi.cos(), r * phi.sin(), z]
        }
    }
}

/// Add isotropic Gaussian noise of standard deviation `sigma` to every coordinate.
pub fn add_noise<R: Rng>(cloud: &mut PointCloud, sigma: f32, rng: &mut R) -> Result<()> {
    if sigma == 0.0 {
        return Ok(());
    }
    let normal = Normal::new(0.0f32, sigma)
        .map_err(|e| Error::Invalid(format!("noise sigma {sigma}: {e}")))?;
    for p in &mut cloud.points {
        for c in p.iter_mut() {
            *c += normal.sample(rng);
        }
    }
    Ok(())
}
