//! Where a test scan is put before it is scored.
//!
//! A detector that depends on absolute positions (PO3AD trained without rotations, the
//! nearest-template distance) must see the scan in the frame it was trained in: the
//! scan is registered onto the training template (global FPFH + RANSAC, then
//! point-to-plane ICP) and the template's normalization is applied. A pose-invariant
//! detector (curvature, PO3AD trained with SPEC's rotations) scores the scan in its own
//! normalization, as SPEC's test preprocessing says. Only coordinates change: every
//! score stays attached to the scan's own point.

use super::intake::{PartFit, PartJudge};
use po3ad_core::frame::TrainingFrame;
use po3ad_core::geometry::preprocess_test;
use po3ad_core::registration::{register, RegistrationConfig, RegistrationTarget};
use po3ad_core::report::RegistrationFit;
use po3ad_core::scene::units::extent_of;
use po3ad_core::PointCloud;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

/// `--frame`: how a scan is put into the detector's frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[clap(rename_all = "snake_case")]
pub enum FrameMode {
    /// `register` for detectors that need the training pose, `scan` for the others.
    #[default]
    Auto,
    /// Register every scan onto the training template (any pose, partial scans).
    Register,
    /// The scans are already in the training pose and units (a fixture): apply the
    /// template's normalization, no registration.
    Fixed,
    /// Normalize every scan on its own (SPEC's CenterShift + unit sphere).
    Scan,
}

/// A resolved [`FrameMode`] with what it needs.
pub enum Placement {
    Scan,
    Fixed(TrainingFrame),
    Register {
        frame: TrainingFrame,
        target: Box<RegistrationTarget>,
        config: RegistrationConfig,
    },
}

/// What a detector's scores need of the training frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameNeed {
    /// Nothing: the scores do not depend on pose or units (`auto` = `scan`).
    Nothing,
    /// The frame's units but no pose (the FPFH banks: descriptors do not depend on the
    /// pose, their radii are lengths): `auto` = `fixed`, the frame's shift and scale.
    Units,
    /// The training pose (positions are compared): `auto` = `register`.
    Pose,
}

impl Placement {
    /// Resolve `mode` for a detector. `scores_need`: what its scores need of the
    /// training frame; `frame`: the training frame it recorded (None for models saved before
    /// frames were recorded, and for pose-free detectors).
    pub fn new(
        mode: FrameMode,
        scores_need: FrameNeed,
        frame: Option<&TrainingFrame>,
        config: &RegistrationConfig,
    ) -> anyhow::Result<Self> {
        let need = |what: &str| {
            frame.cloned().ok_or_else(|| {
                anyhow::anyhow!(
                    "--frame {what} needs the training frame, which this model does not record \
                     (it was saved by an older po3ad, or the detector has none); retrain it, or \
                     use --frame scan"
                )
            })
        };
        Ok(match mode {
            FrameMode::Scan => Placement::Scan,
            FrameMode::Fixed => Placement::Fixed(need("fixed")?),
            FrameMode::Register => Self::register(need("register")?, config)?,
            FrameMode::Auto => match (scores_need, frame) {
                (FrameNeed::Pose, Some(f)) => Self::register(f.clone(), config)?,
                (FrameNeed::Units, Some(f)) => Placement::Fixed(f.clone()),
                (FrameNeed::Pose, None) => {
                    eprintln!(
                        "warning: this model records no training frame (saved by an older \
                         po3ad): scans are normalized on their own and must come in the \
                         training pose; retrain to get registration"
                    );
                    Placement::Scan
                }
                (FrameNeed::Nothing | FrameNeed::Units, _) => Placement::Scan,
            },
        })
    }

    fn register(frame: TrainingFrame, config: &RegistrationConfig) -> anyhow::Result<Self> {
        frame.validate()?;
        let target = RegistrationTarget::new(&frame.points, &frame.normals, config)?;
        if config.near_symmetries {
            // Found once per model (0.2–0.8 s): here, when the model is loaded, rather
            // than inside the first scan's registration, so a scan's time is its own.
            target.near_symmetry_count();
        }
        Ok(Placement::Register {
            frame,
            target: Box::new(target),
            config: config.clone(),
        })
    }

