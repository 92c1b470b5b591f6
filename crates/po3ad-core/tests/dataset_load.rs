//! Loading test samples with per-point labels. These tests read small ascii PCD and
//! text files through `po3ad_core::io`, so they need its readers.

use po3ad_core::dataset::{load_category, load_test_cloud, load_test_points, Layout, TestSample};
use std::fs;
use std::path::Path;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn ascii_pcd(points: &[[f32; 3]]) -> String {
    let mut s = format!(
        "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\n\
         TYPE F F F\nCOUNT 1 1 1\nWIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {n}\n\
         DATA ascii\n",
        n = points.len()
    );
    for p in points {
        s += &format!("{} {} {}\n", p[0], p[1], p[2]);
    }
    s
}

const SCAN: [[f32; 3]; 4] = [
    [0.0, 0.0, 0.0],
    [1.0, 0.0, 0.0],
    [0.0, 1.0, 0.0],
    [0.0, 0.0, 1.0],
];

#[test]
fn anomaly_shapenet_points_come_from_gt() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(
        r,
        "obj/cup0/cup0_template0.obj",
        "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n",
    );
    write(r, "pcd/cup0/test/cup0_positive0.pcd", &ascii_pcd(&SCAN));
    write(r, "pcd/cup0/test/cup0_bulge0.pcd", &ascii_pcd(&SCAN));
    // The GT has different (5) points than the PCD: the GT wins, as in the reference.
    write(
        r,
        "pcd/cup0/GT/cup0_bulge0.txt",
        "0,0,0,0\n1,0,0,1\n0,1,0,0\n0,0,1,1\n0.5,0.5,0.5,1\n",
    );
    let c = load_category(Layout::AnomalyShapeNet, r, "cup0").unwrap();
    let bulge = c.test.iter().find(|s| s.anomalous).unwrap();
    let cloud = load_test_cloud(bulge).unwrap();
    assert_eq!(cloud.len(), 5);
    assert_eq!(cloud.labels.as_deref(), Some(&[0u8, 1, 0, 1, 1][..]));
    assert_eq!(cloud.points[4], [0.5, 0.5, 0.5]);

    let good = c.test.iter().find(|s| !s.anomalous).unwrap();
    let cloud = load_test_cloud(good).unwrap();
    assert_eq!(cloud.points, SCAN);
    assert_eq!(cloud.labels.as_deref(), Some(&[0u8; 4][..]));
}

#[test]
fn real3d_labels_from_gt_must_match_the_scan() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(r, "Real3D-AD-PCD/duck/test/1_bulge.pcd", &ascii_pcd(&SCAN));
    write(
        r,
        "Real3D-AD-PCD/duck/gt/1_bulge.txt",
        "0 0 0 0\n1 0 0 0\n0 1 0 1\n0 0 1 1\n",
    );
    write(r, "Real3D-AD-PCD/duck/test/2_sink.pcd", &ascii_pcd(&SCAN));
    write(r, "Real3D-AD-PCD/duck/gt/2_sink.txt", "0 0 0 0\n1 0 0 1\n");
    let c = load_category(Layout::Real3d, r, "duck").unwrap();
    let cloud = load_test_cloud(&c.test[0]).unwrap();
    assert_eq!(cloud.points, SCAN);
    assert_eq!(cloud.labels.as_deref(), Some(&[0u8, 0, 1, 1][..]));

    let err = load_test_cloud(&c.test[1]).unwrap_err().to_string();
    assert!(
        err.contains("2_sink.txt") && err.contains("2_sink.pcd"),
        "{err}"
    );
}

#[test]
fn anomalous_without_gt_is_an_error_but_loads_unlabelled() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(r, "part/test/dent/a.pcd", &ascii_pcd(&SCAN));
    write(r, "part/test/good/b.xyz", "0 0 0\n1 1 1\n");
    let c = load_category(Layout::Folder, r, "part").unwrap();
    let dent = &c.test[0];
    assert!(dent.anomalous && dent.gt.is_none());
    let err = load_test_cloud(dent).unwrap_err().to_string();
    assert!(err.contains("ground-truth"), "{err}");
    let cloud = load_test_points(dent).unwrap();
    assert_eq!(cloud.len(), 4);
    assert!(cloud.labels.is_none());

    let good = load_test_cloud(&c.test[1]).unwrap();
    assert_eq!(good.labels.as_deref(), Some(&[0u8, 0][..]));
}

#[test]
fn folder_gt_labels_are_binarized() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(r, "part/test/crack/a.pcd", &ascii_pcd(&SCAN));
    write(
        r,
        "part/ground_truth/crack/a.txt",
        "0,0,0,0\n1,0,0,2\n0,1,0,0\n0,0,1,1\n",
    );
    let c = load_category(Layout::Folder, r, "part").unwrap();
    let cloud = load_test_cloud(&c.test[0]).unwrap();
    assert_eq!(cloud.labels.as_deref(), Some(&[0u8, 1, 0, 1][..]));
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let s = TestSample {
        path: "/nonexistent/x.pcd".into(),
        name: "x".into(),
        anomalous: false,
        defect: "good".into(),
        gt: None,
    };
    let err = load_test_cloud(&s).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/x.pcd"), "{err}");
}
