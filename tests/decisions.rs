//! Calibration and verdicts (issue #14 part 1), with expectations computed by hand or
//! recomputed from the files the binary writes: thresholds from a known score
//! distribution, anomalous regions on a plane with two known defect blobs, and the
//! precision / recall `po3ad test` reports at the calibrated threshold.

use crate::common;
use common::po3ad;

use po3ad::detector::calibration::{quantile, Calibration, CalibrationRule};
use po3ad::detector::regions::{find_regions, median_spacing, RegionConfig};
use std::path::Path;

#[test]
fn thresholds_from_a_known_distribution() {
    let points: Vec<f32> = (0..1000).map(|i| i as f32).collect();
    let objects: Vec<f64> = (0..1000).map(|i| i as f64).collect();
    let c =
        Calibration::from_scores(&objects, &points, CalibrationRule::default(), "t", "s").unwrap();
    // Object: 1.1 × max = 1.1 × 999.
    assert!((c.object_threshold - 1098.9).abs() < 1e-9, "{c:?}");
    // Point: 99th percentile, linear interpolation: h = 999 · 0.99 = 989.01, so
    // 989 + 0.01 · (990 − 989) = 989.01.
    assert!((c.point_threshold - 989.01).abs() < 1e-3, "{c:?}");
    // Order does not matter; the median of 0..999 is 499.5.
    let mut shuffled = points.clone();
    shuffled.reverse();
    assert_eq!(quantile(&shuffled, 0.5), Some(499.5));
    // Verdict and normalized score: the threshold maps to 0.5, strictly above it is
    // anomalous.
    assert_eq!(c.verdict(1098.9), "normal");
    assert_eq!(c.verdict(1099.0), "anomalous");
    assert_eq!(c.normalized(1098.9), 0.5);
    assert_eq!(c.normalized(549.45), 0.25);
    assert_eq!(c.normalized(5000.0), 1.0);
    // No normal scores: a clear error, not a threshold.
    assert!(Calibration::from_scores(&[], &[], CalibrationRule::default(), "t", "s").is_err());
}

