//! Real scanner files through the detector (issue #24): invalid points dropped and
//! given NaN scores in the file's order, a mm scan refused against an m template by
//! default and converted with `--units auto`, and a part on a table with a fixture and
//! distractors scored on the part's points only, with no region in the background.

use po3ad::detector::calibration::NormalSource;
use po3ad::detector::manifest::set_units;
use po3ad::detector::{self, Detector, FitRequest, IntakeOptions, LoadOptions, UnitsArg};
use po3ad::device::DeviceArg;
use po3ad::train::{FitHooks, Preset};
use po3ad_core::dataset::{load_category, Layout};
use po3ad_core::io::{self, Scan};
use po3ad_core::scene::{drop_invalid, OriginPolicy, Units};
use po3ad_core::synth::{
    write_builtin_benchmark, DefectKind, SceneConfig, SynthConfig, SynthLayout,
};
use po3ad_core::PointCloud;
use std::path::{Path, PathBuf};

fn config(scene: Option<SceneConfig>) -> SynthConfig {
    SynthConfig {
        seed: 5,
        n_train: 2,
        n_good: 1,
        n_per_defect: 1,
        defects: vec![DefectKind::Bulge],
        severity: [0.9, 1.0],
        n_test_points: if scene.is_some() { 12_000 } else { 5000 },
        template_min_vertices: 2000,
        scene,
        ..SynthConfig::default()
    }
}

/// A nearest-template detector of the bowl in `root` (units recorded when given),
/// calibrated on views of its training files.
fn detector(root: &Path, units: Option<Units>) -> Detector {
    let train: Vec<PathBuf> = load_category(Layout::AnomalyShapeNet, root, "bowl")
        .unwrap()
        .train;
    let out = root.join("nn");
    Detector::fit(
        detector::kind("nearest").unwrap(),
        FitRequest {
            files: &train,
            out: &out,
            preset: &Preset::default(),
            resume: false,
            category: "bowl",
            device: DeviceArg::Cpu,
            hooks: FitHooks::default(),
            settings: None,
        },
    )
    .unwrap();
    if let Some(u) = units {
        set_units(&out, u).unwrap();
    }
    let mut d = Detector::load(&out, &LoadOptions::default()).unwrap();
    d.calibrate(&NormalSource::TrainingViews(train)).unwrap();
    d
}

/// The bowl's synthetic benchmark under `root` (scenes with `scene`).
fn bowl_benchmark(root: &Path, scene: Option<SceneConfig>) -> po3ad_core::synth::Manifest {
    write_builtin_benchmark(
        root,
        SynthLayout::AnomalyShapeNet,
        &config(scene),
        &["bowl"],
    )
    .unwrap()
    .remove(0)
}

fn read(path: &Path) -> Scan {
    io::read_scan(path, &io::ScanOptions::default()).unwrap()
}

#[test]
fn invalid_points_get_nan_and_the_others_score_as_in_the_clean_scan() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let m = bowl_benchmark(&root, None);
    let d = detector(&root, None);
    let clean = io::read(&root.join(&m.tests[0].file)).unwrap();
    let (_, clean_scores) = d.score(&clean).unwrap();

    // The same scan as an organized sensor export: NaN and (0, 0, 0) pixels between
    // the points (the original points keep their order).
    let mut points = Vec::new();
    let mut holes = Vec::new();
    for (i, p) in clean.points.iter().enumerate() {
        if i % 97 == 3 {
            holes.push(points.len());
            points.push([f32::NAN, 0.0, 1.0]);
        }
        if i % 211 == 7 {
            holes.push(points.len());
            points.push([0.0; 3]);
        }
        points.push(*p);
    }
    let (cloud, dropped) = drop_invalid(PointCloud::from_points(points), true, OriginPolicy::Auto);
    let scan = Scan {
        cloud,
        dropped,
        units: Units::Unknown,
        format: "test".into(),
    };
    let scored = d.score_scan(scan, &IntakeOptions::default()).unwrap();
    let input = scored.report.input.clone().unwrap();
    assert_eq!(input.invalid_points, holes.len());
    assert_eq!(input.file_points, clean.points.len() + holes.len());
    assert_eq!(input.background_points, 0);
    let file_scores = scored.file_scores();
    let mut k = 0;
    for (i, s) in file_scores.iter().enumerate() {
        if holes.contains(&i) {
            assert!(s.is_nan(), "point {i} was invalid but scored {s}");
        } else {
            assert_eq!(*s, clean_scores[k], "point {i}");
            k += 1;
        }
    }
    assert_eq!(k, clean_scores.len());
}

