//! The direction a one-sided scene was scanned from, found from the scan alone.
//!
//! A scanner records the first surface along each of its rays, so seen along its own
//! direction a scan is a height field: every cell of the image plane holds one surface.
//! Seen along another direction, the points of a table beside an object or of an
//! object's far side fall behind a nearer surface in the same cell. The direction with
//! the fewest points hidden that way is the scanner's (orthographic approximation: a
//! part spans a small angle of a real scanner's field of view).
//!
//! Only what a scan shows constrains the direction: a face the scanner did not see
//! hides nothing, so directions a little steeper than the scanner's also look
//! consistent, and a steep face seen obliquely spreads over several depths of a cell.
//! The estimate is within ~10° (the unit test's box on a table: 1.5–9°), enough to
//! check a candidate pose against the scan with a depth tolerance of a few cells.
//!
//! The search covers the half of the sphere above the support plane (the scanner looks
//! down onto the table), coarse then fine. Intake uses the direction to test a
//! candidate part's pose against everything the scanner saw
//! (`RegistrationTarget::seen_through`).

use crate::geometry::depth_image::perpendiculars;
use crate::geometry::ImagePlane;
use nalgebra::Vector3;
use std::collections::HashMap;

/// Points scored per direction: enough for a stable count, few enough for ~250
/// directions to take a fraction of a registration's time.
const SAMPLE: usize = 20_000;
/// Image cells, in (subsampled) point spacings: a few points per cell.
const CELL_SPACINGS: f32 = 2.0;
/// A point is hidden when a gap of this many cells in depth separates it from its
/// cell's front.
const HIDDEN_CELLS: f32 = 4.0;
/// Largest tilt from the plane normal searched (a scanner looking along the table sees
/// little of it).
const MAX_TILT_DEG: f32 = 80.0;
/// Angular step of the coarse search, and of the fine search around its best.
const COARSE_STEP_DEG: f32 = 8.0;
const FINE_STEP_DEG: f32 = 2.0;

