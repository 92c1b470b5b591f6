//! Scoring a whole test set: load each labelled test cloud, put it into the detector's
//! frame (its own normalization as SPEC.md says, or registered onto the training
//! template), score it, then compute object and point AUROC / AP over the category.

use crate::detector::placement::{place_with_noise, Placement};
use crate::detector::regions::{find_regions_with_members, RegionConfig};
use crate::detector::{Calibration, Detector};
use indicatif::{ProgressBar, ProgressStyle};
use po3ad_core::dataset::{load_test_cloud, Category, TestSample};
use po3ad_core::metrics::{average_precision, roc_auc};
use po3ad_core::report::{CategoryResult, RegistrationFit, SampleScore};
use po3ad_core::PointCloud;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Gaussian noise σ added after normalization (paper's robustness ablation).
    pub noise_sigma: f32,
    pub seed: u64,
    /// Where to write heatmaps (coloured PLY + PNG) of test samples, if anywhere.
    pub heatmap_dir: Option<PathBuf>,
    /// At most this many heatmaps (anomalous samples first).
    pub max_heatmaps: usize,
    pub progress: bool,
}

impl EvalOptions {
    /// Options of a test run writing into `out`: `heatmaps` heat maps under
    /// `out/heatmaps`, Gaussian noise σ = `noise` (0: the detector's own).
    pub fn for_output(out: &std::path::Path, heatmaps: usize, noise: f32, progress: bool) -> Self {
        Self {
            noise_sigma: noise,
            seed: 0,
            heatmap_dir: (heatmaps > 0).then(|| out.join("heatmaps")),
            max_heatmaps: heatmaps,
            progress,
        }
    }
}

/// `register (2 of 40 not registered)` and the like, for the end of a run.
pub fn frame_summary(eval: &CategoryEval) -> String {
    match (eval.frame, eval.unregistered) {
        ("register", 0) => "register (all registered)".into(),
        ("register", n) => format!("register ({n} of {} NOT registered)", eval.samples.len()),
        (f, _) => f.to_string(),
    }
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            noise_sigma: 0.0,
            seed: 0,
            heatmap_dir: None,
            max_heatmaps: 4,
            progress: false,
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
    /// The detector's [`crate::detector::Scorer::scoring`] settings.
    pub scoring: String,
    /// How the scores were made ([`Detector::provenance`]), for the results files.
    pub provenance: std::collections::BTreeMap<String, String>,
    /// Reported regions against the labels, when the detector has a calibration.
    pub regions: Option<RegionStats>,
    /// Every point's label and score, for the report's point-level curves.
    pub curves: po3ad_core::report::PointCurves,
}

/// How the regions a calibrated detector reports match the test set's labels.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RegionStats {
    pub normal_scans: usize,
    /// Normal scans with at least one reported region (false alarms).
    pub normal_scans_with_regions: usize,
    pub anomalous_scans: usize,
    pub anomalous_scans_with_regions: usize,
    /// Anomalous scans where a reported region holds at least one labelled defect point.
    pub anomalous_scans_hit: usize,
}

impl RegionStats {
    fn add(&mut self, cloud: &PointCloud, scores: &[f32], anomalous: bool, cal: &Calibration) {
        let regions: Vec<_> = find_regions_with_members(
            &cloud.points,
            scores,
            cal.point_threshold,
            &RegionConfig::default(),
        )
        .into_iter()
        .filter(|(r, _)| cal.region_threshold.is_none_or(|t| r.excess as f64 > t))
        .collect();
        let labels = cloud.labels.as_deref().unwrap_or(&[]);
        let hit = regions
            .iter()
            .any(|(_, m)| m.iter().any(|&i| labels.get(i).is_some_and(|&l| l != 0)));
        if anomalous {
            self.anomalous_scans += 1;
            self.anomalous_scans_with_regions += usize::from(!regions.is_empty());
            self.anomalous_scans_hit += usize::from(hit);
        } else {
            self.normal_scans += 1;
            self.normal_scans_with_regions += usize::from(!regions.is_empty());
        }
    }
}

