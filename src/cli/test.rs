//! `po3ad test`: score a labelled test set with a trained model (or a training-free
//! detector) and report object/point AUROC and AP, F1-max, and precision / recall at
//! the model's calibrated object threshold (`results.json` → `decisions`,
//! `decisions.csv`).

use super::common::{
    load_model, locate_detector, show_progress, DataArgs, DeviceArg, FrameArgs, SavedDetector,
};
use super::predict::usable_calibration;
use crate::eval::decisions::{decide, f1_max, Decision};
use crate::eval::nearest::NEAREST_FILE;
use crate::eval::Calibration;
use crate::eval::{
    evaluate_category, CategoryEval, CurvatureScorer, EvalOptions, FrameMode, ModelScorer,
    NearestConfig, NearestTemplate, ObjectScore, Scorer,
};
use crate::train::TestConfig;
use anyhow::Context;
use burn::tensor::backend::AutodiffBackend;
use po3ad_core::dataset::Category;
use po3ad_core::io;
use po3ad_core::registration::RegistrationConfig;
use po3ad_core::report::{write_samples_csv, write_samples_json, ResultsTable};
use po3ad_sparse::SparseBackend;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  po3ad test --model runs/ashtray0 --layout anomaly-shapenet --root data/Anomaly-ShapeNet --category ashtray0 --out results/ashtray0
  po3ad test --detector curvature --layout folder --root my_scans --out results/baseline
  po3ad test --detector nearest --layout real3d --root data/Real3D-AD --category seahorse --out results/nn
  po3ad test --model runs/part --layout folder --root fixtured_scans --frame fixed --out results/fixed")]
pub struct TestArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Trained model: the folder `po3ad train --out` wrote, or its model.po3ad (PO3AD)
    /// or nearest.json (nearest-template detector).
    #[arg(long, required_unless_present = "detector")]
    pub model: Option<PathBuf>,
    /// Use a training-free detector instead of a saved model: nearest (distance to the
    /// category's training clouds, built on the fly) or curvature.
    #[arg(long)]
    pub detector: Option<String>,
    #[command(flatten)]
    pub frame: FrameArgs,
    /// Output folder: results.csv/json, scores.csv/json, decisions.csv, heatmaps/.
    #[arg(long)]
    pub out: PathBuf,
    /// Heatmaps (PLY + PNG) to write, anomalous samples first.
    #[arg(long, default_value_t = 4)]
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
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
}

pub fn eval_options(
    out: &Path,
    heatmaps: usize,
    noise: f32,
    batch_size: usize,
    frame: FrameMode,
) -> EvalOptions {
    EvalOptions {
        noise_sigma: noise,
        seed: 0,
        batch_size,
        heatmap_dir: (heatmaps > 0).then(|| out.join("heatmaps")),
        max_heatmaps: heatmaps,
        progress: show_progress(),
        frame,
        registration: RegistrationConfig::default(),
    }
}

/// Score `category` with the model at `model_path` on backend `B`'s inference side.
/// Test-time overrides of a model's preset (`test.*`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TestOverrides {
    pub object_score: Option<ObjectScore>,
    /// Sets both weights (point and object) unless `object_nearest_weight` is given too.
    pub nearest_weight: Option<f32>,
    pub object_nearest_weight: Option<f32>,
}

pub fn test_with_model<B: AutodiffBackend + SparseBackend>(
    model_path: &Path,
    category: &Category,
    opts: &EvalOptions,
    overrides: TestOverrides,
    device: &B::Device,
) -> anyhow::Result<CategoryEval>
where
    B::InnerBackend: SparseBackend,
{
    let (model, mut preset, frame) = load_model::<B::InnerBackend>(model_path, device)?;
    if let Some(rule) = overrides.object_score {
        preset.test.object_score = rule;
    }
    if let Some(w) = overrides.nearest_weight {
        preset.test.nearest_weight = w;
        preset.test.object_nearest_weight = None;
    }
    if let Some(w) = overrides.object_nearest_weight {
        preset.test.object_nearest_weight = Some(w);
    }
    preset.validate().map_err(anyhow::Error::msg)?;
    let scorer = with_fused_nearest(
        ModelScorer::new(model, &preset, frame, device),
        model_path,
        &preset.test,
    )?;
    let opts = EvalOptions {
        batch_size: preset.test.batch_size,
        noise_sigma: if opts.noise_sigma > 0.0 {
            opts.noise_sigma
        } else {
            preset.test.noise_sigma
        },
        ..opts.clone()
    };
    evaluate_category(&scorer, category, &opts)
}

