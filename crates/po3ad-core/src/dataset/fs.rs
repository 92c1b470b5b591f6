//! Directory listing shared by the layouts: sorted, hidden files skipped, errors
//! naming the folder.

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Extensions `io::read` understands, lower case.
const CLOUD_EXTENSIONS: &[&str] = &[
    "pcd", "ply", "obj", "stl", "xyz", "xyzn", "txt", "csv", "pts", "asc",
];

fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        out.push(e.path());
    }
    out.sort();
    Ok(out)
}

/// Sub-folders of `dir`, sorted.
pub(super) fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(entries(dir)?.into_iter().filter(|p| p.is_dir()).collect())
}

/// Files of `dir` with one of `exts` (lower case, compared case-insensitively), sorted.
pub(super) fn files_with(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>> {
    Ok(entries(dir)?
        .into_iter()
        .filter(|p| p.is_file() && has_ext(p, exts))
        .collect())
}

/// Sidecar files that share a cloud extension but are not clouds: `poses.csv`, written
/// beside synthesised test clouds (`crate::synth::pose::POSES_CSV`).
const SIDECARS: &[&str] = &[crate::synth::pose::POSES_CSV];

/// Files of `dir` in any format `io::read` supports, sorted; sidecar files left out.
pub(super) fn cloud_files(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(files_with(dir, CLOUD_EXTENSIONS)?
        .into_iter()
        .filter(|p| {
            let name = dir_name(p).to_ascii_lowercase();
            !SIDECARS.contains(&name.as_str())
        })
        .collect())
}

pub(super) fn has_ext(p: &Path, exts: &[&str]) -> bool {
    p.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| exts.contains(&e.as_str()))
}

pub(super) fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(super) fn dir_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Defect type from a benchmark file stem: the stem without a leading `<prefix>_`
/// (Anomaly-ShapeNet's category name) or, without a prefix, without its all-digit
/// `_`-separated parts (Real3D-AD's sample number), then without trailing digits:
/// `ashtray0_bulge3` → `bulge`, `230_sink` → `sink`; `"anomaly"` if nothing is left.
pub(super) fn defect_from_stem(stem: &str, prefix: Option<&str>) -> String {
    let rest = match prefix.and_then(|p| stem.strip_prefix(p)?.strip_prefix('_')) {
        Some(rest) => rest.to_string(),
        None if prefix.is_some() => stem.rsplit('_').next().unwrap_or(stem).to_string(),
        None => stem
            .split('_')
            .filter(|part| !part.chars().all(|c| c.is_ascii_digit()))
            .collect::<Vec<_>>()
            .join("_"),
    };
    let d = rest.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_');
    if d.is_empty() {
        "anomaly".to_string()
    } else {
        d.to_string()
    }
}

/// `root/sub` if it is a folder, else a layout error saying what was expected.
pub(super) fn require_dir(root: &Path, sub: &str, what: &str) -> Result<PathBuf> {
    let p = root.join(sub);
    if p.is_dir() {
        Ok(p)
    } else {
        Err(Error::layout(
            root,
            format!("no {sub}/ folder here; {what}"),
        ))
    }
}

/// Training files of a benchmark category: the `*template*` meshes with extension `ext`
/// in `template_dir`, or, where there are none, every cloud in `<cat_dir>/train`.
pub(super) fn template_files(
    template_dir: &Path,
    ext: &str,
    cat_dir: &Path,
) -> Result<Vec<PathBuf>> {
    let mut train: Vec<PathBuf> = if template_dir.is_dir() {
        files_with(template_dir, &[ext])?
            .into_iter()
            .filter(|p| stem(p).contains("template"))
            .collect()
    } else {
        Vec::new()
    };
    if train.is_empty() && cat_dir.join("train").is_dir() {
        train = cloud_files(&cat_dir.join("train"))?;
    }
    Ok(train)
}
