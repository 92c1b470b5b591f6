//! Real3D-AD: `Real3D-AD-PLY/<cat>/*template*.ply` (training meshes),
//! `Real3D-AD-PCD/<cat>/test/*.pcd` (names with `good` are normal),
//! `Real3D-AD-PCD/<cat>/gt/<name>.txt` (`x y z label` rows, one per scan point).
//!
//! Training files: the PLY templates; when a category has none there,
//! `Real3D-AD-PCD/<cat>/train/*`. `root` is the folder holding both sub-folders.

use super::fs::{
    defect_from_stem, dir_name, files_with, require_dir, stem, subdirs, template_files,
};
use super::{Category, TestSample};
use crate::{Error, Result};
use std::path::Path;

const PCD: &str = "Real3D-AD-PCD";
const PLY: &str = "Real3D-AD-PLY";
const EXPECTED: &str =
    "a Real3D-AD root holds Real3D-AD-PCD/<category>/test/ and Real3D-AD-PLY/<category>/";

pub(super) fn list(root: &Path) -> Result<Vec<String>> {
    let pcd = require_dir(root, PCD, EXPECTED)?;
    Ok(subdirs(&pcd)?
        .into_iter()
        .filter(|d| d.join("test").is_dir())
        .map(|d| dir_name(&d))
        .collect())
}

pub(super) fn load(root: &Path, name: &str) -> Result<Category> {
    let pcd = require_dir(root, PCD, EXPECTED)?;
    let cat_dir = pcd.join(name);
    if !cat_dir.is_dir() {
        return Err(Error::layout(&pcd, format!("no category {name:?} here")));
    }
    let ply_dir = root.join(PLY).join(name);
    let train = template_files(&ply_dir, "ply", &cat_dir)?;

    let gt_dir = cat_dir.join("gt");
    let mut test = Vec::new();
    let test_dir = cat_dir.join("test");
    if test_dir.is_dir() {
        for path in files_with(&test_dir, &["pcd"])? {
            let name = stem(&path);
            let anomalous = !name.to_ascii_lowercase().contains("good");
            let gt = Some(gt_dir.join(format!("{name}.txt"))).filter(|p| p.is_file());
            let defect = if anomalous {
                defect_from_stem(&name, None)
            } else {
                "good".to_string()
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
