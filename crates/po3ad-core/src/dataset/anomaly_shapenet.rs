//! Anomaly-ShapeNet: `obj/<cat>/<cat>_template{0..3}.obj` (training meshes),
//! `pcd/<cat>/train/*.pcd`, `pcd/<cat>/test/*.pcd` (names with `positive` are normal),
//! `pcd/<cat>/GT/<name>.txt` (`x,y,z,label` rows).
//!
//! Training files: the OBJ templates, as the reference code trains on them; when a
//! category has none, `pcd/<cat>/train/*.pcd`. Anomalous samples with a GT file read
//! their points from it (reference behaviour), so their `path` is the GT file.
//! `root` is the folder holding `obj/` and `pcd/` (or its parent, if that holds
//! `dataset/` as the download does).

use super::fs::{
    defect_from_stem, dir_name, files_with, require_dir, stem, subdirs, template_files,
};
use super::{Category, TestSample};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

const EXPECTED: &str = "an Anomaly-ShapeNet root holds obj/<category>/ and pcd/<category>/test/";

fn base(root: &Path) -> PathBuf {
    let nested = root.join("dataset");
    if !root.join("pcd").is_dir() && nested.join("pcd").is_dir() {
        nested
    } else {
        root.to_path_buf()
    }
}

pub(super) fn list(root: &Path) -> Result<Vec<String>> {
    let pcd = require_dir(&base(root), "pcd", EXPECTED)?;
    Ok(subdirs(&pcd)?
        .into_iter()
        .filter(|d| d.join("test").is_dir())
        .map(|d| dir_name(&d))
        .collect())
}

pub(super) fn load(root: &Path, name: &str) -> Result<Category> {
    let cat = name;
    let base = base(root);
    let pcd = require_dir(&base, "pcd", EXPECTED)?;
    let cat_dir = pcd.join(name);
    if !cat_dir.is_dir() {
        return Err(Error::layout(&pcd, format!("no category {name:?} here")));
    }

    let obj_dir = base.join("obj").join(name);
    let train = template_files(&obj_dir, "obj", &cat_dir)?;

    let gt_dir = cat_dir.join("GT");
    let mut test = Vec::new();
    let test_dir = cat_dir.join("test");
    if test_dir.is_dir() {
        for path in files_with(&test_dir, &["pcd"])? {
            let name = stem(&path);
            let anomalous = !name.to_ascii_lowercase().contains("positive");
            let gt = Some(gt_dir.join(format!("{name}.txt"))).filter(|p| p.is_file());
            let (path, defect) = if anomalous {
                // Reference behaviour: the GT rows are the points of an anomalous sample.
                (
                    gt.clone().unwrap_or(path),
                    defect_from_stem(&name, Some(cat)),
                )
            } else {
                (path, "good".to_string())
            };
            test.push(TestSample {
                path,
                name,
                anomalous,
                defect,
                gt,
            });
        }
    }
    Ok(Category {
        name: name.to_string(),
        train,
        test,
    })
}
