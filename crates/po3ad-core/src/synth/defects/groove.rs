//! Cracks and scratches: a groove sunk along a curve drawn on the surface.

use super::{displaced, DefectOutcome, GrooveProfile, SAME_SIDE_COS};
use crate::synth::vec3::{add, any_perpendicular, cross, dist2, dot, norm, rotate, scale, sub, V3};
use crate::{Error, PointCloud, Result};
use rand::Rng;
use std::f32::consts::PI;

/// Number of segments of a groove's path.
const PATH_SEGMENTS: usize = 24;

/// Fraction of the groove's length over which its depth fades in at each end.
const END_FADE: f32 = 0.15;

/// Directions tried for a groove; the one whose path stays on the surface best wins,
/// so that a groove on a narrow face runs along it rather than off its edge.
const DIRECTION_TRIES: usize = 6;

/// Draw a path of `length` through `anchor` and project it onto the surface. Cracks
/// wander (a random walk sideways); scratches bend in a gentle arc.
#[allow(clippy::too_many_arguments)]
pub(super) fn draw_path<R: Rng>(
    cloud: &PointCloud,
    normals: &[V3],
    anchor: V3,
    anchor_normal: V3,
    length: f32,
    crack: bool,
    spacing: f32,
    rng: &mut R,
) -> (Vec<V3>, Vec<V3>) {
    let step = length / PATH_SEGMENTS as f32;
    let phase = rng.random_range(0.0..std::f32::consts::TAU);
    let mut best: Option<(usize, Vec<V3>, Vec<V3>)> = None;
    for t in 0..DIRECTION_TRIES {
        // Evenly spread directions over a half turn (a groove has no head or tail).
        let angle = phase + std::f32::consts::PI * t as f32 / DIRECTION_TRIES as f32;
        let tangent = rotate(any_perpendicular(anchor_normal), anchor_normal, angle);
        let side = cross(anchor_normal, tangent);
        let curvature = rng.random_range(-0.3..0.3) / length;
        let mut lateral = 0.0f32;
        let mut path = Vec::with_capacity(PATH_SEGMENTS + 1);
        let mut path_normals = Vec::with_capacity(PATH_SEGMENTS + 1);
        let mut on_surface = 0;
        for i in 0..=PATH_SEGMENTS {
            let s = (i as f32 / PATH_SEGMENTS as f32 - 0.5) * length;
            let l = if crack {
                lateral += rng.random_range(-0.35..0.35) * step;
                lateral
            } else {
                curvature * s * s
            };
            let raw = add(anchor, add(scale(tangent, s), scale(side, l)));
            let (p, n, d2) = project(cloud, normals, raw, anchor_normal);
            on_surface += usize::from(d2 < 4.0 * spacing * spacing);
            path.push(p);
            path_normals.push(n);
        }
        if best.as_ref().is_none_or(|b| on_surface > b.0) {
            best = Some((on_surface, path, path_normals));
        }
    }
    best.map(|(_, p, n)| (p, n)).unwrap_or_default()
}

/// Project `q` onto the tangent plane of the nearest sample on the same side as
/// `side_normal` (or return it unchanged if there is none); also returns the squared
/// distance from `q` to that sample.
fn project(cloud: &PointCloud, normals: &[V3], q: V3, side_normal: V3) -> (V3, V3, f32) {
    let nearest = (0..cloud.points.len())
        .filter(|&i| dot(normals[i], side_normal) >= SAME_SIDE_COS)
        .min_by(|&a, &b| dist2(cloud.points[a], q).total_cmp(&dist2(cloud.points[b], q)));
    match nearest {
        Some(i) => {
            let (p, n) = (cloud.points[i], normals[i]);
            (sub(q, scale(n, dot(sub(q, p), n))), n, dist2(p, q))
        }
        None => (q, side_normal, f32::INFINITY),
    }
}

fn smoothstep(a: f32, b: f32, x: f32) -> f32 {
    let t = ((x - a) / (b - a)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

pub(super) fn apply(
    cloud: &PointCloud,
    normals: &[V3],
    path: &[V3],
    path_normals: &[V3],
    half_width: f32,
    depth: f32,
    profile: GrooveProfile,
) -> Result<DefectOutcome> {
    if path.len() < 2 || path_normals.len() != path.len() || half_width <= 0.0 {
        return Err(Error::Invalid(
            "a groove needs a path of at least two points, one normal per point and a positive width"
                .into(),
        ));
    }
    let mut cum = vec![0.0f32];
    for w in path.windows(2) {
        cum.push(cum[cum.len() - 1] + norm(sub(w[1], w[0])));
    }
    let total = cum[cum.len() - 1].max(1e-12);
    let offsets: Vec<f32> = cloud
        .points
        .iter()
        .zip(normals)
        .map(|(&p, &n)| {
            // Nearest point of the path: segment j at parameter t.
            let mut best = (f32::INFINITY, 0usize, 0.0f32);
            for j in 0..path.len() - 1 {
                let (a, b) = (path[j], path[j + 1]);
                let ab = sub(b, a);
                let len2 = dot(ab, ab);
                let t = if len2 > 0.0 {
                    (dot(sub(p, a), ab) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let d2 = dist2(p, add(a, scale(ab, t)));
                if d2 < best.0 {
                    best = (d2, j, t);
                }
            }
            let (d2, j, t) = best;
            if d2 >= half_width * half_width {
                return 0.0;
            }
            let vertex = if t < 0.5 { j } else { j + 1 };
            if dot(n, path_normals[vertex]) < SAME_SIDE_COS {
                return 0.0;
            }
            let u = (cum[j] + t * (cum[j + 1] - cum[j])) / total;
            let taper = smoothstep(0.0, END_FADE, u) * smoothstep(0.0, END_FADE, 1.0 - u);
            let q = d2.sqrt() / half_width;
            let across = match profile {
                GrooveProfile::V => 1.0 - q,
                GrooveProfile::Round => 0.5 * (1.0 + (PI * q).cos()),
            };
            -depth * across * taper
        })
        .collect();
    Ok(displaced(cloud, normals, &offsets))
}
