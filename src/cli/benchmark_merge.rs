//! `po3ad benchmark-merge`: join the `--out` folders of several `po3ad benchmark
//! --shard I/N` runs into one results.csv / .json / .md, rows in sorted category order
//! (the order of an unsharded run over a whole dataset root), the mean recomputed over
//! all rows. Reads each shard's `results.json` (full precision), so the merged table
//! equals the unsharded one. Per-category files (scores.csv, heatmaps) stay in the
//! shard folders.

use super::benchmark::write_tables;
use anyhow::Context;
use po3ad_core::report::ResultsTable;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  po3ad benchmark-merge --out bench/all bench/shard-1 bench/shard-2 bench/shard-3
  po3ad benchmark-merge --layout anomaly-shapenet --out bench/all bench/shard-*   # with the paper's columns")]
pub struct BenchmarkMergeArgs {
    /// The shards' output folders (each holds the results.json `po3ad benchmark` wrote).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Output folder for the merged results.csv/json/md.
    #[arg(long)]
    pub out: PathBuf,
    /// The benchmark's layout, for the paper's numbers in results.md (anomaly-shapenet,
    /// real3d); omit for your own data.
    #[arg(long, default_value = "folder")]
    pub layout: String,
}

fn read_shard(dir: &Path) -> anyhow::Result<ResultsTable> {
    let path = dir.join("results.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (is {} the --out of a `po3ad benchmark` run?)",
            path.display(),
            dir.display()
        )
    })?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a po3ad results table ({e})", path.display()))
}

/// Merge shard tables: one model, no category twice, rows sorted by category.
pub fn merge(shards: &[(PathBuf, ResultsTable)]) -> anyhow::Result<ResultsTable> {
    let Some((first_dir, first)) = shards.first() else {
        anyhow::bail!("no shard folders given");
    };
    let mut rows = BTreeMap::new();
    let mut from: BTreeMap<String, &Path> = BTreeMap::new();
    for (dir, table) in shards {
        if table.model != first.model {
            anyhow::bail!(
                "{} holds results of model '{}', {} of '{}': merge one model at a time",
                dir.display(),
                table.model,
                first_dir.display(),
                first.model
            );
        }
        if let Some(diff) = scoring_difference(&first.scoring, &table.scoring) {
            anyhow::bail!(
                "{} and {} were scored differently ({diff}): merge shards of one run only",
                first_dir.display(),
                dir.display()
            );
        }
        for row in &table.rows {
            if let Some(other) = from.insert(row.category.clone(), dir) {
                anyhow::bail!(
                    "category '{}' is in both {} and {}: were the shards run with the same N?",
                    row.category,
                    other.display(),
                    dir.display()
                );
            }
            rows.insert(row.category.clone(), row.clone());
        }
    }
    let scoring = shards
        .iter()
        .map(|(_, t)| &t.scoring)
        .find(|s| !s.is_empty())
        .cloned()
        .unwrap_or_default();
    Ok(ResultsTable {
        model: first.model.clone(),
        rows: rows.into_values().collect(),
        scoring,
    })
}

/// The keys whose values differ between two shards' scoring, as `key: a vs b`; None
/// when they agree (a shard without categories records no scoring and agrees with any).
fn scoring_difference(
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
) -> Option<String> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let diffs: Vec<String> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let show = |m: &BTreeMap<String, String>| {
                m.get(k).map_or("(none)".to_string(), |v| format!("'{v}'"))
            };
            format!("{k}: {} vs {}", show(a), show(b))
        })
        .collect();
    (!diffs.is_empty()).then(|| diffs.join("; "))
}

pub fn run(args: BenchmarkMergeArgs) -> anyhow::Result<()> {
    let shards = args
        .shards
        .iter()
        .map(|d| Ok((d.clone(), read_shard(d)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let table = merge(&shards)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    write_tables(&args.out, &table, &args.layout)?;
    println!("{}", table.to_terminal());
    println!(
        "merged {} shard(s), {} categories; wrote {}",
        shards.len(),
        table.rows.len(),
        args.out.join("results.csv").display()
    );
    Ok(())
}
