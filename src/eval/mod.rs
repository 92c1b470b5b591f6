//! Evaluation: score whole labelled test sets with a [`crate::detector::Detector`] into
//! metrics (object and point AUROC / AP), heat maps, and object-level decisions
//! (F1-max, precision / recall at the calibrated threshold).

pub mod benchmark;
pub mod decisions;
pub mod evaluate;
pub mod heatmaps;

pub use evaluate::{evaluate_category, CategoryEval, EvalOptions};
pub use heatmaps::{write_curves_or_warn, write_heatmaps, write_report_or_warn};
