//! How point scores become an object score: the rules every detector and preset
//! name (`mean`, `top_mean`). A leaf module: training presets and detectors both use
//! it, neither through the other.

use serde::{Deserialize, Serialize};

/// How point scores become an object score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[clap(rename_all = "snake_case")]
pub enum ObjectScore {
    /// Mean of all point scores (the paper's).
    Mean,
    /// Mean of the highest `top_fraction` of point scores: a small defect is not
    /// averaged away by the rest of the object (the curvature baseline's rule).
    TopMean,
}

/// `rule` applied to `point_scores`; `top_fraction` only matters for `TopMean`.
pub fn aggregate(point_scores: &[f32], rule: ObjectScore, top_fraction: f64) -> f64 {
    match rule {
        ObjectScore::Mean => mean(point_scores),
        ObjectScore::TopMean => top_mean(point_scores, top_fraction),
    }
}

/// Mean of the `ceil(len · fraction)` highest values (at least one).
pub fn top_mean(values: &[f32], fraction: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut s = values.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    let top = ((s.len() as f64 * fraction).ceil() as usize).clamp(1, s.len());
    s[..top].iter().map(|&v| v as f64).sum::<f64>() / top as f64
}

pub fn mean(values: &[f32]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_by_hand() {
        let s = [1.0f32, 5.0, 3.0, 2.0];
        assert_eq!(aggregate(&s, ObjectScore::Mean, 0.5), 2.75);
        // ceil(4 · 0.5) = 2 highest: (5 + 3) / 2.
        assert_eq!(aggregate(&s, ObjectScore::TopMean, 0.5), 4.0);
        // At least one value, at most all.
        assert_eq!(top_mean(&s, 0.0), 5.0);
        assert_eq!(top_mean(&s, 2.0), 2.75);
        assert_eq!(top_mean(&[], 0.1), 0.0);
    }
}
