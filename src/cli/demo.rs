//! `po3ad demo`: the whole job with nothing downloaded. Builds a few procedural parts
//! with synthetic defects, builds every main detector on each (the `curvature` and
//! `nearest` baselines, PO3AD with the `cpu` preset, and `surface`, the default, the
//! best measured on the dev benchmark), tests them, and prints one table each, the
//! default's last; its heatmaps and HTML report land in the output folder.

use super::benchmark::{benchmark, BenchmarkArgs};
use super::common::FrameArgs;
use crate::detector::FrameMode;
use crate::device::DeviceArg;
use po3ad_core::synth::{write_builtin_benchmark, SynthConfig, SynthLayout};
use std::path::PathBuf;

/// Parts the demo builds by default: a small, varied set that fits the time budget.
pub const DEMO_SHAPES: &[&str] = &["vase", "gear", "plate"];

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  po3ad demo
  po3ad demo --out /tmp/demo --builtin vase,bowl --epochs 10")]
pub struct DemoArgs {
    /// Output folder (dataset, models, tables, heatmaps).
    #[arg(long, default_value = "po3ad-demo")]
    pub out: PathBuf,
    /// Built-in shapes to use, comma-separated (default: vase,gear,plate; all names in
    /// `po3ad synth --help`).
    #[arg(long, value_delimiter = ',')]
    pub builtin: Vec<String>,
    /// Deprecated spelling of --builtin.
    #[arg(long, value_delimiter = ',', hide = true)]
    pub shapes: Vec<String>,
    /// PO3AD preset: cpu, paper, tiny, or a TOML file.
    #[arg(long, default_value = "cpu")]
    pub preset: String,
    /// Training epochs per part (the `cpu` preset's own is 120; the demo uses 15 to
    /// finish in ~3 minutes on a 2-core machine: 30 epochs took twice as long and scored
    /// no better on the demo parts).
    #[arg(long, default_value_t = 15)]
    pub epochs: usize,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Where PO3AD runs: cpu, or cuda[:N] in a binary built with `--features cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
}

pub fn run(mut args: DemoArgs) -> anyhow::Result<()> {
    if !args.shapes.is_empty() {
        eprintln!("warning: `demo --shapes` is deprecated; use --builtin");
        args.builtin.append(&mut args.shapes);
    }
    let shapes: Vec<&str> = if args.builtin.is_empty() {
        DEMO_SHAPES.to_vec()
    } else {
        args.builtin.iter().map(String::as_str).collect()
    };
    let data = args.out.join("data");
    eprintln!(
        "building {} synthetic categories in {}",
        shapes.len(),
        data.display()
    );
    // A smaller test set than `po3ad synth`'s default: 4 good + 6 defective per part.
    let cfg = SynthConfig {
        seed: args.seed,
        n_good: 4,
        n_per_defect: 1,
        ..SynthConfig::default()
    };
    write_builtin_benchmark(&data, SynthLayout::AnomalyShapeNet, &cfg, &shapes)?;

    let mut tables = Vec::new();
    let default = crate::detector::DEFAULT_KIND.name;
    for model in ["curvature", "nearest", "po3ad", default] {
        // The network's options go to the network only (another kind refuses them).
        let network = model == "po3ad";
        let bench = BenchmarkArgs {
            layout: "anomaly-shapenet".into(),
            root: data.clone(),
            categories: shapes.iter().map(|s| s.to_string()).collect(),
            preset: network.then(|| args.preset.clone()),
            detector: Some(crate::detector::kind(model)?),
            settings: None,
            model: None,
            out: args.out.join(format!("results-{model}")),
            epochs: network.then_some(args.epochs),
            heatmaps: 2,
            device: if network { args.device } else { DeviceArg::Cpu },
            reuse_models: None,
            models: None,
            nearest_weight: None,
            object_nearest_weight: None,
            object_score: None,
            shard: None,
            frame: FrameArgs {
                frame: FrameMode::Auto,
            },
        };
        tables.push((model, benchmark(&bench)?));
    }
    for (model, table) in &tables {
        println!("\n{model}:\n{}", table.to_terminal());
    }
    let results = args.out.join(format!("results-{default}"));
    println!(
        "\nheatmaps: {}/<category>/heatmaps/*.png (and coloured .ply)",
        results.display()
    );
    if let Some(report) = crate::eval::write_report_or_warn(&results) {
        println!("report: {}", report.display());
    }
    Ok(())
}
