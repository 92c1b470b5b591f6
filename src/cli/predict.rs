//! `po3ad predict FILE...`: per-point scores of new scans with a trained model, written
//! as heatmaps (coloured PLY in the scan's own coordinates, PNG) and a JSON summary.

use super::common::{load_model, write_heatmaps, DeviceArg};
use crate::eval::{ModelScorer, Scorer};
use burn::tensor::backend::AutodiffBackend;
use po3ad_core::geometry::preprocess_test;
use po3ad_core::io;
use po3ad_sparse::SparseBackend;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  po3ad predict --model runs/part scan1.pcd scan2.ply --out predictions/
  po3ad predict --model runs/part/model.po3ad incoming/*.pcd --out out --device cuda")]
pub struct PredictArgs {
    /// Scans to score.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Trained model: a model.po3ad file or the folder `po3ad train --out` wrote.
    #[arg(long)]
    pub model: PathBuf,
    /// Output folder: <name>.ply, <name>.png and predictions.json.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
}

#[derive(Debug, Serialize)]
pub struct Prediction {
    pub file: String,
    pub object_score: f64,
    pub max_point_score: f32,
    pub points: usize,
    pub heatmap_ply: String,
    pub heatmap_png: String,
}

fn predict_with<B: AutodiffBackend + SparseBackend>(
    args: &PredictArgs,
    device: &B::Device,
) -> anyhow::Result<Vec<Prediction>>
where
    B::InnerBackend: SparseBackend,
{
    let (model, preset) = load_model::<B::InnerBackend>(&args.model, device)?;
    let scorer = ModelScorer::new(model, &preset, device);
    let mut out = Vec::new();
    for file in &args.files {
        let original = io::read(file)?;
        let mut cloud = original.clone();
        preprocess_test(&mut cloud).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let scores = scorer.score_points(&[&cloud])?.pop().unwrap_or_default();
        let name = unique_stem(file, &out);
        write_heatmaps(&args.out, &name, &original, &scores)?;
        out.push(Prediction {
            file: file.display().to_string(),
            object_score: scorer.object_score(&scores),
            max_point_score: scores.iter().copied().fold(0.0, f32::max),
            points: scores.len(),
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
    std::fs::create_dir_all(&args.out)?;
    let preds = crate::with_backend!(args.device, |B, dev| predict_with::<B>(&args, &dev))?;
    let json = serde_json::to_string_pretty(&preds)?;
    io::atomic::write_atomic(&args.out.join("predictions.json"), json.as_bytes())?;
    println!(
        "{:<40} {:>8} {:>12} {:>10}",
        "file", "points", "object", "max point"
    );
    for p in &preds {
        println!(
            "{:<40} {:>8} {:>12.5} {:>10.5}",
            p.file, p.points, p.object_score, p.max_point_score
        );
    }
    println!("wrote {}", args.out.join("predictions.json").display());
    Ok(())
}
