//! Evaluation: per-point and per-object scores and the metrics tables.
