//! Background removal on scenes whose answer is known by construction: a hand-built
//! tilted table with a ball on it, a box beside it and clutter under it; a lone part
//! with a large flat face (nothing to remove); and `synth --scene` scans, whose manifest
//! says which points are the part.

use po3ad_core::scene::{self, remove_background, BackgroundConfig, Units};
use po3ad_core::synth::{self, DefectKind, SceneConfig, SynthConfig, SynthLayout};
use po3ad_core::{io, PointCloud};

/// Rotation about the axis (1, 1, 0)/√2 by 0.4 rad, applied to every point.
fn tilt(p: [f32; 3]) -> [f32; 3] {
    let (s, c) = 0.4f32.sin_cos();
    let k = [
        std::f32::consts::FRAC_1_SQRT_2,
        std::f32::consts::FRAC_1_SQRT_2,
        0.0,
    ];
    let kxp = [
        k[1] * p[2] - k[2] * p[1],
        k[2] * p[0] - k[0] * p[2],
        k[0] * p[1] - k[1] * p[0],
    ];
    let kp = k[0] * p[0] + k[1] * p[1] + k[2] * p[2];
    [0, 1, 2].map(|i| p[i] * c + kxp[i] * s + k[i] * kp * (1.0 - c))
}

/// Points on a sphere, golden-spiral spread.
fn sphere(c: [f32; 3], r: f32, n: usize) -> Vec<[f32; 3]> {
    let golden = std::f32::consts::PI * (3.0 - 5f32.sqrt());
    (0..n)
        .map(|i| {
            let z = 1.0 - 2.0 * (i as f32 + 0.5) / n as f32;
            let s = (1.0 - z * z).sqrt();
            let t = golden * i as f32;
            [c[0] + r * s * t.cos(), c[1] + r * s * t.sin(), c[2] + r * z]
        })
        .collect()
}

#[test]
fn table_ball_box_and_clutter_below() {
    let mut pts: Vec<[f32; 3]> = Vec::new();
    // Table: a 61 x 61 grid, 0.05 apart, at z = 0.
    for i in 0..61 {
        for j in 0..61 {
            pts.push([-1.5 + 0.05 * i as f32, -1.5 + 0.05 * j as f32, 0.0]);
        }
    }
    let n_table = pts.len();
    // The part: a ball of radius 0.4 resting on the table; points within 0.03 of the
    // table belong to its plane by the threshold, so none are made near that boundary.
    let ball: Vec<[f32; 3]> = sphere([0.0, 0.0, 0.4], 0.4, 900)
        .into_iter()
        .filter(|p| !(0.02..0.04).contains(&p[2]))
        .collect();
    let ball_start = pts.len();
    pts.extend(&ball);
    // A box (distractor) and clutter below the table.
    let box_start = pts.len();
    for i in 0..8 {
        for j in 0..8 {
            for k in 1..5 {
                pts.push([
                    1.0 + 0.04 * i as f32,
                    1.0 + 0.04 * j as f32,
                    0.05 * k as f32,
                ]);
            }
        }
    }
    let below_start = pts.len();
    for i in 0..50 {
        pts.push([-1.0 + 0.04 * i as f32, 0.3, -0.5]);
    }
    let tilted: Vec<[f32; 3]> = pts.iter().map(|&p| tilt(p)).collect();
    let cloud = PointCloud::from_points(tilted);
    let cfg = BackgroundConfig {
        expected_extent: Some(0.8 * 3f32.sqrt()),
        plane_threshold: Some(0.03),
        cluster_radius: Some(0.12),
        ..BackgroundConfig::default()
    };
    let (part, report) = remove_background(&cloud, &cfg).unwrap();
    let want: Vec<u32> = (ball_start..box_start)
        .filter(|&i| pts[i][2] > 0.03)
        .map(|i| i as u32)
        .collect();
    assert_eq!(report.kept, want);
    assert_eq!(part.len(), want.len());
    let near_table = (ball_start..box_start)
        .filter(|&i| pts[i][2] <= 0.03)
        .count();
    assert_eq!(report.plane_points, n_table + near_table);
    assert_eq!(report.below_plane, pts.len() - below_start);
    assert_eq!(report.other_points, below_start - box_start);
    assert_eq!(report.kept.len() + report.removed.len(), pts.len());
    // The plane's normal is the tilted up direction, pointing to the ball's side.
    let up = tilt([0.0, 0.0, 1.0]);
    let plane = report.plane.unwrap();
    let cos: f32 = (0..3).map(|a| plane.normal[a] * up[a]).sum();
    assert!(cos > 0.9999, "{plane:?}");
    assert!(plane.offset.abs() < 1e-4);

    // Same seed, same answer; a crop box that leaves the box out changes nothing kept.
    let (_, again) = remove_background(&cloud, &cfg).unwrap();
    assert_eq!(again, report);
}

