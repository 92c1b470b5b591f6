//! What several subcommands share: device/backend choice, dataset arguments, loading a
//! trained model, writing heatmaps.

use crate::eval::nearest::NEAREST_FILE;
use crate::eval::FrameMode;
use crate::model::Po3adNet;
use crate::train::{Checkpoint, Preset};
use anyhow::Context;
use po3ad_core::dataset::{load_category, Category, Layout};
use po3ad_core::frame::TrainingFrame;
use po3ad_core::report::{render_png, RenderOptions};
use po3ad_core::PointCloud;
use po3ad_sparse::SparseBackend;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// `--device cpu` (default) or `--device cuda[:N]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceArg {
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(DeviceArg::Cpu),
            "cuda" | "gpu" => Ok(DeviceArg::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceArg::Cuda)
                .ok_or_else(|| format!("unknown device '{s}' (use cpu, cuda or cuda:N)")),
        }
    }
}

/// The CPU backends: `Flex` for inference, `Autodiff<Flex>` for training.
pub type CpuBackend = burn::backend::Flex;
pub type CpuTrainBackend = burn::backend::Autodiff<CpuBackend>;

/// Run `$body` with `$B` bound to the training (autodiff) backend of `$device` and
/// `$dev` to its device. Each subcommand stays generic; only this picks a backend.
#[macro_export]
macro_rules! with_backend {
    ($device:expr, |$B:ident, $dev:ident| $body:expr) => {{
        match $device {
            $crate::cli::common::DeviceArg::Cpu => {
                type $B = $crate::cli::common::CpuTrainBackend;
                let $dev = Default::default();
                $body
            }
            #[cfg(feature = "cuda")]
            $crate::cli::common::DeviceArg::Cuda(index) => {
                type $B = burn::backend::Autodiff<burn::backend::Cuda>;
                let $dev = $crate::cli::cuda::device(index)?;
                $body
            }
            #[cfg(not(feature = "cuda"))]
            $crate::cli::common::DeviceArg::Cuda(_) => {
                anyhow::bail!("this po3ad binary was built without CUDA support (rebuild with `cargo build --release --features cuda`); use --device cpu")
            }
        }
    }};
}

/// Which data to train or test on.
#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// Dataset layout: anomaly-shapenet, real3d or folder.
    #[arg(long, default_value = "folder")]
    pub layout: String,
    /// Dataset root folder.
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Category name inside the root (for folder layout: a sub-folder; omitted when the
    /// root itself holds train/ and test/).
    #[arg(long)]
    pub category: Option<String>,
}

impl DataArgs {
    pub fn layout(&self) -> anyhow::Result<Layout> {
        Layout::from_str(&self.layout).map_err(|e| anyhow::anyhow!("--layout: {e}"))
    }

    pub fn category(&self) -> anyhow::Result<Category> {
        let root = self.root.as_ref().context("--root is required")?;
        let layout = self.layout()?;
        let name = match &self.category {
            Some(n) => n.clone(),
            None => {
                let all = po3ad_core::dataset::list_categories(layout, root)?;
                match all.as_slice() {
                    [one] => one.clone(),
                    _ => anyhow::bail!(
                        "{}: {} categories found; pick one with --category ({})",
                        root.display(),
                        all.len(),
                        all.join(", ")
                    ),
                }
            }
        };
        Ok(load_category(layout, root, &name)?)
    }
}

/// A trained model, the preset it was trained with and the training frame it recorded.
pub fn load_model<B: SparseBackend>(
    path: &Path,
    device: &B::Device,
) -> anyhow::Result<(Po3adNet<B>, Preset, Option<TrainingFrame>)> {
    let path = if path.is_dir() {
        path.join(crate::train::fit::MODEL_FILE)
    } else {
        path.to_path_buf()
    };
    let ckpt = Checkpoint::load(&path)?;
    let preset = ckpt.meta.preset.clone();
    let frame = ckpt.meta.frame.clone();
    let model = Po3adNet::<B>::new(&preset.model, device);
    let model = ckpt.restore_model(model, device, &path)?;
    Ok((model, preset, frame))
}

/// What `--model PATH` names: a PO3AD model or a saved training-free detector.
pub enum SavedDetector {
    Po3ad(PathBuf),
    Nearest(PathBuf),
}

/// Resolve `--model`: a folder written by `po3ad train` (holding `model.po3ad` or
/// `nearest.json`) or one of those files.
pub fn locate_detector(path: &Path) -> anyhow::Result<SavedDetector> {
    if path.is_dir() {
        let model = path.join(crate::train::fit::MODEL_FILE);
        let nearest = path.join(NEAREST_FILE);
        if model.is_file() {
            return Ok(SavedDetector::Po3ad(model));
        }
        if nearest.is_file() {
            return Ok(SavedDetector::Nearest(nearest));
        }
        anyhow::bail!(
            "{}: no {} or {NEAREST_FILE} in this folder (train one with `po3ad train`)",
            path.display(),
            crate::train::fit::MODEL_FILE
        );
    }
    // A missing path is left to the model loader, which names it after the device
    // check, so a wrong --device is reported first.
    Ok(match path.extension().and_then(|e| e.to_str()) {
        Some("json") => SavedDetector::Nearest(path.to_path_buf()),
        _ => SavedDetector::Po3ad(path.to_path_buf()),
    })
}

/// How test scans are put into the detector's frame (`--frame`), for test, predict and
/// benchmark.
#[derive(clap::Args, Debug, Clone)]
pub struct FrameArgs {
    /// How each scan is put into the detector's frame before scoring.
    #[arg(long, value_enum, default_value = "auto")]
    pub frame: FrameMode,
}

/// `<dir>/<name>.ply` (points coloured by score, with a `scalar_score`-free PLY any
/// viewer opens) and `<dir>/<name>.png`.
pub fn write_heatmaps(
    dir: &Path,
    name: &str,
    cloud: &PointCloud,
    scores: &[f32],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let plain = PointCloud {
        points: cloud.points.clone(),
        normals: cloud.normals.clone(),
        labels: None,
        faces: Vec::new(),
    };
    po3ad_core::report::write_heatmap_ply(&dir.join(format!("{name}.ply")), &plain, scores, None)?;
    let opts = RenderOptions {
        two_views: true,
        ..Default::default()
    };
    render_png(
        &dir.join(format!("{name}.png")),
        &cloud.points,
        scores,
        &opts,
    )?;
    Ok(())
}

/// Show progress bars only on a terminal.
pub fn show_progress() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// The training hooks of the CLI's commands: a progress bar for `category` on a
/// terminal, nothing otherwise.
pub fn progress_hooks<'a>(category: &str) -> crate::train::FitHooks<'a> {
    crate::train::FitHooks {
        on_progress: show_progress().then(|| crate::train::terminal_progress(category)),
        ..Default::default()
    }
}
