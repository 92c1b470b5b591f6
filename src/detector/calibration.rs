//! Calibration: the object and point thresholds that turn a detector's raw scores into
//! verdicts, chosen from normal data by one stated rule, and stored beside the model in
//! `calibration.json` (separate from the model file, so no checkpoint format changes).
//!
//! The rule ([`CalibrationRule`], the same for every detector and every source of
//! normal data):
//! - **object threshold** = max over the normal scans' object scores × `margin` (1.1);
//! - **point threshold** = the `point_quantile` (0.99) quantile of all normal point
//!   scores pooled, with linear interpolation between order statistics (numpy's
//!   default: position h = (n − 1)·q, value x⌊h⌋ + (h − ⌊h⌋)(x⌊h⌋+1 − x⌊h⌋)).
//!
//! - **region threshold** = the largest [`Region::excess`](super::regions::Region) of
//!   any region (connected over-threshold points, [`super::regions`]) in the normal
//!   scans × `object_margin`: a region is reported only when it stands out more than
//!   anything the normal data showed (the point threshold alone flags 1 % of every
//!   normal scan's points, which cluster into "regions" on a defect-free part).
//!
//! A scan is **anomalous** when its object score is strictly above the object
//! threshold. Its **normalized score** maps the threshold to 0.5, as anomalib does:
//! `clamp(0.5 · score / threshold, 0, 1)` (scores are non-negative for every detector).
//!
//! Normal scans that cannot be registered to the training pose are left out.
//!
//! Normal data comes from `po3ad calibrate --normal DIR` / `train --calibrate DIR`
//! (real normal scans, scored as they are), or by default from the training files
//! themselves ([`default_normal_views`]): fresh surface samples of training meshes,
//! random 80 % subsets of training scans, at least 8 views in all, each scored with
//! Gaussian noise σ = 0.002 (unit-sphere units) added after it is placed in the
//! detector's frame.
//!
//! One file holds one entry per detector (`po3ad`, `nearest`), since a model folder
//! holds PO3AD's `model.po3ad` and its `nearest.json` companion side by side.

use super::placement::{place_with_noise, Placement};
use super::scorer::Scorer;
use anyhow::Context;
use po3ad_core::{io, PointCloud};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const CALIBRATION_FILE: &str = "calibration.json";
const FORMAT: &str = "po3ad-calibration";
const FORMAT_VERSION: u32 = 1;

/// Noise σ (unit-sphere units) added to the default normal views.
pub const DEFAULT_VIEW_NOISE: f32 = 0.002;
/// Fraction of a training scan's points kept in one default view.
pub const DEFAULT_VIEW_KEEP: f64 = 0.8;
/// Default normal views in all (at least one per training file).
pub const DEFAULT_MIN_VIEWS: usize = 8;
/// Surface samples drawn from a training mesh per default view.
pub const DEFAULT_MESH_POINTS: usize = 30_000;

/// How thresholds follow from normal scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationRule {
    /// Object threshold = max normal object score × margin.
    pub object_margin: f64,
    /// Point threshold = this quantile of the pooled normal point scores.
    pub point_quantile: f64,
}

impl Default for CalibrationRule {
    fn default() -> Self {
        Self {
            object_margin: 1.1,
            point_quantile: 0.99,
        }
    }
}

/// Thresholds of one detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub object_threshold: f64,
    pub point_threshold: f32,
    pub rule: CalibrationRule,
    /// `training-views` (the default) or the folder of normal scans used.
    pub source: String,
    pub normal_scans: usize,
    pub normal_points: usize,
    /// The score settings the thresholds hold for (e.g. PO3AD's object rule and fused
    /// nearest weight); a test run with other settings does not use them.
    pub scoring: String,
    /// Largest object score among the normal scans (before the margin).
    pub max_normal_object_score: f64,
    /// Smallest [`Region::excess`](super::regions::Region) a reported region must exceed
    /// (None in calibrations saved before regions were calibrated: every region is
    /// reported).
    #[serde(default)]
    pub region_threshold: Option<f64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CalibrationFile {
    format: String,
    version: u32,
    detectors: BTreeMap<String, Calibration>,
}

