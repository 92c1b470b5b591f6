//! Defects change exactly the points they label, with the documented geometry.
//! References are computed here from first principles on an analytic unit sphere.

use po3ad_core::synth::defects::{
    apply_defect, sample_defect, DefectKind, DefectShape, GrooveProfile, LABEL_THRESHOLD,
};
use po3ad_core::synth::{builtin, scan};
use po3ad_core::PointCloud;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `n` points on the unit sphere (Fibonacci lattice), normals radial.
fn sphere(n: usize) -> PointCloud {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    let points: Vec<[f32; 3]> = (0..n)
        .map(|i| {
            let z = 1.0 - 2.0 * (i as f64 + 0.5) / n as f64;
            let r = (1.0 - z * z).sqrt();
            let a = golden * i as f64;
            [(r * a.cos()) as f32, (r * a.sin()) as f32, z as f32]
        })
        .collect();
    PointCloud {
        normals: Some(points.clone()),
        points,
        ..PointCloud::default()
    }
}

fn dist(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

fn norm(a: [f32; 3]) -> f32 {
    dist(a, [0.0; 3])
}

/// Labels are 1 exactly where a point moved by more than the threshold.
fn assert_labels_are_moves(before: &PointCloud, after: &PointCloud) -> usize {
    assert_eq!(before.len(), after.len());
    let labels = after.labels.as_ref().expect("labels");
    let mut moved = 0;
    for (i, &label) in labels.iter().enumerate() {
        let d = dist(before.points[i], after.points[i]);
        assert_eq!(label == 1, d > LABEL_THRESHOLD, "point {i} moved {d}");
        moved += usize::from(d > LABEL_THRESHOLD);
    }
    moved
}

#[test]
fn bulge_is_a_raised_cosine_along_the_normal() {
    let cloud = sphere(20_000);
    let (radius, height) = (0.3f32, 0.05f32);
    let shape = DefectShape::Bump {
        center: [0.0, 0.0, 1.0],
        normal: [0.0, 0.0, 1.0],
        radius,
        height,
    };
    let out = apply_defect(&shape, &cloud, None).unwrap();
    let moved = assert_labels_are_moves(&cloud, &out.cloud);
    assert_eq!(moved, out.n_anomalous);
    assert!(moved > 100, "{moved}");
    for i in 0..cloud.len() {
        let (p, q) = (cloud.points[i], out.cloud.points[i]);
        let d = dist(p, [0.0, 0.0, 1.0]);
        let lift = norm(q) - 1.0; // radial move on the unit sphere
        if d >= radius {
            assert_eq!(p, q);
            continue;
        }
        // Raised cosine (not a linear cone): at d = r/4 it is 0.854 h, a cone 0.75 h.
        let want = height * 0.5 * (1.0 + (std::f32::consts::PI * d / radius).cos());
        assert!((lift - want).abs() < 1e-4, "d {d}: lift {lift} want {want}");
    }
}

#[test]
fn concavity_pushes_inward_and_spares_the_far_side() {
    let cloud = sphere(20_000);
    let shape = DefectShape::Bump {
        center: [1.0, 0.0, 0.0],
        normal: [1.0, 0.0, 0.0],
        radius: 0.2,
        height: -0.04,
    };
    let out = apply_defect(&shape, &cloud, None).unwrap();
    let moved = assert_labels_are_moves(&cloud, &out.cloud);
    assert!(moved > 50);
    for (p, q) in cloud.points.iter().zip(&out.cloud.points) {
        assert!(norm(*q) <= 1.0 + 1e-5);
        if p != q {
            assert!(p[0] > 0.9, "moved point {p:?} is off the bump");
        }
    }
    let deepest = out
        .cloud
        .points
        .iter()
        .map(|q| 1.0 - norm(*q))
        .fold(0.0f32, f32::max);
    assert!((deepest - 0.04).abs() < 0.002, "deepest {deepest}");
}

#[test]
fn groove_sinks_points_near_its_path_only() {
    let cloud = sphere(40_000);
    // A short arc over the north pole along x.
    let path: Vec<[f32; 3]> = (0..=20)
        .map(|i| {
            let a = (i as f32 / 20.0 - 0.5) * 0.5;
            [a.sin(), 0.0, a.cos()]
        })
        .collect();
    let (half_width, depth) = (0.03f32, 0.02f32);
    for profile in [GrooveProfile::V, GrooveProfile::Round] {
        let shape = DefectShape::Groove {
            path_normals: path.clone(),
            path: path.clone(),
            half_width,
            depth,
            profile,
        };
        let out = apply_defect(&shape, &cloud, None).unwrap();
        let moved = assert_labels_are_moves(&cloud, &out.cloud);
        assert!(moved > 30, "{profile:?}: {moved}");
        let mut deepest = 0.0f32;
        for (p, q) in cloud.points.iter().zip(&out.cloud.points) {
            if p == q {
                continue;
            }
            let sink = 1.0 - norm(*q);
            assert!(sink > 0.0 && sink <= depth + 1e-5, "sink {sink}");
            // Within half a width of the arc's plane y = 0, on the arc's side.
            assert!(p[1].abs() < half_width && p[2] > 0.9, "{p:?}");
            deepest = deepest.max(sink);
        }
        assert!(deepest > 0.8 * depth, "{profile:?} deepest {deepest}");
    }
}

#[test]
fn hole_removes_the_ball_and_labels_the_rim() {
    let cloud = sphere(20_000);
    let (center, radius, rim) = ([0.0, 1.0, 0.0], 0.15f32, 0.03f32);
    let inside = cloud
        .points
        .iter()
        .filter(|p| dist(**p, center) < radius)
        .count();
    let ring = cloud
        .points
        .iter()
        .filter(|p| (radius..radius + rim).contains(&dist(**p, center)))
        .count();
    let out = apply_defect(
        &DefectShape::Hole {
            center,
            radius,
            rim,
        },
        &cloud,
        None,
    )
    .unwrap();
    assert_eq!(out.n_removed, inside);
    assert_eq!(out.cloud.len(), cloud.len() - inside);
    assert_eq!(out.n_anomalous, ring);
    let labels = out.cloud.labels.as_ref().unwrap();
    for (p, &l) in out.cloud.points.iter().zip(labels) {
        assert!(dist(*p, center) >= radius);
        assert_eq!(l == 1, dist(*p, center) < radius + rim);
    }
}

#[test]
fn cut_removes_beyond_the_plane_and_fills_the_section() {
    // The raw bottle: a cylinder of radius 0.3 from z = 0 to about 0.55.
    let mesh = builtin("bottle").unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let cloud = po3ad_core::geometry::sample_surface(&mesh, 20_000, &mut rng).unwrap();
    let (normal, offset, rim, spacing) = ([0.0, 0.0, -1.0], -0.3f32, 0.02f32, 0.02f32);
    let beyond = cloud.points.iter().filter(|p| -p[2] > offset).count();
    let shape = DefectShape::Cut {
        normal,
        offset,
        rim,
        face_spacing: spacing,
    };
    let open = apply_defect(&shape, &cloud, None).unwrap();
    assert_eq!(open.n_removed, beyond);
    assert_eq!(open.n_added, 0);
    let band = open
        .cloud
        .points
        .iter()
        .filter(|p| -p[2] > offset - rim)
        .count();
    assert_eq!(open.n_anomalous, band);

    let filled = apply_defect(&shape, &cloud, Some(&mesh)).unwrap();
    // The section is a disc of radius 0.3 (polygonal, 76 sides): points on a grid of
    // 0.866·spacing² cells.
    let want = std::f32::consts::PI * 0.09 / (0.866 * spacing * spacing);
    let got = filled.n_added as f32;
    assert!((got - want).abs() / want < 0.05, "added {got}, want {want}");
    let start = filled.cloud.len() - filled.n_added;
    for p in &filled.cloud.points[start..] {
        assert!((p[2] - 0.3).abs() < 1e-5 && (p[0].hypot(p[1])) < 0.3);
    }
    assert_eq!(filled.n_anomalous, band + filled.n_added);
}

#[test]
fn sampled_defects_of_every_kind_label_something() {
    let mesh = builtin("vase").unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let cloud = po3ad_core::geometry::sample_surface(&mesh, 8_000, &mut rng).unwrap();
    for kind in DefectKind::ALL {
        for severity in [0.0, 1.0] {
            let d = sample_defect(kind, severity, &cloud, &mut rng).unwrap();
            assert_eq!(d.kind, kind);
            let out = apply_defect(&d.shape, &cloud, Some(&mesh)).unwrap();
            assert!(
                out.n_anomalous > 0,
                "{kind} at {severity}: nothing labelled"
            );
            assert_eq!(
                out.cloud.len(),
                cloud.len() - out.n_removed + out.n_added,
                "{kind}"
            );
        }
    }
    assert_eq!("Crack".parse::<DefectKind>().unwrap(), DefectKind::Crack);
    assert!("dent".parse::<DefectKind>().is_err());
}

#[test]
fn partial_scan_keeps_the_facing_unoccluded_side() {
    let cloud = sphere(10_000);
    let keep = scan::visible_from(&cloud, [0.0, 0.0, 1.0], 0.035).unwrap();
    let facing = cloud.points.iter().filter(|p| p[2] > 0.0).count();
    assert!(keep.iter().all(|&i| cloud.points[i][2] > 0.0));
    // The front hemisphere sees itself except grazing points near the rim.
    assert!(
        keep.len() as f32 > 0.85 * facing as f32,
        "{} of {facing}",
        keep.len()
    );

    // Two parallel squares facing the camera: the far one is hidden.
    let mut points = Vec::new();
    for i in 0..40 {
        for j in 0..40 {
            let (x, y) = (i as f32 / 40.0, j as f32 / 40.0);
            points.push([x, y, 0.0]);
            points.push([x, y, -0.5]);
        }
    }
    let plates = PointCloud {
        normals: Some(vec![[0.0, 0.0, 1.0]; points.len()]),
        points,
        ..PointCloud::default()
    };
    let keep = scan::visible_from(&plates, [0.0, 0.0, 1.0], 0.025).unwrap();
    assert_eq!(keep.len(), 1600);
    assert!(keep.iter().all(|&i| plates.points[i][2] == 0.0));
}

#[test]
fn noise_has_the_requested_sigma() {
    let mut cloud = PointCloud::from_points(vec![[0.0; 3]; 20_000]);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    scan::add_noise(&mut cloud, 0.01, &mut rng).unwrap();
    let values: Vec<f64> = cloud.points.iter().flatten().map(|&x| x as f64).collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / values.len() as f64;
    assert!(mean.abs() < 3e-4, "mean {mean}");
    assert!((var.sqrt() - 0.01).abs() < 3e-4, "sigma {}", var.sqrt());
}
