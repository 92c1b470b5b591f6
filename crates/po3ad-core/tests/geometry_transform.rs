//! CenterShift / unit-sphere normalization and rotations, against hand-computed values.

use po3ad_core::geometry::{
    center_shift, normalize_unit_sphere, preprocess_test, random_train_rotation,
    random_train_rotation_within, rotate, rotation_x, rotation_y, rotation_z,
};
use po3ad_core::PointCloud;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f32::consts::{FRAC_PI_2, PI};

fn close(a: [f32; 3], b: [f32; 3], tol: f32) -> bool {
    (0..3).all(|i| (a[i] - b[i]).abs() <= tol)
}

fn dist(a: [f32; 3], b: [f32; 3]) -> f32 {
    (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f32>().sqrt()
}

#[test]
fn center_shift_centres_xy_and_grounds_z() {
    let mut pc = PointCloud::from_points(vec![[1.0, 2.0, 3.0], [3.0, 6.0, 5.0], [2.0, 2.0, 4.0]]);
    center_shift(&mut pc);
    // bbox x [1,3], y [2,6], z [3,5] -> shift (2, 4, 3).
    assert_eq!(
        pc.points,
        vec![[-1.0, -2.0, 0.0], [1.0, 2.0, 2.0], [0.0, -2.0, 1.0]]
    );
    let mut empty = PointCloud::default();
    center_shift(&mut empty);
    assert!(empty.is_empty());
}

#[test]
fn normalize_gives_zero_centroid_and_unit_max_norm() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let pts: Vec<[f32; 3]> = (0..500)
        .map(|_| {
            [
                rng.random_range(10.0..30.0),
                rng.random_range(-5.0..5.0),
                rng.random_range(0.0..2.0),
            ]
        })
        .collect();
    let mut pc = PointCloud::from_points(pts.clone());
    let (c, s) = normalize_unit_sphere(&mut pc).unwrap();
    let mean: Vec<f64> = (0..3)
        .map(|a| pc.points.iter().map(|p| p[a] as f64).sum::<f64>() / 500.0)
        .collect();
    assert!(mean.iter().all(|m| m.abs() < 1e-6));
    let max = pc
        .points
        .iter()
        .map(|p| dist(*p, [0.0; 3]))
        .fold(0.0, f32::max);
    assert!((max - 1.0).abs() < 1e-6);
    // The returned transform maps the original onto the result.
    for (o, n) in pts.iter().zip(&pc.points) {
        let back = [0, 1, 2].map(|a| n[a] * s + c[a]);
        assert!(close(back, *o, 1e-4));
    }

    let mut pc = PointCloud::from_points(pts);
    preprocess_test(&mut pc).unwrap();
    let max = pc
        .points
        .iter()
        .map(|p| dist(*p, [0.0; 3]))
        .fold(0.0, f32::max);
    assert!((max - 1.0).abs() < 1e-6);
}

#[test]
fn normalize_rejects_degenerate_clouds() {
    assert!(normalize_unit_sphere(&mut PointCloud::default()).is_err());
    assert!(normalize_unit_sphere(&mut PointCloud::from_points(vec![[1.0; 3]; 4])).is_err());
    assert!(
        normalize_unit_sphere(&mut PointCloud::from_points(vec![[0.0; 3], [f32::NAN; 3]])).is_err()
    );
    assert!(preprocess_test(&mut PointCloud::default()).is_err());
}

#[test]
fn axis_rotations_are_right_handed() {
    let r = |m: [[f32; 3]; 3], v: [f32; 3]| {
        let mut pc = PointCloud::from_points(vec![v]);
        rotate(&mut pc, &m, [0.0; 3]);
        pc.points[0]
    };
    assert!(close(
        r(rotation_z(FRAC_PI_2), [1.0, 0.0, 0.0]),
        [0.0, 1.0, 0.0],
        1e-6
    ));
    assert!(close(
        r(rotation_x(FRAC_PI_2), [0.0, 1.0, 0.0]),
        [0.0, 0.0, 1.0],
        1e-6
    ));
    assert!(close(
        r(rotation_y(FRAC_PI_2), [0.0, 0.0, 1.0]),
        [1.0, 0.0, 0.0],
        1e-6
    ));
    // 30 degrees about z, written out.
    let (s, c) = (0.5f32, 0.75f32.sqrt());
    assert!(close(
        r(rotation_z(PI / 6.0), [2.0, 1.0, 5.0]),
        [2.0 * c - s, 2.0 * s + c, 5.0],
        1e-6
    ));
}

