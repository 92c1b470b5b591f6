//! Ranking metrics for anomaly scores: AUROC and average precision, computed exactly as
//! scikit-learn does (ties included), plus ROC and PR curve points.
//!
//! Every function sorts once (O(n log n)), so pooling millions of test points for the
//! point-level metrics is fine. Inputs are checked like scikit-learn checks them:
//! equal lengths, finite scores, both classes present.

mod curve;
mod pr;
mod roc;

pub use pr::{average_precision, pr_curve};
pub use roc::{roc_auc, roc_curve};
