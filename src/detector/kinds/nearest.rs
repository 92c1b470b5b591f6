//! The nearest-template detector: a point's score is its distance to the nearest point
//! of the category's training clouds (all in the training frame), an object's score
//! the mean of its highest point scores. Training-free apart from building the tree;
//! the strongest simple baseline for scans that can be put into the training pose, so
//! every other detector is measured against it.
//!
//! Saved as one JSON file (`nearest.json` in the detector's folder): the configuration,
//! the training frame and the template points, so `test`, `predict` and `benchmark`
//! load it like a trained model.

use super::saved::{read_json, versioned};
use crate::detector::placement::FrameNeed;
use crate::detector::registry::{FitOutcome, FitRequest, KindSpec, LoadRequest};
use crate::detector::scorer::Scorer;
use crate::score_rule::top_mean;
use anyhow::Context;
use po3ad_core::frame::TrainingFrame;
use po3ad_core::geometry::{normalize_unit_sphere, voxel_downsample, KdTree};
use po3ad_core::registration::{refine, Registration, RegistrationConfig, RegistrationTarget};
use po3ad_core::{io, PointCloud};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const NEAREST_FILE: &str = "nearest.json";

pub const KIND: KindSpec = KindSpec {
    name: "nearest",
    about: "distance to the nearest point of the pooled training clouds (training-free)",
    marker_file: NEAREST_FILE,
    takes_settings: true,
    fit,
    load,
};

/// Build with `cfg` from `files` and save into `out`; returns the detector and the file
/// it went to (PO3AD's fit builds its companion with the defaults).
pub fn fit_and_save(
    files: &[PathBuf],
    out: &Path,
    cfg: &NearestConfig,
) -> anyhow::Result<(NearestTemplate, PathBuf)> {
    let d = NearestTemplate::fit(files, cfg, &RegistrationConfig::default())?;
    let path = d.save(out)?;
    Ok((d, path))
}

fn fit(req: FitRequest<'_>) -> anyhow::Result<FitOutcome> {
    let t0 = std::time::Instant::now();
    let cfg: NearestConfig = req.settings_or_default("nearest", NearestConfig::validate)?;
    let (d, path) = fit_and_save(req.files, req.out, &cfg)?;
    Ok(FitOutcome {
        settings: serde_json::to_value(&d.config)?,
        files: vec![("reference", NEAREST_FILE.to_string())],
        frame: Some((&d.frame).into()),
        summary: format!(
            "built nearest-template detector '{}' from {} file(s): {} points, {:.1} s; model: {}",
            req.category,
            req.files.len(),
            d.len(),
            t0.elapsed().as_secs_f64(),
            path.display()
        ),
    })
}

fn load(req: &LoadRequest<'_>) -> anyhow::Result<Box<dyn Scorer + Send>> {
    Ok(Box::new(NearestTemplate::load(&req.file)?))
}
const FORMAT: &str = "po3ad-nearest-template";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NearestConfig {
    /// Surface samples drawn from each training mesh (raw clouds are used as they are).
    pub surface_points: usize,
    /// Neighbours for PCA normals of raw training clouds.
    pub normal_k: usize,
    /// Fraction of the highest point scores averaged into the object score.
    pub top_fraction: f64,
    /// Align every training cloud to the first one by ICP before pooling them, so that
    /// templates scanned in slightly different poses do not blur the reference.
    pub align_templates: bool,
    /// Voxel size (unit-sphere units) the pooled templates are thinned to.
    pub pool_voxel: f32,
    pub seed: u64,
}

impl Default for NearestConfig {
    fn default() -> Self {
        Self {
            surface_points: 30_000,
            normal_k: 16,
            top_fraction: 0.01,
            align_templates: true,
            pool_voxel: 0.004,
            seed: 42,
        }
    }
}

