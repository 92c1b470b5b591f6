//! Written benchmarks have the SPEC layout, read back consistently, match their
//! manifest and are byte-identical for the same seed.

use po3ad_core::synth::{
    builtin, write_builtin_benchmark, write_category, DefectKind, Manifest, SynthConfig,
    SynthLayout,
};
use po3ad_core::{io, PointCloud};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn small_config() -> SynthConfig {
    SynthConfig {
        seed: 5,
        n_train: 2,
        template_min_vertices: 6_000,
        n_test_points: 4_000,
        n_good: 2,
        n_per_defect: 1,
        ..SynthConfig::default()
    }
}

/// Every file under `dir` with its bytes, by relative path (sorted).
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn check_manifest(out: &Path, m: &Manifest, cfg: &SynthConfig) {
    let n_tests = cfg.n_good + cfg.n_per_defect * cfg.defects.len();
    assert_eq!(m.tests.len(), n_tests);
    assert_eq!(m.templates.len(), cfg.n_train);
    for t in &m.templates {
        assert!(t.vertices >= cfg.template_min_vertices);
        for f in &t.files {
            let mesh = io::read(&out.join(f)).unwrap();
            assert_eq!(mesh.points.len(), t.vertices, "{f}");
            if !f.ends_with(".pcd") {
                assert_eq!(mesh.faces.len(), t.faces, "{f}");
            }
        }
    }
    for t in &m.tests {
        let cloud = io::read(&out.join(&t.file)).unwrap();
        assert_eq!(cloud.points.len(), t.n_points, "{}", t.file);
        match (&t.defect, &t.gt) {
            (None, None) => {
                assert_eq!(t.n_anomalous, 0);
                assert_eq!(t.n_points, cfg.n_test_points.min(t.n_points));
            }
            (Some(d), Some(gt)) => {
                let gt = io::read_gt(&out.join(gt)).unwrap();
                // The GT repeats the test cloud point for point, with labels.
                assert_eq!(gt.points, cloud.points, "{}", t.file);
                let labels = gt.labels.unwrap();
                let n1 = labels.iter().filter(|&&l| l == 1).count();
                assert_eq!(n1, t.n_anomalous, "{}", t.file);
                assert!(n1 >= 10, "{}: {n1}", t.file);
                assert!(t.file.contains(d.kind.name()), "{}", t.file);
            }
            _ => panic!("{}: GT present iff anomalous", t.file),
        }
    }
}

#[test]
fn anomaly_shapenet_layout_is_complete_and_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let cfg = small_config();
    let m = write_category(
        &builtin("bottle").unwrap(),
        "bottle",
        out,
        SynthLayout::AnomalyShapeNet,
        &cfg,
    )
    .unwrap();
    for i in 0..2 {
        assert!(out
            .join(format!("obj/bottle/bottle_template{i}.obj"))
            .is_file());
        assert!(out
            .join(format!("pcd/bottle/train/bottle_template{i}.pcd"))
            .is_file());
    }
    for i in 0..2 {
        assert!(out
            .join(format!("pcd/bottle/test/bottle_positive{i}.pcd"))
            .is_file());
        assert!(!out
            .join(format!("pcd/bottle/GT/bottle_positive{i}.txt"))
            .exists());
    }
    for k in DefectKind::ALL {
        let name = format!("bottle_{}0", k.name());
        assert!(
            out.join(format!("pcd/bottle/test/{name}.pcd")).is_file(),
            "{name}"
        );
        assert!(
            out.join(format!("pcd/bottle/GT/{name}.txt")).is_file(),
            "{name}"
        );
    }
    assert!(out.join("pcd/bottle/manifest.json").is_file());
    let text = std::fs::read_to_string(out.join("pcd/bottle/GT/bottle_hole0.txt")).unwrap();
    assert_eq!(text.lines().next().unwrap().split(',').count(), 4);
    let back: Manifest =
        serde_json::from_slice(&std::fs::read(out.join(&m.manifest)).unwrap()).unwrap();
    assert_eq!(back, m);
    check_manifest(out, &m, &cfg);
    // Templates differ from one another (random pose and scale jitter).
    let t0 = io::read(&out.join(&m.templates[0].files[0])).unwrap();
    let t1 = io::read(&out.join(&m.templates[1].files[0])).unwrap();
    assert_ne!(t0.points, t1.points);
}

#[test]
fn real3d_layout_with_partial_noisy_scans() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let cfg = SynthConfig {
        partial: true,
        noise_sigma: 0.001,
        defects: vec![DefectKind::Bulge, DefectKind::Hole, DefectKind::Broken],
        ..small_config()
    };
    let m = write_category(
        &builtin("gear").unwrap(),
        "gear",
        out,
        SynthLayout::Real3d,
        &cfg,
    )
    .unwrap();
    for i in 0..2 {
        let ply = out.join(format!("Real3D-AD-PLY/gear/gear_template{i}.ply"));
        let mesh = io::read(&ply).unwrap();
        assert!(mesh.is_mesh() && mesh.normals.is_some());
    }
    assert!(out.join("Real3D-AD-PCD/gear/test/0_good.pcd").is_file());
    assert!(out.join("Real3D-AD-PCD/gear/test/4_broken.pcd").is_file());
    let gt = std::fs::read_to_string(out.join("Real3D-AD-PCD/gear/gt/2_bulge.txt")).unwrap();
    assert_eq!(gt.lines().next().unwrap().split_whitespace().count(), 4);
    check_manifest(out, &m, &cfg);
    for t in &m.tests {
        // One-sided: clearly fewer points than sampled.
        assert!(
            t.n_points < cfg.n_test_points * 3 / 4,
            "{}: {}",
            t.file,
            t.n_points
        );
        assert!(t.view.is_some());
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let cfg = SynthConfig {
        defects: vec![DefectKind::Crack, DefectKind::Broken],
        ..small_config()
    };
    let run = |cfg: &SynthConfig| {
        let dir = tempfile::tempdir().unwrap();
        write_builtin_benchmark(dir.path(), SynthLayout::AnomalyShapeNet, cfg, &["cup"]).unwrap();
        tree(dir.path())
    };
    let a = run(&cfg);
    let b = run(&cfg);
    assert!(a.len() > 10);
    assert_eq!(a, b);
    let c = run(&SynthConfig { seed: 6, ..cfg });
    assert_ne!(
        a.get(Path::new("pcd/cup/test/cup_crack0.pcd")),
        c.get(Path::new("pcd/cup/test/cup_crack0.pcd"))
    );
}