/// A test cloud as the detector sees it: placed in its frame (+ optional noise).
pub fn prepare_test_cloud(
    sample: &TestSample,
    placement: &Placement,
    noise: f32,
    rng: &mut ChaCha8Rng,
) -> anyhow::Result<(PointCloud, Option<RegistrationFit>)> {
    let mut cloud = load_test_cloud(sample)?;
    let fit = place_with_noise(&mut cloud, placement, noise, rng)
        .map_err(|e| anyhow::anyhow!("{}: {e:#}", sample.path.display()))?;
    Ok((cloud, fit))
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

/// Score every test sample of `category` with `detector` (placed as it was loaded to
/// place scans) and compute the metrics. Noise: `opts.noise_sigma` when positive, else
/// the detector's own test noise (PO3AD's `test.noise_sigma`).
/// Object AUROC of each defect kind against the normal scans (kinds with a name and
/// at least one scan; none without normal scans).
pub fn by_defect_auroc(samples: &[SampleScore]) -> std::collections::BTreeMap<String, f64> {
    let normal: Vec<f64> = samples
        .iter()
        .filter(|s| !s.anomalous)
        .map(|s| s.object_score)
        .collect();
    let mut out = std::collections::BTreeMap::new();
    if normal.is_empty() {
        return out;
    }
    let kinds: std::collections::BTreeSet<&str> = samples
        .iter()
        .filter(|s| s.anomalous && !s.defect.is_empty())
        .map(|s| s.defect.as_str())
        .collect();
    for kind in kinds {
        let defective: Vec<f64> = samples
            .iter()
            .filter(|s| s.anomalous && s.defect == kind)
            .map(|s| s.object_score)
            .collect();
        let labels: Vec<bool> = normal
            .iter()
            .map(|_| false)
            .chain(defective.iter().map(|_| true))
            .collect();
        let scores: Vec<f64> = normal.iter().chain(&defective).copied().collect();
        if let Ok(a) = roc_auc(&labels, &scores) {
            out.insert(kind.to_string(), a);
        }
    }
    out
}

pub fn evaluate_category(
    detector: &Detector,
    category: &Category,
    opts: &EvalOptions,
) -> anyhow::Result<CategoryEval> {
    let start = Instant::now();
    let scorer = detector.scorer();
    let placement = detector.placement();
    let noise = if opts.noise_sigma > 0.0 {
        opts.noise_sigma
    } else {
        scorer.test_noise()
    };
    let mut unregistered = 0;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut object_labels = Vec::new();
    let mut object_scores = Vec::new();
    let mut point_labels = Vec::new();
    let mut point_scores = Vec::new();
    let mut samples = Vec::new();
    let mut heatmaps_left = opts.max_heatmaps;
    let calibration = detector.calibration();
    let mut region_stats = calibration.map(|_| RegionStats::default());
    let mut curves = po3ad_core::report::PointCurves::new();
    // Anomalous samples first, so the heatmap budget goes to the interesting ones.
    let mut order: Vec<&TestSample> = category.test.iter().collect();
    order.sort_by_key(|s| !s.anomalous);

    let pb = bar(order.len(), opts.progress, &category.name);
    for chunk in order.chunks(scorer.batch_size().max(1)) {
        let (clouds, fits): (Vec<PointCloud>, Vec<Option<RegistrationFit>>) = chunk
            .iter()
            .map(|s| prepare_test_cloud(s, placement, noise, &mut rng))
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        let refs: Vec<&PointCloud> = clouds.iter().collect();
        let scores = scorer.score(&refs)?;
        for (((sample, cloud), scored), fit) in chunk.iter().zip(&clouds).zip(&scores).zip(&fits) {
            if fit.is_some_and(|f| !f.registered) {
                unregistered += 1;
            }
            curves.add_scan(
                &sample.defect,
                sample.anomalous,
                cloud.labels.as_deref(),
                &scored.points,
            );
            if let (Some(stats), Some(cal)) = (region_stats.as_mut(), calibration) {
                stats.add(cloud, &scored.points, sample.anomalous, cal);
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
                    super::heatmaps::write_heatmaps(dir, &sample.name, cloud, s)?;
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
        by_defect: by_defect_auroc(&samples),
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
        provenance: detector.provenance(),
        regions: region_stats,
        curves,
    })
}
