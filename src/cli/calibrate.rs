//! `po3ad calibrate`: choose a saved detector's object and point thresholds from
//! normal data (rule in [`crate::detector::calibration`]) and store them in the model
//! folder's `calibration.json`. Also what `po3ad train` runs at its end.

use super::common::FrameArgs;
use crate::detector::calibration::recorded_training_files;
use crate::detector::{model_dir, Calibration, Detector, KindSpec, LoadOptions, NormalSource};
use crate::device::DeviceArg;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  po3ad calibrate --model runs/part --normal line_scans/good/
  po3ad calibrate --model runs/part --detector nearest --normal line_scans/good/   # the nearest companion
  po3ad calibrate --model runs/part                 # back to the default (training views)

Rule: object threshold = 1.1 × the largest normal object score; point threshold = the
99th percentile of all normal point scores. Stored in <model folder>/calibration.json.")]
pub struct CalibrateArgs {
    /// Model folder written by `po3ad train --out` (or its model.po3ad / nearest.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Which of the folder's detectors to calibrate (default: the one it was trained as).
    #[arg(long, value_parser = crate::detector::kind_parser())]
    pub detector: Option<&'static KindSpec>,
    /// Folder of defect-free scans (any supported format). Without it: views made from
    /// the training files the model records (the default `po3ad train` uses).
    #[arg(long)]
    pub normal: Option<PathBuf>,
    #[command(flatten)]
    pub frame: FrameArgs,
    /// Where PO3AD runs: cpu, or cuda[:N] in a binary built with `--features cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
}

/// Calibrate the detector saved at `model` (folder or file); returns the calibration
/// and the file it went to.
pub fn calibrate_saved(
    model: &Path,
    kind: Option<&'static KindSpec>,
    source: &NormalSource,
    opts: &CalibrateOptions,
) -> anyhow::Result<(Calibration, PathBuf)> {
    let mut detector = Detector::load(
        model,
        &LoadOptions {
            device: opts.device,
            frame: opts.frame,
            kind,
            calibration: false,
            ..LoadOptions::default()
        },
    )?;
    detector.calibrate(source)
}

/// Device and placement for a calibration.
pub struct CalibrateOptions {
    pub device: DeviceArg,
    pub frame: crate::detector::FrameMode,
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
    let opts = CalibrateOptions {
        device: args.device,
        frame: args.frame.frame,
    };
    let (cal, path) = calibrate_saved(&args.model, args.detector, &source, &opts)?;
    println!("{}", summary(&cal, &path));
    Ok(())
}