#[test]
fn bad_meshes_are_rejected_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config();
    let layout = SynthLayout::AnomalyShapeNet;
    let points = PointCloud::from_points(vec![
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
    ]);
    let e = write_category(&points, "raw", dir.path(), layout, &cfg).unwrap_err();
    assert!(e.to_string().contains("no faces"), "{e}");

    let flat = PointCloud {
        faces: vec![[0, 1, 1], [2, 2, 3]],
        ..points.clone()
    };
    let e = write_category(&flat, "flat", dir.path(), layout, &cfg).unwrap_err();
    assert!(e.to_string().contains("degenerate"), "{e}");

    let broken_index = PointCloud {
        faces: vec![[0, 1, 9]],
        ..points.clone()
    };
    let e = write_category(&broken_index, "idx", dir.path(), layout, &cfg).unwrap_err();
    assert!(e.to_string().contains("vertex"), "{e}");

    let e = write_category(
        &builtin("cup").unwrap(),
        "../escape",
        dir.path(),
        layout,
        &cfg,
    )
    .unwrap_err();
    assert!(e.to_string().contains("folder name"), "{e}");
    let e = write_builtin_benchmark(dir.path(), layout, &cfg, &["spaceship"]).unwrap_err();
    assert!(e.to_string().contains("unknown built-in"), "{e}");
}

#[test]
fn messy_meshes_are_cleaned_and_reported() {
    // A bottle exported badly: wound inward, every triangle listed twice (double-
    // sided), one vertex split in two, one vertex no face uses.
    let good = builtin("bottle").unwrap();
    let mut mesh = good.clone();
    for f in &mut mesh.faces {
        f.swap(1, 2);
    }
    let reversed: Vec<[u32; 3]> = mesh.faces.iter().map(|f| [f[0], f[2], f[1]]).collect();
    mesh.faces.extend(reversed);
    let split = mesh.points.len() as u32;
    mesh.points.push(mesh.points[mesh.faces[0][0] as usize]);
    mesh.faces[0][0] = split;
    mesh.points.push([5.0, 5.0, 5.0]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        defects: vec![DefectKind::Broken],
        ..small_config()
    };
    let m = write_category(
        &mesh,
        "messy",
        dir.path(),
        SynthLayout::AnomalyShapeNet,
        &cfg,
    )
    .unwrap();
    assert_eq!(m.mesh.welded_vertices, 1);
    assert_eq!(m.mesh.duplicate_faces, good.faces.len());
    assert_eq!(m.mesh.unreferenced_vertices, 2); // the far vertex and the split copy
    assert!(m.mesh.flipped);
    assert!(m.mesh.edges.is_closed(), "{:?}", m.mesh.edges);
    // The far vertex did not take part in the normalization: the bottle spans the
    // unit sphere.
    let t = io::read(&dir.path().join(&m.templates[0].files[0])).unwrap();
    let r = t
        .points
        .iter()
        .map(|p| (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt());
    let r_max = r.fold(0.0f32, f32::max);
    assert!((0.9..1.1).contains(&r_max), "{r_max}");
}

#[test]
fn the_dataset_reader_sees_what_the_manifest_says() {
    use po3ad_core::dataset::{load_category, load_test_cloud, Layout};
    let cfg = SynthConfig {
        defects: vec![DefectKind::Scratch, DefectKind::Hole],
        ..small_config()
    };
    for (layout, dl) in [
        (SynthLayout::AnomalyShapeNet, Layout::AnomalyShapeNet),
        (SynthLayout::Real3d, Layout::Real3d),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let m = write_category(
            &builtin("plate").unwrap(),
            "plate",
            dir.path(),
            layout,
            &cfg,
        )
        .unwrap();
        let cat = load_category(dl, dir.path(), "plate").unwrap();
        assert_eq!(cat.test.len(), m.tests.len(), "{layout}");
        assert!(cat.train.len() >= cfg.n_train, "{layout}");
        for s in &cat.test {
            let entry = m
                .tests
                .iter()
                .find(|t| Path::new(&t.file).file_stem().unwrap().to_string_lossy() == s.name)
                .unwrap_or_else(|| panic!("{layout}: {} not in manifest", s.name));
            assert_eq!(s.anomalous, entry.defect.is_some(), "{}", s.name);
            let want = entry.defect.as_ref().map_or("good", |d| d.kind.name());
            assert_eq!(s.defect, want, "{}", s.name);
            let cloud = load_test_cloud(s).unwrap();
            let n1 = cloud.labels.unwrap().iter().filter(|&&l| l == 1).count();
            assert_eq!(n1, entry.n_anomalous, "{}", s.name);
        }
    }
}
