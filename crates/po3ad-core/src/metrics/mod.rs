//! Ranking metrics for anomaly scores: AUROC and average precision, computed exactly as
//! scikit-learn does (ties included), plus ROC and PR curve points.