#[test]
fn a_mm_scan_against_an_m_template_is_refused_by_default_and_converted_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let m = bowl_benchmark(&root, None);
    let d = detector(&root, Some(Units::Meters));
    let path = root.join(&m.tests[0].file);
    let (reference, ref_scores) = d.score(&io::read(&path).unwrap()).unwrap();
    let mm = || {
        let mut s = read(&path);
        po3ad_core::scene::units::scale(&mut s.cloud, 1000.0);
        s
    };
    let err = format!(
        "{:#}",
        d.score_scan(mm(), &IntakeOptions::default()).err().unwrap()
    );
    assert!(
        err.contains("mm") && err.contains(" m ") && err.contains("--units auto"),
        "{err}"
    );
    for units in [UnitsArg::Auto, UnitsArg::Declared(Units::Millimeters)] {
        let opts = IntakeOptions {
            units,
            ..Default::default()
        };
        let scored = d.score_scan(mm(), &opts).unwrap();
        let note = scored.report.input.as_ref().unwrap().units.clone();
        assert!(
            note.as_deref().is_some_and(|n| n.starts_with("mm -> m")),
            "{note:?}"
        );
        assert!(scored.report.registration.unwrap().registered);
        // The same verdict; scores equal up to the float rounding of the round trip.
        assert_eq!(scored.report.verdict, reference.verdict);
        let rel = (scored.report.object_score / reference.object_score - 1.0).abs();
        assert!(
            rel < 0.05,
            "object {} vs {}",
            scored.report.object_score,
            reference.object_score
        );
        assert_eq!(scored.part_scores.len(), ref_scores.len());
    }
}

#[test]
fn a_part_on_a_table_is_scored_on_its_own_points_and_regions_stay_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let m = bowl_benchmark(&root, Some(SceneConfig::default()));
    // Templates in metres (the scene's default 1000 mm per template unit).
    let d = detector(&root, None);
    for t in &m.tests {
        let scene = t.scene.as_ref().expect("a scene test entry");
        let path = root.join(&t.file);
        let err = format!(
            "{:#}",
            d.score_scan(read(&path), &IntakeOptions::default())
                .err()
                .expect("a mm scene against an m template is refused by default")
        );
        assert!(err.contains("mm") && err.contains("--units auto"), "{err}");

        let opts = IntakeOptions {
            units: UnitsArg::Auto,
            ..Default::default()
        };
        let scored = d.score_scan(read(&path), &opts).unwrap();
        let input = scored.report.input.clone().unwrap();
        assert!(input.support_plane.is_some(), "{input:?}");
        assert!(
            input
                .units
                .as_deref()
                .is_some_and(|u| u.starts_with("mm -> m")),
            "{input:?}"
        );
        let scores = scored.file_scores();
        let part = scene.part_points;
        let kept_part = scores[..part].iter().filter(|s| !s.is_nan()).count();
        let kept_background = scores[part..].iter().filter(|s| !s.is_nan()).count();
        assert!(
            kept_part * 10 >= part * 9,
            "{}: {kept_part} of {part} part points kept",
            t.file
        );
        assert!(
            kept_background * 50 <= part,
            "{}: {kept_background} background points kept",
            t.file
        );
        assert!(
            scored.report.registration.unwrap().registered,
            "{}: {:?} {:?}",
            t.file,
            scored.report.registration,
            scored.report.input
        );
        // Regions lie on the part (its bounding box, file coordinates).
        let cloud = io::read(&path).unwrap();
        let part_cloud = PointCloud::from_points(cloud.points[..part].to_vec());
        let (lo, hi) = part_cloud.bbox().unwrap();
        for r in scored.report.regions.iter().flatten() {
            let inside = (0..3).all(|a| r.centroid[a] >= lo[a] && r.centroid[a] <= hi[a]);
            assert!(inside, "{}: region {r:?} off the part", t.file);
        }
        if t.defect.is_some() {
            assert_eq!(
                scored.report.verdict.as_deref(),
                Some("anomalous"),
                "{}",
                t.file
            );
        }
    }
}
