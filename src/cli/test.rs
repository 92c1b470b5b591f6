//! `po3ad test`: score a labelled test set with a trained model (or the curvature
//! baseline) and report object/point AUROC and AP.

use super::common::{load_model, show_progress, DataArgs, DeviceArg};
use crate::eval::{
    evaluate_category, CategoryEval, CurvatureScorer, EvalOptions, ModelScorer, ObjectScore, Scorer,
};
use burn::tensor::backend::AutodiffBackend;
use po3ad_core::dataset::Category;
use po3ad_core::report::{write_samples_csv, write_samples_json, ResultsTable};
use po3ad_sparse::SparseBackend;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  po3ad test --model runs/ashtray0 --layout anomaly-shapenet --root data/Anomaly-ShapeNet --category ashtray0 --out results/ashtray0
  po3ad test --detector curvature --layout folder --root my_scans --out results/baseline")]
pub struct TestArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Trained model: a model.po3ad file or the folder `po3ad train --out` wrote.
    #[arg(long, required_unless_present = "detector")]
    pub model: Option<PathBuf>,
    /// Use a training-free detector instead of a model: curvature.
    #[arg(long)]
    pub detector: Option<String>,
    /// Output folder: results.csv/json/md, scores.csv/json, heatmaps/.
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
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
}

pub fn eval_options(out: &Path, heatmaps: usize, noise: f32, batch_size: usize) -> EvalOptions {
    EvalOptions {
        noise_sigma: noise,
        seed: 0,
        batch_size,
        heatmap_dir: (heatmaps > 0).then(|| out.join("heatmaps")),
        max_heatmaps: heatmaps,
        progress: show_progress(),
    }
}

/// Score `category` with the model at `model_path` on backend `B`'s inference side.
pub fn test_with_model<B: AutodiffBackend + SparseBackend>(
    model_path: &Path,
    category: &Category,
    opts: &EvalOptions,
    object_score: Option<ObjectScore>,
    device: &B::Device,
) -> anyhow::Result<CategoryEval>
where
    B::InnerBackend: SparseBackend,
{
    let (model, mut preset) = load_model::<B::InnerBackend>(model_path, device)?;
    if let Some(rule) = object_score {
        preset.test.object_score = rule;
    }
    let scorer = ModelScorer::new(model, &preset, device);
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

pub fn detector(name: &str) -> anyhow::Result<Box<dyn Scorer>> {
    match name {
        "curvature" => Ok(Box::new(CurvatureScorer::default())),
        _ => anyhow::bail!("unknown detector '{name}' (available: curvature)"),
    }
}

pub fn write_outputs(
    out: &Path,
    model_name: &str,
    eval: &CategoryEval,
) -> anyhow::Result<ResultsTable> {
    std::fs::create_dir_all(out)?;
    let table = ResultsTable {
        model: model_name.to_string(),
        rows: vec![eval.result.clone()],
    };
    table.write_csv(&out.join("results.csv"))?;
    table.write_json(&out.join("results.json"))?;
    write_samples_csv(&out.join("scores.csv"), &eval.samples)?;
    write_samples_json(&out.join("scores.json"), &eval.samples)?;
    Ok(table)
}

pub fn run(args: TestArgs) -> anyhow::Result<()> {
    let category = args.data.category()?;
    let opts = eval_options(&args.out, args.heatmaps, args.noise, 4);
    let (name, eval) = match (&args.detector, &args.model) {
        (Some(d), _) => (
            d.clone(),
            evaluate_category(detector(d)?.as_ref(), &category, &opts)?,
        ),
        (None, Some(m)) => (
            "po3ad".to_string(),
            crate::with_backend!(args.device, |B, dev| test_with_model::<B>(
                m,
                &category,
                &opts,
                args.object_score,
                &dev
            ))?,
        ),
        (None, None) => anyhow::bail!("give --model or --detector"),
    };
    let table = write_outputs(&args.out, &name, &eval)?;
    println!("{}", table.to_terminal());
    println!("wrote {}", args.out.display());
    Ok(())
}
