//! Flat parts: a planar region triangulated in 2D (vertices welded by position), then
//! extruded into a closed slab with side walls along every boundary edge (outer
//! contour and holes alike).

use super::orient_outward;
use crate::PointCloud;
use std::collections::{BTreeMap, HashSet};
use std::f64::consts::PI;

/// A triangulated planar region; triangles are kept counter-clockwise.
#[derive(Default)]
pub(crate) struct Region {
    verts: Vec<[f64; 2]>,
    tris: Vec<[u32; 3]>,
    weld: BTreeMap<(i64, i64), u32>,
}

impl Region {
    /// Index of the vertex at `p`, shared with any earlier vertex at the same place
    /// (to 1e-6), so that neighbouring cells stitch together.
    fn vertex(&mut self, p: [f64; 2]) -> u32 {
        let key = ((p[0] * 1e6).round() as i64, (p[1] * 1e6).round() as i64);
        let next = self.verts.len() as u32;
        let id = *self.weld.entry(key).or_insert(next);
        if id == next {
            self.verts.push(p);
        }
        id
    }

    fn triangle(&mut self, a: [f64; 2], b: [f64; 2], c: [f64; 2]) {
        let (ia, ib, ic) = (self.vertex(a), self.vertex(b), self.vertex(c));
        if ia == ib || ib == ic || ia == ic {
            return;
        }
        let area2 = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
        if area2 > 0.0 {
            self.tris.push([ia, ib, ic]);
        } else {
            self.tris.push([ia, ic, ib]);
        }
    }

    /// Fill the band between two closed loops with the same number of points
    /// (`inner` may be one point repeated: then the band is a fan-like disc), with
    /// `rings` intermediate loops interpolated linearly.
    pub(crate) fn band(&mut self, inner: &[[f64; 2]], outer: &[[f64; 2]], rings: usize) {
        let k = inner.len();
        let lerp = |j: usize, i: usize| {
            let t = j as f64 / (rings + 1) as f64;
            let (a, b) = (inner[i % k], outer[i % k]);
            [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
        };
        for j in 0..=rings {
            for i in 0..k {
                let (a, b) = (lerp(j, i), lerp(j, i + 1));
                let (c, d) = (lerp(j + 1, i + 1), lerp(j + 1, i));
                self.triangle(a, b, c);
                self.triangle(a, c, d);
            }
        }
    }

    /// Extrude to a closed slab `z ∈ [0, thickness]`; walls are split into rows no
    /// taller than `ds` so that the triangles stay well shaped.
    pub(crate) fn extrude(&self, thickness: f32, ds: f32) -> PointCloud {
        let n = self.verts.len();
        let mut points: Vec<[f32; 3]> = Vec::with_capacity(2 * n);
        for p in &self.verts {
            points.push([p[0] as f32, p[1] as f32, thickness]);
        }
        for p in &self.verts {
            points.push([p[0] as f32, p[1] as f32, 0.0]);
        }
        let mut faces: Vec<[u32; 3]> = Vec::new();
        let n32 = n as u32;
        for t in &self.tris {
            faces.push(*t);
            faces.push([t[0] + n32, t[2] + n32, t[1] + n32]);
        }
        // Boundary edges: directed edges of the CCW triangles whose reverse is absent.
        // The set is only queried; the walls are made in triangle order (determinism).
        let directed: HashSet<(u32, u32)> = self
            .tris
            .iter()
            .flat_map(|t| [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])])
            .collect();
        let rows = ((thickness / ds).ceil() as usize).max(1);
        let mut columns: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        let mut column = |v: u32, points: &mut Vec<[f32; 3]>| -> Vec<u32> {
            columns
                .entry(v)
                .or_insert_with(|| {
                    let mut col = vec![v + n32];
                    let p = self.verts[v as usize];
                    for r in 1..rows {
                        col.push(points.len() as u32);
                        let z = thickness * r as f32 / rows as f32;
                        points.push([p[0] as f32, p[1] as f32, z]);
                    }
                    col.push(v);
                    col
                })
                .clone()
        };
        for t in &self.tris {
            for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
                if directed.contains(&(b, a)) {
                    continue;
                }
                let ca = column(a, &mut points);
                let cb = column(b, &mut points);
                for r in 0..rows {
                    faces.push([ca[r], cb[r], cb[r + 1]]);
                    faces.push([ca[r], cb[r + 1], ca[r + 1]]);
                }
            }
        }
        let mut mesh = PointCloud {
            points,
            faces,
            ..PointCloud::default()
        };
        orient_outward(&mut mesh);
        mesh
    }
}

fn circle(centre: [f64; 2], r: f64, k: usize, phase: f64) -> Vec<[f64; 2]> {
    (0..k)
        .map(|i| {
            let a = phase + 2.0 * PI * i as f64 / k as f64;
            [centre[0] + r * a.cos(), centre[1] + r * a.sin()]
        })
        .collect()
}

/// The square of half-size `h` around `centre`, sampled at the same angles as
/// [`circle`] (ray from the centre to the square), so it pairs point by point.
fn square(centre: [f64; 2], h: f64, k: usize) -> Vec<[f64; 2]> {
    (0..k)
        .map(|i| {
            let a = 2.0 * PI * i as f64 / k as f64;
            let (s, c) = a.sin_cos();
            let m = s.abs().max(c.abs());
            [centre[0] + h * c / m, centre[1] + h * s / m]
        })
        .collect()
}

/// A 2 × 1 mounting plate, 0.15 thick: four corner bolt holes and two larger holes
/// in the middle. Built from 8 × 4 square cells whose loops share their edge points.
pub(crate) fn plate() -> PointCloud {
    let mut region = Region::default();
    let half = 0.125;
    let k = 16; // points per cell loop: a multiple of 8 puts the square's corners on it
    let (nx, ny) = (8, 4);
    for ix in 0..nx {
        for iy in 0..ny {
            let c = [
                (ix as f64 + 0.5) * 2.0 * half,
                (iy as f64 + 0.5) * 2.0 * half,
            ];
            let outer = square(c, half, k);
            let bolt = (ix == 0 || ix == nx - 1) && (iy == 0 || iy == ny - 1);
            let big = (ix, iy) == (3, 1) || (ix, iy) == (4, 2);
            let inner = if bolt {
                circle(c, 0.5 * half, k, 0.0)
            } else if big {
                circle(c, 0.75 * half, k, 0.0)
            } else {
                vec![c; k]
            };
            region.band(&inner, &outer, 2);
        }
    }
    region.extrude(0.15, 0.04)
}

/// A spur gear: 14 trapezoidal teeth (tip radius 1, root 0.82), a bore of 0.28, 0.3 thick.
pub(crate) fn gear() -> PointCloud {
    let teeth = 14;
    let per_tooth = 12;
    let k = teeth * per_tooth;
    let outline: Vec<[f64; 2]> = (0..k)
        .map(|i| {
            let a = 2.0 * PI * i as f64 / k as f64;
            let u = (i % per_tooth) as f64 / per_tooth as f64;
            // Tooth profile over one pitch: flank up, tip land, flank down, root land.
            let (root, tip) = (0.82, 1.0);
            let r = if u < 0.2 {
                root + (tip - root) * u / 0.2
            } else if u < 0.45 {
                tip
            } else if u < 0.65 {
                tip - (tip - root) * (u - 0.45) / 0.2
            } else {
                root
            };
            [r * a.cos(), r * a.sin()]
        })
        .collect();
    let bore = circle([0.0, 0.0], 0.28, k, 0.0);
    let mut region = Region::default();
    region.band(&bore, &outline, 7);
    region.extrude(0.3, 0.06)
}
