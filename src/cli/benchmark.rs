//! `po3ad benchmark`: the arguments of [`crate::eval::benchmark`] (train or build and
//! test many categories, then one table with the mean). `--shard I/N` runs one
//! deterministic part; `po3ad benchmark-merge` ([`super::benchmark_merge`]) joins them.

use super::common::{progress_hooks, show_progress, FrameArgs, DEFAULT_HEATMAPS};
use crate::detector::{KindSettings, KindSpec, TestOverrides};
use crate::device::DeviceArg;
use crate::eval;
use crate::eval::benchmark::BenchmarkSpec;
pub use crate::eval::benchmark::{write_tables, Shard};
use crate::score_rule::ObjectScore;
use po3ad_core::report::ResultsTable;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  po3ad benchmark --layout anomaly-shapenet --root data/Anomaly-ShapeNet --categories ashtray0,bag0 --out bench/
  po3ad benchmark --layout anomaly-shapenet --root data --detector nearest --out bench-nn/
  po3ad benchmark --layout real3d --root data --detector reg-bank --settings ms.toml --out bench-rb/
  po3ad benchmark --layout anomaly-shapenet --root data --preset cpu --out bench-net/   # PO3AD
  po3ad benchmark --layout anomaly-shapenet --root data-free --reuse-models bench/ --out bench-free/
  po3ad benchmark --layout real3d --root data/Real3D-AD --preset paper --device cuda --out bench-paper/
  po3ad benchmark --layout real3d --root data/Real3D-AD --shard 2/12 --out bench/shard-2   # one part of 12
  po3ad benchmark-merge --layout real3d --out bench/all bench/shard-*                     # then join them")]
pub struct BenchmarkArgs {
    /// Dataset layout: auto (detected from the folder structure), anomaly-shapenet,
    /// real3d or folder.
    #[arg(long, default_value = "auto")]
    pub layout: String,
    /// Dataset root folder (its categories are benchmarked).
    #[arg(long)]
    pub root: PathBuf,
    /// Comma-separated categories (default: all in the root).
    #[arg(long, value_delimiter = ',')]
    pub categories: Vec<String>,
    /// PO3AD preset: cpu (the default with --detector po3ad), paper, tiny, or a TOML
    /// file. Giving one selects --detector po3ad.
    #[arg(long)]
    pub preset: Option<String>,
    /// Detector kind. Default: surface (training-free, built in seconds per category;
    /// the best measured on every dev-benchmark track), or po3ad (trains, then tests)
    /// when --preset, --epochs, a GPU --device or a po3ad test option is given.
    #[arg(long, value_parser = crate::detector::kind_parser())]
    pub detector: Option<&'static KindSpec>,
    /// Settings of the training-free kind built for each category: a TOML file of its
    /// config's fields (see `po3ad train --help`, docs/settings.md).
    #[arg(long, conflicts_with = "reuse_models")]
    pub settings: Option<PathBuf>,
    /// Deprecated spelling of --detector.
    #[arg(long, hide = true)]
    pub model: Option<String>,
    /// Reuse the model folders an earlier benchmark wrote under this folder
    /// (`<DIR>/<category>/model`) instead of building them, e.g. to test the same models
    /// on a free-pose twin of the data.
    #[arg(long, value_name = "DIR")]
    pub reuse_models: Option<PathBuf>,
    /// Deprecated spelling of --reuse-models.
    #[arg(long, hide = true)]
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
    /// Output folder: results.csv/json/md, and per category scores.csv, heatmaps/ and
    /// model/.
    #[arg(long)]
    pub out: PathBuf,
    /// Override the preset's epoch count.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Heatmaps (PLY + PNG) per category, anomalous samples first.
    #[arg(long, default_value_t = DEFAULT_HEATMAPS)]
    pub heatmaps: usize,
    /// Run only shard I of N (1-based): the categories, sorted by name, whose 0-based
    /// position k has k mod N = I − 1. Join the shards' --out folders with
    /// `po3ad benchmark-merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Where PO3AD runs: cpu, or cuda[:N] in a binary built with `--features cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
}

impl BenchmarkArgs {
    /// The deprecated spellings mapped onto the current ones, with a warning each.
    pub fn resolve_deprecated(&mut self) -> anyhow::Result<()> {
        if let Some(m) = self.model.take() {
            eprintln!("warning: `benchmark --model {m}` is deprecated; use --detector {m}");
            self.detector = Some(crate::detector::kind(&m)?);
        }
        if let Some(d) = self.models.take() {
            eprintln!(
                "warning: `benchmark --models DIR` is deprecated; use --reuse-models {}",
                d.display()
            );
            self.reuse_models = Some(d);
        }
        Ok(())
    }

    /// The options only the network reads that these arguments give.
    fn po3ad_options(&self) -> Vec<&'static str> {
        let given = [
            ("--preset", self.preset.is_some()),
            ("--epochs", self.epochs.is_some()),
            ("--device", self.device != DeviceArg::Cpu),
            ("--nearest-weight", self.nearest_weight.is_some()),
            (
                "--object-nearest-weight",
                self.object_nearest_weight.is_some(),
            ),
            ("--object-score", self.object_score.is_some()),
        ];
        given.iter().filter(|(_, g)| *g).map(|(o, _)| *o).collect()
    }

    /// The kind these arguments build ([`crate::detector::choose_kind`]); with
    /// --reuse-models, the kind named (None: each folder's `detector.json` decides).
    pub fn kind(&self) -> anyhow::Result<Option<&'static KindSpec>> {
        if self.reuse_models.is_some() {
            return Ok(self.detector);
        }
        crate::detector::choose_kind(self.detector, &self.po3ad_options()).map(Some)
    }

    pub fn overrides(&self) -> TestOverrides {
        TestOverrides {
            object_score: self.object_score,
            nearest_weight: self.nearest_weight,
            object_nearest_weight: self.object_nearest_weight,
        }
    }
}

/// The library's benchmark with these arguments (deprecated spellings resolved).
pub fn benchmark(args: &BenchmarkArgs) -> anyhow::Result<ResultsTable> {
    let mut args = args.clone();
    args.resolve_deprecated()?;
    let hooks = |name: &str| progress_hooks(name);
    eval::benchmark::benchmark(&BenchmarkSpec {
        layout: args.layout.clone(),
        root: args.root.clone(),
        categories: args.categories.clone(),
        preset: args
            .preset
            .clone()
            .unwrap_or_else(|| crate::train::DEFAULT_PRESET.into()),
        epochs: args.epochs,
        detector: args.kind()?,
        settings: args
            .settings
            .as_deref()
            .map(KindSettings::load)
            .transpose()?,
        reuse_models: args.reuse_models.clone(),
        frame: args.frame.frame,
        overrides: args.overrides(),
        out: args.out.clone(),
        heatmaps: args.heatmaps,
        shard: args.shard,
        device: args.device,
        progress: show_progress(),
        hooks: &hooks,
    })
}

pub fn run(args: BenchmarkArgs) -> anyhow::Result<()> {
    let table = benchmark(&args)?;
    if let Some(report) = crate::eval::write_report_or_warn(&args.out) {
        println!("report: {}", report.display());
    }
    println!("{}", table.to_terminal());
    println!(
        "wrote {}",
        PathBuf::from(&args.out).join("results.csv").display()
    );
    Ok(())
}
