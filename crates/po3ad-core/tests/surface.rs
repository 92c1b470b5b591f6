//! The surface detector on shapes whose answers are known by hand: planes and spheres
//! (exact distances), a bump and a dent (signs), a cut-out hole (missing material, whole
//! and one-sided scans), and noisy planes (the leave-one-out noise floor is the noise σ).

use po3ad_core::surface::{SurfaceConfig, SurfaceModel};
use po3ad_core::PointCloud;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// `n` points spread evenly over the unit sphere (a Fibonacci lattice turned by
/// `phase`, so different clouds do not share points), with outward normals.
fn sphere(n: usize, radius: f32, phase: f32) -> PointCloud {
    let golden = std::f32::consts::PI * (3.0 - 5f32.sqrt());
    let mut points = Vec::with_capacity(n);
    let mut normals = Vec::with_capacity(n);
    for i in 0..n {
        let z = 1.0 - 2.0 * (i as f32 + 0.5) / n as f32;
        let r = (1.0 - z * z).sqrt();
        let a = golden * i as f32 + phase;
        let u = [r * a.cos(), r * a.sin(), z];
        normals.push(u);
        points.push(u.map(|c| c * radius));
    }
    PointCloud {
        points,
        normals: Some(normals),
        labels: None,
        faces: Vec::new(),
    }
}

/// A square patch of the plane z = `z0`, jittered grid with spacing `step`, normals +z,
/// Gaussian noise `sigma` on z.
fn plane(half: f32, step: f32, z0: f32, sigma: f32, rng: &mut ChaCha8Rng) -> PointCloud {
    let noise = Normal::new(0.0f32, sigma.max(1e-12)).unwrap();
    let m = (2.0 * half / step) as i32;
    let mut points = Vec::new();
    for i in 0..=m {
        for j in 0..=m {
            let x = -half + i as f32 * step + rng.random_range(-0.3..0.3) * step;
            let y = -half + j as f32 * step + rng.random_range(-0.3..0.3) * step;
            let dz = if sigma > 0.0 { noise.sample(rng) } else { 0.0 };
            points.push([x, y, z0 + dz]);
        }
    }
    let n = points.len();
    PointCloud {
        points,
        normals: Some(vec![[0.0, 0.0, 1.0]; n]),
        labels: None,
        faces: Vec::new(),
    }
}

fn sphere_model() -> SurfaceModel {
    let training: Vec<PointCloud> = (0..3)
        .map(|k| sphere(12_000, 1.0, 0.7 * k as f32))
        .collect();
    SurfaceModel::fit(&training, &unrefined()).unwrap()
}

/// The defaults without the pose and scale refinement: distances where the scan was
/// put (a sphere of radius 1.03 is not scaled back onto the unit sphere).
fn unrefined() -> SurfaceConfig {
    SurfaceConfig {
        refine_iterations: 0,
        ..SurfaceConfig::default()
    }
}

/// `points` without those within `r` of `c`: a hole drilled through the scan.
fn drill(points: &[[f32; 3]], c: [f32; 3], r: f32) -> Vec<[f32; 3]> {
    points
        .iter()
        .copied()
        .filter(|p| norm([p[0] - c[0], p[1] - c[1], p[2] - c[2]]) > r)
        .collect()
}

fn norm(p: [f32; 3]) -> f32 {
    (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt()
}

#[test]
fn distances_to_a_plane_are_the_heights() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let training: Vec<PointCloud> = (0..3)
        .map(|_| plane(1.0, 0.02, 0.0, 0.0, &mut rng))
        .collect();
    let model = SurfaceModel::fit(&training, &unrefined()).unwrap();
    // A scan of the middle of the plane lifted by 0.01: every distance is +0.01.
    let mut scan = plane(0.5, 0.02, 0.01, 0.0, &mut rng).points;
    let s = model.score(&scan).unwrap();
    for &d in &s.signed {
        assert!((d - 0.01).abs() < 2e-4, "signed {d}");
    }
    // Lowered by 0.02: −0.02.
    for p in &mut scan {
        p[2] -= 0.03;
    }
    let s = model.score(&scan).unwrap();
    for &d in &s.signed {
        assert!((d + 0.02).abs() < 2e-4, "signed {d}");
    }
}

