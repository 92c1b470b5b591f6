//! `po3ad test`: score a labelled test set with a trained model (or a training-free
//! detector) and report object/point AUROC and AP, F1-max, and precision / recall at
//! the model's calibrated object threshold (`results.json` → `decisions`,
//! `decisions.csv`).

use super::common::{fit_and_load, show_progress, DataArgs, FrameArgs};
use crate::detector::{Calibration, Detector, KindSpec, LoadOptions, TestOverrides};
use crate::device::DeviceArg;
use crate::eval::decisions::{decide, f1_max, Decision};
use crate::eval::evaluate::frame_summary;
use crate::eval::{evaluate_category, CategoryEval, EvalOptions};
use crate::score_rule::ObjectScore;
use anyhow::Context;
use po3ad_core::io;
use po3ad_core::report::{write_samples_csv, write_samples_json, ResultsTable};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  po3ad test --model runs/ashtray0 --root data/Anomaly-ShapeNet --category ashtray0 --out results/ashtray0
  po3ad test --detector curvature --root my_scans --out results/baseline
  po3ad test --detector nearest --root data/Real3D-AD --category seahorse --out results/nn
  po3ad test --model runs/part --detector nearest --root my_scans --out results/nn   # the folder's companion
  po3ad test --model runs/part --root fixtured_scans --frame fixed --out results/fixed")]
pub struct TestArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Model folder written by `po3ad train --out` (or its model.po3ad / nearest.json).
    #[arg(long, required_unless_present = "detector")]
    pub model: Option<PathBuf>,
    /// Detector kind. Without --model: built on the fly from the category's training
    /// files into OUT/model (training-free kinds). With --model: which of the folder's
    /// detectors to use (e.g. `nearest`, the companion of every PO3AD model).
    #[arg(long, value_parser = crate::detector::kind_parser())]
    pub detector: Option<&'static KindSpec>,
    #[command(flatten)]
    pub frame: FrameArgs,
    /// Output folder: results.csv/json/md, scores.csv/json, decisions.csv, heatmaps/.
    #[arg(long)]
    pub out: PathBuf,
    /// Heatmaps (PLY + PNG) to write, anomalous samples first.
    #[arg(long, default_value_t = super::common::DEFAULT_HEATMAPS)]
    pub heatmaps: usize,
    /// Gaussian noise σ added to test clouds (robustness check).
    #[arg(long, default_value_t = 0.0)]
    pub noise: f32,
    /// Object score rule, overriding the model's preset (`test.object_score`).
    #[arg(long, value_enum)]
    pub object_score: Option<ObjectScore>,
    /// Weight of the nearest-template distance fused into PO3AD's scores, overriding the
    /// model's preset (`test.nearest_weight`, 0 to 1); also for the object score unless
    /// --object-nearest-weight is given.
    #[arg(long)]
    pub nearest_weight: Option<f32>,
    /// The same weight for the scores the object score is taken from, overriding the
    /// model's preset (`test.object_nearest_weight`, 0 to 1).
    #[arg(long)]
    pub object_nearest_weight: Option<f32>,
    /// Where PO3AD runs: cpu, or cuda[:N] in a binary built with `--features cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
}

/// Object-level decisions of a test run: at the calibrated threshold (when the model
/// has a calibration for these scores) and at the test set's F1-optimal one.
#[derive(Debug, Clone, Serialize)]
pub struct TestDecisions {
    /// The calibrated object threshold (anomalous ⇔ score > threshold); null without one.
    pub object_threshold: Option<f64>,
    pub point_threshold: Option<f32>,
    /// Where the thresholds came from (`training-views` or a folder of normal scans).
    pub calibration_source: Option<String>,
    /// Precision / recall / F1 at the calibrated threshold.
    pub at_threshold: Option<Decision>,
    /// The best F1 over all object thresholds, and where it is reached.
    pub f1_max: Option<Decision>,
    /// Scans that could not be registered (verdict `unregistered` in decisions.csv;
    /// still counted in the object-level numbers by their score).
    pub unregistered: usize,
    /// Reported regions against the labels (with a calibration).
    pub regions: Option<crate::eval::evaluate::RegionStats>,
}

impl TestDecisions {
    pub fn new(eval: &CategoryEval, calibration: Option<&Calibration>) -> Self {
        let labels: Vec<bool> = eval.samples.iter().map(|s| s.anomalous).collect();
        let scores: Vec<f64> = eval.samples.iter().map(|s| s.object_score).collect();
        Self {
            object_threshold: calibration.map(|c| c.object_threshold),
            point_threshold: calibration.map(|c| c.point_threshold),
            calibration_source: calibration.map(|c| c.source.clone()),
            at_threshold: calibration.map(|c| decide(&labels, &scores, c.object_threshold)),
            f1_max: f1_max(&labels, &scores),
            unregistered: eval.unregistered,
            regions: eval.regions.clone(),
        }
    }