impl NearestConfig {
    /// Values a settings file may get wrong: counts that must be positive, a fraction
    /// in (0, 1], a positive voxel.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.surface_points == 0 || self.normal_k < 3 {
            anyhow::bail!(
                "nearest: surface_points must be at least 1 and normal_k at least 3 (got {}, {})",
                self.surface_points,
                self.normal_k
            );
        }
        if !(self.top_fraction > 0.0 && self.top_fraction <= 1.0) {
            anyhow::bail!(
                "nearest: top_fraction must be in (0, 1], got {}",
                self.top_fraction
            );
        }
        if !(self.pool_voxel.is_finite() && self.pool_voxel > 0.0) {
            anyhow::bail!(
                "nearest: pool_voxel must be positive, got {}",
                self.pool_voxel
            );
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
struct Saved {
    format: String,
    version: u32,
    config: NearestConfig,
    frame: TrainingFrame,
    sources: Vec<String>,
    points: Vec<[f32; 3]>,
}
versioned!(Saved);

pub struct NearestTemplate {
    pub config: NearestConfig,
    pub frame: TrainingFrame,
    pub sources: Vec<String>,
    points: Vec<[f32; 3]>,
    tree: KdTree,
}

/// A training file as training prepares it: surface samples for meshes, normals, then
/// CenterShift (returned with its shift).
fn prepare(
    path: &Path,
    cfg: &NearestConfig,
    rng: &mut ChaCha8Rng,
) -> anyhow::Result<(PointCloud, [f32; 3])> {
    let mut cloud = io::read(path)?;
    if cloud.is_mesh() && cfg.surface_points > 0 {
        cloud = po3ad_core::geometry::sample_surface(&cloud, cfg.surface_points, rng)?;
    }
    po3ad_core::geometry::ensure_normals(&mut cloud, cfg.normal_k)
        .with_context(|| format!("{}: normals", path.display()))?;
    cloud.faces.clear();
    cloud.labels = None;
    let shift = po3ad_core::geometry::center_shift(&mut cloud);
    Ok((cloud, shift))
}

/// The training files in the training frame, as every pose-dependent kind sees them:
/// each prepared like PO3AD's training clouds (mesh surface samples, normals,
/// CenterShift, unit sphere), then aligned onto the first by ICP (when
/// `cfg.align_templates`), with the frame the first one defines. Normals are kept
/// (rotated with the points).
pub fn training_clouds(
    files: &[PathBuf],
    cfg: &NearestConfig,
    registration: &RegistrationConfig,
) -> anyhow::Result<(TrainingFrame, Vec<PointCloud>)> {
    if files.is_empty() {
        anyhow::bail!("no training files were found");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut prepared = Vec::with_capacity(files.len());
    for f in files {
        prepared.push(prepare(f, cfg, &mut rng)?);
    }
    let (first, first_shift) = &prepared[0];
    let frame = TrainingFrame::from_centered(first, *first_shift)?;
    let target = RegistrationTarget::new(&frame.points, &frame.normals, registration)?;
    let mut clouds = Vec::with_capacity(prepared.len());
    for (i, (cloud, _)) in prepared.iter().enumerate() {
        // Each training cloud in its own normalization, as PO3AD trains on it.
        let mut c = cloud.clone();
        normalize_unit_sphere(&mut c)
            .with_context(|| format!("{}: normalizing", files[i].display()))?;
        if i > 0 && cfg.align_templates {
            let reg = refine(&c.points, &target, &Registration::identity(), registration)?;
            // Templates of one part differ slightly in shape (scale, tolerances),
            // which a rigid fit cannot remove, so the RMSE gate is not asked for:
            // ICP from the identity only moves a template that overlaps.
            if reg.fitness >= registration.min_fitness {
                for p in &mut c.points {
                    *p = reg.apply(*p);
                }
                if let Some(normals) = &mut c.normals {
                    for n in normals.iter_mut() {
                        *n = reg.apply_vector(*n);
                    }
                }
            } else {
                eprintln!(
                    "warning: {} does not align with {} (fitness {:.2}); pooled unaligned",
                    files[i].display(),
                    files[0].display(),
                    reg.fitness
                );
            }
        }
        clouds.push(c);
    }
    Ok((frame, clouds))
}

impl NearestTemplate {
    /// Build from the training files of a category (meshes or normal scans).
    pub fn fit(
        files: &[PathBuf],
        cfg: &NearestConfig,
        registration: &RegistrationConfig,
    ) -> anyhow::Result<Self> {
        cfg.validate()?;
        let (frame, clouds) = training_clouds(files, cfg, registration)?;
        let pooled: Vec<[f32; 3]> = clouds.into_iter().flat_map(|c| c.points).collect();
        let pooled = voxel_downsample(&PointCloud::from_points(pooled), cfg.pool_voxel)?.points;
        Ok(Self::from_parts(
            cfg.clone(),
            frame,
            files.iter().map(|f| f.display().to_string()).collect(),
            pooled,
        ))
    }

    fn from_parts(
        config: NearestConfig,
        frame: TrainingFrame,
        sources: Vec<String>,
        points: Vec<[f32; 3]>,
    ) -> Self {
        let tree = KdTree::new(&points);
        Self {
            config,
            frame,
            sources,
            points,
            tree,
        }
    }

    /// Number of pooled template points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Write `dir/nearest.json` atomically; returns its path.
    pub fn save(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let saved = Saved {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            config: self.config.clone(),
            frame: self.frame.clone(),
            sources: self.sources.clone(),
            points: self.points.clone(),
        };
        let path = dir.join(NEAREST_FILE);
        let json = serde_json::to_vec(&saved)?;
        io::atomic::write_atomic(&path, &json)?;
        Ok(path)
    }

    /// Read a file [`save`](Self::save) wrote; refuses anything else with the reason.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let saved: Saved = read_json(path, "nearest-template detector", FORMAT, FORMAT_VERSION)?;
        saved
            .frame
            .validate()
            .with_context(|| path.display().to_string())?;
        if saved.points.is_empty() || saved.points.iter().flatten().any(|c| !c.is_finite()) {
            anyhow::bail!("{}: empty or non-finite template points", path.display());
        }
        Ok(Self::from_parts(
            saved.config,
            saved.frame,
            saved.sources,
            saved.points,
        ))
    }

    /// Distance of each point to the nearest template point.
    pub fn distances(&self, points: &[[f32; 3]]) -> Vec<f32> {
        points
            .par_iter()
            .map(|&p| self.tree.nearest(p).1.sqrt())
            .collect()
    }
}

impl Scorer for NearestTemplate {
    fn score_points(&self, clouds: &[&PointCloud]) -> anyhow::Result<Vec<Vec<f32>>> {
        Ok(clouds.iter().map(|c| self.distances(&c.points)).collect())
    }

    fn object_score(&self, point_scores: &[f32]) -> f64 {
        top_mean(point_scores, self.config.top_fraction)
    }

    fn name(&self) -> &str {
        "nearest"
    }

    fn frame_need(&self) -> FrameNeed {
        FrameNeed::Pose
    }

    fn frame(&self) -> Option<&TrainingFrame> {
        Some(&self.frame)
    }

    fn scoring(&self) -> String {
        format!(
            "nearest object_score=top_mean({})",
            self.config.top_fraction
        )
    }

    fn settings(&self) -> Vec<(String, String)> {
        vec![
            (
                "object_score".into(),
                format!("top_mean({})", self.config.top_fraction),
            ),
            ("pool_voxel".into(), self.config.pool_voxel.to_string()),
            ("templates".into(), self.sources.len().to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> TrainingFrame {
        TrainingFrame {
            origin: [0.0; 3],
            scale: 1.0,
            points: vec![[0.0; 3]],
            normals: vec![[0.0, 0.0, 1.0]],
        }
    }

    #[test]
    fn distances_are_euclidean_to_the_nearest_template_point() {
        let d = NearestTemplate::from_parts(
            NearestConfig::default(),
            frame(),
            vec![],
            vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]],
        );
        let s = d.distances(&[
            [0.0, 0.0, 0.3],
            [1.0, 0.4, 0.0],
            [0.5, 0.0, 0.0],
            [3.0, 4.0, 0.0],
        ]);
        // Brute force by hand: 0.3; 0.4; 0.5 (a tie); |(3,4,0) − (1,0,0)| = √20.
        let expect = [0.3f32, 0.4, 0.5, 20f32.sqrt()];
        for (a, b) in s.iter().zip(expect) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn save_and_load_round_trip_and_refuse_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = NearestTemplate::from_parts(
            NearestConfig::default(),
            frame(),
            vec!["a.obj".into()],
            vec![[0.0, 0.0, 0.0], [1.0, 0.25, 0.0]],
        );
        let path = d.save(dir.path()).unwrap();
        let back = NearestTemplate::load(&path).unwrap();
        assert_eq!(back.points, d.points);
        assert_eq!(back.frame, d.frame);
        assert_eq!(back.sources, d.sources);
        std::fs::write(&path, b"{\"format\":\"x\"}").unwrap();
        let err = NearestTemplate::load(&path).err().unwrap().to_string();
        assert!(err.contains("nearest.json"), "{err}");
    }
}
