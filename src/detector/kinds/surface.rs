//! The `surface` kind: distance of each scan point to a reference *surface* fitted to
//! the training clouds (quadric patches), in units of the surface's own measured
//! variability, plus missing material at the rim of gaps
//! ([`po3ad_core::surface`]). Training-free: fitting takes seconds.
//!
//! Folder: `surface.json` (settings, training frame, the fitted reference).

use super::nearest::{training_clouds, NearestConfig};
use super::saved::{read_json, settings_of, versioned};
use crate::detector::placement::FrameNeed;
use crate::detector::registry::{FitOutcome, FitRequest, KindSpec, LoadRequest};
use crate::detector::scorer::{Scored, Scorer};
use anyhow::Context;
use po3ad_core::frame::TrainingFrame;
use po3ad_core::registration::RegistrationConfig;
use po3ad_core::surface::{SurfaceConfig, SurfaceModel};
use po3ad_core::{io, PointCloud};
use serde::{Deserialize, Serialize};

pub const SURFACE_FILE: &str = "surface.json";
const FORMAT: &str = "po3ad-surface";
const FORMAT_VERSION: u32 = 1;

pub const KIND: KindSpec = KindSpec {
    name: "surface",
    about: "z-scored distance to a reference surface fitted to the training clouds, plus missing material (training-free)",
    marker_file: SURFACE_FILE,
    takes_settings: true,
    fit,
    load,
};

#[derive(Serialize, Deserialize)]
struct Saved {
    format: String,
    version: u32,
    frame: TrainingFrame,
    sources: Vec<String>,
    model: SurfaceModel,
}
versioned!(Saved);

/// The surface detector: the reference surface in the training frame.
pub struct SurfaceDetector {
    frame: TrainingFrame,
    model: SurfaceModel,
}

fn fit(req: FitRequest<'_>) -> anyhow::Result<FitOutcome> {
    let t0 = std::time::Instant::now();
    let (frame, clouds) = training_clouds(
        req.files,
        &NearestConfig::default(),
        &RegistrationConfig::default(),
    )?;
    let cfg: SurfaceConfig = req.settings_or_default("surface", SurfaceConfig::validate)?;
    let model = SurfaceModel::fit(&clouds, &cfg).context("fitting the reference surface")?;
    let saved = Saved {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        frame: frame.clone(),
        sources: req.files.iter().map(|f| f.display().to_string()).collect(),
        model,
    };
    let path = req.out.join(SURFACE_FILE);
    io::atomic::write_atomic(&path, &serde_json::to_vec(&saved)?)?;
    Ok(FitOutcome {
        settings: serde_json::to_value(&cfg)?,
        files: vec![("reference", SURFACE_FILE.to_string())],
        frame: Some((&frame).into()),
        summary: format!(
            "built surface detector '{}' from {} file(s): {} reference nodes, {:.1} s; model: {}",
            req.category,
            req.files.len(),
            saved.model.len(),
            t0.elapsed().as_secs_f64(),
            path.display()
        ),
    })
}

fn load(req: &LoadRequest<'_>) -> anyhow::Result<Box<dyn Scorer + Send>> {
    let path = &req.file;
    let saved: Saved = read_json(path, "surface detector", FORMAT, FORMAT_VERSION)?;
    saved
        .frame
        .validate()
        .with_context(|| path.display().to_string())?;
    saved
        .model
        .validate()
        .with_context(|| path.display().to_string())?;
    Ok(Box::new(SurfaceDetector {
        frame: saved.frame,
        model: saved.model,
    }))
}

impl SurfaceDetector {
    fn scored(&self, cloud: &PointCloud) -> anyhow::Result<Scored> {
        let s = self.model.score(&cloud.points)?;
        Ok(Scored {
            points: s.point,
            object: s.object as f64,
        })
    }
}

impl Scorer for SurfaceDetector {
    fn score_points(&self, clouds: &[&PointCloud]) -> anyhow::Result<Vec<Vec<f32>>> {
        Ok(self.score(clouds)?.into_iter().map(|s| s.points).collect())
    }

    /// The surface model's object score comes from its own rule (top point z-scores and
    /// the largest gaps); from point scores alone, their top-1 % mean.
    fn object_score(&self, point_scores: &[f32]) -> f64 {
        crate::score_rule::top_mean(point_scores, 0.01)
    }

    fn score(&self, clouds: &[&PointCloud]) -> anyhow::Result<Vec<Scored>> {
        clouds.iter().map(|c| self.scored(c)).collect()
    }

    fn name(&self) -> &str {
        "surface"
    }

    fn frame_need(&self) -> FrameNeed {
        FrameNeed::Pose
    }

    fn frame(&self) -> Option<&TrainingFrame> {
        Some(&self.frame)
    }

    fn scoring(&self) -> String {
        "surface z-scores object_score=model".into()
    }

    fn settings(&self) -> Vec<(String, String)> {
        settings_of(self.model.config())
    }
}
