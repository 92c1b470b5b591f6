//! The scene track of issue #24: the same one-sided, free-pose scans scored twice by a
//! detector — once as the part alone (in the template's units), once as written by
//! `po3ad synth --scene` (in mm, on a table with a fixture and distractors, the units
//! found and the background removed by the detector's intake) — with object and point
//! AUROC of both on the part's points, the part points lost to background removal, the
//! background points kept, those of them inside a reported region's bounding box, and
//! regions whose centroid lies off the part.
//!
//! ```text
//! cargo run --release --example scene_eval -- OUT [--detector nearest] MESH...
//! ```
//! Removed part points count as score 0 (the lowest) in the point AUROC.
//! `SCENE_EVAL_VERBOSE=1` prints a line per scan; `SCENE_EVAL_ONLY=13_crack` scores
//! only that scan (for a look at one case; the AUROCs then mean nothing).

use anyhow::Context;
use po3ad::detector::calibration::NormalSource;
use po3ad::detector::{self, Detector, FitRequest, IntakeOptions, LoadOptions, UnitsArg};
use po3ad::device::DeviceArg;
use po3ad::train::{FitHooks, Preset};
use po3ad_core::dataset::{load_category, load_test_cloud, Layout};
use po3ad_core::io::Scan;
use po3ad_core::metrics::roc_auc;
use po3ad_core::scene::{DroppedPoints, Units};
use po3ad_core::synth::{write_category, SceneConfig, SynthConfig, SynthLayout};
use po3ad_core::PointCloud;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Default)]
struct Track {
    object: Vec<(bool, f64)>,
    points: Vec<(bool, f64)>,
}