/// Add the nearest-template detector saved beside the model when `test` fuses it
/// (`nearest_weight` or `object_nearest_weight` > 0).
pub fn with_fused_nearest<B: SparseBackend>(
    scorer: ModelScorer<B>,
    model_path: &Path,
    test: &TestConfig,
) -> anyhow::Result<ModelScorer<B>> {
    let (weight, object_weight) = (test.nearest_weight, test.object_weight());
    if weight <= 0.0 && object_weight <= 0.0 {
        return Ok(scorer);
    }
    let dir = if model_path.is_dir() {
        model_path
    } else {
        model_path.parent().unwrap_or(Path::new("."))
    };
    let path = dir.join(NEAREST_FILE);
    if !path.is_file() {
        anyhow::bail!(
            "{}: missing; test.nearest_weight = {weight} (object: {object_weight}) fuses the \
             nearest-template distance, \
             which `po3ad train` saves beside the model (or build it with \
             `po3ad train --detector nearest --out {}`)",
            path.display(),
            dir.display()
        );
    }
    Ok(scorer.with_nearest(NearestTemplate::load(&path)?, weight, object_weight))
}

/// A training-free detector for `category`: `nearest` is built from its training
/// files, `curvature` needs none.
pub fn detector(name: &str, category: &Category) -> anyhow::Result<Box<dyn Scorer>> {
    match name {
        "curvature" => Ok(Box::new(CurvatureScorer::default())),
        "nearest" => Ok(Box::new(NearestTemplate::fit(
            &category.train,
            &NearestConfig::default(),
            &RegistrationConfig::default(),
        )?)),
        _ => anyhow::bail!("unknown detector '{name}' (available: nearest, curvature)"),
    }
}

/// `register (2 of 40 not registered)` and the like, for the end of a run.
pub fn frame_summary(eval: &CategoryEval) -> String {
    match (eval.frame, eval.unregistered) {
        ("register", 0) => "register (all registered)".into(),
        ("register", n) => format!("register ({n} of {} NOT registered)", eval.samples.len()),
        (f, _) => f.to_string(),
    }
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
        let (norm, verdict) = match calibration {
            Some(c) => (
                c.normalized(s.object_score).to_string(),
                c.verdict(s.object_score).to_string(),
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
    Ok((table, decisions))
}

pub fn run(args: TestArgs) -> anyhow::Result<()> {
    let category = args.data.category()?;
    let opts = eval_options(&args.out, args.heatmaps, args.noise, 4, args.frame.frame);
    let (name, eval, saved) = match (&args.detector, &args.model) {
        (Some(d), _) => (
            d.clone(),
            evaluate_category(detector(d, &category)?.as_ref(), &category, &opts)?,
            None,
        ),
        (None, Some(m)) => match locate_detector(m)? {
            SavedDetector::Po3ad(path) => (
                "po3ad".to_string(),
                crate::with_backend!(args.device, |B, dev| test_with_model::<B>(
                    &path,
                    &category,
                    &opts,
                    TestOverrides {
                        object_score: args.object_score,
                        nearest_weight: args.nearest_weight,
                        object_nearest_weight: args.object_nearest_weight,
                    },
                    &dev
                ))?,
                Some(path),
            ),
            SavedDetector::Nearest(path) => (
                "nearest".to_string(),
                evaluate_category(&NearestTemplate::load(&path)?, &category, &opts)?,
                Some(path),
            ),
        },
        (None, None) => anyhow::bail!("give --model or --detector"),
    };
    let calibration = match &saved {
        Some(path) => usable_calibration(path, &name, &eval.scoring)?,
        None => None,
    };
    let (table, decisions) = write_outputs(&args.out, &name, &eval, calibration.as_ref())?;
    println!("{}", table.to_terminal());
    print!("{}", decisions.to_terminal());
    println!("scans placed by: {}", frame_summary(&eval));
    println!("wrote {}", args.out.display());
    Ok(())
}
