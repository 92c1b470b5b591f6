//! Score → colour. A small rainbow-like map (dark blue → cyan → green → yellow →
//! orange → dark red) defined by a handful of control points chosen for this project
//! and linearly interpolated, plus a robust score range so one outlier point does not
//! wash the whole picture into the cold colour.
//!
//! The control points keep lightness rising from the cold end to yellow and falling
//! only mildly towards the hot end, so low scores read as dark and calm, high scores as
//! warm and saturated, and both ends stay distinguishable from the white background.

/// Control points `(position in [0, 1], sRGB)`, positions strictly increasing, first at
/// 0 and last at 1.
pub const CONTROL_POINTS: [(f32, [u8; 3]); 7] = [
    (0.00, [38, 28, 120]),
    (0.17, [40, 105, 225]),
    (0.34, [30, 195, 210]),
    (0.50, [95, 225, 105]),
    (0.67, [230, 220, 50]),
    (0.84, [245, 125, 30]),
    (1.00, [165, 20, 25]),
];

/// Colour of the lowest score (`lo` and below).
pub const COLD: [u8; 3] = CONTROL_POINTS[0].1;
/// Colour of the highest score (`hi` and above).
pub const HOT: [u8; 3] = CONTROL_POINTS[CONTROL_POINTS.len() - 1].1;
/// Colour for scores that are not numbers (NaN), so they stand out as "no value".
pub const MISSING: [u8; 3] = [150, 150, 150];

/// Colour at position `t` of the map; `t` is clamped to [0, 1].
pub fn colormap(t: f32) -> [u8; 3] {
    if t.is_nan() {
        return MISSING;
    }
    let t = t.clamp(0.0, 1.0);
    for pair in CONTROL_POINTS.windows(2) {
        let (t0, c0) = pair[0];
        let (t1, c1) = pair[1];
        if t <= t1 {
            let f = (t - t0) / (t1 - t0);
            let mix = |a: u8, b: u8| (a as f32 + (b as f32 - a as f32) * f).round() as u8;
            return [mix(c0[0], c1[0]), mix(c0[1], c1[1]), mix(c0[2], c1[2])];
        }
    }
    HOT
}

/// One colour per score: `lo` maps to the cold end, `hi` to the hot end, values outside
/// are clamped, NaN becomes [`MISSING`]. When `hi <= lo` every finite score gets the
/// middle colour (there is no spread to show).
pub fn score_colors(scores: &[f32], lo: f32, hi: f32) -> Vec<[u8; 3]> {
    let span = hi - lo;
    scores
        .iter()
        .map(|&s| {
            if s.is_nan() {
                MISSING
            } else if !span.is_finite() || span <= 0.0 {
                colormap(0.5)
            } else {
                colormap((s - lo) / span)
            }
        })
        .collect()
}

/// The 1st and 99th percentiles of the finite scores (linear interpolation between
/// order statistics, as numpy's default), a colouring range that ignores a few extreme
/// points. Returns `(0, 1)` when there is no finite score, and widens a zero-width
/// range so callers can always divide by `hi - lo`.
pub fn robust_range(scores: &[f32]) -> (f32, f32) {
    let mut v: Vec<f32> = scores.iter().copied().filter(|s| s.is_finite()).collect();
    if v.is_empty() {
        return (0.0, 1.0);
    }
    v.sort_unstable_by(f32::total_cmp);
    let lo = percentile_sorted(&v, 0.01);
    let hi = percentile_sorted(&v, 0.99);
    if hi > lo {
        (lo, hi)
    } else {
        // All (robust) scores equal: a small symmetric range keeps them mid-map.
        let pad = (lo.abs() * 1e-3).max(1e-6);
        (lo - pad, lo + pad)
    }
}

/// Percentile `q` in [0, 1] of a sorted, non-empty slice.
fn percentile_sorted(v: &[f32], q: f64) -> f32 {
    let pos = q * (v.len() - 1) as f64;
    let i = pos.floor() as usize;
    let j = (i + 1).min(v.len() - 1);
    let f = pos - i as f64;
    (v[i] as f64 + (v[j] as f64 - v[i] as f64) * f) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_points_are_ordered() {
        assert_eq!(CONTROL_POINTS[0].0, 0.0);
        assert_eq!(CONTROL_POINTS[CONTROL_POINTS.len() - 1].0, 1.0);
        assert!(CONTROL_POINTS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn map_passes_through_control_points() {
        for &(t, c) in &CONTROL_POINTS {
            assert_eq!(colormap(t), c, "t = {t}");
        }
    }
}