/// The scanner's direction (unit, from the scene towards the scanner) for the points of
/// one scan, `up` the support plane's normal on the scanner's side and `spacing` the
/// scan's median point spacing. `None` for fewer than 3 points or a non-positive
/// spacing.
pub fn scan_direction(points: &[[f32; 3]], up: [f32; 3], spacing: f32) -> Option<[f32; 3]> {
    let up = Vector3::from(up).try_normalize(1e-12)?;
    if points.len() < 3 || !(spacing > 0.0 && spacing.is_finite()) {
        return None;
    }
    let stride = points.len().div_ceil(SAMPLE);
    let sample: Vec<[f32; 3]> = points.iter().step_by(stride).copied().collect();
    // Striding thins a surface's sampling by about √stride in each direction.
    let cell = CELL_SPACINGS * spacing * (stride as f32).sqrt();
    let tol = HIDDEN_CELLS * cell;
    let hidden = |v: &Vector3<f32>| {
        let plane = ImagePlane::new((*v).into(), cell);
        let mut cells: HashMap<(i64, i64), Vec<f32>> = HashMap::with_capacity(sample.len() / 2);
        for &p in &sample {
            cells
                .entry(plane.cell_of(p))
                .or_default()
                .push(plane.depth(p));
        }
        cells
            .into_values()
            .map(|depths| {
                let front = depths.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                depths.iter().filter(|&&d| d < front - tol).count()
            })
            .sum::<usize>()
    };
    let (e1, e2) = perpendiculars(&up);

    let mut best = (hidden(&up), up);
    let step = COARSE_STEP_DEG.to_radians();
    let rings = (MAX_TILT_DEG / COARSE_STEP_DEG).round() as usize;
    for ring in 1..=rings {
        let tilt = ring as f32 * step;
        let around = ((std::f32::consts::TAU * tilt.sin() / step).round() as usize).max(1);
        for k in 0..around {
            let azimuth = k as f32 * std::f32::consts::TAU / around as f32;
            let v = up * tilt.cos() + (e1 * azimuth.cos() + e2 * azimuth.sin()) * tilt.sin();
            let h = hidden(&v);
            if h < best.0 {
                best = (h, v);
            }
        }
    }

    // Fine: a square grid of directions about the coarse best, out to one coarse step.
    let centre = best.1;
    let (f1, f2) = perpendiculars(&centre);
    let fine = FINE_STEP_DEG.to_radians().tan();
    let reach = (COARSE_STEP_DEG / FINE_STEP_DEG).round() as i32;
    for a in -reach..=reach {
        for b in -reach..=reach {
            if a == 0 && b == 0 {
                continue;
            }
            let v = (centre + f1 * (a as f32 * fine) + f2 * (b as f32 * fine)).normalize();
            if v.dot(&up) <= 0.0 {
                continue;
            }
            let h = hidden(&v);
            if h < best.0 {
                best = (h, v);
            }
        }
    }
    Some(best.1.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the ray from `p` along `v` meets the box `lo..hi` (slab test), leaving a
    /// little room so points on the box's own faces are not hidden by it.
    fn ray_hits_box(p: Vector3<f32>, v: Vector3<f32>, lo: [f32; 3], hi: [f32; 3]) -> bool {
        let (mut t0, mut t1) = (1e-4f32, f32::INFINITY);
        for a in 0..3 {
            if v[a].abs() < 1e-9 {
                if p[a] < lo[a] || p[a] > hi[a] {
                    return false;
                }
                continue;
            }
            let (mut ta, mut tb) = ((lo[a] - p[a]) / v[a], (hi[a] - p[a]) / v[a]);
            if ta > tb {
                std::mem::swap(&mut ta, &mut tb);
            }
            t0 = t0.max(ta);
            t1 = t1.min(tb);
        }
        t0 < t1
    }

    /// A table (z = 0) with a box on it, scanned along `view`: what a scanner records
    /// (table points not shadowed by the box, box faces turned towards it).
    fn scene(view: Vector3<f32>) -> Vec<[f32; 3]> {
        let (lo, hi) = ([-0.3f32, -0.2, 0.0], [0.3f32, 0.2, 0.5]);
        let s = 0.02f32;
        let mut pts = Vec::new();
        for i in -75..=75 {
            for j in -75..=75 {
                let p = Vector3::new(i as f32 * s, j as f32 * s, 0.0);
                let under = (0..2).all(|a| p[a] >= lo[a] && p[a] <= hi[a]);
                if !under && !ray_hits_box(p, view, lo, hi) {
                    pts.push(p.into());
                }
            }
        }
        // Box faces: each sampled on a grid, kept when it faces the scanner.
        for axis in 0..3 {
            for side in [lo[axis], hi[axis]] {
                let mut n = Vector3::zeros();
                n[axis] = if side == lo[axis] { -1.0 } else { 1.0 };
                if n.dot(&view) <= 0.0 || (axis == 2 && side == lo[2]) {
                    continue;
                }
                let (b, c) = ((axis + 1) % 3, (axis + 2) % 3);
                let steps = |k: usize| ((hi[k] - lo[k]) / s).round() as usize;
                for i in 0..=steps(b) {
                    for j in 0..=steps(c) {
                        let mut p = Vector3::zeros();
                        p[axis] = side;
                        p[b] = lo[b] + i as f32 * s;
                        p[c] = lo[c] + j as f32 * s;
                        pts.push(p.into());
                    }
                }
            }
        }
        pts
    }

    #[test]
    fn the_direction_a_box_on_a_table_was_scanned_from_is_found() {
        let up = [0.0, 0.0, 1.0];
        for (tilt, azimuth) in [(0.0f32, 0.0f32), (20.0, 40.0), (35.0, 200.0), (30.0, 300.0)] {
            let (t, a) = (tilt.to_radians(), azimuth.to_radians());
            let view = Vector3::new(t.sin() * a.cos(), t.sin() * a.sin(), t.cos());
            let pts = scene(view);
            let found = scan_direction(&pts, up, 0.02).expect("a direction");
            let angle = Vector3::from(found)
                .dot(&view)
                .clamp(-1.0, 1.0)
                .acos()
                .to_degrees();
            assert!(
                angle < 10.0,
                "scanned at tilt {tilt}°, azimuth {azimuth}°: found {found:?}, {angle:.1}° off"
            );
        }
    }

    #[test]
    fn too_little_to_go_by_gives_no_direction() {
        assert!(scan_direction(&[[0.0; 3]; 2], [0.0, 0.0, 1.0], 0.1).is_none());
        assert!(scan_direction(&[[0.0; 3]; 5], [0.0, 0.0, 1.0], 0.0).is_none());
        assert!(scan_direction(&[[0.0; 3]; 5], [0.0, 0.0, 0.0], 0.1).is_none());
    }
}