#[test]
fn distances_to_a_sphere_are_radial_offsets() {
    let model = sphere_model();
    // Scans at radius 1.03 and 0.98: the distance to the unit sphere is r − 1 whatever
    // the sampling, which a point-to-point distance would not give (its floor is the
    // sampling gap).
    for (radius, want) in [(1.03f32, 0.03f32), (0.98, -0.02)] {
        let scan = sphere(6000, radius, 0.31).points;
        let s = model.score(&scan).unwrap();
        let worst = s
            .signed
            .iter()
            .map(|d| (d - want).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "radius {radius}: worst error {worst}");
    }
}

/// Sphere samples pushed radially by `height · ½(1 + cos(π d / r))` within distance `r`
/// of the north pole.
fn bumped(height: f32) -> (Vec<[f32; 3]>, Vec<bool>) {
    let r = 0.3;
    let pole = [0.0, 0.0, 1.0];
    let mut inside = Vec::new();
    let pts = sphere(8000, 1.0, 0.31)
        .points
        .into_iter()
        .map(|p| {
            let d = norm([p[0] - pole[0], p[1] - pole[1], p[2] - pole[2]]);
            inside.push(d < 0.5 * r);
            if d < r {
                let k = 1.0 + height * 0.5 * (1.0 + (std::f32::consts::PI * d / r).cos());
                p.map(|c| c * k)
            } else {
                p
            }
        })
        .collect();
    (pts, inside)
}

#[test]
fn a_bump_is_positive_and_a_dent_negative() {
    let model = sphere_model();
    let clean = model.score(&sphere(8000, 1.0, 0.31).points).unwrap();
    for (height, sign) in [(0.03f32, 1.0f32), (-0.03, -1.0)] {
        let (scan, core) = bumped(height);
        let s = model.score(&scan).unwrap();
        let core_z: Vec<f32> =
            s.z.iter()
                .zip(&core)
                .filter(|(_, &c)| c)
                .map(|(z, _)| *z)
                .collect();
        assert!(!core_z.is_empty());
        assert!(
            core_z.iter().all(|z| z * sign > 3.0),
            "height {height}: z in the core {:?}",
            &core_z[..core_z.len().min(10)]
        );
        let core_d: Vec<f32> = s
            .signed
            .iter()
            .zip(&core)
            .filter(|(_, &c)| c)
            .map(|(d, _)| *d)
            .collect();
        assert!(core_d.iter().all(|d| d * sign > 0.01));
        assert!(
            s.object > 2.0 * clean.object,
            "{} vs {}",
            s.object,
            clean.object
        );
    }
}

#[test]
fn a_cut_out_hole_is_missing_material_on_its_rim() {
    let model = sphere_model();
    let full = sphere(8000, 1.0, 0.31).points;
    let hole_center = [0.0f32, 0.6, 0.8];
    let hole_r = 0.2;
    let dist = |p: &[f32; 3]| {
        norm([
            p[0] - hole_center[0],
            p[1] - hole_center[1],
            p[2] - hole_center[2],
        ])
    };
    let holed: Vec<[f32; 3]> = full.iter().copied().filter(|p| dist(p) > hole_r).collect();
    let clean = model.score(&full).unwrap();
    let s = model.score(&holed).unwrap();
    assert_eq!(clean.view, None, "a whole scan has no single viewpoint");
    assert_eq!(
        clean.missing_nodes, 0,
        "nothing is missing from the whole sphere"
    );
    assert!(s.missing_nodes > 0);
    // The remaining points lie exactly on the sphere, so only the gap can show the hole.
    let rim: Vec<f32> = holed
        .iter()
        .zip(&s.gap)
        .filter(|(p, _)| dist(p) < hole_r + 0.03)
        .map(|(_, g)| *g)
        .collect();
    assert!(
        !rim.is_empty() && rim.iter().all(|&g| g > 3.0),
        "rim gap scores {rim:?}"
    );
    let far = holed
        .iter()
        .zip(&s.gap)
        .filter(|(p, _)| dist(p) > hole_r + 0.3)
        .all(|(_, &g)| g == 0.0);
    assert!(far, "gap scores must stay at the rim");
    assert!(
        s.object > clean.object + 3.0,
        "{} vs {}",
        s.object,
        clean.object
    );
}

