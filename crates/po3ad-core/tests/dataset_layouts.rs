//! Listing of the three layouts on tiny folders built in a temp dir. These tests only
//! look at file names; they do not read any file (no dependence on `io`).

use po3ad_core::dataset::{list_categories, load_category, Layout};
use std::fs;
use std::path::Path;

fn touch(root: &Path, rel: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, "").unwrap();
}

#[test]
fn layout_names_round_trip() {
    for l in Layout::ALL {
        assert_eq!(l.to_string().parse::<Layout>().unwrap(), l);
    }
    assert_eq!(
        "anomaly-shapenet".parse::<Layout>().unwrap(),
        Layout::AnomalyShapeNet
    );
    assert_eq!("real3d".parse::<Layout>().unwrap(), Layout::Real3d);
    assert_eq!("folder".parse::<Layout>().unwrap(), Layout::Folder);
    assert!("mvtec".parse::<Layout>().is_err());
}

#[test]
fn anomaly_shapenet_listing() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for f in [
        "obj/cup0/cup0_template1.obj",
        "obj/cup0/cup0_template0.obj",
        "obj/cup0/notes.txt",
        "pcd/cup0/train/cup0_template0.pcd",
        "pcd/cup0/test/cup0_positive0.pcd",
        "pcd/cup0/test/cup0_bulge1.pcd",
        "pcd/cup0/test/cup0_hole0.pcd",
        "pcd/cup0/test/cup0_broken_edge12.pcd",
        "pcd/cup0/test/.hidden.pcd",
        "pcd/cup0/GT/cup0_bulge1.txt",
        "pcd/bowl2/test/bowl2_positive3.pcd",
        "pcd/bowl2/train/bowl2_template0.pcd",
        "pcd/not_a_category/readme.md",
    ] {
        touch(r, f);
    }
    assert_eq!(
        list_categories(Layout::AnomalyShapeNet, r).unwrap(),
        ["bowl2", "cup0"]
    );

    let c = load_category(Layout::AnomalyShapeNet, r, "cup0").unwrap();
    assert_eq!(c.name, "cup0");
    assert_eq!(
        c.train,
        [
            r.join("obj/cup0/cup0_template0.obj"),
            r.join("obj/cup0/cup0_template1.obj")
        ]
    );
    let names: Vec<&str> = c.test.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "cup0_broken_edge12",
            "cup0_bulge1",
            "cup0_hole0",
            "cup0_positive0"
        ]
    );
    assert_eq!(c.test[0].defect, "broken_edge");
    let bulge = &c.test[1];
    assert!(bulge.anomalous);
    assert_eq!(bulge.defect, "bulge");
    // Anomalous with GT: the points are read from the GT file (reference behaviour).
    assert_eq!(
        bulge.gt.as_deref(),
        Some(r.join("pcd/cup0/GT/cup0_bulge1.txt").as_path())
    );
    assert_eq!(bulge.path, r.join("pcd/cup0/GT/cup0_bulge1.txt"));
    let hole = &c.test[2];
    assert!(hole.anomalous && hole.gt.is_none());
    assert_eq!(hole.path, r.join("pcd/cup0/test/cup0_hole0.pcd"));
    let good = &c.test[3];
    assert!(!good.anomalous);
    assert_eq!(good.defect, "good");

    // No OBJ templates: fall back to pcd/<cat>/train.
    let c = load_category(Layout::AnomalyShapeNet, r, "bowl2").unwrap();
    assert_eq!(c.train, [r.join("pcd/bowl2/train/bowl2_template0.pcd")]);

    assert!(load_category(Layout::AnomalyShapeNet, r, "nope").is_err());
    let empty = tempfile::tempdir().unwrap();
    let err = list_categories(Layout::AnomalyShapeNet, empty.path()).unwrap_err();
    assert!(err.to_string().contains("pcd/"), "{err}");
}

#[test]
fn anomaly_shapenet_accepts_the_download_parent_folder() {
    let t = tempfile::tempdir().unwrap();
    touch(t.path(), "dataset/pcd/cup0/test/cup0_positive0.pcd");
    assert_eq!(
        list_categories(Layout::AnomalyShapeNet, t.path()).unwrap(),
        ["cup0"]
    );
}

