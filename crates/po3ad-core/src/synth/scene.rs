//! Scans of a part in an inspection cell (`po3ad synth --scene`): the part in any pose
//! resting on a table plane, a fixture block beside it and distractor objects (a ball
//! and a box) elsewhere on the table, seen from one side above the table, in mm.
//!
//! The whole scene is one cloud when visibility is decided, so the part hides the table
//! under it and objects hide each other. The written cloud holds the part's visible
//! points first (labels 0 / 1 as for any test cloud), then the table's, the fixture's
//! and the distractors' (label 0): [`SceneEntry::part_points`] says where the part ends.
//!
//! The fixture stands a few point spacings away from the part: a clamp touching the
//! part cannot be told from it by connected components, which is what
//! `scene::background` relies on.

use super::pose::{random_pose, RigidPose};
use super::scan::visible_from;
use super::vec3::{any_perpendicular, cross, dot, normalize_or, rotate, V3};
use crate::{Error, PointCloud, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// How scenes are built. Sizes are in part radii (the part is normalized to the unit
/// sphere before), except `mm_per_unit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SceneConfig {
    /// Millimetres per template unit: scans are written in mm, templates stay in their
    /// units (with the default 1000 the templates read as metres).
    pub mm_per_unit: f32,
    /// Half the side of the square table, from the part's centre.
    pub table_half_width: f32,
    /// Table sample spacing relative to the part's.
    pub table_spacing: f32,
    /// Write the fixture block.
    pub fixture: bool,
    /// Gap between the part and the fixture, in part sample spacings.
    pub fixture_gap_spacings: f32,
    /// Distractor objects (alternately a ball and a box).
    pub distractors: usize,
    /// Largest tilt of the view from the table's normal, degrees.
    pub max_view_tilt_deg: f32,
}

impl Default for SceneConfig {
    fn default() -> Self {
        Self {
            mm_per_unit: 1000.0,
            table_half_width: 2.4,
            table_spacing: 1.5,
            fixture: true,
            fixture_gap_spacings: 8.0,
            distractors: 2,
            max_view_tilt_deg: 35.0,
        }
    }
}

/// What a scene file holds (recorded in the manifest's test entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SceneEntry {
    /// The first `part_points` points of the file are the part; the rest background.
    pub part_points: usize,
    pub table_points: usize,
    pub fixture_points: usize,
    pub distractor_points: usize,
    /// Length unit of the file ("mm").
    pub units: String,
    pub mm_per_unit: f32,
    /// Camera direction (unit, from the scene towards the camera).
    pub view: V3,
    /// Pose of the part in the file, `p_file = R p_template + t` (t in mm).
    pub pose: RigidPose,
}