#[test]
fn a_one_sided_scan_only_misses_what_it_could_see() {
    let model = sphere_model();
    // Seen from +x: the half with x > 0.1 (the back and the grazing band are not seen).
    let side: Vec<[f32; 3]> = sphere(16_000, 1.0, 0.31)
        .points
        .into_iter()
        .filter(|p| p[0] > 0.1)
        .collect();
    let s = model.score(&side).unwrap();
    let v = s.view.expect("a one-sided scan has a viewpoint");
    assert!(v[0] > 0.95, "view {v:?}");
    assert_eq!(
        s.missing_nodes, 0,
        "the unseen back is not missing material"
    );
    // A hole in the seen side is found.
    let holed = drill(&side, [0.8, 0.6, 0.0], 0.15);
    let h = model.score(&holed).unwrap();
    assert!(h.missing_nodes > 0);
    assert!(h.object > s.object + 3.0, "{} vs {}", h.object, s.object);
}

#[test]
fn the_noise_floor_is_the_training_noise() {
    // Four planes, each with its own Gaussian noise σ on z: a cloud left out of the
    // fit differs from the others' patch by σ (plus the patch's own small error,
    // ~σ·√(6/m) for m ≈ 100 points: a few %).
    let sigma = 0.004f32;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let training: Vec<PointCloud> = (0..4)
        .map(|_| plane(1.0, 0.01, 0.0, sigma, &mut rng))
        .collect();
    let model = SurfaceModel::fit(&training, &SurfaceConfig::default()).unwrap();
    let mut floor = model.noise_floor().to_vec();
    floor.sort_by(f32::total_cmp);
    let median = floor[floor.len() / 2];
    assert!(
        median > 0.95 * sigma && median < 1.15 * sigma,
        "median floor {median} for σ {sigma}"
    );
}

#[test]
fn the_model_survives_json_and_bad_input_is_refused() {
    let model = sphere_model();
    let json = serde_json::to_string(&model).unwrap();
    let back: SurfaceModel = serde_json::from_str(&json).unwrap();
    back.validate().unwrap();
    let (scan, _) = bumped(0.03);
    assert_eq!(model.score(&scan).unwrap(), back.score(&scan).unwrap());

    assert!(model.score(&[]).is_err());
    assert!(model.score(&[[0.0, f32::NAN, 0.0]; 10]).is_err());
    assert!(SurfaceModel::fit(&[], &SurfaceConfig::default()).is_err());
    let bad = SurfaceConfig {
        fit_radius: -1.0,
        ..SurfaceConfig::default()
    };
    assert!(SurfaceModel::fit(&[sphere(1000, 1.0, 0.0)], &bad).is_err());
}

/// A block seen from +z with a slot 0.3 wide and 0.8 deep across its top face
/// (jittered grids of spacing 0.02, seeded): the top face, the slot's floor and walls,
/// and the underside. With `scanned_only`, just what a scanner above it records: the
/// top face (a triangulating scanner whose projector and camera are 30° apart sees
/// no deeper than 0.56 into it).
fn slotted_block(seed: u64, scanned_only: bool) -> PointCloud {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let step = 0.02f32;
    let mut points = Vec::new();
    let mut normals = Vec::new();
    let jitter = |rng: &mut ChaCha8Rng| rng.random_range(-0.3f32..0.3) * step;
    let m = (2.0 / step) as i32;
    for i in 0..=m {
        for j in 0..=m {
            let x = -1.0 + i as f32 * step + jitter(&mut rng);
            let y = -1.0 + j as f32 * step + jitter(&mut rng);
            if x.abs() > 0.15 {
                points.push([x, y, 0.0]);
                normals.push([0.0, 0.0, 1.0]);
            } else if !scanned_only {
                points.push([x, y, -0.8]);
                normals.push([0.0, 0.0, 1.0]);
            }
            if !scanned_only {
                points.push([x, y, -1.0]);
                normals.push([0.0, 0.0, -1.0]);
            }
        }
    }
    if !scanned_only {
        for side in [-1.0f32, 1.0] {
            for i in 0..=(0.8 / step) as i32 {
                for j in 0..=m {
                    let z = -(i as f32) * step;
                    let y = -1.0 + j as f32 * step + jitter(&mut rng);
                    points.push([0.15 * side, y, z]);
                    normals.push([-side, 0.0, 0.0]);
                }
            }
        }
    }
    PointCloud {
        points,
        normals: Some(normals),
        labels: None,
        faces: Vec::new(),
    }
}