#[test]
fn real3d_listing() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for f in [
        "Real3D-AD-PLY/duck/1_template.ply",
        "Real3D-AD-PLY/duck/2_template.ply",
        "Real3D-AD-PLY/duck/render.png",
        "Real3D-AD-PCD/duck/test/230_bulge.pcd",
        "Real3D-AD-PCD/duck/test/367_sink.pcd",
        "Real3D-AD-PCD/duck/test/501_good.pcd",
        "Real3D-AD-PCD/duck/test/77_missing_part_2.pcd",
        "Real3D-AD-PCD/duck/gt/230_bulge.txt",
        "Real3D-AD-PCD/duck/gt/501_good.txt",
        "Real3D-AD-PCD/airplane/test/1_good.pcd",
    ] {
        touch(r, f);
    }
    assert_eq!(
        list_categories(Layout::Real3d, r).unwrap(),
        ["airplane", "duck"]
    );
    let c = load_category(Layout::Real3d, r, "duck").unwrap();
    assert_eq!(
        c.train,
        [
            r.join("Real3D-AD-PLY/duck/1_template.ply"),
            r.join("Real3D-AD-PLY/duck/2_template.ply")
        ]
    );
    let got: Vec<(&str, bool, &str, bool)> = c
        .test
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.anomalous,
                s.defect.as_str(),
                s.gt.is_some(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("230_bulge", true, "bulge", true),
            ("367_sink", true, "sink", false),
            ("501_good", false, "good", true),
            ("77_missing_part_2", true, "missing_part", false),
        ]
    );
    // Real3D reads points from the scan, labels from gt.
    assert_eq!(
        c.test[0].path,
        r.join("Real3D-AD-PCD/duck/test/230_bulge.pcd")
    );
    // A category with test files but no training files still loads.
    let a = load_category(Layout::Real3d, r, "airplane").unwrap();
    assert!(a.train.is_empty() && a.test.len() == 1);
}

#[test]
fn folder_listing_multi_and_single_category() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for f in [
        "bracket/train/a.stl",
        "bracket/train/b.ply",
        "bracket/train/notes.md",
        "bracket/test/good/001.pcd",
        "bracket/test/crack/001.pcd",
        "bracket/test/crack/002.xyz",
        "bracket/test/dent/005.ply",
        "bracket/ground_truth/crack/001.txt",
        "gear/train/g.obj",
        "empty_folder/readme.txt",
    ] {
        touch(r, f);
    }
    assert_eq!(
        list_categories(Layout::Folder, r).unwrap(),
        ["bracket", "gear"]
    );
    let c = load_category(Layout::Folder, r, "bracket").unwrap();
    assert_eq!(
        c.train,
        [r.join("bracket/train/a.stl"), r.join("bracket/train/b.ply")]
    );
    let got: Vec<(&str, bool, &str, bool)> = c
        .test
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.anomalous,
                s.defect.as_str(),
                s.gt.is_some(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("crack_001", true, "crack", true),
            ("crack_002", true, "crack", false),
            ("dent_005", true, "dent", false),
            ("good_001", false, "good", false),
        ]
    );
    assert!(load_category(Layout::Folder, r, "empty_folder").is_err());

    // The category folder itself as root.
    let single = r.join("bracket");
    assert_eq!(
        list_categories(Layout::Folder, &single).unwrap(),
        ["bracket"]
    );
    assert_eq!(
        load_category(Layout::Folder, &single, "bracket").unwrap(),
        c
    );
    assert!(load_category(Layout::Folder, &single, "gear").is_err());

    // A stray file directly in test/ is an error naming it.
    touch(r, "gear/test/loose.pcd");
    let err = load_category(Layout::Folder, r, "gear").unwrap_err();
    assert!(err.to_string().contains("loose.pcd"), "{err}");

    let none = tempfile::tempdir().unwrap();
    assert!(list_categories(Layout::Folder, none.path()).is_err());
}
