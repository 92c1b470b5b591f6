//! `po3ad benchmark`: train and test many categories, then one table with the mean
//! (and the paper's numbers beside ours for the public layouts).
//!
//! `--shard I/N` runs one deterministic part of the categories; `po3ad benchmark-merge`
//! ([`super::benchmark_merge`]) joins the parts into one table.
//!
//! Contract (scripts and CI depend on it): `OUT/results.csv` with the header
//! `category,object_auroc,object_ap,point_auroc,point_ap,train_seconds,test_seconds`,
//! one row per category and a last row `mean`.

use super::common::{progress_hooks, DeviceArg, FrameArgs};
use super::test::{detector, eval_options, frame_summary, test_with_model, TestOverrides};
use super::train::{preset_with_overrides, train_on};
use crate::eval::{evaluate_category, CategoryEval, ObjectScore};
use crate::train::FitOptions;
use burn::tensor::backend::AutodiffBackend;
use po3ad_core::dataset::{list_categories, load_category, Layout};
use po3ad_core::report::{paper_table, write_samples_csv, CategoryResult, ResultsTable};
use po3ad_sparse::SparseBackend;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  po3ad benchmark --layout anomaly-shapenet --root data/Anomaly-ShapeNet --categories ashtray0,bag0 --out bench/
  po3ad benchmark --layout folder --root synth/ --model curvature --out bench-curv/
  po3ad benchmark --layout anomaly-shapenet --root data --model nearest --out bench-nn/
  po3ad benchmark --layout anomaly-shapenet --root data-free --models bench/ --out bench-free/
  po3ad benchmark --layout real3d --root data/Real3D-AD --preset paper --device cuda --out bench-paper/
  po3ad benchmark --layout real3d --root data/Real3D-AD --shard 2/12 --out bench/shard-2   # one part of 12
  po3ad benchmark-merge --layout real3d --out bench/all bench/shard-*                     # then join them")]
pub struct BenchmarkArgs {
    /// anomaly-shapenet, real3d or folder.
    #[arg(long)]
    pub layout: String,
    #[arg(long)]
    pub root: PathBuf,
    /// Comma-separated categories (default: all in the root).
    #[arg(long, value_delimiter = ',')]
    pub categories: Vec<String>,
    #[arg(long, default_value = "cpu")]
    pub preset: String,
    /// po3ad (train + test), or a training-free detector: nearest (distance to the
    /// training clouds) or curvature.
    #[arg(long, default_value = "po3ad")]
    pub model: String,
    /// With po3ad: reuse the models an earlier benchmark wrote under this folder
    /// (`<models>/<category>/model`) instead of training, e.g. to test the same models
    /// on a free-pose twin of the data.
    #[arg(long)]
    pub models: Option<PathBuf>,
    #[command(flatten)]
    pub frame: FrameArgs,
    /// With po3ad: weight of the nearest-template distance fused into the scores,
    /// overriding the preset's `test.nearest_weight`; also for the object score unless
    /// --object-nearest-weight is given.
    #[arg(long)]
    pub nearest_weight: Option<f32>,
    /// With po3ad: the same weight for the scores the object score is taken from,
    /// overriding the preset's `test.object_nearest_weight`.
    #[arg(long)]
    pub object_nearest_weight: Option<f32>,
    /// With po3ad: object score rule, overriding the preset's `test.object_score`.
    #[arg(long, value_enum)]
    pub object_score: Option<ObjectScore>,
    #[arg(long)]
    pub out: PathBuf,
    /// Override the preset's epoch count.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Heatmaps per category.
    #[arg(long, default_value_t = 2)]
    pub heatmaps: usize,
    /// Run only shard I of N (1-based): the categories, sorted by name, whose 0-based
    /// position k has k mod N = I − 1. Join the shards' --out folders with
    /// `po3ad benchmark-merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
}

fn po3ad_category<B: AutodiffBackend + SparseBackend>(
    args: &BenchmarkArgs,
    layout: Layout,
    name: &str,
    device: &B::Device,
) -> anyhow::Result<CategoryResult>
where
    B::InnerBackend: SparseBackend,
{
    let preset = preset_with_overrides(&args.preset, args.epochs, None)?;
    let category = load_category(layout, &args.root, name)?;
    let cat_out = args.out.join(name);
    let (model_dir, train_seconds) = match &args.models {
        Some(models) => (models.join(name).join("model"), 0.0),
        None => {
            let fit_opts = FitOptions {
                out_dir: cat_out.join("model"),
                resume: false,
                category: name.to_string(),
                stop_after: None,
            };
            let t0 = Instant::now();
            train_on::<B>(
                &category.train,
                &preset,
                &fit_opts,
                device,
                progress_hooks(name),
            )?;
            (fit_opts.out_dir, t0.elapsed().as_secs_f64())
        }
    };
    let opts = eval_options(
        &cat_out,
        args.heatmaps,
        0.0,
        preset.test.batch_size,
        args.frame.frame,
    );
    let overrides = TestOverrides {
        object_score: args.object_score,
        nearest_weight: args.nearest_weight,
        object_nearest_weight: args.object_nearest_weight,
    };
    let eval = test_with_model::<B>(&model_dir, &category, &opts, overrides, device)?;
    finish_category(&cat_out, eval, train_seconds)
}

