//! Evaluation: turn a trained model (or the curvature baseline) into per-point and
//! per-object scores, and score whole test sets into metrics.

pub mod curvature;
pub mod evaluate;
pub mod score;

pub use curvature::CurvatureScorer;
pub use evaluate::{evaluate_category, CategoryEval, EvalOptions};
pub use score::{ModelScorer, ObjectScore, Scorer};