impl Track {
    fn aurocs(&self) -> anyhow::Result<(f64, f64)> {
        let auc = |v: &[(bool, f64)]| {
            let (l, s): (Vec<bool>, Vec<f64>) = v.iter().copied().unzip();
            roc_auc(&l, &s)
        };
        Ok((auc(&self.object)?, auc(&self.points)?))
    }
}

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut kind = "nearest".to_string();
    if let Some(i) = args.iter().position(|a| a == "--detector") {
        kind = args.get(i + 1).context("--detector needs a kind")?.clone();
        args.drain(i..i + 2);
    }
    let (out, meshes) = args
        .split_first()
        .context("usage: scene_eval OUT MESH...")?;
    let out = PathBuf::from(out);
    println!("| part | clean obj | clean pt | scene obj | scene pt | part pts lost | background kept | background in regions | regions off part | s per scan clean / scene |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut sums = [0.0f64; 4];
    for mesh_path in meshes {
        let row = eval_mesh(&out, Path::new(mesh_path), &kind)?;
        for (s, v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
    let n = meshes.len().max(1) as f64;
    println!(
        "| mean | {:.3} | {:.3} | {:.3} | {:.3} | | | | | |",
        sums[0] / n,
        sums[1] / n,
        sums[2] / n,
        sums[3] / n
    );
    Ok(())
}

fn eval_mesh(out: &Path, mesh_path: &Path, kind: &str) -> anyhow::Result<[f64; 4]> {
    let name = mesh_path
        .file_stem()
        .and_then(|s| s.to_str())
        .context("mesh name")?
        .to_string();
    let data = out.join("data");
    let mesh = po3ad_core::io::read(mesh_path)?;
    let cfg = SynthConfig {
        seed: 1,
        scene: Some(SceneConfig::default()),
        ..SynthConfig::default()
    };
    let manifest = write_category(&mesh, &name, &data, SynthLayout::Real3d, &cfg)?;
    let part_points: HashMap<String, usize> = manifest
        .tests
        .iter()
        .filter_map(|t| {
            let stem = Path::new(&t.file).file_stem()?.to_str()?.to_string();
            Some((stem, t.scene.as_ref()?.part_points))
        })
        .collect();
    let cat = load_category(Layout::Real3d, &data, &name)?;
    let model = out.join(format!("model-{kind}-{name}"));
    Detector::fit(
        detector::kind(kind)?,
        FitRequest {
            files: &cat.train,
            out: &model,
            preset: &Preset::default(),
            resume: false,
            category: &name,
            device: DeviceArg::Cpu,
            hooks: FitHooks::default(),
            settings: None,
        },
    )?;
    let mut d = Detector::load(&model, &LoadOptions::default())?;
    d.calibrate(&NormalSource::TrainingViews(cat.train.clone()))?;
    let opts = IntakeOptions {
        units: UnitsArg::Auto,
        ..Default::default()
    };
    let (mut clean, mut scene) = (Track::default(), Track::default());
    let (mut lost, mut total_part, mut kept_background, mut off_part) = (0, 0, 0, 0);
    let mut bg_in_regions = 0;
    let (mut clean_secs, mut scene_secs) = (0.0, 0.0);
    for sample in &cat.test {
        let stem = sample
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if std::env::var("SCENE_EVAL_ONLY").is_ok_and(|only| only != stem) {
            continue;
        }
        let part = *part_points
            .get(stem)
            .with_context(|| format!("{}: not in the manifest", sample.path.display()))?;
        let cloud = load_test_cloud(sample)?;
        let labels: Vec<bool> = cloud.labels.as_ref().context("labels")?[..part]
            .iter()
            .map(|&l| l != 0)
            .collect();
        // The part alone, in the template's units (the scene is in mm of metres).
        let mut alone = PointCloud::from_points(cloud.points[..part].to_vec());
        po3ad_core::scene::units::scale(&mut alone, 0.001);
        let t0 = std::time::Instant::now();
        let (report, scores) = d.score(&alone)?;
        clean_secs += t0.elapsed().as_secs_f64();
        clean.object.push((sample.anomalous, report.object_score));
        clean
            .points
            .extend(labels.iter().zip(&scores).map(|(&l, &s)| (l, s as f64)));

        let n = cloud.points.len();
        let scan = Scan {
            cloud: PointCloud::from_points(cloud.points.clone()),
            dropped: DroppedPoints::none(n),
            units: Units::Unknown,
            format: "scene".into(),
        };
        let t0 = std::time::Instant::now();
        let scored = d.score_scan(scan, &opts)?;
        scene_secs += t0.elapsed().as_secs_f64();
        let file = scored.file_scores();
        scene
            .object
            .push((sample.anomalous, scored.report.object_score));
        scene.points.extend(
            labels
                .iter()
                .zip(&file[..part])
                .map(|(&l, &s)| (l, if s.is_nan() { 0.0 } else { s as f64 })),
        );
        if std::env::var_os("SCENE_EVAL_VERBOSE").is_some() {
            let fit = |r: &po3ad::detector::ScanReport| {
                r.registration
                    .as_ref()
                    .map(|f| format!("{} {:.3} {:.4}", f.registered, f.fitness, f.inlier_rmse))
                    .unwrap_or_default()
            };
            eprintln!(
                "{stem} anomalous={} clean {:.4} [{}] scene {:.4} [{}] lost {} kept bg {}",
                sample.anomalous,
                report.object_score,
                fit(&report),
                scored.report.object_score,
                fit(&scored.report),
                file[..part].iter().filter(|s| s.is_nan()).count(),
                file[part..].iter().filter(|s| !s.is_nan()).count()
            );
        }
        lost += file[..part].iter().filter(|s| s.is_nan()).count();
        total_part += part;
        kept_background += file[part..].iter().filter(|s| !s.is_nan()).count();
        // Kept background points inside a reported region's box (a region need not
        // have its centroid off the part to hold clutter).
        bg_in_regions += cloud.points[part..]
            .iter()
            .zip(&file[part..])
            .filter(|(p, s)| {
                !s.is_nan()
                    && scored
                        .report
                        .regions
                        .iter()
                        .flatten()
                        .any(|r| (0..3).all(|a| p[a] >= r.bbox_min[a] && p[a] <= r.bbox_max[a]))
            })
            .count();
        let part_cloud = PointCloud::from_points(cloud.points[..part].to_vec());
        if let Some((lo, hi)) = part_cloud.bbox() {
            off_part += scored
                .report
                .regions
                .iter()
                .flatten()
                .filter(|r| !(0..3).all(|a| r.centroid[a] >= lo[a] && r.centroid[a] <= hi[a]))
                .count();
        }
    }
    let (co, cp) = clean.aurocs()?;
    let (so, sp) = scene.aurocs()?;
    println!(
        "| {name} | {co:.3} | {cp:.3} | {so:.3} | {sp:.3} | {:.2} % | {kept_background} | {bg_in_regions} | {off_part} | {:.2} / {:.2} |",
        100.0 * lost as f64 / total_part.max(1) as f64,
        clean_secs / cat.test.len().max(1) as f64,
        scene_secs / cat.test.len().max(1) as f64
    );
    Ok([co, cp, so, sp])
}
