//! `po3ad train`: fit a PO3AD model on the normal samples of one part.

use super::calibrate::{calibrate_saved, summary, NormalSource};
use super::common::{progress_hooks, DataArgs, DeviceArg};
use crate::eval::{FrameMode, NearestConfig, NearestTemplate};
use crate::train::{fit_with, load_training_set, FitHooks, FitOptions, Preset};
use anyhow::Context;
use burn::tensor::backend::AutodiffBackend;
use po3ad_core::registration::RegistrationConfig;
use po3ad_sparse::SparseBackend;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  po3ad train --layout anomaly-shapenet --root data/Anomaly-ShapeNet --category ashtray0 --out runs/ashtray0
  po3ad train --train part.stl --out runs/part --preset cpu
  po3ad train --layout folder --root my_scans --out runs/my_part --resume
  po3ad train --train templates/ --preset paper --device cuda --out runs/full
  po3ad train --train templates/ --detector nearest --out runs/part-nearest   # no learning
  po3ad train --train part.stl --calibrate good_scans/ --out runs/part     # thresholds from real scans")]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Train on this mesh/cloud, or every file in this folder, instead of a dataset.
    #[arg(long, conflicts_with = "root")]
    pub train: Option<PathBuf>,
    /// Build a training-free detector instead of training PO3AD: `nearest` (distance
    /// to the training clouds; saved as nearest.json, used like a model).
    #[arg(long, value_parser = ["nearest"])]
    pub detector: Option<String>,
    /// Preset name (cpu, paper, tiny) or a TOML file.
    #[arg(long, default_value = "cpu")]
    pub preset: String,
    /// Output folder for checkpoint.po3ad, model.po3ad and loss.csv.
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
    /// cpu (default) or cuda[:N].
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
}

/// The calibration every `po3ad train` ends with: thresholds into
/// `<out>/calibration.json` (see [`crate::eval::calibration`]).
fn calibrate_after_training(args: &TrainArgs, files: &[PathBuf]) -> anyhow::Result<()> {
    let source = match &args.calibrate {
        Some(dir) => NormalSource::Scans(dir.clone()),
        None => NormalSource::TrainingViews(files.to_vec()),
    };
    let (cal, path) = calibrate_saved(&args.out, &source, FrameMode::Auto, args.device)?;
    println!("{}", summary(&cal, &path));
    Ok(())
}

pub fn preset_with_overrides(
    name: &str,
    epochs: Option<usize>,
    seed: Option<u64>,
) -> anyhow::Result<Preset> {
    let mut preset = Preset::load(name)?;
    if let Some(e) = epochs {
        preset.train.epochs = e;
    }
    if let Some(s) = seed {
        preset.train.seed = s;
    }
    preset.validate().map_err(anyhow::Error::msg)?;
    Ok(preset)
}

/// Train one category (or one user's part) and return the training report. `hooks`
/// reach the training loop: the CLI passes its progress bar ([`progress_hooks`]), the
/// Python module its callback.
pub fn train_on<B: AutodiffBackend + SparseBackend>(
    files: &[PathBuf],
    preset: &Preset,
    opts: &FitOptions,
    device: &B::Device,
    hooks: FitHooks<'_>,
) -> anyhow::Result<crate::train::FitReport> {
    let mut rng = ChaCha8Rng::seed_from_u64(preset.train.seed);
    let samples = load_training_set(files, &preset.train, &mut rng)?;
    let (_, report) = fit_with::<B>(&samples, preset, opts, device, hooks)?;
    // The nearest-template companion (seconds to build): `test.nearest_weight` fuses it
    // into PO3AD's scores, and it is a detector of its own (`--model DIR/nearest.json`).
    NearestTemplate::fit(
        files,
        &NearestConfig::default(),
        &RegistrationConfig::default(),
    )?
    .save(&opts.out_dir)?;
    Ok(report)
}

/// `--train PATH`: the training files (the file itself, or every supported file in the
/// folder) and the part's name (the path's stem).
pub fn training_files(path: &Path) -> anyhow::Result<(Vec<PathBuf>, String)> {
    let files = crate::train::data::files_in(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("part")
        .to_string();
    Ok((files, name))
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let preset = preset_with_overrides(&args.preset, args.epochs, args.seed)?;
    let (files, name) = match &args.train {
        Some(path) => training_files(path)?,
        None => {
            let cat = args.data.category()?;
            (cat.train.clone(), cat.name.clone())
        }
    };
    if args.detector.is_some() {
        let t0 = std::time::Instant::now();
        let d = NearestTemplate::fit(
            &files,
            &NearestConfig::default(),
            &RegistrationConfig::default(),
        )?;
        let path = d.save(&args.out)?;
        println!(
            "built nearest-template detector '{name}' from {} file(s): {} points, {:.1} s; model: {}",
            files.len(),
            d.len(),
            t0.elapsed().as_secs_f64(),
            path.display()
        );
        return calibrate_after_training(&args, &files);
    }
    let opts = FitOptions {
        out_dir: args.out.clone(),
        resume: args.resume,
        category: name.clone(),
        stop_after: None,
    };
    // Announced after the device check, so a missing GPU is the only line printed.
    let report = crate::with_backend!(args.device, |B, dev| {
        eprintln!(
            "training '{name}' on {} file(s) with preset '{}' ({} epochs)",
            files.len(),
            preset.name,
            preset.train.epochs
        );
        train_on::<B>(&files, &preset, &opts, &dev, progress_hooks(&name))
    })?;
    println!(
        "trained '{name}': {} epochs, final loss {:.4}, {:.1} s ({:.2} clouds/s); model: {}",
        report.epochs_done,
        report.final_loss,
        report.seconds,
        report.clouds_per_second,
        report.model_path.display()
    );
    calibrate_after_training(&args, &files)
}
