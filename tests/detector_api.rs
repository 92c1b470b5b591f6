//! The detector API (issue #20) and trustworthy verdicts (issue #22): one model-folder
//! format with a manifest, older folders still loading, the registry's kinds, scans
//! that cannot be registered judged "unregistered", and regions that mean something
//! (a defect-free scan reports none; a defect does).

use po3ad::detector::calibration::{default_normal_views, NormalSource};
use po3ad::detector::report::UNREGISTERED;
use po3ad::detector::{self, Detector, FitRequest, LoadOptions, MANIFEST_FILE};
use po3ad::device::DeviceArg;
use po3ad::eval::{evaluate_category, EvalOptions};
use po3ad::train::{FitHooks, Preset};
use po3ad_core::dataset::{load_category, Layout};
use po3ad_core::synth::{write_builtin_benchmark, DefectKind, SynthConfig, SynthLayout};
use po3ad_core::PointCloud;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// A small bowl benchmark (2 good + 3 bulges of high severity per the seed).
fn bowl_data(root: &Path) -> po3ad_core::dataset::Category {
    let cfg = SynthConfig {
        seed: 11,
        n_train: 2,
        n_good: 2,
        n_per_defect: 3,
        defects: vec![DefectKind::Bulge],
        severity: [0.8, 1.0],
        n_test_points: 4000,
        template_min_vertices: 2000,
        ..SynthConfig::default()
    };
    write_builtin_benchmark(root, SynthLayout::AnomalyShapeNet, &cfg, &["bowl"]).unwrap();
    load_category(Layout::AnomalyShapeNet, root, "bowl").unwrap()
}

fn fit(kind: &str, files: &[PathBuf], out: &Path) {
    let preset = Preset::default();
    Detector::fit(
        detector::kind(kind).unwrap(),
        FitRequest {
            files,
            out,
            preset: &preset,
            resume: false,
            category: "bowl",
            device: DeviceArg::Cpu,
            hooks: FitHooks::default(),
            settings: None,
        },
    )
    .unwrap();
}

#[test]
fn registry_lists_every_kind_and_refuses_others() {
    let names = detector::names();
    for k in ["po3ad", "nearest", "curvature"] {
        assert!(names.contains(&k), "{names:?}");
    }
    let err = detector::kind("nearset").unwrap_err().to_string();
    assert!(
        err.contains("nearset") && err.contains("po3ad, nearest, curvature"),
        "{err}"
    );
}

#[test]
fn fit_writes_a_manifest_and_older_folders_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let cat = bowl_data(&dir.path().join("data"));
    let model = dir.path().join("nn");
    fit("nearest", &cat.train, &model);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join(MANIFEST_FILE)).unwrap()).unwrap();
    assert_eq!(m["format"], "po3ad-detector");
    assert_eq!(m["kind"], "nearest");
    assert_eq!(m["sources"].as_array().unwrap().len(), cat.train.len());
    assert_eq!(m["files"]["reference"], "nearest.json");
    assert!(m["frame"]["scale"].as_f64().unwrap() > 0.0, "{m}");
    assert!(
        m["created_by"].as_str().unwrap().starts_with("po3ad "),
        "{m}"
    );

    let scan = po3ad_core::dataset::load_test_points(&cat.test[0]).unwrap();
    let with = Detector::load(&model, &LoadOptions::default()).unwrap();
    assert_eq!(with.name(), "nearest");
    let (report, scores) = with.score(&scan).unwrap();
    assert_eq!(scores.len(), scan.len());
    // The object score is the top-1 % mean of the point scores, by hand.
    let mut sorted = scores.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let top = (scan.len() as f64 * 0.01).ceil() as usize;
    let by_hand = sorted[..top].iter().map(|&v| v as f64).sum::<f64>() / top as f64;
    assert!((report.object_score - by_hand).abs() < 1e-12);
    assert_eq!(report.scoring["detector"], "nearest");
    assert!(report.scoring["version"].starts_with("po3ad "));

    // The same folder without its manifest (as saved before manifests): same scores.
    std::fs::remove_file(model.join(MANIFEST_FILE)).unwrap();
    let old = Detector::load(&model, &LoadOptions::default()).unwrap();
    assert_eq!(old.name(), "nearest");
    assert_eq!(old.score(&scan).unwrap().1, scores);
    // And through its file, as `--model nn/nearest.json` names it.
    let file = Detector::load(&model.join("nearest.json"), &LoadOptions::default()).unwrap();
    assert_eq!(file.score(&scan).unwrap().1, scores);
}