    /// The mode's name, for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Placement::Scan => "scan",
            Placement::Fixed(_) => "fixed",
            Placement::Register { .. } => "register",
        }
    }

    /// Move `cloud` (file coordinates) into the frame the detector scores in. Returns
    /// the registration's fit when the scan was registered. Normals are dropped: the
    /// detectors score positions only.
    pub fn place(&self, cloud: &mut PointCloud) -> anyhow::Result<Option<RegistrationFit>> {
        match self {
            Placement::Scan => {
                preprocess_test(cloud)?;
                Ok(None)
            }
            Placement::Fixed(frame) => {
                check_finite(cloud)?;
                for p in &mut cloud.points {
                    *p = frame.to_training(*p);
                }
                cloud.normals = None;
                Ok(None)
            }
            Placement::Register {
                frame,
                target,
                config,
            } => {
                check_finite(cloud)?;
                for p in &mut cloud.points {
                    *p = frame.to_training(*p);
                }
                let reg = register(&cloud.points, target, config)?;
                for p in &mut cloud.points {
                    *p = reg.apply(*p);
                }
                cloud.normals = None;
                Ok(Some(RegistrationFit {
                    registered: reg.registered,
                    fitness: reg.fitness,
                    inlier_rmse: reg.inlier_rmse,
                }))
            }
        }
    }
}

/// A piece of a scene lies on the part when it is within this fraction of the
/// template's size of its surface (`PartJudge::on_template`).
const JOIN_DISTANCE: f64 = 0.05;

impl Placement {
    /// The training frame, template and settings, when scans are registered.
    fn registering(&self) -> Option<(&TrainingFrame, &RegistrationTarget, &RegistrationConfig)> {
        match self {
            Placement::Register {
                frame,
                target,
                config,
            } => Some((frame, target.as_ref(), config)),
            _ => None,
        }
    }
}

fn to_training(frame: &TrainingFrame, points: &[[f32; 3]]) -> Vec<[f32; 3]> {
    points.iter().map(|&p| frame.to_training(p)).collect()
}

/// Candidate parts of a scene are judged by registering them: the intake's
/// [`PartJudge`].
impl PartJudge for Placement {
    fn fit(&self, points: &[[f32; 3]]) -> anyhow::Result<Option<PartFit>> {
        let Some((frame, target, config)) = self.registering() else {
            return Ok(None);
        };
        if points.iter().flatten().any(|c| !c.is_finite()) {
            anyhow::bail!("the scan has non-finite coordinates");
        }
        let reg = register(&to_training(frame, points), target, config)?;
        Ok(Some(PartFit {
            registered: reg.registered,
            registration: reg,
        }))
    }

    fn on_template(&self, fit: &PartFit, points: &[[f32; 3]]) -> f32 {
        let Some((frame, target, config)) = self.registering() else {
            return 0.0;
        };
        // Loose on purpose: a piece cut off the part by a defect (a bulge's stretched,
        // sparser surface) lies off the surface by the defect's depth; a fixture or a
        // neighbour stands clear of it.
        let distance = config
            .max_correspondence_distance
            .max((JOIN_DISTANCE * extent_of(&frame.points)) as f32);
        target.near_fraction(&to_training(frame, points), &fit.registration, distance)
    }

    fn coverage(&self, fit: &PartFit, points: &[[f32; 3]]) -> f32 {
        let Some((frame, target, config)) = self.registering() else {
            return 0.0;
        };
        // Too few points to measure (under 3 after downsampling) covers nothing.
        target
            .coverage_of(&to_training(frame, points), &fit.registration, config)
            .unwrap_or(0.0)
    }

    fn seen_through(&self, fit: &PartFit, scene: &[[f32; 3]], view: [f32; 3]) -> f32 {
        let Some((frame, target, config)) = self.registering() else {
            return 0.0;
        };
        // The training frame only shifts and scales, so `view` holds there too.
        target
            .seen_through(&to_training(frame, scene), &fit.registration, view, config)
            .unwrap_or(0.0)
    }
}

/// Place `cloud` in the detector's frame, then add Gaussian noise σ = `noise` there.
pub fn place_with_noise(
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

fn check_finite(cloud: &PointCloud) -> anyhow::Result<()> {
    if cloud.is_empty() {
        anyhow::bail!("the scan has no points");
    }
    if cloud.points.iter().flatten().any(|c| !c.is_finite()) {
        anyhow::bail!("the scan has non-finite coordinates");
    }
    Ok(())
}
