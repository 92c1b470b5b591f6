//! A synthetic benchmark results folder for the HTML report, with no model: the
//! built-in demo parts with their synthetic defects (real point clouds and per-point
//! labels), scored by a stand-in that knows the labels (defect points ~ N(0.6, 0.2),
//! others ~ N(0.2, 0.1)). It exercises every file `po3ad test` / `benchmark` write
//! plus curves.json and the scan views, so the report's size and open time can be
//! measured for any number of categories. The scores are not a detector's; do not
//! quote its metrics.
//!
//!     cargo run --release -p po3ad-core --example report_synthetic -- OUT [CATEGORIES]
//!
//! writes OUT/data (the synthetic scans) and OUT/results (the benchmark folder with its
//! report.html), and prints the report's size and the time it took to build.

use po3ad_core::dataset::{load_category, load_test_cloud, Layout};
use po3ad_core::metrics::{average_precision, roc_auc};
use po3ad_core::report::{
    render_png, write_heatmap_ply, write_samples_csv, write_scan_view, CategoryResult, PointCurves,
    RenderOptions, ResultsTable, SampleScore,
};
use po3ad_core::synth::{write_builtin_benchmark, SynthConfig, SynthLayout, BUILTIN_SHAPES};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: report_synthetic OUT [CATEGORIES]")?,
    );
    let n_categories: usize = args.next().map_or(Ok(12), |s| s.parse())?;
    let data = out.join("data");
    let results = out.join("results");
    let cfg = SynthConfig {
        seed: 3,
        n_good: 6,
        n_per_defect: 2,
        ..SynthConfig::default()
    };
    if !data.is_dir() {
        write_builtin_benchmark(&data, SynthLayout::AnomalyShapeNet, &cfg, BUILTIN_SHAPES)?;
    }
    let mut rows = Vec::new();
    for i in 0..n_categories {
        let shape = BUILTIN_SHAPES[i % BUILTIN_SHAPES.len()];
        // Not the benchmark's names ("vase0"), so no paper column is shown for them.
        let name = format!("syn-{shape}-{}", i / BUILTIN_SHAPES.len());
        rows.push(category(
            &data,
            shape,
            &results.join(&name),
            &name,
            i as u64,
        )?);
    }
    let table = ResultsTable {
        model: "synthetic stand-in scores".into(),
        rows,
        scoring: Default::default(),
    };
    table.write_json(&results.join("results.json"))?;
    table.write_csv(&results.join("results.csv"))?;
    let t0 = Instant::now();
    let report = po3ad_core::report::write_report(&results)?;
    let build_s = t0.elapsed().as_secs_f64();
    let mut total = 0u64;
    for entry in std::fs::read_dir(&results)? {
        let p = entry?.path().join("report.html");
        if p.is_file() {
            total += std::fs::metadata(&p)?.len();
        }
    }
    let top = std::fs::metadata(&report)?.len();
    println!(
        "{}: {n_categories} categories, built in {build_s:.2} s; summary page {} kB, \
         category pages {:.1} MB in all",
        report.display(),
        top / 1000,
        total as f64 / 1e6
    );
    Ok(())
}

/// Score one category's test scans with the stand-in and write its results folder the
/// way `po3ad test` does (plus curves.json and a view per heat map).
fn category(
    data: &Path,
    shape: &str,
    out: &Path,
    name: &str,
    seed: u64,
) -> Result<CategoryResult, Box<dyn std::error::Error>> {
    let cat = load_category(Layout::AnomalyShapeNet, data, shape)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (normal, defect) = (Normal::new(0.2f32, 0.1)?, Normal::new(0.6f32, 0.2)?);
    let heat = out.join("heatmaps");
    std::fs::create_dir_all(&heat)?;
    let mut samples = Vec::new();
    let mut curves = PointCurves::new();
    let (mut obj_labels, mut obj_scores) = (Vec::new(), Vec::new());
    for s in &cat.test {
        let cloud = load_test_cloud(s)?;
        let labels = cloud.labels.clone().unwrap_or_else(|| vec![0; cloud.len()]);
        let scores: Vec<f32> = labels
            .iter()
            .map(|&l| {
                if l != 0 {
                    defect.sample(&mut rng)
                } else {
                    normal.sample(&mut rng)
                }
            })
            .collect();
        curves.add_scan(&s.defect, s.anomalous, Some(&labels), &scores);
        // Object score: the mean of the top 1 % of point scores.
        let mut sorted = scores.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let k = (sorted.len() / 100).max(1);
        let object = sorted[..k].iter().map(|&v| v as f64).sum::<f64>() / k as f64;
        obj_labels.push(s.anomalous);
        obj_scores.push(object);
        let sample_name = format!("{name}_{}", s.name);
        write_heatmap_ply(
            &heat.join(format!("{sample_name}.ply")),
            &po3ad_core::PointCloud::from_points(cloud.points.clone()),
            &scores,
            None,
        )?;
        let opts = RenderOptions {
            two_views: true,
            ..Default::default()
        };
        render_png(
            &heat.join(format!("{sample_name}.png")),
            &cloud.points,
            &scores,
            &opts,
        )?;
        write_scan_view(&heat, &sample_name, &cloud.points, &scores)?;
        samples.push(SampleScore {
            name: sample_name,
            defect: s.defect.clone(),
            anomalous: s.anomalous,
            object_score: object,
            points: cloud.len(),
            registration: None,
        });
    }
    write_samples_csv(&out.join("scores.csv"), &samples)?;
    let file = curves.finish()?;
    curves.write(out)?;
    let row = CategoryResult {
        category: name.to_string(),
        object_auroc: roc_auc(&obj_labels, &obj_scores)?,
        object_ap: average_precision(&obj_labels, &obj_scores)?,
        point_auroc: file.point.auroc,
        point_ap: file.point.ap,
        train_seconds: 0.0,
        test_seconds: 0.0,
        by_defect: Default::default(),
    };
    write_decisions(out, &row, &samples)?;
    Ok(row)
}

/// results.json with a calibration and scoring settings, and decisions.csv, as
/// `po3ad test` writes them for a calibrated model. The stand-in threshold: the mean
/// of the normal scans' object scores plus three standard deviations.
fn write_decisions(
    out: &Path,
    row: &CategoryResult,
    samples: &[SampleScore],
) -> Result<(), Box<dyn std::error::Error>> {
    let normal: Vec<f64> = samples
        .iter()
        .filter(|s| !s.anomalous)
        .map(|s| s.object_score)
        .collect();
    let mean = normal.iter().sum::<f64>() / normal.len().max(1) as f64;
    let var = normal.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / normal.len().max(1) as f64;
    let threshold = mean + 3.0 * var.sqrt();
    let json = serde_json::json!({
        "model": "synthetic stand-in scores",
        "rows": [row],
        "decisions": { "object_threshold": threshold, "calibration_source": "normal scans (stand-in)" },
        "scoring": { "detector": "stand-in (knows the labels)", "object_score": "mean of the top 1 % point scores", "frame": "scan" },
    });
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    let mut csv = String::from("name,defect,anomalous,object_score,normalized_score,verdict\n");
    for s in samples {
        let verdict = if s.object_score > threshold {
            "anomalous"
        } else {
            "normal"
        };
        csv += &format!(
            "{},{},{},{},{},{verdict}\n",
            s.name,
            s.defect,
            s.anomalous,
            s.object_score,
            s.object_score / threshold
        );
    }
    std::fs::write(out.join("decisions.csv"), csv)?;
    Ok(())
}