/// Compose a scene around `part` (normalized, with normals and labels) and scan it.
/// `anchor` is the outward normal of a defect that must face the camera.
pub(crate) fn scan_scene<R: Rng>(
    part: &PointCloud,
    anchor: Option<V3>,
    spacing: f32,
    noise_sigma: f32,
    cfg: &SceneConfig,
    rng: &mut R,
) -> Result<(PointCloud, SceneEntry)> {
    if !(cfg.mm_per_unit > 0.0 && cfg.table_half_width > 1.0 && cfg.table_spacing > 0.0) {
        return Err(Error::Invalid(
            "scene: mm_per_unit and table_spacing must be positive, table_half_width > 1".into(),
        ));
    }
    let normals = part
        .normals
        .as_ref()
        .filter(|n| n.len() == part.len())
        .ok_or_else(|| Error::Invalid("scene: the part needs one normal per point".into()))?;
    let up: V3 = [0.0, 0.0, 1.0];
    // View: up, tilted by up to max_view_tilt_deg in a random direction.
    let tilt_axis = rotate(
        [1.0, 0.0, 0.0],
        up,
        rng.random_range(0.0..std::f32::consts::TAU),
    );
    let view = rotate(
        up,
        tilt_axis,
        rng.random_range(0.0..=cfg.max_view_tilt_deg.max(0.0).to_radians()),
    );
    // Part orientation: any, but a defect faces the camera (within 50 degrees).
    let mut pose = match anchor {
        None => random_pose(180.0, 0.0, rng),
        Some(n) => {
            let target = rotate(
                view,
                rotate(
                    any_perpendicular(view),
                    view,
                    rng.random_range(0.0..std::f32::consts::TAU),
                ),
                rng.random_range(0.0..50f32.to_radians()),
            );
            let spin = rng.random_range(0.0..std::f32::consts::TAU);
            turn_onto(normalize_or(n, up), target, spin)
        }
    };
    let rot = |v: V3| {
        let r = &pose.rotation;
        [0, 1, 2].map(|i| r[i][0] * v[0] + r[i][1] * v[1] + r[i][2] * v[2])
    };
    let mut pts: Vec<V3> = part.points.iter().map(|&p| rot(p)).collect();
    // Rest the part on the table (z = 0), centred at the origin.
    let (lo, hi) = bounds(&pts);
    let shift = [-(lo[0] + hi[0]) / 2.0, -(lo[1] + hi[1]) / 2.0, -lo[2]];
    for p in &mut pts {
        *p = [p[0] + shift[0], p[1] + shift[1], p[2] + shift[2]];
    }
    pose.translation = shift;
    let (plo, phi) = bounds(&pts);
    let mut cloud = PointCloud {
        points: pts,
        normals: Some(normals.iter().map(|&n| rot(n)).collect()),
        labels: Some(part.labels.clone().unwrap_or_else(|| vec![0; part.len()])),
        faces: Vec::new(),
    };
    let n_part = cloud.len();

    let h = cfg.table_half_width;
    let ts = cfg.table_spacing * spacing;
    let table_n = ((2.0 * h / ts).powi(2)) as usize;
    let mut table = Vec::with_capacity(table_n);
    for _ in 0..table_n {
        table.push([rng.random_range(-h..h), rng.random_range(-h..h), 0.0]);
    }
    push(&mut cloud, &table, &vec![up; table.len()]);
    let n_table = table.len();

    let gap = cfg.fixture_gap_spacings * spacing;
    let mut occupied: Vec<(V3, V3)> = vec![(plo, phi)];
    let mut n_fixture = 0;
    if cfg.fixture {
        // A stop block against the part's +x side, as long as the part is deep.
        let x0 = phi[0] + gap;
        let lo = [x0, plo[1], 0.0];
        let hi = [x0 + 0.25, phi[1], (0.5 * (phi[2] - plo[2])).max(0.1)];
        let (p, n) = box_surface(lo, hi, spacing, rng);
        n_fixture = p.len();
        push(&mut cloud, &p, &n);
        occupied.push((lo, hi));
    }
    let mut n_distractor = 0;
    for k in 0..cfg.distractors {
        let size = rng.random_range(0.25f32..0.45);
        let mut placed = None;
        for _ in 0..200 {
            let c = [
                rng.random_range(-h + size..h - size),
                rng.random_range(-h + size..h - size),
            ];
            let lo = [c[0] - size, c[1] - size, 0.0];
            let hi = [c[0] + size, c[1] + size, 2.0 * size];
            let clear = occupied
                .iter()
                .all(|(a, b)| (0..2).any(|ax| lo[ax] > b[ax] + gap || hi[ax] < a[ax] - gap));
            if clear {
                placed = Some((lo, hi));
                break;
            }
        }
        let Some((lo, hi)) = placed else { continue };
        let (p, n) = if k % 2 == 0 {
            ball_surface(
                [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0, size],
                size,
                spacing,
                rng,
            )
        } else {
            box_surface(lo, [hi[0], hi[1], size], spacing, rng)
        };
        n_distractor += p.len();
        push(&mut cloud, &p, &n);
        occupied.push((lo, hi));
    }

    let visible = visible_from(&cloud, view, spacing)?;
    let count = |a: usize, b: usize| visible.iter().filter(|&&i| i >= a && i < b).count();
    let part_points = count(0, n_part);
    let table_points = count(n_part, n_part + n_table);
    let fixture_points = count(n_part + n_table, n_part + n_table + n_fixture);
    let distractor_points = visible.len() - part_points - table_points - fixture_points;
    debug_assert!(n_distractor >= distractor_points);
    let mut scanned = cloud.select(&visible);
    super::scan::add_noise(&mut scanned, noise_sigma, rng)?;
    let s = cfg.mm_per_unit;
    for p in &mut scanned.points {
        *p = p.map(|v| v * s);
    }
    pose.translation = pose.translation.map(|v| v * s);
    Ok((
        scanned,
        SceneEntry {
            part_points,
            table_points,
            fixture_points,
            distractor_points,
            units: "mm".into(),
            mm_per_unit: s,
            view,
            pose,
        },
    ))
}

