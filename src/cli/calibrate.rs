//! `po3ad calibrate`: choose a saved detector's object and point thresholds from
//! normal data (rule in [`crate::eval::calibration`]) and store them in the model
//! folder's `calibration.json`. Also the code `po3ad train` runs at its end.

use super::common::{load_model, locate_detector, DeviceArg, FrameArgs, SavedDetector};
use super::test::with_fused_nearest;
use crate::eval::calibration::{
    default_normal_views, score_normal_clouds, Calibration, CalibrationRule, DEFAULT_VIEW_NOISE,
};
use crate::eval::{FrameMode, ModelScorer, NearestTemplate, Placement, Scorer};
use anyhow::Context;
use burn::tensor::backend::AutodiffBackend;
use po3ad_core::io;
use po3ad_core::registration::RegistrationConfig;
use po3ad_sparse::SparseBackend;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  po3ad calibrate --model runs/part --normal line_scans/good/
  po3ad calibrate --model runs/part/nearest.json --normal line_scans/good/   # the nearest companion
  po3ad calibrate --model runs/part                 # back to the default (training views)

Rule: object threshold = 1.1 × the largest normal object score; point threshold = the
99th percentile of all normal point scores. Stored in <model folder>/calibration.json.")]
pub struct CalibrateArgs {
    /// Trained model: the folder `po3ad train --out` wrote, or its model.po3ad or
    /// nearest.json.
    #[arg(long)]
    pub model: PathBuf,
    /// Folder of defect-free scans (any supported format). Without it: views made from
    /// the training files the model records (the default `po3ad train` uses).
    #[arg(long)]
    pub normal: Option<PathBuf>,
    #[command(flatten)]
    pub frame: FrameArgs,
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
}

/// Where normal scores come from.
#[derive(Debug, Clone)]
pub enum NormalSource {
    /// Default views of these training files (noisy, resampled).
    TrainingViews(Vec<PathBuf>),
    /// Real normal scans in this folder, scored as they are.
    Scans(PathBuf),
}

/// The folder a model file lives in (where `calibration.json` goes).
pub fn model_dir(path: &Path) -> PathBuf {
    if path.is_dir() {
        return path.to_path_buf();
    }
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The scan files of a folder of normal scans (hidden files skipped), sorted.
pub fn normal_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let files: Vec<PathBuf> = crate::train::data::files_in(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    if files.is_empty() {
        anyhow::bail!("{}: no normal scans in this folder", dir.display());
    }
    Ok(files)
}

/// Calibrate `scorer` from `source` and save it as `detector`'s entry in `dir`.
pub fn calibrate_scorer(
    scorer: &dyn Scorer,
    detector: &str,
    dir: &Path,
    source: &NormalSource,
    frame: FrameMode,
) -> anyhow::Result<(Calibration, PathBuf)> {
    let placement = Placement::new(
        frame,
        scorer.pose_dependent(),
        scorer.frame(),
        &RegistrationConfig::default(),
    )?;
    let (clouds, noise, name) = match source {
        NormalSource::TrainingViews(files) => (
            default_normal_views(files, 7)?,
            DEFAULT_VIEW_NOISE,
            "training-views".to_string(),
        ),
        NormalSource::Scans(folder) => {
            let files = normal_files(folder)?;
            let clouds = files
                .iter()
                .map(|f| io::read(f).with_context(|| format!("reading {}", f.display())))
                .collect::<anyhow::Result<Vec<_>>>()?;
            (clouds, 0.0, folder.display().to_string())
        }
    };
    let (objects, points) = score_normal_clouds(scorer, &placement, clouds, noise, 11)?;
    let cal = Calibration::from_scores(
        &objects,
        &points,
        CalibrationRule::default(),
        &name,
        &scorer.scoring(),
    )?;
    let path = cal.save(dir, detector)?;
    Ok((cal, path))
}

/// The training files a saved detector records (nearest.json's sources; a PO3AD
/// model's companion nearest.json beside it).
fn recorded_training_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let path = dir.join(crate::eval::nearest::NEAREST_FILE);
    let d = NearestTemplate::load(&path).with_context(|| {
        format!(
            "the default calibration needs the training files, recorded in {}; give --normal DIR",
            path.display()
        )
    })?;
    let files: Vec<PathBuf> = d.sources.iter().map(PathBuf::from).collect();
    if let Some(missing) = files.iter().find(|f| !f.is_file()) {
        anyhow::bail!(
            "{}: training file recorded in {} is gone; give --normal DIR",
            missing.display(),
            path.display()
        );
    }
    Ok(files)
}

fn calibrate_po3ad<B: AutodiffBackend + SparseBackend>(
    path: &Path,
    source: &NormalSource,
    frame: FrameMode,
    device: &B::Device,
) -> anyhow::Result<(Calibration, PathBuf)>
where
    B::InnerBackend: SparseBackend,
{
    let (model, preset, tf) = load_model::<B::InnerBackend>(path, device)?;
    let scorer = with_fused_nearest(
        ModelScorer::new(model, &preset, tf, device),
        path,
        &preset.test,
    )?;
    calibrate_scorer(&scorer, "po3ad", &model_dir(path), source, frame)
}

/// Calibrate the detector saved at `model` (folder or file); returns the calibration
/// and the file it went to.
pub fn calibrate_saved(
    model: &Path,
    source: &NormalSource,
    frame: FrameMode,
    device: DeviceArg,
) -> anyhow::Result<(Calibration, PathBuf)> {
    match locate_detector(model)? {
        SavedDetector::Po3ad(path) => {
            crate::with_backend!(device, |B, dev| calibrate_po3ad::<B>(
                &path, source, frame, &dev
            ))
        }
        SavedDetector::Nearest(path) => {
            let d = NearestTemplate::load(&path)?;
            calibrate_scorer(&d, "nearest", &model_dir(&path), source, frame)
        }
    }
}

/// One line saying what was stored.
pub fn summary(cal: &Calibration, path: &Path) -> String {
    format!(
        "calibrated from {} normal scan(s) ({}): object threshold {:.6} (1.1 × max {:.6}), \
         point threshold {:.6} (99th percentile of {} points); wrote {}",
        cal.normal_scans,
        cal.source,
        cal.object_threshold,
        cal.max_normal_object_score,
        cal.point_threshold,
        cal.normal_points,
        path.display()
    )
}

pub fn run(args: CalibrateArgs) -> anyhow::Result<()> {
    let source = match &args.normal {
        Some(dir) => NormalSource::Scans(dir.clone()),
        None => NormalSource::TrainingViews(recorded_training_files(&model_dir(&args.model))?),
    };
    let (cal, path) = calibrate_saved(&args.model, &source, args.frame.frame, args.device)?;
    println!("{}", summary(&cal, &path));
    Ok(())
}