#[test]
fn a_lone_part_with_a_flat_face_keeps_every_point() {
    // A 1 x 1 x 0.3 slab: its top face is the dominant plane but no larger than the part.
    let mut pts = Vec::new();
    for i in 0..=20 {
        for j in 0..=20 {
            let (x, y) = (0.05 * i as f32, 0.05 * j as f32);
            pts.push([x, y, 0.3]);
            pts.push([x, y, 0.0]);
        }
        for k in 1..6 {
            let (t, z) = (0.05 * i as f32, 0.05 * k as f32);
            pts.extend([[t, 0.0, z], [t, 1.0, z], [0.0, t, z], [1.0, t, z]]);
        }
    }
    let cloud = PointCloud::from_points(pts.clone());
    let cfg = BackgroundConfig {
        expected_extent: Some(scene::extent(&cloud) as f32),
        ..BackgroundConfig::default()
    };
    let (part, report) = remove_background(&cloud, &cfg).unwrap();
    assert_eq!(report.plane, None);
    assert_eq!(part.points, pts);
    assert!(report.removed.is_empty());
}

#[test]
fn bad_settings_are_errors() {
    let cloud = PointCloud::from_points(vec![[0.0; 3], [1.0, 0.0, 0.0]]);
    assert!(remove_background(&PointCloud::default(), &BackgroundConfig::default()).is_err());
    let crop = BackgroundConfig {
        crop: Some(([5.0; 3], [6.0; 3])),
        ..BackgroundConfig::default()
    };
    let e = remove_background(&cloud, &crop).unwrap_err().to_string();
    assert!(e.contains("crop"), "{e}");
    let neg = BackgroundConfig {
        expected_extent: Some(-1.0),
        ..BackgroundConfig::default()
    };
    assert!(remove_background(&cloud, &neg).is_err());
}

#[test]
fn synth_scene_scans_separate_into_part_and_background() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        seed: 3,
        n_train: 1,
        n_good: 2,
        n_per_defect: 1,
        defects: vec![DefectKind::Bulge, DefectKind::Hole],
        n_test_points: 6000,
        template_min_vertices: 2000,
        scene: Some(SceneConfig::default()),
        ..SynthConfig::default()
    };
    let mesh = synth::builtin("gear").unwrap();
    let m = synth::write_category(
        &mesh,
        "gear",
        dir.path(),
        SynthLayout::AnomalyShapeNet,
        &cfg,
    )
    .unwrap();
    let template = io::read(&dir.path().join(&m.templates[0].files[0])).unwrap();
    let t_extent = scene::extent(&template);
    for t in &m.tests {
        let s = t.scene.as_ref().expect("scene entry");
        let cloud = io::read(&dir.path().join(&t.file)).unwrap();
        assert_eq!(
            cloud.len(),
            s.part_points + s.table_points + s.fixture_points + s.distractor_points
        );
        assert!(
            s.table_points > s.part_points / 2 && s.fixture_points > 0,
            "{s:?}"
        );
        // The part alone is in mm against a template in metres.
        let part_only = cloud.select(&(0..s.part_points).collect::<Vec<_>>());
        let mm = scene::detect_scale_mismatch(t_extent, scene::extent(&part_only), Units::Meters)
            .expect("a mm scan against an m template");
        assert_eq!(
            (mm.from, mm.to, mm.factor),
            (Units::Millimeters, Units::Meters, 0.001)
        );
        // GT labels: background is 0, the defect (if any) lies on the part.
        if let Some(gt) = &t.gt {
            let labels = io::read_gt(&dir.path().join(gt)).unwrap().labels.unwrap();
            assert!(labels[s.part_points..].iter().all(|&l| l == 0));
            assert!(labels[..s.part_points].contains(&1));
        }
        let bg = BackgroundConfig {
            expected_extent: Some((t_extent * 1000.0) as f32),
            ..BackgroundConfig::default()
        };
        let (_, r) = remove_background(&cloud, &bg).unwrap();
        let kept_background = r
            .kept
            .iter()
            .filter(|&&i| i as usize >= s.part_points)
            .count();
        assert_eq!(kept_background, 0, "{}: {r:?}", t.file);
        let recall = r.kept.len() as f64 / s.part_points as f64;
        eprintln!(
            "{}: {s:?}\n  kept {} plane {} other {} comps {} recall {recall:.3}",
            t.file,
            r.kept.len(),
            r.plane_points,
            r.other_points,
            r.components
        );
        assert!(recall > 0.85, "{}: part recall {recall}", t.file);
        assert!(r.plane.is_some());
    }
}