/// The `q` quantile of `values` with linear interpolation between order statistics
/// (numpy's default). NaNs are ignored; None when nothing is left.
pub fn quantile(values: &[f32], q: f64) -> Option<f32> {
    let mut v: Vec<f32> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    let h = (v.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    let frac = h - lo as f64;
    Some((v[lo] as f64 + frac * (v[hi] as f64 - v[lo] as f64)) as f32)
}

impl Calibration {
    /// Apply `rule` to normal object scores and pooled normal point scores.
    pub fn from_scores(
        object_scores: &[f64],
        point_scores: &[f32],
        rule: CalibrationRule,
        source: &str,
        scoring: &str,
    ) -> anyhow::Result<Self> {
        let max = object_scores
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .fold(f64::NEG_INFINITY, f64::max);
        if !max.is_finite() {
            anyhow::bail!("calibration: no finite object score among the normal scans");
        }
        let point_threshold = quantile(point_scores, rule.point_quantile)
            .filter(|v| v.is_finite())
            .context("calibration: no finite point score among the normal scans")?;
        Ok(Self {
            object_threshold: max * rule.object_margin,
            point_threshold,
            rule,
            source: source.to_string(),
            normal_scans: object_scores.len(),
            normal_points: point_scores.len(),
            scoring: scoring.to_string(),
            max_normal_object_score: max,
            region_threshold: None,
        })
    }

    /// `clamp(0.5 · score / threshold, 0, 1)`: the threshold maps to 0.5.
    pub fn normalized(&self, object_score: f64) -> f64 {
        normalize(object_score, self.object_threshold)
    }

    /// Anomalous when the object score is strictly above the threshold.
    pub fn is_anomalous(&self, object_score: f64) -> bool {
        object_score > self.object_threshold
    }

    /// `"anomalous"` or `"normal"`.
    pub fn verdict(&self, object_score: f64) -> &'static str {
        if self.is_anomalous(object_score) {
            "anomalous"
        } else {
            "normal"
        }
    }

    /// The entry for `detector` in `dir/calibration.json`, if the file has one.
    pub fn load(dir: &Path, detector: &str) -> anyhow::Result<Option<Self>> {
        let path = dir.join(CALIBRATION_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        Ok(read_file(&path)?.detectors.get(detector).cloned())
    }

    /// Store as the entry for `detector` in `dir/calibration.json` (other detectors'
    /// entries are kept); returns the file's path.
    pub fn save(&self, dir: &Path, detector: &str) -> anyhow::Result<PathBuf> {
        let path = dir.join(CALIBRATION_FILE);
        let mut file = if path.is_file() {
            read_file(&path)?
        } else {
            CalibrationFile {
                format: FORMAT.into(),
                version: FORMAT_VERSION,
                detectors: BTreeMap::new(),
            }
        };
        file.detectors.insert(detector.to_string(), self.clone());
        let json = serde_json::to_string_pretty(&file)? + "\n";
        io::atomic::write_atomic(&path, json.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

/// `clamp(0.5 · score / threshold, 0, 1)`; with a threshold ≤ 0: 1 above it, else 0.5.
pub fn normalize(score: f64, threshold: f64) -> f64 {
    if threshold > 0.0 {
        (0.5 * score / threshold).clamp(0.0, 1.0)
    } else if score > threshold {
        1.0
    } else {
        0.5
    }
}

fn read_file(path: &Path) -> anyhow::Result<CalibrationFile> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let file: CalibrationFile = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a po3ad calibration file ({e})", path.display()))?;
    if file.format != FORMAT || file.version != FORMAT_VERSION {
        anyhow::bail!(
            "{}: format '{}' version {}, expected '{FORMAT}' version {FORMAT_VERSION}",
            path.display(),
            file.format,
            file.version
        );
    }
    for (name, c) in &file.detectors {
        if !(c.object_threshold.is_finite() && c.point_threshold.is_finite()) {
            anyhow::bail!(
                "{}: detector '{name}' has a non-finite threshold",
                path.display()
            );
        }
    }
    Ok(file)
}

/// Normal views made from the training files (file coordinates): for each view, a
/// fresh surface sample of a mesh ([`DEFAULT_MESH_POINTS`]) or a random
/// [`DEFAULT_VIEW_KEEP`] subset of a scan's points; `max(files, DEFAULT_MIN_VIEWS)`
/// views in all, cycling through the files.
pub fn default_normal_views(files: &[PathBuf], seed: u64) -> anyhow::Result<Vec<PointCloud>> {
    if files.is_empty() {
        anyhow::bail!("calibration: no training files");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let loaded: Vec<PointCloud> = files
        .iter()
        .map(|f| io::read(f).with_context(|| format!("reading {}", f.display())))
        .collect::<anyhow::Result<_>>()?;
    let n = files.len().max(DEFAULT_MIN_VIEWS);
    let mut views = Vec::with_capacity(n);
    for i in 0..n {
        let (cloud, file) = (&loaded[i % files.len()], &files[i % files.len()]);
        let view = if cloud.is_mesh() {
            po3ad_core::geometry::sample_surface(cloud, DEFAULT_MESH_POINTS, &mut rng)
                .with_context(|| format!("{}: surface sampling", file.display()))?
        } else {
            let keep = ((cloud.len() as f64 * DEFAULT_VIEW_KEEP).ceil() as usize).max(1);
            let mut idx = sample(&mut rng, cloud.len(), keep.min(cloud.len())).into_vec();
            idx.sort_unstable();
            let mut v = cloud.select(&idx);
            v.faces.clear();
            v.labels = None;
            v
        };
        views.push(view);
    }
    Ok(views)
}

/// Object scores and pooled point scores of normal clouds (file coordinates), each
/// placed in the detector's frame, with Gaussian noise `noise` added there. Clouds that
/// fail registration's quality gate are left out (with a warning): their scores
/// measure the failed pose, not the part.
pub fn score_normal_clouds(
    scorer: &dyn Scorer,
    placement: &Placement,
    clouds: Vec<PointCloud>,
    noise: f32,
    seed: u64,
) -> anyhow::Result<(Vec<f64>, Vec<f32>)> {
    let (objects, views) = score_normal_views(scorer, placement, clouds, noise, seed)?;
    Ok((objects, views.into_iter().flat_map(|(_, s)| s).collect()))
}

/// Like [`score_normal_clouds`], with each view's placed points and point scores kept
/// apart (for the region threshold).
pub fn score_normal_views(
    scorer: &dyn Scorer,
    placement: &Placement,
    clouds: Vec<PointCloud>,
    noise: f32,
    seed: u64,
) -> anyhow::Result<(Vec<f64>, Vec<NormalView>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut objects, mut views, mut skipped) = (Vec::new(), Vec::new(), 0);
    for (i, mut cloud) in clouds.into_iter().enumerate() {
        let fit = place_with_noise(&mut cloud, placement, noise, &mut rng)
            .with_context(|| format!("normal view {i}"))?;
        if fit.is_some_and(|f| !f.registered) {
            skipped += 1;
            continue;
        }
        if let Some(s) = scorer.score(&[&cloud])?.pop() {
            objects.push(s.object);
            views.push((cloud.points, s.points));
        }
    }
    if objects.is_empty() {
        anyhow::bail!(
            "calibration: none of the {skipped} normal scans could be registered to the training pose"
        );
    }
    if skipped > 0 {
        eprintln!(
            "warning: calibration: {skipped} of {} normal scans could not be registered to the \
             training pose and were left out",
            skipped + objects.len()
        );
    }
    Ok((objects, views))
}

/// Where normal scores come from.
#[derive(Debug, Clone)]
pub enum NormalSource {
    /// Default views of these training files (noisy, resampled).
    TrainingViews(Vec<PathBuf>),
    /// Real normal scans in this folder, scored as they are.
    Scans(PathBuf),
}

/// The scan files of a folder of normal scans (hidden files skipped), sorted.
pub fn normal_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let files: Vec<PathBuf> = crate::train::data::files_in(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    if files.is_empty() {
        anyhow::bail!("{}: no normal scans in this folder", dir.display());
    }
    Ok(files)
}

/// Calibrate `scorer` (placed by `placement`) from `source` and save it as
/// `detector`'s entry in `dir`.
pub fn calibrate_scorer(
    scorer: &dyn Scorer,
    detector: &str,
    dir: &Path,
    source: &NormalSource,
    placement: &Placement,
) -> anyhow::Result<(Calibration, PathBuf)> {
    let (clouds, noise, name) = match source {
        NormalSource::TrainingViews(files) => (
            default_normal_views(files, 7)?,
            DEFAULT_VIEW_NOISE,
            "training-views".to_string(),
        ),
        NormalSource::Scans(folder) => {
            let files = normal_files(folder)?;
            let clouds = files
                .iter()
                .map(|f| io::read(f).with_context(|| format!("reading {}", f.display())))
                .collect::<anyhow::Result<Vec<_>>>()?;
            (clouds, 0.0, folder.display().to_string())
        }
    };
    let (objects, views) = score_normal_views(scorer, placement, clouds, noise, 11)?;
    let points: Vec<f32> = views.iter().flat_map(|(_, s)| s.iter().copied()).collect();
    let mut cal = Calibration::from_scores(
        &objects,
        &points,
        CalibrationRule::default(),
        &name,
        &scorer.scoring(),
    )?;
    cal.region_threshold = Some(region_threshold(&views, &cal));
    let path = cal.save(dir, detector)?;
    Ok((cal, path))
}

/// One normal view: its placed points and their scores.
pub type NormalView = (Vec<[f32; 3]>, Vec<f32>);

/// `object_margin` × the largest region excess over the normal views at the point
/// threshold (0 when no normal view has a region).
pub fn region_threshold(views: &[NormalView], cal: &Calibration) -> f64 {
    let max = views
        .iter()
        .flat_map(|(p, s)| {
            super::regions::find_regions(p, s, cal.point_threshold, &Default::default())
        })
        .map(|r| r.excess as f64)
        .fold(0.0, f64::max);
    max * cal.rule.object_margin
}

/// The training files recorded in a model folder (its `nearest.json` sources, which
/// every PO3AD fit writes too), for the default calibration.
pub fn recorded_training_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let path = dir.join(super::NEAREST_FILE);
    let manifest = super::Manifest::load(dir).ok().flatten();
    let files: Vec<PathBuf> = match manifest.filter(|m| !m.sources.is_empty()) {
        Some(m) => m.sources.iter().map(PathBuf::from).collect(),
        None => super::NearestTemplate::load(&path)
            .with_context(|| {
                format!(
                    "the default calibration needs the training files, recorded in {}; give --normal DIR",
                    path.display()
                )
            })?
            .sources
            .iter()
            .map(PathBuf::from)
            .collect(),
    };
    if let Some(missing) = files.iter().find(|f| !f.is_file()) {
        anyhow::bail!(
            "{}: training file recorded in {} is gone; give --normal DIR",
            missing.display(),
            dir.display()
        );
    }
    Ok(files)
}

/// The calibration saved for `detector` in `dir`, if it holds for the scorer's
/// settings (a note or warning on stderr says why not otherwise). `model_path` is the
/// path the user named, for the hint.
pub fn usable(
    dir: &Path,
    model_path: &Path,
    detector: &str,
    scoring: &str,
) -> anyhow::Result<Option<Calibration>> {
    match Calibration::load(dir, detector)? {
        None => {
            eprintln!(
                "note: {} has no calibration for {detector}: no verdicts (run `po3ad calibrate --model {}`)",
                dir.display(),
                model_path.display()
            );
            Ok(None)
        }
        Some(c) if c.scoring != scoring => {
            eprintln!(
                "warning: {}: the thresholds were chosen for '{}', these scores are '{scoring}': \
                 no verdicts (run `po3ad calibrate` again)",
                dir.join(CALIBRATION_FILE).display(),
                c.scoring
            );
            Ok(None)
        }
        Some(c) => Ok(Some(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_by_hand() {
        let v: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        // h = 999 · 0.99 = 989.01 → 989 + 0.01 · (990 − 989).
        assert!((quantile(&v, 0.99).unwrap() - 989.01).abs() < 1e-3);
        assert_eq!(quantile(&v, 0.0), Some(0.0));
        assert_eq!(quantile(&v, 1.0), Some(999.0));
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn normalization_maps_the_threshold_to_one_half() {
        assert_eq!(normalize(2.0, 2.0), 0.5);
        assert_eq!(normalize(1.0, 2.0), 0.25);
        assert_eq!(normalize(10.0, 2.0), 1.0);
        assert_eq!(normalize(-1.0, 2.0), 0.0);
        assert_eq!(normalize(0.0, 0.0), 0.5);
        assert_eq!(normalize(0.1, 0.0), 1.0);
    }
}
