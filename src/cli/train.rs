//! `po3ad train`: build a detector (by default `surface`; PO3AD with a preset) from the
//! normal samples of one part.

use super::calibrate::{calibrate_saved, summary, CalibrateOptions};
use super::common::{progress_hooks, DataArgs};
use crate::detector::{Detector, FitRequest, FrameMode, KindSettings, KindSpec, NormalSource};
use crate::device::DeviceArg;
use crate::train::{Preset, DEFAULT_PRESET};
use po3ad_core::scene::Units;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  po3ad train --layout anomaly-shapenet --root data/Anomaly-ShapeNet --category ashtray0 --out runs/ashtray0
  po3ad train --train part.stl --out runs/part                 # surface detector, seconds
  po3ad train --train part.stl --out runs/part-net --preset cpu   # the PO3AD network, minutes
  po3ad train --layout folder --root my_scans --out runs/my_part --preset cpu --resume
  po3ad train --train templates/ --preset paper --device cuda --out runs/full
  po3ad train --train templates/ --detector nearest --out runs/part-nearest   # the baseline
  po3ad train --train templates/ --detector patchcore --settings bank.toml --out runs/part-pc   # docs/settings.md
  po3ad train --train part.stl --calibrate good_scans/ --out runs/part     # thresholds from real scans")]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Train on this mesh/cloud, or every file in this folder, instead of a dataset.
    #[arg(long, conflicts_with = "root")]
    pub train: Option<PathBuf>,
    /// Detector kind to build. Default: surface (training-free, seconds; the best
    /// measured on every dev-benchmark track), or po3ad when --preset, --epochs,
    /// --resume or a GPU --device is given. po3ad trains the network (minutes).
    #[arg(long, value_parser = crate::detector::kind_parser())]
    pub detector: Option<&'static KindSpec>,
    /// PO3AD preset: cpu (the default with --detector po3ad), paper, tiny, or a TOML
    /// file. Giving one selects --detector po3ad.
    #[arg(long)]
    pub preset: Option<String>,
    /// Settings of a training-free kind (surface, nearest, btf-raw, btf-fpfh, patchcore,
    /// reg-bank): a TOML file of its config's fields, the rest default (e.g. multi-scale
    /// FPFH: `[descriptor]` `radii = [0.12, 0.2, 0.32]`; docs/settings.md lists them).
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// Model folder to write: detector.json and calibration.json always; for po3ad also
    /// model.po3ad, checkpoint.po3ad, loss.csv and the nearest.json companion; for
    /// nearest, nearest.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue from <out>/checkpoint.po3ad.
    #[arg(long)]
    pub resume: bool,
    /// Override the preset's epoch count.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Override the preset's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Folder of defect-free scans to choose the verdict thresholds from (stored in
    /// <out>/calibration.json). Default: views of the training files themselves (fresh
    /// mesh samples / 80 % subsets, σ = 0.002 noise); see `po3ad calibrate --help`.
    #[arg(long)]
    pub calibrate: Option<PathBuf>,
    /// Where PO3AD trains: cpu, or cuda[:N] in a binary built with `--features cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
    /// The training files' length unit (m, cm, mm, in), recorded in detector.json so
    /// that scans in other units are caught by name (`predict --units`). Default: m for
    /// E57 files (the format fixes it), else unknown (mismatches are then judged by
    /// size alone).
    #[arg(long)]
    pub units: Option<Units>,
}

/// The calibration every `po3ad train` ends with: thresholds into
/// `<out>/calibration.json` (see [`crate::detector::calibration`]).
fn calibrate_after_training(
    args: &TrainArgs,
    kind: &'static KindSpec,
    files: &[PathBuf],
) -> anyhow::Result<()> {
    let source = match &args.calibrate {
        Some(dir) => NormalSource::Scans(dir.clone()),
        None => NormalSource::TrainingViews(files.to_vec()),
    };
    let opts = CalibrateOptions {
        device: args.device,
        frame: FrameMode::Auto,
    };
    let (cal, path) = calibrate_saved(&args.out, Some(kind), &source, &opts)?;
    println!("{}", summary(&cal, &path));
    Ok(())
}

pub fn preset_with_overrides(
    name: &str,
    epochs: Option<usize>,
    seed: Option<u64>,
) -> anyhow::Result<Preset> {
    Preset::load_with(name, epochs, seed)
}

pub use crate::train::data::training_files;

/// The options only the network reads that this command line gives.
fn po3ad_options(args: &TrainArgs) -> Vec<&'static str> {
    let given = [
        ("--preset", args.preset.is_some()),
        ("--epochs", args.epochs.is_some()),
        ("--resume", args.resume),
        ("--device", args.device != DeviceArg::Cpu),
    ];
    given.iter().filter(|(_, g)| *g).map(|(o, _)| *o).collect()
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let kind = crate::detector::choose_kind(args.detector, &po3ad_options(&args))?;
    let preset_name = args.preset.as_deref().unwrap_or(DEFAULT_PRESET);
    let preset = preset_with_overrides(preset_name, args.epochs, args.seed)?;
    let (files, name) = match &args.train {
        Some(path) => training_files(path)?,
        None => {
            let cat = args.data.category()?;
            (cat.train.clone(), cat.name.clone())
        }
    };
    let settings = args
        .settings
        .as_deref()
        .map(KindSettings::load)
        .transpose()?;
    let outcome = fit(
        kind,
        &files,
        &args.out,
        &name,
        &preset,
        settings.as_ref(),
        &args,
    )?;
    let units = args.units.unwrap_or_else(|| units_of(&files));
    if units != Units::Unknown {
        crate::detector::manifest::set_units(&args.out, units)?;
    }
    println!("{}", outcome.summary);
    calibrate_after_training(&args, kind, &files)
}

/// The units the training files' format fixes: metres when every one is E57.
fn units_of(files: &[PathBuf]) -> Units {
    let e57 = |f: &PathBuf| f.extension().is_some_and(|e| e.eq_ignore_ascii_case("e57"));
    if !files.is_empty() && files.iter().all(e57) {
        Units::Meters
    } else {
        Units::Unknown
    }
}

fn fit(
    kind: &'static KindSpec,
    files: &[PathBuf],
    out: &Path,
    name: &str,
    preset: &Preset,
    settings: Option<&KindSettings>,
    args: &TrainArgs,
) -> anyhow::Result<crate::detector::FitOutcome> {
    Detector::fit(
        kind,
        FitRequest {
            files,
            out,
            preset,
            resume: args.resume,
            category: name,
            device: args.device,
            hooks: progress_hooks(name),
            settings,
        },
    )
}