#[test]
fn rotation_about_a_point_moves_normals_by_r_only() {
    let mut pc = PointCloud {
        points: vec![[2.0, 1.0, 0.0], [1.0, 1.0, 3.0]],
        normals: Some(vec![[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
        ..Default::default()
    };
    rotate(&mut pc, &rotation_z(PI), [1.0, 1.0, 0.0]);
    assert!(close(pc.points[0], [0.0, 1.0, 0.0], 1e-6));
    assert!(close(pc.points[1], [1.0, 1.0, 3.0], 1e-6));
    let n = pc.normals.unwrap();
    assert!(close(n[0], [-1.0, 0.0, 0.0], 1e-6));
    assert!(close(n[1], [0.0, 0.0, 1.0], 1e-6));
}

fn matmul(m: [[f32; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| (0..3).map(|j| m[i][j] as f64 * v[j]).sum())
}

fn bbox_centre(p: &[[f64; 3]]) -> [f64; 3] {
    [0, 1, 2].map(|a| {
        let lo = p.iter().map(|q| q[a]).fold(f64::INFINITY, f64::min);
        let hi = p.iter().map(|q| q[a]).fold(f64::NEG_INFINITY, f64::max);
        (lo + hi) / 2.0
    })
}

#[test]
fn train_rotation_is_z_then_y_then_x_about_the_right_centres() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let pts: Vec<[f32; 3]> = (0..50)
        .map(|_| [0, 1, 2].map(|_| rng.random_range(0.0..3.0)))
        .collect();
    // A sphere-like normal field: unit vectors from a fixed interior point.
    let normals: Vec<[f32; 3]> = pts
        .iter()
        .map(|p| {
            let d = [p[0] - 1.5, p[1] - 1.5, p[2] - 1.5];
            let l = dist(d, [0.0; 3]);
            d.map(|x| x / l)
        })
        .collect();
    let mut pc = PointCloud {
        points: pts.clone(),
        normals: Some(normals.clone()),
        ..Default::default()
    };
    random_train_rotation(&mut pc, &mut ChaCha8Rng::seed_from_u64(5));

    // Independent reference in f64 with the same angle draws.
    let mut r = ChaCha8Rng::seed_from_u64(5);
    let (az, ay, ax) = (
        r.random_range(-PI..PI),
        r.random_range(-PI..PI),
        r.random_range(-PI..PI),
    );
    let mut p: Vec<[f64; 3]> = pts.iter().map(|q| q.map(|x| x as f64)).collect();
    let mut n: Vec<[f64; 3]> = normals.iter().map(|q| q.map(|x| x as f64)).collect();
    for (m, about_origin) in [
        (rotation_z(az), true),
        (rotation_y(ay), false),
        (rotation_x(ax), false),
    ] {
        let c = if about_origin {
            [0.0; 3]
        } else {
            bbox_centre(&p)
        };
        for q in p.iter_mut() {
            let d = matmul(m, [q[0] - c[0], q[1] - c[1], q[2] - c[2]]);
            *q = [d[0] + c[0], d[1] + c[1], d[2] + c[2]];
        }
        for v in n.iter_mut() {
            *v = matmul(m, *v);
        }
    }
    for i in 0..pts.len() {
        assert!(close(pc.points[i], p[i].map(|x| x as f32), 1e-5));
        assert!(close(
            pc.normals.as_ref().unwrap()[i],
            n[i].map(|x| x as f32),
            1e-5
        ));
    }
    // Rigid: pairwise distances kept.
    for i in 0..10 {
        for j in 0..10 {
            assert!((dist(pts[i], pts[j]) - dist(pc.points[i], pc.points[j])).abs() < 1e-5);
        }
    }
}

/// A bounded jitter: three rotations of at most 5° each turn no normal by more than 15°,
/// and some by more than 1° (it does rotate); with max = π it is `random_train_rotation`.
#[test]
fn train_rotation_within_a_bound() {
    let normals: Vec<[f32; 3]> = (0..200)
        .map(|i| {
            let t = i as f32 * 0.7;
            let z = (i as f32 / 100.0) - 1.0;
            let r = (1.0 - z * z).max(0.0).sqrt();
            [r * t.cos(), r * t.sin(), z]
        })
        .collect();
    let pts: Vec<[f32; 3]> = normals.iter().map(|n| n.map(|x| x * 0.5 + 0.1)).collect();
    let base = PointCloud {
        points: pts,
        normals: Some(normals.clone()),
        ..Default::default()
    };
    let mut max_turn = 0.0f32;
    for seed in 0..20 {
        let mut pc = base.clone();
        random_train_rotation_within(
            &mut pc,
            5f32.to_radians(),
            &mut ChaCha8Rng::seed_from_u64(seed),
        );
        for (a, b) in normals.iter().zip(pc.normals.as_ref().unwrap()) {
            let cos = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]).clamp(-1.0, 1.0);
            max_turn = max_turn.max(cos.acos().to_degrees());
        }
    }
    assert!(max_turn <= 15.0 + 1e-3, "{max_turn}");
    assert!(max_turn > 1.0, "{max_turn}");

    let (mut a, mut b) = (base.clone(), base);
    random_train_rotation(&mut a, &mut ChaCha8Rng::seed_from_u64(9));
    random_train_rotation_within(&mut b, PI, &mut ChaCha8Rng::seed_from_u64(9));
    assert_eq!(a.points, b.points);
}
