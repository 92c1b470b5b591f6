//! Surfaces of revolution about the z axis: a closed (r, z) profile whose two ends lie
//! on the axis is swept around it. Vessels get a wall thickness so the surface is closed.

use super::{orient_outward, resample};
use crate::PointCloud;
use std::f32::consts::PI;

/// Sweep `profile` (pairs `(r, z)`, first and last with `r == 0`) around the z axis
/// with `segments` steps. The two axis points become single pole vertices, so no
/// degenerate triangle is made.
pub(crate) fn revolve(profile: &[[f32; 2]], segments: usize) -> PointCloud {
    let m = segments.max(3);
    let rings = &profile[1..profile.len() - 1];
    let first = profile[0];
    let last = profile[profile.len() - 1];
    let mut points = Vec::with_capacity(rings.len() * m + 2);
    points.push([0.0, 0.0, first[1]]);
    for &[r, z] in rings {
        for k in 0..m {
            let phi = 2.0 * PI * k as f32 / m as f32;
            points.push([r * phi.cos(), r * phi.sin(), z]);
        }
    }
    let top = points.len() as u32;
    points.push([0.0, 0.0, last[1]]);

    let ring = |j: usize, k: usize| (1 + j * m + k % m) as u32;
    let mut faces = Vec::new();
    for k in 0..m {
        faces.push([0, ring(0, k + 1), ring(0, k)]);
    }
    for j in 0..rings.len() - 1 {
        for k in 0..m {
            let (a, b) = (ring(j, k), ring(j, k + 1));
            let (c, d) = (ring(j + 1, k + 1), ring(j + 1, k));
            faces.push([a, b, c]);
            faces.push([a, c, d]);
        }
    }
    let j = rings.len() - 1;
    for k in 0..m {
        faces.push([ring(j, k), ring(j, k + 1), top]);
    }
    let mut mesh = PointCloud {
        points,
        faces,
        ..PointCloud::default()
    };
    orient_outward(&mut mesh);
    mesh
}

/// Sample `f` on `[0, 1]` densely: the pieces are resampled by arc length later.
fn dense(f: impl Fn(f32) -> [f32; 2]) -> Vec<[f32; 2]> {
    (0..=400).map(|i| f(i as f32 / 400.0)).collect()
}

/// A closed profile made of pieces, each resampled to spacing `ds`; the pieces'
/// joints stay as sharp corners.
fn profile(pieces: &[Vec<[f32; 2]>], ds: f32) -> Vec<[f32; 2]> {
    let mut out: Vec<[f32; 2]> = Vec::new();
    for piece in pieces {
        let piece = resample(piece, ds);
        let joined = match (out.last(), piece.first()) {
            (Some(a), Some(b)) => (a[0] - b[0]).abs() + (a[1] - b[1]).abs() < 1e-6,
            _ => false,
        };
        let skip = usize::from(joined);
        out.extend_from_slice(&piece[skip..]);
    }
    out
}

/// An open-topped vessel with a flat bottom: outer wall radius `r_out(z)` for z in
/// `[0, height]`, wall and bottom thickness `thick`.
pub(crate) fn vessel(r_out: impl Fn(f32) -> f32, height: f32, thick: f32, ds: f32) -> PointCloud {
    let r0 = r_out(0.0);
    let rh = r_out(height);
    let pieces = vec![
        vec![[0.0, 0.0], [r0, 0.0]],
        dense(|t| [r_out(t * height), t * height]),
        vec![[rh, height], [rh - thick, height]],
        dense(|t| {
            let z = height - t * (height - thick);
            [r_out(z) - thick, z]
        }),
        vec![[r_out(thick) - thick, thick], [0.0, thick]],
    ];
    revolve(&profile(&pieces, ds), segments_for(r0.max(rh), ds))
}

/// A closed solid of revolution with flat ends: radius `r(z)` for z in `[0, height]`.
pub(crate) fn solid(r: impl Fn(f32) -> f32, height: f32, ds: f32) -> PointCloud {
    let pieces = vec![
        vec![[0.0, 0.0], [r(0.0), 0.0]],
        dense(|t| [r(t * height), t * height]),
        vec![[r(height), height], [0.0, height]],
    ];
    revolve(
        &profile(&pieces, ds),
        segments_for(r(0.0).max(r(height)), ds),
    )
}

fn segments_for(radius: f32, ds: f32) -> usize {
    ((2.0 * PI * radius / ds).ceil() as usize).clamp(24, 256)
}

fn smoothstep(a: f32, b: f32, x: f32) -> f32 {
    let t = ((x - a) / (b - a)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

pub(crate) fn vase() -> PointCloud {
    let r = |z: f32| {
        0.2 + 0.15 * (-((z - 0.35) / 0.22).powi(2)).exp() + 0.08 * smoothstep(0.75, 1.0, z)
    };
    vessel(r, 1.0, 0.03, 0.03)
}

pub(crate) fn bottle() -> PointCloud {
    let r = |z: f32| {
        let body = 0.3;
        let neck = 0.11;
        let lip = 0.13;
        let shoulder = body + (neck - body) * smoothstep(0.55, 0.85, z);
        shoulder + (lip - neck) * smoothstep(1.02, 1.05, z)
    };
    solid(r, 1.12, 0.025)
}

pub(crate) fn cup() -> PointCloud {
    vessel(|z| 0.3 + 0.08 * z, 0.85, 0.03, 0.035)
}

pub(crate) fn bowl() -> PointCloud {
    let radius: f32 = 0.6;
    let centre = (radius * radius - 0.2 * 0.2).sqrt();
    let r = move |z: f32| (radius * radius - (centre - z).powi(2)).max(0.0).sqrt();
    vessel(r, 0.45, 0.035, 0.035)
}
