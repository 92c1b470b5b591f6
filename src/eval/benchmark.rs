//! Benchmarks: build (or reuse) one detector per category of a dataset, test each, and
//! write one table with the mean (and the paper's numbers beside ours for the public
//! layouts). `po3ad benchmark` and Python's `po3ad.benchmark` both run [`benchmark`].
//!
//! A [`Shard`] runs one deterministic part of the categories; `po3ad benchmark-merge`
//! joins the parts into one table.
//!
//! Contract (scripts and CI depend on it): `OUT/results.csv` with the header
//! `category,object_auroc,object_ap,point_auroc,point_ap,train_seconds,test_seconds`,
//! one row per category and a last row `mean`.

use super::evaluate::{evaluate_category, frame_summary, CategoryEval, EvalOptions};
use crate::detector::{
    fit_and_load, Detector, FitRequest, FrameMode, KindSettings, KindSpec, LoadOptions,
    TestOverrides,
};
use crate::device::DeviceArg;
use crate::train::{FitHooks, Preset};
use po3ad_core::dataset::{list_categories, load_category, Layout};
use po3ad_core::report::{paper_table, write_samples_csv, CategoryResult, ResultsTable};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

/// What to benchmark and how.
pub struct BenchmarkSpec<'a> {
    /// `auto`, `anomaly-shapenet`, `real3d` or `folder`.
    pub layout: String,
    pub root: PathBuf,
    /// Categories to run (all in the root when empty).
    pub categories: Vec<String>,
    /// PO3AD's training preset (name or TOML file), with `epochs` overriding its own.
    pub preset: String,
    pub epochs: Option<usize>,
    /// The kind to build (None: [`crate::detector::DEFAULT_KIND`]); with `reuse_models`,
    /// the kind to load from each folder (None: the one its `detector.json` names).
    pub detector: Option<&'static KindSpec>,
    /// The built kind's settings (`--settings`; None = its defaults).
    pub settings: Option<KindSettings>,
    /// Reuse `<DIR>/<category>/model` instead of building a detector.
    pub reuse_models: Option<PathBuf>,
    pub frame: FrameMode,
    pub overrides: TestOverrides,
    pub out: PathBuf,
    /// Heatmaps per category.
    pub heatmaps: usize,
    pub shard: Option<Shard>,
    pub device: DeviceArg,
    /// Progress bars (training and testing).
    pub progress: bool,
    /// Training hooks for each category (the CLI's progress bar); none by default.
    pub hooks: &'a (dyn Fn(&str) -> FitHooks<'static> + Sync),
}

/// `--layout`: a layout name, or `auto` (detected; said on stderr).
pub fn resolve_layout(layout: &str, root: &Path) -> anyhow::Result<Layout> {
    if layout == "auto" {
        let found = po3ad_core::dataset::detect_layout(root)
            .map_err(|e| anyhow::anyhow!("--layout auto: {e}"))?;
        eprintln!("{}: {found} layout detected", root.display());
        return Ok(found);
    }
    Layout::from_str(layout).map_err(|e| anyhow::anyhow!("--layout: {e} (or auto)"))
}

/// One category: build (or reuse) its detector, test it, write its outputs.
/// Returns the category's row, how it was scored, and the detector kind's name.
fn run_category(
    args: &BenchmarkSpec<'_>,
    layout: Layout,
    name: &str,
) -> anyhow::Result<(CategoryResult, BTreeMap<String, String>, &'static str)> {
    let category = load_category(layout, &args.root, name)?;
    let cat_out = args.out.join(name);
    let (detector, train_seconds) = match &args.reuse_models {
        Some(models) => (
            Detector::load(
                &models.join(name).join("model"),
                &LoadOptions {
                    device: args.device,
                    frame: args.frame,
                    overrides: args.overrides,
                    kind: args.detector,
                    calibration: false,
                },
            )?,
            0.0,
        ),
        None => {
            let preset = Preset::load_with(&args.preset, args.epochs, None)?;
            let t0 = Instant::now();
            let model = cat_out.join("model");
            let kind = args.detector.unwrap_or(crate::detector::DEFAULT_KIND);
            let d = fit_and_load(
                kind,
                FitRequest {
                    files: &category.train,
                    out: &model,
                    preset: &preset,
                    resume: false,
                    category: name,
                    device: args.device,
                    hooks: (args.hooks)(name),
                    settings: args.settings.as_ref(),
                },
                &LoadOptions {
                    device: args.device,
                    frame: args.frame,
                    overrides: args.overrides,
                    kind: Some(kind),
                    calibration: false,
                },
            )?;
            (d, t0.elapsed().as_secs_f64())
        }
    };
    let opts = EvalOptions::for_output(&cat_out, args.heatmaps, 0.0, args.progress);
    let eval = evaluate_category(&detector, &category, &opts)?;
    let scoring = eval.provenance.clone();
    let kind = detector.name();
    Ok((
        finish_category(&cat_out, eval, train_seconds)?,
        scoring,
        kind,
    ))
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
    super::write_curves_or_warn(cat_out, &eval.curves);
    eprintln!("  scans placed by: {}", frame_summary(&eval));
    Ok(CategoryResult {
        train_seconds,
        ..eval.result
    })
}

/// Run the benchmark and write its tables; returns the table.
pub fn benchmark(args: &BenchmarkSpec<'_>) -> anyhow::Result<ResultsTable> {
    let layout = resolve_layout(&args.layout, &args.root)?;
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
        model: args
            .detector
            .unwrap_or(crate::detector::DEFAULT_KIND)
            .name
            .to_string(),
        rows: Vec::new(),
        scoring: Default::default(),
    };
    for (i, name) in categories.iter().enumerate() {
        eprintln!("[{}/{}] {name}", i + 1, categories.len());
        let (row, scoring, kind) = run_category(args, layout, name)?;
        if table.scoring.is_empty() {
            table.scoring = scoring;
            table.model = kind.to_string();
        }
        table.rows.push(row);
        // Rewrite after every category: an interrupted benchmark keeps what it measured.
        write_tables(&args.out, &table, layout.as_str())?;
    }
    if table.rows.is_empty() {
        write_tables(&args.out, &table, layout.as_str())?;
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
