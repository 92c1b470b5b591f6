//! What several subcommands share: dataset arguments, `--frame`, `--detector`,
//! progress bars.

use crate::detector::{
    BackgroundMode, Detector, FitRequest, FrameMode, IntakeOptions, KindSpec, LoadOptions,
    TestOverrides, UnitsArg,
};
use crate::train::Preset;
use anyhow::Context;
use po3ad_core::dataset::{load_category, Category, Layout};
use std::path::{Path, PathBuf};

pub use crate::device::{CpuBackend, CpuTrainBackend, DeviceArg};

/// Which data to train or test on.
#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// Dataset layout: auto (detected from the folder structure), anomaly-shapenet,
    /// real3d or folder.
    #[arg(long, default_value = "auto")]
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
        let root = self.root.as_ref().context("--root is required")?;
        resolve_layout(&self.layout, root)
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

pub use crate::eval::benchmark::resolve_layout;

/// How test scans are put into the detector's frame (`--frame`), for test, predict and
/// benchmark.
#[derive(clap::Args, Debug, Clone)]
pub struct FrameArgs {
    /// How each scan is put into the detector's frame before scoring.
    #[arg(long, value_enum, default_value = "auto")]
    pub frame: FrameMode,
}

/// How scanner files are made ready before scoring (`--units`, `--background`,
/// `--crop`; see `crate::detector::intake`), for predict and serve.
#[derive(clap::Args, Debug, Clone)]
pub struct IntakeArgs {
    /// The scans' units: `check` refuses a scan whose size says it is in other units
    /// than the template (mm against m, …); `auto` converts it and reports the factor;
    /// or name the scans' unit (m, cm, mm, in) to convert by definition.
    #[arg(long, default_value = "check", value_parser = clap::value_parser!(UnitsArg))]
    pub units: UnitsArg,
    /// Remove the support plane, fixtures and other objects before registration:
    /// `auto` when the scan is more than 1.25x the template's size, `on`, or `off`.
    /// Removed points get no score (NaN, grey in heatmaps).
    #[arg(long, value_enum, default_value = "auto")]
    pub background: BackgroundMode,
    /// Keep only the points inside this box first, in scan coordinates:
    /// xmin,ymin,zmin,xmax,ymax,zmax (implies background removal).
    #[arg(long, value_parser = parse_crop, allow_hyphen_values = true)]
    pub crop: Option<Crop>,
    /// E57 files: score only the scan with this index (0-based) instead of all the
    /// file's scans merged in its common frame.
    #[arg(long)]
    pub scan: Option<usize>,
}

/// A `--crop` box `(min, max)`.
pub type Crop = ([f32; 3], [f32; 3]);

fn parse_crop(s: &str) -> Result<Crop, String> {
    let v: Vec<f32> = s
        .split(',')
        .map(|t| t.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{s}: {e}; expected xmin,ymin,zmin,xmax,ymax,zmax"))?;
    let [x0, y0, z0, x1, y1, z1] = v[..] else {
        return Err(format!(
            "{s}: {} numbers; expected six: xmin,ymin,zmin,xmax,ymax,zmax",
            v.len()
        ));
    };
    if v.iter().any(|c| !c.is_finite()) || !(x0 < x1 && y0 < y1 && z0 < z1) {
        return Err(format!("{s}: each min must be a number below its max"));
    }
    Ok(([x0, y0, z0], [x1, y1, z1]))
}

impl IntakeArgs {
    pub fn options(&self) -> IntakeOptions {
        IntakeOptions {
            units: self.units,
            background: self.background,
            crop: self.crop,
            scan: self.scan,
        }
    }
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

/// Heatmaps `test` and `benchmark` write by default (per category).
pub const DEFAULT_HEATMAPS: usize = 4;

/// Build a `kind` detector from `files` into `out` and load it (no calibration: a test
/// run judges it by its metrics). PO3AD trains with the `cpu` preset; the training-free
/// kinds take seconds.
#[allow(clippy::too_many_arguments)] // one call site per command, each names them all
pub fn fit_and_load(
    kind: &'static KindSpec,
    files: &[PathBuf],
    out: &Path,
    name: &str,
    device: DeviceArg,
    frame: FrameMode,
    overrides: TestOverrides,
) -> anyhow::Result<Detector> {
    let preset = Preset::load("cpu")?;
    crate::detector::fit_and_load(
        kind,
        FitRequest {
            files,
            out,
            preset: &preset,
            resume: false,
            category: name,
            device,
            hooks: progress_hooks(name),
            settings: None,
        },
        &LoadOptions {
            device,
            frame,
            overrides,
            kind: Some(kind),
            calibration: false,
        },
    )
}
