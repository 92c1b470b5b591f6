//! Rigid registration (`po3ad_core::registration`): poses applied here are known, so
//! every expectation is computed from the transform the test applied, not from the
//! code under test.

use po3ad_core::geometry::{normalize_unit_sphere, sample_surface, KdTree};
use po3ad_core::registration::{
    refine, register, Registration, RegistrationConfig, RegistrationTarget,
};
use po3ad_core::synth::builtin;
use po3ad_core::synth::scan::{add_noise, partial_scan};
use po3ad_core::PointCloud;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type M3 = [[f32; 3]; 3];

/// Uniform random rotation (a normalised Gaussian quaternion, as the synth poses).
fn random_rotation(rng: &mut impl Rng) -> M3 {
    po3ad_core::synth::random_pose(180.0, 0.0, rng).rotation
}

fn mul(r: &M3, p: [f32; 3]) -> [f32; 3] {
    std::array::from_fn(|i| r[i][0] * p[0] + r[i][1] * p[1] + r[i][2] * p[2])
}

fn matmul(a: &M3, b: &M3) -> M3 {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

/// Angle (degrees) of a rotation matrix.
fn angle_deg(r: &M3) -> f32 {
    let tr = r[0][0] + r[1][1] + r[2][2];
    ((tr - 1.0) * 0.5).clamp(-1.0, 1.0).acos().to_degrees()
}

fn dist(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// `R p + t` for every point.
fn moved(points: &[[f32; 3]], r: &M3, t: [f32; 3]) -> Vec<[f32; 3]> {
    points
        .iter()
        .map(|&p| {
            let q = mul(r, p);
            [q[0] + t[0], q[1] + t[1], q[2] + t[2]]
        })
        .collect()
}

/// Points with outward normals on the faces of the box `c ± h`, uniform by area.
fn box_surface(
    c: [f32; 3],
    h: [f32; 3],
    n: usize,
    rng: &mut impl Rng,
) -> (Vec<[f32; 3]>, Vec<[f32; 3]>) {
    let areas = [h[1] * h[2], h[0] * h[2], h[0] * h[1]];
    let total: f32 = areas.iter().sum();
    let (mut pts, mut nrm) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let mut pick = rng.random_range(0.0..total);
        let mut axis = 0;
        while axis < 2 && pick >= areas[axis] {
            pick -= areas[axis];
            axis += 1;
        }
        let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
        let mut p: [f32; 3] = std::array::from_fn(|a| c[a] + h[a] * rng.random_range(-1.0f32..1.0));
        p[axis] = c[axis] + sign * h[axis];
        let mut nn = [0.0f32; 3];
        nn[axis] = sign;
        pts.push(p);
        nrm.push(nn);
    }
    (pts, nrm)
}

/// `n` surface samples (with normals) of a part in the unit sphere: a built-in mesh,
/// or `"asym"`, the bottle with two boxes stuck on its side (no rotational symmetry:
/// the only symmetry left is a mirror, which no rotation reproduces).
fn part(name: &str, n: usize, rng: &mut impl Rng) -> PointCloud {
    let base = if name == "asym" { "bottle" } else { name };
    let mut mesh = builtin(base).unwrap();
    normalize_unit_sphere(&mut mesh).unwrap();
    let mut pc = sample_surface(&mesh, n, rng).unwrap();
    if name == "asym" {
        for (c, h, k) in [
            ([0.35, 0.0, -0.2], [0.15, 0.1, 0.12], n / 10),
            ([-0.1, 0.3, 0.3], [0.08, 0.12, 0.08], n / 20),
        ] {
            let (p, nn) = box_surface(c, h, k, rng);
            pc.points.extend(p);
            pc.normals.as_mut().unwrap().extend(nn);
        }
    }
    pc
}

fn target_of(name: &str, cfg: &RegistrationConfig, rng: &mut impl Rng) -> RegistrationTarget {
    let t = part(name, 15_000, rng);
    RegistrationTarget::new(&t.points, t.normals.as_ref().unwrap(), cfg).unwrap()
}

/// Mean distance from each aligned point to its true (unmoved) position.
fn pose_residual(reg: &Registration, scan: &[[f32; 3]], truth: &[[f32; 3]]) -> f32 {
    scan.iter()
        .zip(truth)
        .map(|(&p, &q)| dist(reg.apply(p), q))
        .sum::<f32>()
        / scan.len() as f32
}

#[test]
fn registration_known_rotations_of_an_asymmetric_part_are_recovered() {
    let cfg = RegistrationConfig::default();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let target = target_of("asym", &cfg, &mut rng);
    for trial in 0..3 {
        let mut scan = part("asym", 8_000, &mut rng);
        add_noise(&mut scan, 0.001, &mut rng).unwrap();
        let r = random_rotation(&mut rng);
        let t: [f32; 3] = std::array::from_fn(|_| rng.random_range(-0.5f32..0.5));
        let input = moved(&scan.points, &r, t);
        let reg = register(&input, &target, &cfg).unwrap();
        assert!(reg.registered, "trial {trial}: {reg:?}");
        // The estimate must undo the applied motion: R_est R = I, R_est t + t_est = 0.
        let err = angle_deg(&matmul(&reg.rotation, &r));
        assert!(err < 1.0, "trial {trial}: rotation error {err}°");
        let back = reg.apply(t);
        assert!(
            dist(back, [0.0; 3]) < 0.01,
            "trial {trial}: translation off by {back:?}"
        );
        assert!(pose_residual(&reg, &input, &scan.points) < 0.01);
        assert!(reg.fitness > 0.95 && reg.inlier_rmse < 0.005, "{reg:?}");
        assert!(reg.reason.is_none());
    }
}

#[test]
fn registration_a_one_sided_partial_scan_registers_to_the_full_template() {
    let cfg = RegistrationConfig::default();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let target = target_of("asym", &cfg, &mut rng);
    // Looking at the side with the large box, slightly from above.
    let dense = part("asym", 25_000, &mut rng);
    let mut scan = partial_scan(&dense, [0.9, 0.2, 0.4], 0.01).unwrap();
    let frac = scan.len() as f32 / dense.len() as f32;
    assert!((0.25..0.65).contains(&frac), "scan sees {frac} of the part");
    add_noise(&mut scan, 0.001, &mut rng).unwrap();
    let r = random_rotation(&mut rng);
    let input = moved(&scan.points, &r, [0.3, -0.2, 0.1]);
    let reg = register(&input, &target, &cfg).unwrap();
    assert!(reg.registered, "{reg:?}");
    let res = pose_residual(&reg, &input, &scan.points);
    assert!(res < 0.01, "mean distance to the true positions {res}");
    assert!(angle_deg(&matmul(&reg.rotation, &r)) < 1.5);
    assert!(reg.fitness > 0.9, "partial scan fitness {}", reg.fitness);
}

#[test]
fn registration_a_rotationally_symmetric_part_registers_onto_the_surface() {
    let cfg = RegistrationConfig::default();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let target = target_of("vase", &cfg, &mut rng);
    let surface = part("vase", 40_000, &mut rng);
    let tree = KdTree::new(&surface.points);
    let scan = part("vase", 8_000, &mut rng);
    let input = moved(&scan.points, &random_rotation(&mut rng), [-0.2, 0.4, 0.0]);
    let reg = register(&input, &target, &cfg).unwrap();
    assert!(reg.registered, "{reg:?}");
    // The angle about the axis is ambiguous: check the distance to the surface only.
    let mean: f32 = input
        .iter()
        .map(|&p| tree.nearest(reg.apply(p)).1.sqrt())
        .sum::<f32>()
        / input.len() as f32;
    assert!(mean < 0.01, "mean distance to the surface {mean}");
}

#[test]
fn registration_scans_that_do_not_match_are_reported_not_registered() {
    let cfg = RegistrationConfig::default();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let target = target_of("asym", &cfg, &mut rng);
    // Uniform noise filling a box.
    let noise: Vec<[f32; 3]> = (0..5_000)
        .map(|_| std::array::from_fn(|_| rng.random_range(-0.7f32..0.7)))
        .collect();
    let reg = register(&noise, &target, &cfg).unwrap();
    assert!(!reg.registered, "{reg:?}");
    assert!(reg.reason.as_deref().is_some_and(|s| !s.is_empty()));
    assert!(reg.fitness.is_finite() && reg.inlier_rmse.is_finite());
    // A different part (the flat plate) against the asymmetric bottle.
    let plate = part("plate", 8_000, &mut rng);
    let reg = register(&plate.points, &target, &cfg).unwrap();
    assert!(!reg.registered, "{reg:?}");
    assert!(reg.reason.is_some());
}

#[test]
fn registration_equal_seeds_give_identical_results() {
    let cfg = RegistrationConfig {
        seed: 42,
        ..RegistrationConfig::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let target = target_of("gear", &cfg, &mut rng);
    let scan = part("gear", 6_000, &mut rng);
    let input = moved(&scan.points, &random_rotation(&mut rng), [0.1, 0.1, 0.1]);
    let a = register(&input, &target, &cfg).unwrap();
    let b = register(&input, &target, &cfg).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        a.rotation.map(|r| r.map(f32::to_bits)),
        b.rotation.map(|r| r.map(f32::to_bits))
    );
    // The config round-trips through JSON, and missing fields take the defaults.
    let json = serde_json::to_string(&cfg).unwrap();
    assert_eq!(
        serde_json::from_str::<RegistrationConfig>(&json).unwrap(),
        cfg
    );
    let partial: RegistrationConfig = serde_json::from_str(r#"{"seed": 42}"#).unwrap();
    assert_eq!(partial, cfg);
}

#[test]
fn registration_refine_improves_a_nearby_guess_and_identity_is_exact() {
    let cfg = RegistrationConfig::default();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let target = target_of("asym", &cfg, &mut rng);
    let scan = part("asym", 6_000, &mut rng);
    // The scan is moved by a small known motion (10° about a tilted axis + 0.05).
    let (c, s) = (10f32.to_radians().cos(), 10f32.to_radians().sin());
    let r: M3 = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
    let input = moved(&scan.points, &r, [0.05, -0.03, 0.02]);
    let init = Registration::identity();
    assert_eq!(init.apply([1.0, 2.0, 3.0]), [1.0, 2.0, 3.0]);
    assert!(!init.registered);
    let reg = refine(&input, &target, &init, &cfg).unwrap();
    assert!(reg.registered, "{reg:?}");
    assert!(pose_residual(&reg, &input, &scan.points) < 0.01);
    assert!(angle_deg(&matmul(&reg.rotation, &r)) < 1.0);
    // inverse() undoes apply().
    let p = [0.3, -0.1, 0.7];
    let q = reg.inverse().apply(reg.apply(p));
    assert!(dist(p, q) < 1e-5);
}

#[test]
fn registration_bad_input_is_an_error_not_a_panic() {
    let cfg = RegistrationConfig::default();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let t = part("bottle", 5_000, &mut rng);
    let normals = t.normals.clone().unwrap();
    let target = RegistrationTarget::new(&t.points, &normals, &cfg).unwrap();

    // Template: empty, NaN point, NaN / zero normal, mismatched normal count.
    assert!(RegistrationTarget::new(&[], &[], &cfg).is_err());
    let mut bad = t.points.clone();
    bad[10][1] = f32::NAN;
    assert!(RegistrationTarget::new(&bad, &normals, &cfg).is_err());
    let mut bad_n = normals.clone();
    bad_n[3] = [f32::NAN, 0.0, 1.0];
    assert!(RegistrationTarget::new(&t.points, &bad_n, &cfg).is_err());
    bad_n[3] = [0.0; 3];
    assert!(RegistrationTarget::new(&t.points, &bad_n, &cfg).is_err());
    assert!(RegistrationTarget::new(&t.points, &normals[1..], &cfg).is_err());

    // Scan: empty, NaN, infinite, all points in one spot.
    assert!(register(&[], &target, &cfg).is_err());
    let mut scan = t.points[..2000].to_vec();
    scan[7][0] = f32::NAN;
    assert!(register(&scan, &target, &cfg).is_err());
    scan[7][0] = f32::INFINITY;
    assert!(register(&scan, &target, &cfg).is_err());
    assert!(register(&vec![[0.1, 0.2, 0.3]; 100], &target, &cfg).is_err());
    assert!(refine(&[], &target, &Registration::identity(), &cfg).is_err());
    let nan_init = Registration::from_transform([[f32::NAN; 3]; 3], [0.0; 3]);
    assert!(refine(&t.points, &target, &nan_init, &cfg).is_err());

    // A tiny scan is not an error, just not registered.
    let tiny: Vec<[f32; 3]> = (0..5).map(|i| [i as f32 * 0.1, 0.0, 0.0]).collect();
    let reg = register(&tiny, &target, &cfg).unwrap();
    assert!(!reg.registered && reg.reason.is_some());

    // Bad configs, and a config that differs from the target's feature settings.
    for bad_cfg in [
        RegistrationConfig {
            voxel_size: 0.0,
            ..cfg.clone()
        },
        RegistrationConfig {
            max_rmse: f32::NAN,
            ..cfg.clone()
        },
        RegistrationConfig {
            edge_similarity: 1.5,
            ..cfg.clone()
        },
        RegistrationConfig {
            normal_k: 2,
            ..cfg.clone()
        },
    ] {
        assert!(RegistrationTarget::new(&t.points, &normals, &bad_cfg).is_err());
    }
    let other = RegistrationConfig {
        fpfh_radius: 0.3,
        ..cfg.clone()
    };
    assert!(register(&t.points, &target, &other).is_err());
}

#[test]
fn registration_a_pose_beside_the_scanned_part_is_seen_through() {
    // A part on a table, scanned from above: posed where it was scanned, the template
    // hides nothing the scanner saw; posed beside it, it floats where the scanner saw
    // the table (the pose a look-alike piece of clutter would give).
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let cfg = RegistrationConfig::default();
    let t = part("asym", 15_000, &mut rng);
    let target = RegistrationTarget::new(&t.points, t.normals.as_ref().unwrap(), &cfg).unwrap();
    let up = [0.0, 0.0, 1.0];
    let seen_part = partial_scan(&t, up, 0.02).unwrap();
    let floor = t.points.iter().map(|p| p[2]).fold(f32::INFINITY, f32::min) - 0.01;
    // The table where the part does not hide it (its footprint seen from above).
    let footprint: Vec<[f32; 3]> = t.points.iter().map(|p| [p[0], p[1], 0.0]).collect();
    let shadow = KdTree::new(&footprint);
    let mut scene = seen_part.points.clone();
    for i in -60..=60 {
        for j in -60..=60 {
            let (x, y) = (i as f32 * 0.05, j as f32 * 0.05);
            if shadow.nearest([x, y, 0.0]).1 > 0.03f32.powi(2) {
                scene.push([x, y, floor]);
            }
        }
    }
    let in_place = Registration::identity();
    let beside = Registration::from_transform(
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        [-1.5, 0.0, 0.0],
    );
    let through = |reg: &Registration| target.seen_through(&scene, reg, up, &cfg).unwrap();
    assert!(
        through(&in_place) < 0.05,
        "in place: {}",
        through(&in_place)
    );
    assert!(through(&beside) > 0.5, "beside: {}", through(&beside));
    assert!(target.seen_through(&[], &in_place, up, &cfg).is_err());
}