/// Per-category outputs shared by every detector: scores.csv and a line on how scans
/// were placed.
fn finish_category(
    cat_out: &Path,
    eval: CategoryEval,
    train_seconds: f64,
) -> anyhow::Result<CategoryResult> {
    std::fs::create_dir_all(cat_out)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", cat_out.display()))?;
    write_samples_csv(&cat_out.join("scores.csv"), &eval.samples)?;
    eprintln!("  scans placed by: {}", frame_summary(&eval));
    Ok(CategoryResult {
        train_seconds,
        ..eval.result
    })
}

/// A training-free detector: `nearest` builds its tree from the training files (timed
/// as training), `curvature` needs nothing.
fn free_category(
    args: &BenchmarkArgs,
    layout: Layout,
    name: &str,
) -> anyhow::Result<CategoryResult> {
    let category = load_category(layout, &args.root, name)?;
    let cat_out = args.out.join(name);
    let opts = eval_options(&cat_out, args.heatmaps, 0.0, 4, args.frame.frame);
    let t0 = Instant::now();
    let scorer = detector(&args.model, &category)?;
    let train_seconds = t0.elapsed().as_secs_f64();
    let eval = evaluate_category(scorer.as_ref(), &category, &opts)?;
    finish_category(&cat_out, eval, train_seconds)
}

/// Run the benchmark and write its tables; returns the table.
pub fn benchmark(args: &BenchmarkArgs) -> anyhow::Result<ResultsTable> {
    let layout = Layout::from_str(&args.layout).map_err(|e| anyhow::anyhow!("--layout: {e}"))?;
    // Checked before anything is written (the loop below would only fail at its first
    // category, after creating --out).
    if !matches!(args.model.as_str(), "po3ad" | "curvature" | "nearest") {
        anyhow::bail!(
            "--model must be po3ad, nearest or curvature, got '{}'",
            args.model
        );
    }
    let categories = if args.categories.is_empty() {
        list_categories(layout, &args.root)?
    } else {
        args.categories.clone()
    };
    if categories.is_empty() {
        anyhow::bail!(
            "{}: no categories found for layout {}",
            args.root.display(),
            args.layout
        );
    }
    let categories = match args.shard {
        Some(shard) => {
            let mine = shard.select(&categories);
            eprintln!(
                "shard {shard}: {} of {} categories{}",
                mine.len(),
                categories.len(),
                if mine.is_empty() {
                    " (none: an empty table is written)"
                } else {
                    ""
                }
            );
            mine
        }
        None => categories,
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", args.out.display()))?;
    let mut table = ResultsTable {
        model: args.model.clone(),
        rows: Vec::new(),
    };
    for (i, name) in categories.iter().enumerate() {
        eprintln!("[{}/{}] {name}", i + 1, categories.len());
        let row = match args.model.as_str() {
            "po3ad" => crate::with_backend!(args.device, |B, dev| po3ad_category::<B>(
                args, layout, name, &dev
            ))?,
            _ => free_category(args, layout, name)?,
        };
        table.rows.push(row);
        // Rewrite after every category: an interrupted benchmark keeps what it measured.
        write_tables(&args.out, &table, &args.layout)?;
    }
    if table.rows.is_empty() {
        write_tables(&args.out, &table, &args.layout)?;
    }
    Ok(table)
}

/// `--shard I/N`: one of N deterministic parts of a benchmark's categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The categories of this shard: sorted by name, position k (0-based) goes to
    /// shard k mod N + 1.
    pub fn select(&self, categories: &[String]) -> Vec<String> {
        let mut sorted = categories.to_vec();
        sorted.sort();
        sorted.dedup();
        sorted
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % self.count == self.index - 1)
            .map(|(_, c)| c)
            .collect()
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("'{s}': expected I/N with 1 <= I <= N, e.g. 2/8");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

pub fn write_tables(out: &Path, table: &ResultsTable, layout: &str) -> anyhow::Result<()> {
    table.write_csv(&out.join("results.csv"))?;
    table.write_json(&out.join("results.json"))?;
    table.write_markdown(&out.join("results.md"), paper_table(layout))?;
    Ok(())
}

pub fn run(args: BenchmarkArgs) -> anyhow::Result<()> {
    let table = benchmark(&args)?;
    println!("{}", table.to_terminal());
    println!(
        "wrote {}",
        PathBuf::from(&args.out).join("results.csv").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_sorted_categories() {
        let cats: Vec<String> = ["e", "a", "d", "b", "c"].map(String::from).to_vec();
        let shard = |s: &str| s.parse::<Shard>().unwrap().select(&cats);
        // Sorted: a b c d e; k mod 3: a→1, b→2, c→3, d→1, e→2.
        assert_eq!(shard("1/3"), ["a", "d"]);
        assert_eq!(shard("2/3"), ["b", "e"]);
        assert_eq!(shard("3/3"), ["c"]);
        assert_eq!(shard("1/1"), ["a", "b", "c", "d", "e"]);
        assert!(shard("7/7").is_empty());
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
