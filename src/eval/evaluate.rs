//! Scoring a whole test set: load each labelled test cloud, put it into the detector's
//! frame (its own normalization as SPEC.md says, or registered onto the training
//! template), score it, then compute object and point AUROC / AP over the category.

use super::placement::{FrameMode, Placement};
use super::score::Scorer;
use indicatif::{ProgressBar, ProgressStyle};
use po3ad_core::dataset::{load_test_cloud, Category, TestSample};
use po3ad_core::metrics::{average_precision, roc_auc};
use po3ad_core::registration::RegistrationConfig;
use po3ad_core::report::{CategoryResult, RegistrationFit, SampleScore};
use po3ad_core::PointCloud;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Gaussian noise σ added after normalization (paper's robustness ablation).
    pub noise_sigma: f32,
    pub seed: u64,
    /// Clouds per forward pass.
    pub batch_size: usize,
    /// Where to write heatmaps (coloured PLY + PNG) of test samples, if anywhere.
    pub heatmap_dir: Option<PathBuf>,
    /// At most this many heatmaps (anomalous samples first).
    pub max_heatmaps: usize,
    pub progress: bool,
    /// How scans are put into the detector's frame.
    pub frame: FrameMode,
    pub registration: RegistrationConfig,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            noise_sigma: 0.0,
            seed: 0,
            batch_size: 4,
            heatmap_dir: None,
            max_heatmaps: 4,
            progress: false,
            frame: FrameMode::Auto,
            registration: RegistrationConfig::default(),
        }
    }
}

pub struct CategoryEval {
    pub result: CategoryResult,
    pub samples: Vec<SampleScore>,
    /// How scans were placed: scan, fixed or register.
    pub frame: &'static str,
    /// Scans whose registration failed its quality gate (scored anyway, flagged).
    pub unregistered: usize,
    /// The scorer's [`Scorer::scoring`] settings.
    pub scoring: String,
}

/// A test cloud as the detector sees it: placed in its frame (+ optional noise).
pub fn prepare_test_cloud(
    sample: &TestSample,
    placement: &Placement,
    noise: f32,
    rng: &mut ChaCha8Rng,
) -> anyhow::Result<(PointCloud, Option<RegistrationFit>)> {
    let mut cloud = load_test_cloud(sample)?;
    let fit = prepare_cloud_with_noise(&mut cloud, placement, noise, rng)
        .map_err(|e| anyhow::anyhow!("{}: {e:#}", sample.path.display()))?;
    Ok((cloud, fit))
}

/// Place `cloud` in the detector's frame, then add Gaussian noise σ = `noise` there.
pub fn prepare_cloud_with_noise(
    cloud: &mut PointCloud,
    placement: &Placement,
    noise: f32,
    rng: &mut ChaCha8Rng,
) -> anyhow::Result<Option<RegistrationFit>> {
    let fit = placement.place(cloud)?;
    if noise > 0.0 {
        let normal = Normal::new(0.0f32, noise)?;
        for p in &mut cloud.points {
            for v in p.iter_mut() {
                *v += normal.sample(rng);
            }
        }
    }
    Ok(fit)
}

fn bar(n: usize, show: bool, label: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(n as u64);
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} clouds ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_prefix(format!("test {label}"));
    pb
}

pub fn evaluate_category(
    scorer: &dyn Scorer,
    category: &Category,
    opts: &EvalOptions,
) -> anyhow::Result<CategoryEval> {
    let start = Instant::now();
    let placement = Placement::new(
        opts.frame,
        scorer.pose_dependent(),
        scorer.frame(),
        &opts.registration,
    )?;
    let mut unregistered = 0;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut object_labels = Vec::new();
    let mut object_scores = Vec::new();
    let mut point_labels = Vec::new();
    let mut point_scores = Vec::new();
    let mut samples = Vec::new();
    let mut heatmaps_left = opts.max_heatmaps;
    // Anomalous samples first, so the heatmap budget goes to the interesting ones.
    let mut order: Vec<&TestSample> = category.test.iter().collect();
    order.sort_by_key(|s| !s.anomalous);

    let pb = bar(order.len(), opts.progress, &category.name);
    for chunk in order.chunks(opts.batch_size.max(1)) {
        let (clouds, fits): (Vec<PointCloud>, Vec<Option<RegistrationFit>>) = chunk
            .iter()
            .map(|s| prepare_test_cloud(s, &placement, opts.noise_sigma, &mut rng))
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        let refs: Vec<&PointCloud> = clouds.iter().collect();
        let scores = scorer.score(&refs)?;
        for (((sample, cloud), scored), fit) in chunk.iter().zip(&clouds).zip(&scores).zip(&fits) {
            if fit.is_some_and(|f| !f.registered) {
                unregistered += 1;
            }
            let (s, obj) = (&scored.points, scored.object);
            object_labels.push(sample.anomalous);
            object_scores.push(obj);
            let labels = cloud.labels.clone().unwrap_or_else(|| vec![0; cloud.len()]);
            point_labels.extend(labels.iter().map(|&l| l != 0));
            point_scores.extend(s.iter().map(|&v| v as f64));
            samples.push(SampleScore {
                name: sample.name.clone(),
                defect: sample.defect.clone(),
                anomalous: sample.anomalous,
                object_score: obj,
                points: cloud.len(),
                registration: *fit,
            });
            if let Some(dir) = &opts.heatmap_dir {
                if heatmaps_left > 0 {
                    heatmaps_left -= 1;
                    crate::cli::common::write_heatmaps(dir, &sample.name, cloud, s)?;
                }
            }
        }
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();

    let metric = |r: po3ad_core::Result<f64>, what: &str| -> anyhow::Result<f64> {
        r.map_err(|e| anyhow::anyhow!("{}: cannot compute {what}: {e}", category.name))
    };
    let result = CategoryResult {
        category: category.name.clone(),
        object_auroc: metric(roc_auc(&object_labels, &object_scores), "object AUROC")?,
        object_ap: metric(
            average_precision(&object_labels, &object_scores),
            "object AP",
        )?,
        point_auroc: metric(roc_auc(&point_labels, &point_scores), "point AUROC")?,
        point_ap: metric(average_precision(&point_labels, &point_scores), "point AP")?,
        train_seconds: 0.0,
        test_seconds: start.elapsed().as_secs_f64(),
    };
    if unregistered > 0 {
        eprintln!(
            "warning: {}: {unregistered} of {} scans could not be registered to the training \
             pose; their scores are unreliable (flagged in scores.csv: registered = false)",
            category.name,
            samples.len()
        );
    }
    Ok(CategoryEval {
        result,
        samples,
        frame: placement.name(),
        unregistered,
        scoring: scorer.scoring(),
    })
}
