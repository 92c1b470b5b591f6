//! Evaluation: turn a trained model (or a training-free detector: curvature, nearest
//! template) into per-point and per-object scores, put scans into the detector's frame
//! (registration), score whole test sets into metrics, and turn scores into decisions
//! (calibrated thresholds, verdicts, anomalous regions).

pub mod calibration;
pub mod curvature;
pub mod decisions;
pub mod evaluate;
pub mod nearest;
pub mod placement;
pub mod regions;
pub mod scan;
pub mod score;

pub use calibration::{Calibration, CalibrationRule};
pub use curvature::CurvatureScorer;
pub use evaluate::{evaluate_category, CategoryEval, EvalOptions};
pub use nearest::{NearestConfig, NearestTemplate};
pub use placement::{FrameMode, Placement};
pub use score::{ModelScorer, ObjectScore, Scored, Scorer};
