//! What every detector kind implements: score the points of clouds already placed in
//! its frame, and say what its scores depend on (pose, training frame, settings).

use super::placement::FrameNeed;
use po3ad_core::frame::TrainingFrame;
use po3ad_core::PointCloud;

/// The scores of one cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub points: Vec<f32>,
    pub object: f64,
}

/// Anything that scores every point of a placed test cloud.
pub trait Scorer {
    /// Per-point scores for each cloud (clouds already placed in the scorer's frame,
    /// see [`super::placement`]).
    fn score_points(&self, clouds: &[&PointCloud]) -> anyhow::Result<Vec<Vec<f32>>>;
    /// Object score from point scores.
    fn object_score(&self, point_scores: &[f32]) -> f64;
    /// Point and object scores of each cloud. The object score is `object_score` of the
    /// point scores unless a detector takes it from other scores (PO3AD with
    /// `test.object_nearest_weight`).
    fn score(&self, clouds: &[&PointCloud]) -> anyhow::Result<Vec<Scored>> {
        Ok(self
            .score_points(clouds)?
            .into_iter()
            .map(|points| Scored {
                object: self.object_score(&points),
                points,
            })
            .collect())
    }
    /// The kind's registry name (`po3ad`, `nearest`, ...).
    fn name(&self) -> &str;
    /// What the scores need of the training frame, which decides what `--frame auto`
    /// does with a scan ([`FrameNeed`]).
    fn frame_need(&self) -> FrameNeed {
        FrameNeed::Nothing
    }
    /// The training frame the detector recorded, if any.
    fn frame(&self) -> Option<&TrainingFrame> {
        None
    }
    /// The settings that decide the scores' scale (detector and its test-time rules),
    /// recorded with a calibration so thresholds are never applied to other scores.
    fn scoring(&self) -> String {
        self.name().to_string()
    }
    /// What a results table calls these scores, e.g. "po3ad `cpu` (object score:
    /// template distance)": never a bare name where the scores are not that method's.
    fn label(&self) -> String {
        self.name().to_string()
    }
    /// The settings behind the scores as key/value pairs (preset, weights, rules, ...),
    /// recorded in every results file.
    fn settings(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Clouds scored in one call when a test set is evaluated.
    fn batch_size(&self) -> usize {
        4
    }
    /// Gaussian noise σ a test run adds to placed clouds unless told otherwise (PO3AD's
    /// `test.noise_sigma`).
    fn test_noise(&self) -> f32 {
        0.0
    }
}
