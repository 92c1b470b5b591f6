//! The report's charts as SVG text, drawn with `plotters` (SVG backend only): ROC and
//! precision–recall curves, and the histogram of object scores, normal against
//! defective, with the calibrated threshold drawn across it.

use crate::{Error, Result};
use plotters::prelude::*;

/// Chart size in SVG pixels.
const SIZE: (u32, u32) = (400, 310);
const NORMAL: RGBColor = RGBColor(40, 105, 225);
const DEFECTIVE: RGBColor = RGBColor(200, 40, 40);
const THRESHOLD: RGBColor = RGBColor(20, 20, 20);
const F1_CUT: RGBColor = RGBColor(120, 120, 120);

/// One named curve; vertices in drawing order.
pub struct Series<'a> {
    pub label: String,
    pub points: &'a [[f64; 2]],
}

fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> Error {
    Error::Invalid(format!("drawing a chart: {e}"))
}

fn palette(i: usize) -> RGBColor {
    [
        DEFECTIVE,
        NORMAL,
        RGBColor(30, 150, 60),
        RGBColor(150, 60, 170),
    ][i % 4]
}

/// Curves on the unit square; `diagonal` adds the chance line of a ROC chart.
pub fn unit_curves_svg(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    diagonal: bool,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(38)
            .y_label_area_size(46)
            .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(draw_err)?;
        if diagonal {
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, 0.0), (1.0, 1.0)],
                    4,
                    4,
                    F1_CUT.stroke_width(1),
                ))
                .map_err(draw_err)?;
        }
        for (i, s) in series.iter().enumerate() {
            let color = palette(i);
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().map(|p| (p[0], p[1])),
                    color.stroke_width(2),
                ))
                .map_err(draw_err)?
                .label(s.label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(if diagonal {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::LowerLeft
            })
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// Shared bins over the finite scores (and the thresholds, so they fall inside).
fn bins(all: &[f64], marks: &[f64], n: usize) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &v in all.iter().chain(marks).filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) / n as f64).max(1e-9);
    (lo - pad, hi + pad)
}

fn counts(values: &[f64], lo: f64, hi: f64, n: usize) -> Vec<usize> {
    let mut c = vec![0; n];
    for &v in values.iter().filter(|v| v.is_finite()) {
        let i = (((v - lo) / (hi - lo)) * n as f64).floor();
        c[(i.max(0.0) as usize).min(n - 1)] += 1;
    }
    c
}

/// Histogram of object scores, normal and defective overlaid, with the calibrated
/// threshold (solid) and the F1-max cut (dashed) where known.
pub fn score_histogram_svg(
    normal: &[f64],
    defective: &[f64],
    threshold: Option<f64>,
    f1_cut: Option<f64>,
) -> Result<String> {
    let n_bins = ((normal.len() + defective.len()) as f64)
        .sqrt()
        .ceil()
        .clamp(8.0, 40.0) as usize;
    let all: Vec<f64> = normal.iter().chain(defective).copied().collect();
    let marks: Vec<f64> = threshold.into_iter().chain(f1_cut).collect();
    let (lo, hi) = bins(&all, &marks, n_bins);
    let (cn, cd) = (
        counts(normal, lo, hi, n_bins),
        counts(defective, lo, hi, n_bins),
    );
    let top = cn.iter().chain(&cd).copied().max().unwrap_or(1).max(1) as f64 * 1.15;
    let width = (hi - lo) / n_bins as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0 + 120, SIZE.1)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Object scores: normal vs defective", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(38)
            .y_label_area_size(40)
            .build_cartesian_2d(lo..hi, 0f64..top)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("object score")
            .y_desc("scans")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(draw_err)?;
        for (c, color, label) in [
            (&cn, NORMAL, format!("normal ({})", normal.len())),
            (&cd, DEFECTIVE, format!("defective ({})", defective.len())),
        ] {
            chart
                .draw_series(c.iter().enumerate().filter(|(_, &k)| k > 0).map(|(i, &k)| {
                    let x0 = lo + i as f64 * width;
                    Rectangle::new(
                        [(x0, 0.0), (x0 + width, k as f64)],
                        color.mix(0.45).filled(),
                    )
                }))
                .map_err(draw_err)?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.mix(0.45).filled())
                });
        }
        if let Some(t) = threshold {
            chart
                .draw_series(LineSeries::new(
                    [(t, 0.0), (t, top)],
                    THRESHOLD.stroke_width(2),
                ))
                .map_err(draw_err)?
                .label(format!("calibrated threshold {t:.4}"))
                .legend(|(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], THRESHOLD.stroke_width(2))
                });
        }
        if let Some(t) = f1_cut {
            chart
                .draw_series(DashedLineSeries::new(
                    [(t, 0.0), (t, top)],
                    5,
                    4,
                    F1_CUT.stroke_width(2),
                ))
                .map_err(draw_err)?
                .label(format!("F1-max cut {t:.4}"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], F1_CUT.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_every_finite_score_once() {
        let v = [0.0, 0.1, 0.5, 0.99, 1.0, f64::NAN];
        let (lo, hi) = bins(&v, &[], 4);
        let c = counts(&v, lo, hi, 4);
        assert_eq!(c.iter().sum::<usize>(), 5);
        // A threshold outside the scores widens the range to include it.
        let (lo, hi) = bins(&v, &[3.0], 4);
        assert!(lo < 0.0 && hi > 3.0);
    }
}
