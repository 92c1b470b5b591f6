//! Broken parts: a chunk near an extremity cut off by a plane. The kept points next to
//! the cut are labelled; with the source mesh, the fracture face is filled with points.

use super::DefectOutcome;
use crate::synth::vec3::{add, any_perpendicular, cross, dot, normalize_or, scale, V3};
use crate::PointCloud;
use rand::Rng;

/// Random directions tried; the one along which the part is longest wins, so the cut
/// takes off a tip rather than shaving a flat side.
const DIRECTION_TRIES: usize = 8;

/// Pick a cut plane `p · normal = offset` removing `fraction` of the extent.
pub(super) fn draw_cut<R: Rng>(cloud: &PointCloud, fraction: f32, rng: &mut R) -> (V3, f32) {
    let mut best = ([0.0, 0.0, 1.0], 0.0f32, 0.0f32);
    for _ in 0..DIRECTION_TRIES {
        let d = random_unit(rng);
        let (lo, hi) = extent(cloud, d);
        if hi - lo > best.2 - best.1 {
            best = (d, lo, hi);
        }
    }
    let (d, lo, hi) = best;
    (d, hi - fraction * (hi - lo))
}

fn random_unit<R: Rng>(rng: &mut R) -> V3 {
    loop {
        let v = [
            rng.random_range(-1.0f32..1.0),
            rng.random_range(-1.0f32..1.0),
            rng.random_range(-1.0f32..1.0),
        ];
        let n2 = dot(v, v);
        if n2 > 1e-4 && n2 <= 1.0 {
            return scale(v, 1.0 / n2.sqrt());
        }
    }
}

fn extent(cloud: &PointCloud, d: V3) -> (f32, f32) {
    cloud
        .points
        .iter()
        .map(|&p| dot(p, d))
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        })
}

/// The kept point closest to the cut plane (a point on the break's edge).
pub(super) fn anchor(cloud: &PointCloud, normal: V3, offset: f32) -> V3 {
    cloud
        .points
        .iter()
        .filter(|&&p| dot(p, normal) <= offset)
        .max_by(|a, b| dot(**a, normal).total_cmp(&dot(**b, normal)))
        .copied()
        .unwrap_or([0.0; 3])
}

pub(super) fn apply(
    cloud: &PointCloud,
    normal: V3,
    offset: f32,
    rim: f32,
    face_spacing: f32,
    mesh: Option<&PointCloud>,
) -> DefectOutcome {
    let normal = normalize_or(normal, [0.0, 0.0, 1.0]);
    let keep: Vec<usize> = (0..cloud.points.len())
        .filter(|&i| dot(cloud.points[i], normal) <= offset)
        .collect();
    let mut out = cloud.select(&keep);
    let mut labels: Vec<u8> = out
        .points
        .iter()
        .map(|&p| u8::from(dot(p, normal) > offset - rim))
        .collect();
    let face = match mesh {
        Some(m) if face_spacing > 0.0 => cut_face(m, normal, offset, face_spacing),
        _ => Vec::new(),
    };
    let n_added = face.len();
    out.points.extend_from_slice(&face);
    if let Some(n) = out.normals.as_mut() {
        n.extend(std::iter::repeat_n(normal, n_added));
    }
    labels.extend(std::iter::repeat_n(1u8, n_added));
    let n_anomalous = labels.iter().filter(|&&l| l == 1).count();
    out.labels = Some(labels);
    DefectOutcome {
        n_removed: cloud.points.len() - keep.len(),
        n_added,
        n_anomalous,
        cloud: out,
    }
}

/// Points on a grid of pitch `spacing` (rows staggered by half a pitch) covering the
/// cross-section of the closed `mesh` with the plane `p · normal = offset`. Inside is
/// decided by the even–odd rule against the section's segments.
fn cut_face(mesh: &PointCloud, normal: V3, offset: f32, spacing: f32) -> Vec<V3> {
    let u = any_perpendicular(normal);
    let v = cross(normal, u);
    let mut segments: Vec<[[f32; 2]; 2]> = Vec::new();
    for f in &mesh.faces {
        let p = f.map(|i| mesh.points[i as usize]);
        let s = p.map(|q| dot(q, normal) - offset);
        let mut hits: Vec<[f32; 2]> = Vec::with_capacity(2);
        for (a, b) in [(0, 1), (1, 2), (2, 0)] {
            // Half-open rule (> 0 vs <= 0) so a vertex on the plane is counted once.
            if (s[a] > 0.0) != (s[b] > 0.0) {
                let t = s[a] / (s[a] - s[b]);
                let q = add(p[a], scale(crate::synth::vec3::sub(p[b], p[a]), t));
                hits.push([dot(q, u), dot(q, v)]);
            }
        }
        if hits.len() == 2 {
            segments.push([hits[0], hits[1]]);
        }
    }
    if segments.is_empty() {
        return Vec::new();
    }
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for s in &segments {
        for q in s {
            for a in 0..2 {
                lo[a] = lo[a].min(q[a]);
                hi[a] = hi[a].max(q[a]);
            }
        }
    }
    let row_pitch = spacing * 0.866; // staggered rows: a hexagonal-ish grid
    let rows = ((hi[1] - lo[1]) / row_pitch).ceil() as usize;
    let cols = ((hi[0] - lo[0]) / spacing).ceil() as usize + 1;
    let origin = scale(normal, offset);
    let mut out = Vec::new();
    for r in 0..rows {
        let y = lo[1] + (r as f32 + 0.5) * row_pitch;
        let shift = if r % 2 == 0 { 0.25 } else { 0.75 };
        for c in 0..cols {
            let x = lo[0] + (c as f32 + shift) * spacing;
            let crossings = segments
                .iter()
                .filter(|[a, b]| {
                    (a[1] > y) != (b[1] > y) && {
                        let xi = a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
                        xi > x
                    }
                })
                .count();
            if crossings % 2 == 1 {
                out.push(add(origin, add(scale(u, x), scale(v, y))));
            }
        }
    }
    out
}