#[test]
fn folders_that_are_not_models_fail_with_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let err = Detector::load(dir.path(), &LoadOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains(MANIFEST_FILE) && err.contains("po3ad train"),
        "{err}"
    );
    // A manifest from a newer po3ad: refused, naming the upgrade.
    std::fs::write(
        dir.path().join(MANIFEST_FILE),
        r#"{"format":"po3ad-detector","version":99,"kind":"nearest","created_by":"po3ad 9.0"}"#,
    )
    .unwrap();
    let err = Detector::load(dir.path(), &LoadOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("newer po3ad") && err.contains("upgrade"),
        "{err}"
    );
    // A kind this build does not know.
    std::fs::write(
        dir.path().join(MANIFEST_FILE),
        r#"{"format":"po3ad-detector","version":1,"kind":"warp-drive"}"#,
    )
    .unwrap();
    let err = Detector::load(dir.path(), &LoadOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("warp-drive") && err.contains("available"),
        "{err}"
    );
}

#[test]
fn a_scan_that_cannot_be_registered_is_neither_normal_nor_anomalous() {
    let dir = tempfile::tempdir().unwrap();
    let cat = bowl_data(&dir.path().join("data"));
    let model = dir.path().join("nn");
    fit("nearest", &cat.train, &model);
    let mut d = Detector::load(&model, &LoadOptions::default()).unwrap();
    d.calibrate(&NormalSource::TrainingViews(cat.train.clone()))
        .unwrap();
    // A uniform blob of points shares no shape with a bowl.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let blob = PointCloud::from_points(
        (0..3000)
            .map(|_| {
                [
                    rng.random::<f32>(),
                    rng.random::<f32>(),
                    rng.random::<f32>(),
                ]
            })
            .collect(),
    );
    let (report, _) = d.score(&blob).unwrap();
    assert_eq!(
        report.registration.map(|f| f.registered),
        Some(false),
        "{report:?}"
    );
    assert_eq!(report.verdict.as_deref(), Some(UNREGISTERED));
    assert!(report.regions.is_none());
}

#[test]
fn normal_scans_report_no_region_and_defects_do() {
    let dir = tempfile::tempdir().unwrap();
    let cat = bowl_data(&dir.path().join("data"));
    let model = dir.path().join("nn");
    fit("nearest", &cat.train, &model);
    let mut d = Detector::load(&model, &LoadOptions::default()).unwrap();
    let (cal, _) = d
        .calibrate(&NormalSource::TrainingViews(cat.train.clone()))
        .unwrap();
    assert!(cal.region_threshold.is_some_and(|t| t >= 0.0), "{cal:?}");
    // Fresh defect-free views (another seed than calibration's): at most 1 in 20 may
    // report a region (the point threshold alone flags 1 % of every one's points).
    let views = default_normal_views(&cat.train, 1234).unwrap();
    let mut with_regions = 0;
    let mut n = 0;
    for v in views.iter().cycle().take(20) {
        let (report, _) = d.score(v).unwrap();
        n += 1;
        with_regions += usize::from(!report.regions.unwrap().is_empty());
    }
    assert!(
        with_regions * 20 <= n,
        "{with_regions} of {n} normal views report regions"
    );
    // The strong bulges come out as regions on the defect.
    let eval = evaluate_category(&d, &cat, &EvalOptions::default()).unwrap();
    let stats = eval.regions.unwrap();
    assert_eq!(stats.anomalous_scans, 3);
    assert!(stats.anomalous_scans_hit >= 2, "{stats:?}");
}

/// `--frame auto` places scans as each memory bank needs: the position banks register
/// them, the FPFH banks only take the training frame's shift and scale (`fixed`, no
/// registration: their descriptors do not depend on the pose).
#[test]
fn frame_auto_registers_only_the_banks_that_compare_positions() {
    let dir = tempfile::tempdir().unwrap();
    let cat = bowl_data(&dir.path().join("data"));
    for (kind, want) in [
        ("btf-raw", "register"),
        ("reg-bank", "register"),
        ("btf-fpfh", "fixed"),
        ("patchcore", "fixed"),
    ] {
        let model = dir.path().join(kind);
        fit(kind, &cat.train, &model);
        let d = Detector::load(&model, &LoadOptions::default()).unwrap();
        assert_eq!(d.placement().name(), want, "{kind}");
    }
}