    /// Lines for the terminal.
    pub fn to_terminal(&self) -> String {
        let mut out = String::new();
        match (&self.at_threshold, self.object_threshold) {
            (Some(d), Some(t)) => {
                out += &format!(
                    "at the calibrated object threshold {t:.6}: precision {:.4}, recall {:.4}, \
                     F1 {:.4} ({} flagged of {} anomalous)\n",
                    d.precision,
                    d.recall,
                    d.f1,
                    d.true_positives + d.false_positives,
                    d.true_positives + d.false_negatives
                )
            }
            _ => out += "no calibration for these scores: no verdicts\n",
        }
        if let Some(r) = &self.regions {
            out += &format!(
                "regions: {} of {} normal scans report one; {} of {} defective scans have one \
                 on the defect\n",
                r.normal_scans_with_regions,
                r.normal_scans,
                r.anomalous_scans_hit,
                r.anomalous_scans
            );
        }
        if self.unregistered > 0 {
            out += &format!(
                "{} scan(s) could not be registered: verdict unregistered\n",
                self.unregistered
            );
        }
        if let Some(d) = &self.f1_max {
            out += &format!(
                "F1-max {:.4} (precision {:.4}, recall {:.4}) above object score {:.6}\n",
                d.f1, d.precision, d.recall, d.threshold
            );
        }
        out
    }
}

/// `decisions.csv`: `name,defect,anomalous,object_score,normalized_score,verdict`, one
/// row per sample in scores.csv's order; the last two columns empty without a
/// calibration.
pub fn decisions_csv(
    eval: &CategoryEval,
    calibration: Option<&Calibration>,
) -> anyhow::Result<String> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(DECISIONS_CSV_HEADER.split(','))?;
    for s in &eval.samples {
        let unregistered = s.registration.is_some_and(|f| !f.registered);
        let (norm, verdict) = match calibration {
            Some(c) => (
                c.normalized(s.object_score).to_string(),
                if unregistered {
                    crate::detector::report::UNREGISTERED.to_string()
                } else {
                    c.verdict(s.object_score).to_string()
                },
            ),
            None if unregistered => (
                String::new(),
                crate::detector::report::UNREGISTERED.to_string(),
            ),
            None => Default::default(),
        };
        w.write_record([
            s.name.clone(),
            s.defect.clone(),
            s.anomalous.to_string(),
            s.object_score.to_string(),
            norm,
            verdict,
        ])?;
    }
    Ok(String::from_utf8(
        w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
    )?)
}

/// The exact header of `decisions.csv`.
pub const DECISIONS_CSV_HEADER: &str =
    "name,defect,anomalous,object_score,normalized_score,verdict";

pub fn write_outputs(
    out: &Path,
    model_name: &str,
    eval: &CategoryEval,
    calibration: Option<&Calibration>,
) -> anyhow::Result<(ResultsTable, TestDecisions)> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let table = ResultsTable {
        model: model_name.to_string(),
        rows: vec![eval.result.clone()],
        scoring: eval.provenance.clone(),
    };
    table.write_csv(&out.join("results.csv"))?;
    let decisions = TestDecisions::new(eval, calibration);
    // results.json: the table's JSON plus a "decisions" object.
    table.validate()?;
    let mut json: serde_json::Value = serde_json::from_str(&table.to_json())?;
    if let Some(obj) = json.as_object_mut() {
        obj.insert("decisions".into(), serde_json::to_value(&decisions)?);
    }
    let text = serde_json::to_string_pretty(&json)? + "\n";
    io::atomic::write_atomic(&out.join("results.json"), text.as_bytes())?;
    write_samples_csv(&out.join("scores.csv"), &eval.samples)?;
    write_samples_json(&out.join("scores.json"), &eval.samples)?;
    io::atomic::write_atomic(
        &out.join("decisions.csv"),
        decisions_csv(eval, calibration)?.as_bytes(),
    )?;
    crate::eval::write_curves_or_warn(out, &eval.curves);
    Ok((table, decisions))
}

pub fn run(args: TestArgs) -> anyhow::Result<()> {
    let category = args.data.category()?;
    let opts = EvalOptions::for_output(&args.out, args.heatmaps, args.noise, show_progress());
    let overrides = TestOverrides {
        object_score: args.object_score,
        nearest_weight: args.nearest_weight,
        object_nearest_weight: args.object_nearest_weight,
    };
    let detector = match (&args.model, args.detector) {
        (Some(m), kind) => Detector::load(
            m,
            &LoadOptions {
                device: args.device,
                frame: args.frame.frame,
                overrides,
                kind,
                calibration: true,
            },
        )?,
        (None, Some(kind)) => {
            if kind.name == "po3ad" {
                anyhow::bail!(
                    "--detector po3ad needs a trained model: give --model DIR (train one with \
                     `po3ad train`), or use `po3ad benchmark`, which trains and tests"
                );
            }
            fit_and_load(
                kind,
                &category.train,
                &args.out.join("model"),
                &category.name,
                args.device,
                args.frame.frame,
                overrides,
            )?
        }
        (None, None) => anyhow::bail!("give --model or --detector"),
    };
    let eval = evaluate_category(&detector, &category, &opts)?;
    let (table, decisions) =
        write_outputs(&args.out, detector.name(), &eval, detector.calibration())?;
    println!("{}", table.to_terminal());
    print!("{}", decisions.to_terminal());
    println!("scans placed by: {}", frame_summary(&eval));
    println!("wrote {}", args.out.display());
    if let Some(report) = crate::eval::write_report_or_warn(&args.out) {
        println!("report: {}", report.display());
    }
    Ok(())
}