#[test]
fn two_defect_blobs_on_a_plane_are_two_regions() {
    // A 100 × 100 grid with spacing 0.01 on the plane z = 2 (offset so centroids are
    // not near zero), scores 0 except: blob A (i 10..20, j 10..20: 100 points), blob B
    // (i 60..66, j 50..70: 120 points), and three isolated hot points (speckle).
    let mut points = Vec::new();
    let mut scores = Vec::new();
    for i in 0..100 {
        for j in 0..100 {
            points.push([i as f32 * 0.01, j as f32 * 0.01, 2.0]);
            let a = (10..20).contains(&i) && (10..20).contains(&j);
            let b = (60..66).contains(&i) && (50..70).contains(&j);
            let speck = [(40, 90), (90, 5), (2, 60)].contains(&(i, j));
            scores.push(if a || b || speck { 1.0 } else { 0.0 });
        }
    }
    assert!((median_spacing(&points) - 0.01).abs() < 1e-5);
    let regions = find_regions(&points, &scores, 0.5, &RegionConfig::default());
    assert_eq!(regions.len(), 2, "{regions:?}");
    let close = |a: [f32; 3], b: [f32; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4);
    // Largest first: B (120 points), centroid by hand:
    // mean of i 60..65 = 62.5 → 0.625; mean of j 50..69 = 59.5 → 0.595.
    assert_eq!(regions[0].points, 120);
    assert!(
        close(regions[0].centroid, [0.625, 0.595, 2.0]),
        "{regions:?}"
    );
    assert!(close(regions[0].extent, [0.05, 0.19, 0.0]), "{regions:?}");
    assert!(close(regions[0].bbox_min, [0.60, 0.50, 2.0]), "{regions:?}");
    // A (100 points): mean of 10..19 = 14.5 → 0.145.
    assert_eq!(regions[1].points, 100);
    assert!(
        close(regions[1].centroid, [0.145, 0.145, 2.0]),
        "{regions:?}"
    );
    assert!(close(regions[1].extent, [0.09, 0.09, 0.0]), "{regions:?}");
    // With the speckle allowed, three single-point regions follow the two blobs.
    let all = find_regions(
        &points,
        &scores,
        0.5,
        &RegionConfig {
            min_points: 1,
            ..Default::default()
        },
    );
    assert_eq!(all.len(), 5);
    assert!(all[2..].iter().all(|r| r.points == 1));
    // Nothing above the threshold: no regions.
    assert!(find_regions(&points, &scores, 1.0, &RegionConfig::default()).is_empty());
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn test_reports_precision_recall_at_the_calibrated_threshold() {
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
            "2",
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
    let mut train = vec!["train", "--detector", "nearest", "--out", "nn"];
    train.extend_from_slice(&data);
    po3ad(&train, d);
    let cal: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("nn/calibration.json")).unwrap())
            .unwrap();
    assert_eq!(cal["detectors"]["nearest"]["source"], "training-views");

    // Recalibrate from real normal scans: the good test scans, copied into a folder.
    std::fs::create_dir_all(d.join("good")).unwrap();
    let test_dir = d.join("data/pcd/bowl/test");
    for e in std::fs::read_dir(&test_dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .contains("positive")
        {
            std::fs::copy(&p, d.join("good").join(p.file_name().unwrap())).unwrap();
        }
    }
    let text = po3ad(&["calibrate", "--model", "nn", "--normal", "good"], d);
    assert!(text.contains("calibrated from 3 normal scan(s)"), "{text}");

    let mut test = vec!["test", "--model", "nn", "--out", "res", "--heatmaps", "0"];
    test.extend_from_slice(&data);
    let text = po3ad(&test, d);
    assert!(
        text.contains("at the calibrated object threshold"),
        "{text}"
    );
    assert!(text.contains("F1-max"), "{text}");

    // results.csv keeps its exact header.
    let results = std::fs::read_to_string(d.join("res/results.csv")).unwrap();
    assert_eq!(
        results.lines().next().unwrap(),
        "category,object_auroc,object_ap,point_auroc,point_ap,train_seconds,test_seconds"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("res/results.json")).unwrap())
            .unwrap();
    let dec = &json["decisions"];
    let threshold = dec["object_threshold"].as_f64().unwrap();
    let scores: Vec<(String, bool, f64)> = csv_rows(&d.join("res/scores.csv"))
        .into_iter()
        .map(|c| (c[0].clone(), c[2] == "true", c[3].parse().unwrap()))
        .collect();
    assert_eq!(scores.len(), 7);
    // The threshold is 1.1 × the largest object score of the three good scans, which
    // `test` scored the same way (registered, no noise).
    let max_good = scores
        .iter()
        .filter(|s| !s.1)
        .map(|s| s.2)
        .fold(f64::MIN, f64::max);
    assert!(
        (threshold - 1.1 * max_good).abs() <= 1e-9 * threshold,
        "{threshold} vs 1.1 × {max_good}"
    );
    // Precision / recall recomputed from scores.csv at that threshold.
    let tp = scores.iter().filter(|s| s.1 && s.2 > threshold).count() as f64;
    let fp = scores.iter().filter(|s| !s.1 && s.2 > threshold).count() as f64;
    let pos = scores.iter().filter(|s| s.1).count() as f64;
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let at = &dec["at_threshold"];
    assert_eq!(at["precision"].as_f64().unwrap(), precision, "{dec}");
    assert_eq!(at["recall"].as_f64().unwrap(), tp / pos, "{dec}");
    // Every normal calibration scan is below 1.1 × its own max: no false positives.
    assert_eq!(fp, 0.0);
    // F1-max by brute force over every cut.
    let mut best = 0.0f64;
    for &(_, _, t) in &scores {
        let tp = scores.iter().filter(|s| s.1 && s.2 >= t).count() as f64;
        let flagged = scores.iter().filter(|s| s.2 >= t).count() as f64;
        let (p, r) = (tp / flagged, tp / pos);
        if p + r > 0.0 {
            best = best.max(2.0 * p * r / (p + r));
        }
    }
    assert!((dec["f1_max"]["f1"].as_f64().unwrap() - best).abs() < 1e-12);

    // decisions.csv: the verdict is "score > threshold", in scores.csv's order.
    let decisions = csv_rows(&d.join("res/decisions.csv"));
    for (row, s) in decisions.iter().zip(&scores) {
        assert_eq!(row[0], s.0);
        let expect = if s.2 > threshold {
            "anomalous"
        } else {
            "normal"
        };
        assert_eq!(row[5], expect, "{row:?}");
        let norm: f64 = row[4].parse().unwrap();
        assert!((norm - (0.5 * s.2 / threshold).min(1.0)).abs() < 1e-12);
    }

    // predict gives the same verdicts on the same files.
    let anomalous = scores.iter().find(|s| s.1).unwrap().0.clone();
    let files: Vec<String> = [anomalous.as_str(), "bowl_positive0"]
        .iter()
        .map(|n| format!("data/pcd/bowl/test/{n}.pcd"))
        .collect();
    po3ad(
        &[
            "predict", "--model", "nn", &files[0], &files[1], "--out", "pred",
        ],
        d,
    );
    let preds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("pred/predictions.json")).unwrap())
            .unwrap();
    for (p, name) in preds
        .as_array()
        .unwrap()
        .iter()
        .zip([&anomalous, "bowl_positive0"])
    {
        let row = decisions.iter().find(|r| r[0] == *name).unwrap();
        assert_eq!(p["verdict"], row[5].as_str(), "{p}");
        let score: f64 = row[3].parse().unwrap();
        assert!((p["object_score"].as_f64().unwrap() - score).abs() <= 1e-9 * score);
        assert!(p["regions"].is_array(), "{p}");
    }
}
