//! The whole job through the `po3ad` binary on a tiny synthetic category: synth → train
//! (tiny preset) → test → predict → benchmark. Checks the files each step promises and
//! recomputes the object AUROC from the per-sample scores by counting pairs.

use crate::common;
use common::po3ad;

use std::path::Path;

const HEADER: &str =
    "category,object_auroc,object_ap,point_auroc,point_ap,train_seconds,test_seconds";

fn check_results_csv(path: &Path, categories: &[&str]) {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], HEADER);
    assert_eq!(lines.len(), categories.len() + 2, "{text}");
    for (line, cat) in lines[1..]
        .iter()
        .zip(categories.iter().chain(["mean"].iter()))
    {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], *cat);
        for v in &cells[1..5] {
            let x: f64 = v.parse().unwrap();
            assert!((0.0..=1.0).contains(&x), "{line}");
            assert_eq!(
                v.split('.').nth(1).map(str::len),
                Some(4),
                "4 decimals: {line}"
            );
        }
    }
}

/// AUROC by counting (anomalous, normal) pairs, ties counted half.
fn pair_auroc(rows: &[(bool, f64)]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for &(a, sa) in rows.iter().filter(|r| r.0) {
        for &(_, sn) in rows.iter().filter(|r| !r.0) {
            let _ = a;
            pairs += 1.0;
            wins += if sa > sn {
                1.0
            } else if sa == sn {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / pairs
}

#[test]
fn synth_train_test_predict_benchmark() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    po3ad(
        &[
            "synth",
            "--builtin",
            "bowl",
            "--out",
            "data",
            "--n-good",
            "3",
            "--n-per-defect",
            "1",
            "--defects",
            "bulge,hole",
            "--points",
            "3000",
            "--template-vertices",
            "2000",
            "--seed",
            "3",
        ],
        d,
    );
    let data = [
        "--layout",
        "anomaly-shapenet",
        "--root",
        "data",
        "--category",
        "bowl",
    ];

    let mut train = vec!["train", "--preset", "tiny", "--out", "runs/bowl"];
    train.extend_from_slice(&data);
    po3ad(&train, d);
    assert!(d.join("runs/bowl/model.po3ad").is_file());
    let loss = std::fs::read_to_string(d.join("runs/bowl/loss.csv")).unwrap();
    assert_eq!(loss.lines().count(), 3, "header + 2 epochs: {loss}");

    let mut test = vec![
        "test",
        "--model",
        "runs/bowl",
        "--out",
        "res",
        "--heatmaps",
        "1",
    ];
    test.extend_from_slice(&data);
    po3ad(&test, d);
    check_results_csv(&d.join("res/results.csv"), &["bowl"]);
    let scores = std::fs::read_to_string(d.join("res/scores.csv")).unwrap();
    let rows: Vec<(bool, f64)> = scores
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[2] == "true", c[3].parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 5);
    let results = std::fs::read_to_string(d.join("res/results.csv")).unwrap();
    let reported: f64 = results
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (reported - pair_auroc(&rows)).abs() < 1e-4,
        "{reported} vs {}",
        pair_auroc(&rows)
    );
    // Fusion with the nearest-template distance is linear in the weight: with the mean
    // object rule, the w = 0.5 object score is the average of the w = 0 and w = 1 ones.
    // (w = 0 at object level through `--object-nearest-weight 0`, so that all three
    // place the scans the same way: a fused scorer registers them as nearest does.)
    assert!(
        d.join("runs/bowl/nearest.json").is_file(),
        "train saves the companion"
    );
    let object_scores = |out: &str, args: &[&str]| -> Vec<f64> {
        let mut t = vec!["test", "--out", out, "--heatmaps", "0"];
        t.extend_from_slice(args);
        t.extend_from_slice(&data);
        po3ad(&t, d);
        std::fs::read_to_string(d.join(out).join("scores.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(3).unwrap().parse().unwrap())
            .collect()
    };
    let fused = |out: &str, w: &str, w_object: Option<&str>, rule: &str| {
        let mut a = vec![
            "--model",
            "runs/bowl",
            "--object-score",
            rule,
            "--nearest-weight",
            w,
        ];
        if let Some(wo) = w_object {
            a.extend_from_slice(&["--object-nearest-weight", wo]);
        }
        object_scores(out, &a)
    };
    let s0 = fused("fuse0", "1", Some("0"), "mean");
    let s1 = fused("fuse1", "1", None, "mean");
    let s5 = fused("fuse5", "0.5", None, "mean");
    for i in 0..s0.len() {
        let expect = 0.5 * s0[i] + 0.5 * s1[i];
        assert!(
            (s5[i] - expect).abs() <= 1e-6 * expect.abs().max(1e-3),
            "{i}: {s5:?} vs {expect}"
        );
        assert_ne!(s0[i], s1[i]);
    }
    // Object weight 1 (the `cpu` preset's): the object scores are the nearest-template
    // detector's own, whatever the point weight.
    let from_distance = fused("fuse-obj1", "0.3", Some("1"), "top_mean");
    let nearest = object_scores("nn", &["--detector", "nearest"]);
    assert_eq!(from_distance.len(), nearest.len());
    for (a, b) in from_distance.iter().zip(&nearest) {
        assert!(
            (a - b).abs() <= 1e-6 * b.abs(),
            "{from_distance:?} vs {nearest:?}"
        );
    }
    let png = std::fs::read(d.join("res/heatmaps/bowl_bulge0.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    po3ad(
        &[
            "predict",
            "--model",
            "runs/bowl",
            "data/pcd/bowl/test/bowl_positive0.pcd",
            "--out",
            "pred",
        ],
        d,
    );
    let preds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("pred/predictions.json")).unwrap())
            .unwrap();
    assert!(preds[0]["object_score"].as_f64().unwrap().is_finite());
    // `train` ends with a default calibration, so predict gives a verdict.
    let cal: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("runs/bowl/calibration.json")).unwrap(),
    )
    .unwrap();
    assert!(
        cal["detectors"]["po3ad"]["object_threshold"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(preds[0]["verdict"].is_string(), "{preds}");
    assert!(preds[0]["normalized_score"].as_f64().unwrap() >= 0.0);
    let scan = po3ad_core::io::read(&d.join("data/pcd/bowl/test/bowl_positive0.pcd")).unwrap();
    let heat = po3ad_core::io::read(&d.join("pred/bowl_positive0.ply")).unwrap();
    assert_eq!(
        scan.points, heat.points,
        "heatmap keeps the scan's own coordinates"
    );

    po3ad(
        &[
            "benchmark",
            "--layout",
            "anomaly-shapenet",
            "--root",
            "data",
            "--model",
            "curvature",
            "--out",
            "bench",
        ],
        d,
    );
    check_results_csv(&d.join("bench/results.csv"), &["bowl"]);
    assert!(d.join("bench/results.md").is_file());
}

#[test]
fn pseudo_displaces_one_patch() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mesh = po3ad_core::synth::shapes::builtin("cup").unwrap();
    po3ad_core::io::write_ply(&d.join("cup.ply"), &mesh, None, true).unwrap();
    let text = po3ad(
        &[
            "pseudo",
            "cup.ply",
            "--out",
            "p.ply",
            "--patches",
            "16",
            "--preset",
            "tiny",
        ],
        d,
    );
    let out = po3ad_core::io::read(&d.join("p.ply")).unwrap();
    // tiny preset resamples meshes below 1000 vertices; the cup has more, so N = its vertices.
    assert_eq!(out.len(), mesh.len());
    // One patch of N/J points moves, except its farthest point(s), where 1 − w = 0.
    let moved: usize = text
        .split(" displaced")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no displaced count in: {text}"));
    let patch = mesh.len() / 16;
    assert!(
        moved <= patch && moved + 3 >= patch,
        "{moved} displaced, patch of {patch}"
    );
    // The written cloud is the normalized, displaced one: inside the unit sphere + beta.
    let max = out
        .points
        .iter()
        .map(|p| (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt())
        .fold(0.0, f32::max);
    assert!(max > 0.9 && max < 1.13, "max radius {max}");
    assert!(d.join("p.png").is_file());
}

#[test]
fn nearest_template_detector_on_free_pose_scans() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    po3ad(
        &[
            "synth",
            "--builtin",
            "bottle",
            "--out",
            "data",
            "--n-good",
            "2",
            "--n-per-defect",
            "1",
            "--defects",
            "bulge",
            "--points",
            "4000",
            "--template-vertices",
            "2000",
            "--seed",
            "4",
            "--pose",
            "random",
        ],
        d,
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("data/pcd/bottle/manifest.json")).unwrap(),
    )
    .unwrap();
    assert!(
        manifest["tests"][0]["pose"]["rotation"].is_array(),
        "the manifest records each test pose"
    );
    let data = [
        "--layout",
        "anomaly-shapenet",
        "--root",
        "data",
        "--category",
        "bottle",
    ];
    let mut train = vec!["train", "--detector", "nearest", "--out", "nn"];
    train.extend_from_slice(&data);
    po3ad(&train, d);
    assert!(d.join("nn/nearest.json").is_file());

    let mut test = vec!["test", "--model", "nn", "--out", "res", "--heatmaps", "0"];
    test.extend_from_slice(&data);
    let text = po3ad(&test, d);
    assert!(text.contains("register (all registered)"), "{text}");
    check_results_csv(&d.join("res/results.csv"), &["bottle"]);
    let scores = std::fs::read_to_string(d.join("res/scores.csv")).unwrap();
    assert!(
        scores
            .lines()
            .skip(1)
            .all(|l| l.split(',').nth(5) == Some("true")),
        "{scores}"
    );

    // The same scans in their own frame are not registered (and say so).
    let mut own = vec![
        "test",
        "--model",
        "nn",
        "--out",
        "own",
        "--frame",
        "scan",
        "--heatmaps",
        "0",
    ];
    own.extend_from_slice(&data);
    let text = po3ad(&own, d);
    assert!(text.contains("scans placed by: scan"), "{text}");

    po3ad(
        &[
            "predict",
            "--model",
            "nn/nearest.json",
            "data/pcd/bottle/test/bottle_positive0.pcd",
            "--out",
            "pred",
        ],
        d,
    );
    let preds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("pred/predictions.json")).unwrap())
            .unwrap();
    assert_eq!(preds[0]["frame"], "register");
    assert_eq!(preds[0]["registration"]["registered"], true);
}

/// With no `--detector` and no option only the network reads, `train` builds the
/// default kind, `surface`; such an option beside another named kind is refused before
/// anything is written, naming both.
#[test]
fn train_builds_surface_by_default_and_refuses_a_preset_for_another_kind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mesh = po3ad_core::synth::shapes::builtin("cup").unwrap();
    po3ad_core::io::write_ply(&d.join("cup.ply"), &mesh, None, true).unwrap();
    po3ad(&["train", "--train", "cup.ply", "--out", "m"], d);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("m/detector.json")).unwrap()).unwrap();
    assert_eq!(manifest["kind"], "surface", "{manifest}");
    assert!(d.join("m/surface.json").is_file());
    assert!(!d.join("m/model.po3ad").exists(), "no network is trained");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_po3ad"))
        .current_dir(d)
        .args([
            "train",
            "--train",
            "cup.ply",
            "--out",
            "n",
            "--detector",
            "nearest",
        ])
        .args(["--preset", "tiny"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("--preset only applies to --detector po3ad, not to --detector nearest"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!d.join("n").exists(), "nothing is written");
}
