//! `po3ad predict FILE...`: per-point scores of new scans with a trained model, written
//! as heatmaps (coloured PLY in the scan's own coordinates, PNG) and a JSON summary;
//! with a calibrated model (`calibration.json`) also each scan's normalized score,
//! verdict and anomalous regions.

use super::common::{FrameArgs, IntakeArgs};
use crate::detector::{Detector, KindSpec, LoadOptions, ScanReport};
use crate::device::DeviceArg;
use crate::eval::write_heatmaps;
use anyhow::Context;
use po3ad_core::io;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  po3ad predict --model runs/part scan1.pcd scan2.ply --out predictions/
  po3ad predict --model runs/part --detector nearest scan.ply --out out   # the folder's nearest companion
  po3ad predict --model runs/part-nearest scan.ply --out out          # a nearest-template detector
  po3ad predict --model runs/part scan.pcd --frame fixed --out out    # scans from a fixture
  po3ad predict --model runs/part cell_scan.e57 --units auto --out out  # scanner file, mm or m, on a table

Scanner files: invalid points (NaN, infinite, the (0,0,0) pixels of organized clouds) are
dropped; a scan more than 1.25x the template's size has its support plane and clutter
removed (--background); dropped and removed points get no score (NaN in
<name>.scores.txt, grey in the heatmaps). A scan whose size says it is in other units
than the template is refused unless --units says how to convert it.

Exit status: 0 when every scan was judged; 3 when some scan could not be registered to
the training pose (its verdict is \"unregistered\"; all outputs are still written); 1 on
an error.")]
pub struct PredictArgs {
    /// Scans to score.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Model folder written by `po3ad train --out` (or its model.po3ad / nearest.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Which of the folder's detectors to use (default: the one it was trained as).
    #[arg(long, value_parser = crate::detector::kind_parser())]
    pub detector: Option<&'static KindSpec>,
    #[command(flatten)]
    pub frame: FrameArgs,
    #[command(flatten)]
    pub intake: IntakeArgs,
    /// Output folder: <name>.ply, <name>.png and predictions.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write <name>.scores.txt: one point score per line, in the file's point
    /// order (exact: each value reads back to the same float32; NaN for a point that
    /// was dropped as invalid or removed as background).
    #[arg(long)]
    pub point_scores: bool,
    /// Where PO3AD runs: cpu, or cuda[:N] in a binary built with `--features cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
}

/// Exit status of `predict` when some scan could not be registered.
pub const EXIT_UNREGISTERED: u8 = 3;

/// `predict` finished, but `count` of `total` scans could not be registered.
#[derive(Debug)]
pub struct UnregisteredScans {
    pub count: usize,
    pub total: usize,
}

impl std::fmt::Display for UnregisteredScans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} scans could not be registered to the training pose (verdict \
             \"unregistered\"); exit status {EXIT_UNREGISTERED}",
            self.count, self.total
        )
    }
}

impl std::error::Error for UnregisteredScans {}

#[derive(Debug, Serialize)]
pub struct Prediction {
    pub file: String,
    #[serde(flatten)]
    pub report: ScanReport,
    pub heatmap_ply: String,
    pub heatmap_png: String,
}

/// Score every file with `detector`.
fn predict_files(args: &PredictArgs, detector: &Detector) -> anyhow::Result<Vec<Prediction>> {
    let mut out = Vec::new();
    let opts = args.intake.options();
    for file in &args.files {
        let scan = io::read_scan(file, &opts.read_options(io::DEFAULT_MAX_POINTS))?;
        let scored = detector
            .score_scan(scan, &opts)
            .map_err(|e| anyhow::anyhow!("{}: {e:#}", file.display()))?;
        let report = &scored.report;
        if !report.placed() {
            eprintln!(
                "warning: {}: could not be registered to the training pose; its scores are unreliable",
                file.display()
            );
        }
        if let Some(input) = &report.input {
            note_intake(file, input);
        }
        let name = unique_stem(file, &out);
        write_heatmaps(
            &args.out,
            &name,
            &scored.intake.valid,
            &scored.valid_scores(),
        )?;
        if args.point_scores {
            let text: String = scored
                .file_scores()
                .iter()
                .map(|v| format!("{v}\n"))
                .collect();
            io::atomic::write_atomic(
                &args.out.join(format!("{name}.scores.txt")),
                text.as_bytes(),
            )?;
        }
        out.push(Prediction {
            file: file.display().to_string(),
            report: scored.report,
            heatmap_ply: args.out.join(format!("{name}.ply")).display().to_string(),
            heatmap_png: args.out.join(format!("{name}.png")).display().to_string(),
        });
    }
    Ok(out)
}

/// Say on stderr what was taken out of `file` or converted before scoring.
fn note_intake(file: &Path, input: &crate::detector::IntakeSummary) {
    if input.invalid_points > 0 {
        eprintln!(
            "note: {}: {} of {} points invalid (NaN, infinite or (0,0,0) pixels), not scored",
            file.display(),
            input.invalid_points,
            input.file_points
        );
    }
    if input.background_points > 0 {
        eprintln!(
            "note: {}: {} points removed as background ({}), not scored",
            file.display(),
            input.background_points,
            if input.support_plane.is_some() {
                "support plane, fixtures, other objects"
            } else {
                "outside the part"
            }
        );
    }
    if let Some(u) = &input.units {
        eprintln!("note: {}: converted {u}", file.display());
    }
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
    let detector = Detector::load(
        &args.model,
        &LoadOptions {
            device: args.device,
            frame: args.frame.frame,
            kind: args.detector,
            ..LoadOptions::default()
        },
    )?;
    let preds = predict_files(&args, &detector)?;
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
    if let Some(report) = crate::eval::write_report_or_warn(&args.out) {
        println!("report: {}", report.display());
    }
    let count = preds.iter().filter(|p| !p.report.placed()).count();
    if count > 0 {
        return Err(UnregisteredScans {
            count,
            total: preds.len(),
        }
        .into());
    }
    Ok(())
}