/// The rotation taking unit `from` onto unit `to`, then turning by `spin` about `to`.
fn turn_onto(from: V3, to: V3, spin: f32) -> RigidPose {
    let axis = cross(from, to);
    let s = dot(axis, axis).sqrt();
    let angle = s.atan2(dot(from, to));
    let axis = if s > 1e-6 {
        axis.map(|v| v / s)
    } else {
        any_perpendicular(from)
    };
    let f = |v: V3| rotate(rotate(v, axis, angle), to, spin);
    let cols = [f([1.0, 0.0, 0.0]), f([0.0, 1.0, 0.0]), f([0.0, 0.0, 1.0])];
    RigidPose {
        rotation: [0, 1, 2].map(|i| [cols[0][i], cols[1][i], cols[2][i]]),
        translation: [0.0; 3],
    }
}

fn push(cloud: &mut PointCloud, points: &[V3], normals: &[V3]) {
    cloud.points.extend_from_slice(points);
    if let Some(n) = &mut cloud.normals {
        n.extend_from_slice(normals);
    }
    if let Some(l) = &mut cloud.labels {
        l.extend(std::iter::repeat_n(0, points.len()));
    }
}

fn bounds(points: &[V3]) -> (V3, V3) {
    let mut lo = [f32::INFINITY; 3];
    let mut hi = [f32::NEG_INFINITY; 3];
    for p in points {
        for a in 0..3 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    (lo, hi)
}

/// Points on the five faces of a box standing on the table (no bottom face), about
/// `spacing` apart, with outward normals.
fn box_surface<R: Rng>(lo: V3, hi: V3, spacing: f32, rng: &mut R) -> (Vec<V3>, Vec<V3>) {
    let (mut p, mut n) = (Vec::new(), Vec::new());
    let d = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
    // (fixed axis, value, outward normal)
    let faces: [(usize, f32, V3); 5] = [
        (2, hi[2], [0.0, 0.0, 1.0]),
        (0, lo[0], [-1.0, 0.0, 0.0]),
        (0, hi[0], [1.0, 0.0, 0.0]),
        (1, lo[1], [0.0, -1.0, 0.0]),
        (1, hi[1], [0.0, 1.0, 0.0]),
    ];
    for (axis, value, normal) in faces {
        let (a, b) = ((axis + 1) % 3, (axis + 2) % 3);
        let count = ((d[a] * d[b]) / (spacing * spacing)).ceil() as usize;
        for _ in 0..count {
            let mut q = [0.0; 3];
            q[axis] = value;
            q[a] = lo[a] + rng.random_range(0.0..=d[a]);
            q[b] = lo[b] + rng.random_range(0.0..=d[b]);
            p.push(q);
            n.push(normal);
        }
    }
    (p, n)
}

/// Points on a ball's surface about `spacing` apart, with outward normals.
fn ball_surface<R: Rng>(c: V3, r: f32, spacing: f32, rng: &mut R) -> (Vec<V3>, Vec<V3>) {
    let count = (4.0 * std::f32::consts::PI * r * r / (spacing * spacing)).ceil() as usize;
    let (mut p, mut n) = (Vec::with_capacity(count), Vec::with_capacity(count));
    for _ in 0..count {
        let z: f32 = rng.random_range(-1.0..1.0);
        let phi: f32 = rng.random_range(0.0..std::f32::consts::TAU);
        let s = (1.0 - z * z).max(0.0).sqrt();
        let u = [s * phi.cos(), s * phi.sin(), z];
        p.push([c[0] + r * u[0], c[1] + r * u[1], c[2] + r * u[2]]);
        n.push(u);
    }
    (p, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_onto_maps_the_vector_and_is_a_rotation() {
        let from = normalize_or([0.3, -0.5, 0.8], [0.0, 0.0, 1.0]);
        let to = normalize_or([-0.7, 0.1, 0.2], [0.0, 0.0, 1.0]);
        let pose = turn_onto(from, to, 1.1);
        let got = pose.apply(from);
        for a in 0..3 {
            assert!((got[a] - to[a]).abs() < 1e-5, "{got:?} vs {to:?}");
        }
        let r = pose.rotation;
        for i in 0..3 {
            for j in 0..3 {
                let d: f32 = (0..3).map(|k| r[k][i] * r[k][j]).sum();
                assert!((d - if i == j { 1.0 } else { 0.0 }).abs() < 1e-5);
            }
        }
    }
}