#[test]
fn the_floor_of_a_narrow_slot_is_hidden_not_missing() {
    let training: Vec<PointCloud> = (0..3).map(|k| slotted_block(k, false)).collect();
    let scan = slotted_block(7, true).points;
    let cone = SurfaceModel::fit(&training, &SurfaceConfig::default()).unwrap();
    let s = cone.score(&scan).unwrap();
    let v = s.view.expect("a scan of the top face is one-sided");
    assert!(v[2] > 0.95, "view {v:?}");
    assert_eq!(
        s.missing_nodes, 0,
        "the slot's floor lies in the cone of sight of the slot's scanned edges"
    );
    // A thin line of sight passes between the edges (0.3 apart, 0.8 deep): without
    // the cone the floor is taken for missing material.
    let ray = SurfaceModel::fit(
        &training,
        &SurfaceConfig {
            sight_half_angle_deg: 0.0,
            ..SurfaceConfig::default()
        },
    )
    .unwrap();
    let r = ray.score(&scan).unwrap();
    assert!(
        r.missing_nodes > 0 && r.max_gap_z > 3.0,
        "max gap z {}",
        r.max_gap_z
    );
    // A hole drilled in the top face is still missing material.
    let holed = drill(&scan, [0.5, 0.3, 0.0], 0.12);
    let h = cone.score(&holed).unwrap();
    assert!(
        h.missing_nodes > 0 && h.max_gap_z > 3.0,
        "max gap z {}",
        h.max_gap_z
    );
}

/// The ellipsoid with semi-axes `axes`: the unit-sphere lattice stretched, with its
/// exact outward normals.
fn ellipsoid(n: usize, axes: [f32; 3], phase: f32) -> PointCloud {
    let mut c = sphere(n, 1.0, phase);
    let normals = c.normals.take().unwrap();
    c.normals = Some(
        normals
            .iter()
            .map(|u| {
                let g = [u[0] / axes[0], u[1] / axes[1], u[2] / axes[2]];
                let l = norm(g);
                g.map(|x| x / l)
            })
            .collect(),
    );
    for p in &mut c.points {
        *p = [p[0] * axes[0], p[1] * axes[1], p[2] * axes[2]];
    }
    c
}

#[test]
fn a_part_a_little_larger_is_scaled_back_but_a_bump_on_it_is_not() {
    let axes = [1.0, 0.7, 0.5];
    let training: Vec<PointCloud> = (0..3)
        .map(|k| ellipsoid(12_000, axes, 0.7 * k as f32))
        .collect();
    let larger = ellipsoid(12_000, axes.map(|a| a * 1.02), 0.35).points;
    let rigid_only = SurfaceConfig {
        refine_max_scale: 0.0,
        ..SurfaceConfig::default()
    };
    let fixed = SurfaceModel::fit(&training, &rigid_only).unwrap();
    let scaled = SurfaceModel::fit(&training, &SurfaceConfig::default()).unwrap();
    // 2 % larger: every point 0.01-0.02 outside a reference that the training clouds
    // repeat exactly, so without the scale every point is far above the floor.
    let f = fixed.score(&larger).unwrap();
    let s = scaled.score(&larger).unwrap();
    let r = s.refine_rotation;
    let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1])
        - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    assert!(
        (det.cbrt() - 1.0 / 1.02).abs() < 0.002,
        "scale {}",
        det.cbrt()
    );
    assert!(
        f.object > 10.0 * s.object,
        "fixed {} scaled {}",
        f.object,
        s.object
    );
    // Scaled back, it scores like a scan of the training size.
    let same = scaled
        .score(&ellipsoid(12_000, axes, 0.35).points)
        .unwrap()
        .object;
    assert!(
        s.object < 1.5 * same,
        "scaled {} same size {same}",
        s.object
    );
    // A bump of 0.03 on the larger part is not scaled away.
    let bumped: Vec<[f32; 3]> = larger
        .iter()
        .map(|&p| {
            let d = norm([p[0] - 1.02, p[1], p[2]]);
            let h = 0.03 * (1.0 - d / 0.25).max(0.0);
            [p[0] + h, p[1], p[2]]
        })
        .collect();
    let b = scaled.score(&bumped).unwrap();
    assert!(
        b.object > 3.0 * s.object,
        "bump {} plain {}",
        b.object,
        s.object
    );
}
