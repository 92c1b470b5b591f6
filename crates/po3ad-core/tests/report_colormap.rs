//! Colour map ends, clamping and the robust colouring range.

use po3ad_core::report::colormap::{colormap, COLD, CONTROL_POINTS, HOT, MISSING};
use po3ad_core::report::{robust_range, score_colors};

#[test]
fn endpoints_and_clamping() {
    let c = score_colors(&[2.0, 4.0, -10.0, 10.0, 3.0], 2.0, 4.0);
    assert_eq!(c[0], COLD);
    assert_eq!(c[1], HOT);
    assert_eq!(c[2], COLD, "below lo clamps to the cold end");
    assert_eq!(c[3], HOT, "above hi clamps to the hot end");
    assert_eq!(
        c[4],
        colormap(0.5),
        "the middle of the range is the middle of the map"
    );
    assert_eq!(COLD, CONTROL_POINTS[0].1);
    assert_eq!(HOT, CONTROL_POINTS[CONTROL_POINTS.len() - 1].1);
    assert_ne!(COLD, HOT);
}

#[test]
fn midpoint_between_control_points_is_their_average() {
    let (t0, c0) = CONTROL_POINTS[2];
    let (t1, c1) = CONTROL_POINTS[3];
    let mid = colormap((t0 + t1) / 2.0);
    for k in 0..3 {
        let avg = (c0[k] as f32 + c1[k] as f32) / 2.0;
        assert!((mid[k] as f32 - avg).abs() <= 1.0, "channel {k}: {mid:?}");
    }
}

#[test]
fn nan_and_degenerate_ranges() {
    let c = score_colors(&[f32::NAN, 1.0], 0.0, 1.0);
    assert_eq!(c[0], MISSING);
    assert_eq!(c[1], HOT);
    // No spread: every finite score gets the middle colour.
    let c = score_colors(&[1.0, 5.0], 3.0, 3.0);
    assert_eq!(c, vec![colormap(0.5); 2]);
}

#[test]
fn robust_range_is_1st_to_99th_percentile() {
    // 0, 1, ..., 100: numpy.percentile(x, [1, 99]) == [1.0, 99.0].
    let v: Vec<f32> = (0..=100).map(|i| i as f32).collect();
    assert_eq!(robust_range(&v), (1.0, 99.0));
    // 0..=10 (11 values): numpy gives [0.1, 9.9] (linear interpolation).
    let v: Vec<f32> = (0..=10).rev().map(|i| i as f32).collect();
    let (lo, hi) = robust_range(&v);
    assert!(
        (lo - 0.1).abs() < 1e-6 && (hi - 9.9).abs() < 1e-5,
        "{lo} {hi}"
    );
    // One huge outlier among 1000 values does not set the top of the range.
    let mut v: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
    v[500] = 1e9;
    let (_, hi) = robust_range(&v);
    assert!(hi < 1.0, "{hi}");
    // Non-finite values are ignored; nothing finite gives (0, 1).
    let (lo, hi) = robust_range(&[f32::NAN, 2.0, f32::INFINITY, 4.0]);
    assert!(
        (lo - 2.02).abs() < 1e-5 && (hi - 3.98).abs() < 1e-5,
        "{lo} {hi}"
    );
    assert_eq!(robust_range(&[]), (0.0, 1.0));
    assert_eq!(robust_range(&[f32::NAN]), (0.0, 1.0));
    // Constant scores give a non-empty range around the value.
    let (lo, hi) = robust_range(&[5.0; 10]);
    assert!(lo < 5.0 && hi > 5.0 && hi - lo < 0.1);
}
