//! The layout for users' own data:
//!
//! ```text
//! <root>/<cat>/train/*                       normal samples or meshes, any format
//! <root>/<cat>/test/good/*                   normal test samples
//! <root>/<cat>/test/<defect>/*               anomalous test samples
//! <root>/<cat>/ground_truth/<defect>/<stem>.txt   optional per-point labels
//! ```
//!
//! A root that itself holds `train/` or `test/` is a single category named after the
//! root folder. Test sample names are `<defect>_<stem>`, unique across defect folders.
//! Files directly in `test/` are an error: their label would be a guess.

use super::fs::{cloud_files, dir_name, stem, subdirs};
use super::{Category, TestSample};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

fn is_category(dir: &Path) -> bool {
    dir.join("train").is_dir() || dir.join("test").is_dir()
}

/// Folder name of `root`, also for paths like `.` or `data/`.
fn root_name(root: &Path) -> String {
    let name = dir_name(root);
    if name.is_empty() || name == "." || name == ".." {
        root.canonicalize()
            .map(|p| dir_name(&p))
            .unwrap_or_else(|_| "category".to_string())
    } else {
        name
    }
}

pub(super) fn list(root: &Path) -> Result<Vec<String>> {
    if !root.is_dir() {
        return Err(Error::layout(root, "not a folder"));
    }
    if is_category(root) {
        return Ok(vec![root_name(root)]);
    }
    let cats: Vec<String> = subdirs(root)?
        .into_iter()
        .filter(|d| is_category(d))
        .map(|d| dir_name(&d))
        .collect();
    if cats.is_empty() {
        return Err(Error::layout(
            root,
            "no category here: expected <category>/train/ and/or <category>/test/<good|defect>/, \
             or train/ and test/ directly in this folder",
        ));
    }
    Ok(cats)
}

fn category_dir(root: &Path, name: &str) -> Result<PathBuf> {
    if is_category(root) {
        if root_name(root) == name {
            return Ok(root.to_path_buf());
        }
        return Err(Error::layout(
            root,
            format!(
                "this folder is the single category {:?}, not {name:?}",
                root_name(root)
            ),
        ));
    }
    let dir = root.join(name);
    if is_category(&dir) {
        Ok(dir)
    } else {
        Err(Error::layout(
            root,
            format!("no category {name:?} here (expected {name}/train/ or {name}/test/)"),
        ))
    }
}

pub(super) fn load(root: &Path, name: &str) -> Result<Category> {
    let dir = category_dir(root, name)?;
    let train = if dir.join("train").is_dir() {
        cloud_files(&dir.join("train"))?
    } else {
        Vec::new()
    };
    let mut test = Vec::new();
    let test_dir = dir.join("test");
    if test_dir.is_dir() {
        if let Some(stray) = cloud_files(&test_dir)?.first() {
            return Err(Error::layout(
                stray,
                "test files must sit in test/good/ (normal) or test/<defect>/ (anomalous)",
            ));
        }
        for defect_dir in subdirs(&test_dir)? {
            let defect = dir_name(&defect_dir);
            let anomalous = defect != "good";
            let gt_dir = dir.join("ground_truth").join(&defect);
            for path in cloud_files(&defect_dir)? {
                let s = stem(&path);
                let gt = Some(gt_dir.join(format!("{s}.txt"))).filter(|p| anomalous && p.is_file());
                test.push(TestSample {
                    name: format!("{defect}_{s}"),
                    path,
                    anomalous,
                    defect: defect.clone(),
                    gt,
                });
            }
        }
    }
    Ok(Category {
        name: name.to_string(),
        train,
        test,
    })
}
