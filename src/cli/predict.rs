//! `po3ad predict FILE...`: per-point scores of new scans with a trained model, written
//! as heatmaps (coloured PLY in the scan's own coordinates, PNG) and a JSON summary;
//! with a calibrated model (`calibration.json`) also each scan's normalized score,
//! verdict and anomalous regions.

use super::calibrate::model_dir;
use super::common::{
    load_model, locate_detector, write_heatmaps, DeviceArg, FrameArgs, SavedDetector,
};
use super::test::with_fused_nearest;
use crate::eval::calibration::CALIBRATION_FILE;
pub use crate::eval::scan::score_scan;
use crate::eval::scan::{report_scan, ScanReport};
use crate::eval::{Calibration, FrameMode, ModelScorer, NearestTemplate, Placement, Scorer};
use anyhow::Context;
use burn::tensor::backend::AutodiffBackend;
use po3ad_core::io;
use po3ad_core::registration::RegistrationConfig;
use po3ad_sparse::SparseBackend;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  po3ad predict --model runs/part scan1.pcd scan2.ply --out predictions/
  po3ad predict --model runs/part/model.po3ad incoming/*.pcd --out out --device cuda
  po3ad predict --model runs/part-nearest scan.ply --out out          # a nearest-template detector
  po3ad predict --model runs/part scan.pcd --frame fixed --out out    # scans from a fixture")]
pub struct PredictArgs {
    /// Scans to score.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Trained model: the folder `po3ad train --out` wrote, or its model.po3ad or
    /// nearest.json.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub frame: FrameArgs,
    /// Output folder: <name>.ply, <name>.png and predictions.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write <name>.scores.txt: one point score per line, in the file's point
    /// order (exact: each value reads back to the same float32).
    #[arg(long)]
    pub point_scores: bool,
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
}

#[derive(Debug, Serialize)]
pub struct Prediction {
    pub file: String,
    #[serde(flatten)]
    pub report: ScanReport,
    pub heatmap_ply: String,
    pub heatmap_png: String,
}

fn predict_with<B: AutodiffBackend + SparseBackend>(
    args: &PredictArgs,
    path: &Path,
    device: &B::Device,
) -> anyhow::Result<Vec<Prediction>>
where
    B::InnerBackend: SparseBackend,
{
    let scorer = load_scorer::<B::InnerBackend>(path, device)?;
    predict_files(args, &scorer, "po3ad", path)
}

/// The PO3AD scorer `predict` uses for the model at `model` (a folder or its
/// model.po3ad): the same one `po3ad test` builds (preset, training frame, the
/// nearest-template distance fused as the preset says), so scores and thresholds agree.
/// The Python module scores with it too.
pub fn load_scorer<B: SparseBackend>(
    model: &Path,
    device: &B::Device,
) -> anyhow::Result<ModelScorer<B>> {
    let (net, preset, frame) = load_model::<B>(model, device)?;
    with_fused_nearest(
        ModelScorer::new(net, &preset, frame, device),
        model,
        &preset.test,
    )
}

/// Where `predict` puts scans for `scorer` under `--frame mode`.
pub fn placement_for(scorer: &dyn Scorer, mode: FrameMode) -> anyhow::Result<Placement> {
    Placement::new(
        mode,
        scorer.pose_dependent(),
        scorer.frame(),
        &RegistrationConfig::default(),
    )
}

/// The calibration saved for `detector` beside `model_path`, if it holds for the
/// scorer's settings (a warning says why not otherwise).
pub fn usable_calibration(
    model_path: &Path,
    detector: &str,
    scoring: &str,
) -> anyhow::Result<Option<Calibration>> {
    let dir = model_dir(model_path);
    match Calibration::load(&dir, detector)? {
        None => {
            eprintln!(
                "note: {} has no calibration for {detector}: no verdicts (run `po3ad calibrate --model {}`)",
                dir.display(),
                model_path.display()
            );
            Ok(None)
        }
        Some(c) if c.scoring != scoring => {
            eprintln!(
                "warning: {}: the thresholds were chosen for '{}', these scores are '{scoring}': \
                 no verdicts (run `po3ad calibrate` again)",
                dir.join(CALIBRATION_FILE).display(),
                c.scoring
            );
            Ok(None)
        }
        Some(c) => Ok(Some(c)),
    }
}

/// Score every file with `scorer`, each placed in its frame as `--frame` says.
fn predict_files(
    args: &PredictArgs,
    scorer: &dyn Scorer,
    detector: &str,
    model_path: &Path,
) -> anyhow::Result<Vec<Prediction>> {
    let placement = placement_for(scorer, args.frame.frame)?;
    let calibration = usable_calibration(model_path, detector, &scorer.scoring())?;
    let mut out = Vec::new();
    for file in &args.files {
        let original = io::read(file)?;
        let (report, scores) = report_scan(&placement, scorer, calibration.as_ref(), &original)
            .map_err(|e| anyhow::anyhow!("{}: {e:#}", file.display()))?;
        if !report.placed() {
            eprintln!(
                "warning: {}: could not be registered to the training pose; its scores are unreliable",
                file.display()
            );
        }
        let name = unique_stem(file, &out);
        write_heatmaps(&args.out, &name, &original, &scores)?;
        if args.point_scores {
            let text: String = scores.iter().map(|v| format!("{v}\n")).collect();
            io::atomic::write_atomic(
                &args.out.join(format!("{name}.scores.txt")),
                text.as_bytes(),
            )?;
        }
        out.push(Prediction {
            file: file.display().to_string(),
            report,
            heatmap_ply: args.out.join(format!("{name}.ply")).display().to_string(),
            heatmap_png: args.out.join(format!("{name}.png")).display().to_string(),
        });
    }
    Ok(out)
}

/// The file's stem, suffixed when two inputs share one.
fn unique_stem(file: &Path, done: &[Prediction]) -> String {
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scan")
        .to_string();
    let taken = done
        .iter()
        .filter(|p| p.heatmap_ply.ends_with(&format!("{stem}.ply")))
        .count();
    if taken == 0 {
        stem
    } else {
        format!("{stem}_{taken}")
    }
}

pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let preds = match locate_detector(&args.model)? {
        SavedDetector::Po3ad(path) => {
            crate::with_backend!(args.device, |B, dev| predict_with::<B>(&args, &path, &dev))?
        }
        SavedDetector::Nearest(path) => {
            predict_files(&args, &NearestTemplate::load(&path)?, "nearest", &path)?
        }
    };
    let json = serde_json::to_string_pretty(&preds)?;
    io::atomic::write_atomic(&args.out.join("predictions.json"), json.as_bytes())?;
    println!(
        "{:<40} {:>8} {:>12} {:>6} {:>10} {:>7} {:>10}",
        "file", "points", "object", "norm", "verdict", "regions", "pose"
    );
    for p in &preds {
        let pose = match &p.report.registration {
            Some(r) if r.registered => format!("fit {:.2}", r.fitness),
            Some(_) => "NOT REGISTERED".into(),
            None => p.report.frame.clone(),
        };
        let norm = p
            .report
            .normalized_score
            .map_or("-".into(), |n| format!("{n:.3}"));
        let regions = p
            .report
            .regions
            .as_ref()
            .map_or("-".into(), |r| r.len().to_string());
        println!(
            "{:<40} {:>8} {:>12.5} {:>6} {:>10} {:>7} {:>10}",
            p.file,
            p.report.points,
            p.report.object_score,
            norm,
            p.report.verdict.as_deref().unwrap_or("-"),
            regions,
            pose
        );
        for (i, r) in p.report.regions.iter().flatten().take(3).enumerate() {
            println!(
                "    region {}: {} points at ({:.4}, {:.4}, {:.4}), extent {:.4} × {:.4} × {:.4}",
                i + 1,
                r.points,
                r.centroid[0],
                r.centroid[1],
                r.centroid[2],
                r.extent[0],
                r.extent[1],
                r.extent[2]
            );
        }
    }
    println!("wrote {}", args.out.join("predictions.json").display());
    Ok(())
}
