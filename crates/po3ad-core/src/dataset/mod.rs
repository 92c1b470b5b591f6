//! Benchmark folder layouts (Anomaly-ShapeNet, Real3D-AD, a plain folder) listed as
//! training files and labelled test samples, and the loading of one test sample with
//! per-point labels.
//!
//! Everything is sorted (categories by name, files by file name) so runs are
//! reproducible. One file per layout; this module holds the shared types.
//!
//! Ground-truth policies (see [`load_test_cloud`]):
//! - Anomaly-ShapeNet: an anomalous sample's points *and* labels come from its GT file,
//!   as in the reference code; its [`TestSample::path`] is then the GT file itself.
//! - Real3D-AD and the folder layout: points come from the scan, labels from the GT
//!   file, whose row count must equal the scan's point count (else an error naming
//!   both files).
//! - A normal sample is labelled all 0 (any GT file is ignored).
//! - An anomalous sample without a GT file cannot be labelled per point:
//!   [`load_test_cloud`] fails; [`load_test_points`] returns it without labels (enough
//!   for object-level metrics).

mod anomaly_shapenet;
mod folder;
mod fs;
mod real3d;

use crate::{io, Error, PointCloud, Result};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A dataset folder layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// `obj/<cat>/*template*.obj` training meshes, `pcd/<cat>/test/*.pcd`,
    /// `pcd/<cat>/GT/<name>.txt`.
    AnomalyShapeNet,
    /// `Real3D-AD-PLY/<cat>/*template*.ply` training meshes,
    /// `Real3D-AD-PCD/<cat>/test/*.pcd`, `Real3D-AD-PCD/<cat>/gt/<name>.txt`.
    Real3d,
    /// `<cat>/train/*`, `<cat>/test/good/*`, `<cat>/test/<defect>/*`, optional
    /// `<cat>/ground_truth/<defect>/<name>.txt`; a root holding `train/` is one category.
    Folder,
}

impl Layout {
    pub const ALL: [Layout; 3] = [Layout::AnomalyShapeNet, Layout::Real3d, Layout::Folder];

    pub fn as_str(self) -> &'static str {
        match self {
            Layout::AnomalyShapeNet => "anomaly-shapenet",
            Layout::Real3d => "real3d",
            Layout::Folder => "folder",
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Layout {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        match norm.as_str() {
            "anomaly-shapenet" | "anomalyshapenet" | "shapenet" => Ok(Layout::AnomalyShapeNet),
            "real3d" | "real3d-ad" | "real3dad" => Ok(Layout::Real3d),
            "folder" => Ok(Layout::Folder),
            _ => Err(Error::Invalid(format!(
                "unknown layout {s:?}; expected one of anomaly-shapenet, real3d, folder"
            ))),
        }
    }
}

/// One test file with its object-level label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSample {
    /// The file the points are read from (for Anomaly-ShapeNet anomalous samples, the
    /// GT file; see the module docs).
    pub path: PathBuf,
    /// Identifier, unique within the category, safe as a file name (no separators).
    pub name: String,
    pub anomalous: bool,
    /// Defect type: `"good"` for normal samples, else e.g. `"bulge"`, `"crack"`.
    pub defect: String,
    /// Per-point ground truth (`x y z label` rows), when the dataset has one.
    pub gt: Option<PathBuf>,
}

/// The files of one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub name: String,
    /// Training files (meshes or clouds of normal parts), sorted.
    pub train: Vec<PathBuf>,
    /// Test samples, sorted by file name (folder layout: by defect folder, then file).
    pub test: Vec<TestSample>,
}

/// Names of the categories under `root`, sorted.
pub fn list_categories(layout: Layout, root: &Path) -> Result<Vec<String>> {
    match layout {
        Layout::AnomalyShapeNet => anomaly_shapenet::list(root),
        Layout::Real3d => real3d::list(root),
        Layout::Folder => folder::list(root),
    }
}

/// The layout of the dataset at `root` (`--layout auto`): the first of Anomaly-ShapeNet
/// (`pcd/<cat>/test/`), Real3D-AD (`Real3D-AD-PCD/<cat>/test/`) and a plain folder
/// (`<cat>/train/`, `<cat>/test/`, or `train/` and `test/` in `root`) that finds a
/// category. Errors with what each layout looked for when none fits.
pub fn detect_layout(root: &Path) -> Result<Layout> {
    if !root.is_dir() {
        return Err(Error::layout(root, "not a folder"));
    }
    let mut tried = Vec::new();
    for layout in Layout::ALL {
        match list_categories(layout, root) {
            Ok(c) if !c.is_empty() => return Ok(layout),
            Ok(_) => tried.push(format!("{layout}: no category")),
            Err(e) => tried.push(format!("{layout}: {e}")),
        }
    }
    Err(Error::layout(
        root,
        format!("no dataset layout fits ({})", tried.join("; ")),
    ))
}

/// The training files and test samples of category `name`. Errors when the category
/// does not exist or has neither training nor test files.
pub fn load_category(layout: Layout, root: &Path, name: &str) -> Result<Category> {
    let cat = match layout {
        Layout::AnomalyShapeNet => anomaly_shapenet::load(root, name)?,
        Layout::Real3d => real3d::load(root, name)?,
        Layout::Folder => folder::load(root, name)?,
    };
    if cat.train.is_empty() && cat.test.is_empty() {
        return Err(Error::layout(
            root,
            format!("category {name:?} ({layout} layout) has no training or test files"),
        ));
    }
    Ok(cat)
}

/// Read a test sample with `labels` set on every point (0 normal, 1 anomalous),
/// following the module's ground-truth policies. Errors for an anomalous sample that
/// has no GT file, and when a GT file's row count differs from its scan's point count.
pub fn load_test_cloud(sample: &TestSample) -> Result<PointCloud> {
    let cloud = load_test_points(sample)?;
    if cloud.labels.is_none() {
        return Err(Error::layout(
            &sample.path,
            format!(
                "anomalous sample {:?} has no ground-truth file, so its points cannot be \
                 labelled (object-level evaluation can use load_test_points)",
                sample.name
            ),
        ));
    }
    Ok(cloud)
}

/// Like [`load_test_cloud`], but an anomalous sample without GT comes back with
/// `labels: None` instead of an error.
pub fn load_test_points(sample: &TestSample) -> Result<PointCloud> {
    if !sample.anomalous {
        let mut cloud = io::read(&sample.path)?;
        cloud.labels = Some(vec![0; cloud.len()]);
        return Ok(cloud);
    }
    let Some(gt_path) = &sample.gt else {
        let mut cloud = io::read(&sample.path)?;
        cloud.labels = None;
        return Ok(cloud);
    };
    let gt = io::read_gt(gt_path)?;
    let gt_labels: Vec<u8> = gt
        .labels
        .as_ref()
        .map(|l| l.iter().map(|&x| u8::from(x != 0)).collect())
        .ok_or_else(|| Error::format(gt_path, "ground-truth file has no labels"))?;
    if sample.path == *gt_path {
        // Anomaly-ShapeNet policy: the GT rows are the test points.
        return Ok(PointCloud {
            labels: Some(gt_labels),
            ..gt
        });
    }
    let mut cloud = io::read(&sample.path)?;
    if gt_labels.len() != cloud.len() {
        return Err(Error::format(
            gt_path,
            format!(
                "{} ground-truth rows but {} has {} points; GT rows must match the \
                 scan's points one to one",
                gt_labels.len(),
                sample.path.display(),
                cloud.len()
            ),
        ));
    }
    cloud.labels = Some(gt_labels);
    Ok(cloud)
}
