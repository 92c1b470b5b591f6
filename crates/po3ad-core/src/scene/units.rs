//! Length units of scans and templates, and the check that catches a scan in other
//! units than its template (a mm scan against an m model registers to nonsense
//! without any error). Pure functions: the caller decides to convert or refuse.

use crate::{Error, PointCloud, Result};
use std::fmt;
use std::str::FromStr;

/// A length unit as files and users name it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Units {
    #[serde(rename = "m")]
    Meters,
    #[serde(rename = "cm")]
    Centimeters,
    #[serde(rename = "mm")]
    Millimeters,
    #[serde(rename = "in")]
    Inches,
    #[default]
    Unknown,
}

/// The known units, for listing and searching.
pub const KNOWN_UNITS: [Units; 4] = [
    Units::Meters,
    Units::Centimeters,
    Units::Millimeters,
    Units::Inches,
];

impl Units {
    /// Metres per unit; `None` for [`Units::Unknown`].
    pub fn meters(self) -> Option<f64> {
        match self {
            Units::Meters => Some(1.0),
            Units::Centimeters => Some(0.01),
            Units::Millimeters => Some(0.001),
            Units::Inches => Some(0.0254),
            Units::Unknown => None,
        }
    }

    /// The factor that turns a length in `self` into one in `to` (mm → m: 0.001);
    /// `None` when either is unknown.
    pub fn factor_to(self, to: Units) -> Option<f64> {
        Some(self.meters()? / to.meters()?)
    }

    /// The short name `parse` accepts and `Display` writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Units::Meters => "m",
            Units::Centimeters => "cm",
            Units::Millimeters => "mm",
            Units::Inches => "in",
            Units::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Units {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Units {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "m" | "meter" | "meters" | "metre" | "metres" => Units::Meters,
            "cm" | "centimeter" | "centimeters" | "centimetre" | "centimetres" => {
                Units::Centimeters
            }
            "mm" | "millimeter" | "millimeters" | "millimetre" | "millimetres" => {
                Units::Millimeters
            }
            "in" | "inch" | "inches" | "\"" => Units::Inches,
            "unknown" | "" => Units::Unknown,
            other => {
                return Err(Error::Invalid(format!(
                    "unknown length unit '{other}' (expected m, cm, mm, in or unknown)"
                )))
            }
        })
    }
}

/// A scan whose size says it is in other units than its template.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ScaleMismatch {
    /// Multiply the scan's coordinates by this to bring them into the template's units.
    pub factor: f64,
    /// The units the scan appears to be in.
    pub from: Units,
    /// The template's units.
    pub to: Units,
    /// The measured template extent / scan extent.
    pub ratio: f64,
}

impl fmt::Display for ScaleMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (bigger, times) = if self.ratio < 1.0 {
            ("larger", 1.0 / self.ratio)
        } else {
            ("smaller", self.ratio)
        };
        write!(
            f,
            "the scan is {times:.3}x {bigger} than the template: it looks like {} while the \
             template is in {} (scale by {})",
            self.from, self.to, self.factor
        )
    }
}

/// How far (as a ratio) a measured size ratio may be from a unit factor and still be
/// taken for it: a one-sided view of a part is smaller than the whole part, and the
/// closest pair of candidate factors (25.4 and 39.37, in → mm and m → in) is 1.55x
/// apart, so a known-unit template can afford 1.5 and an unknown one takes the nearer.
const TOLERANCE: f64 = 1.5;

/// Compare a scan's extent with its template's (both e.g. bounding-box diagonals, see
/// [`extent`]) and name the unit change that explains their ratio, if one does.
///
/// `template_units` narrows the candidates to conversions into it; with
/// [`Units::Unknown`] every pair of known units is a candidate and the one whose
/// factor is nearest (in log scale) wins. `None` when the extents agree within
/// [`TOLERANCE`] of 1, when no unit factor is within [`TOLERANCE`] of the ratio, or
/// when an extent is not a positive finite number.
pub fn detect_scale_mismatch(
    template_extent: f64,
    scan_extent: f64,
    template_units: Units,
) -> Option<ScaleMismatch> {
    if !(template_extent.is_finite() && scan_extent.is_finite())
        || template_extent <= 0.0
        || scan_extent <= 0.0
    {
        return None;
    }
    let ratio = template_extent / scan_extent;
    let off = |f: f64| (ratio / f).ln().abs();
    // "Same units" competes with the unit factors, so a 1.4x smaller one-sided view is
    // not taken for a cm/in mix-up.
    let mut best: Option<(f64, Units, Units)> = None;
    let mut best_off = off(1.0);
    for &from in &KNOWN_UNITS {
        for &to in &KNOWN_UNITS {
            if from == to || (template_units != Units::Unknown && to != template_units) {
                continue;
            }
            let factor = from.factor_to(to)?;
            if off(factor) < best_off {
                best_off = off(factor);
                best = Some((factor, from, to));
            }
        }
    }
    let (factor, from, to) = best?;
    (best_off <= TOLERANCE.ln()).then_some(ScaleMismatch {
        factor,
        from,
        to,
        ratio,
    })
}

/// The diagonal of the cloud's bounding box, the extent [`detect_scale_mismatch`]
/// compares; 0 for an empty cloud.
pub fn extent(cloud: &PointCloud) -> f64 {
    extent_of(&cloud.points)
}

/// [`extent`] of bare points.
pub fn extent_of(points: &[[f32; 3]]) -> f64 {
    let Some(&first) = points.first() else {
        return 0.0;
    };
    let (mut lo, mut hi) = (first, first);
    for p in points {
        for a in 0..3 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    (0..3)
        .map(|a| (hi[a] as f64 - lo[a] as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Multiply every coordinate by `factor` (normals unchanged).
pub fn scale(cloud: &mut PointCloud, factor: f64) {
    for p in &mut cloud.points {
        for v in p.iter_mut() {
            *v = (*v as f64 * factor) as f32;
        }
    }
}

/// What a scan check decided, for reports.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum UnitsCheck {
    /// Extents agree (or no known factor explains them).
    Consistent,
    /// The scan was scaled by the mismatch's factor.
    Converted(ScaleMismatch),
}

/// The policy a command applies: with `convert` a mismatch is scaled away and
/// reported; without it the mismatch is an error naming both units.
pub fn check_scan_units(
    scan: &mut PointCloud,
    template_extent: f64,
    template_units: Units,
    convert: bool,
) -> Result<UnitsCheck> {
    match detect_scale_mismatch(template_extent, extent(scan), template_units) {
        None => Ok(UnitsCheck::Consistent),
        Some(m) if convert => {
            scale(scan, m.factor);
            Ok(UnitsCheck::Converted(m))
        }
        Some(m) => Err(Error::Invalid(format!(
            "{m}; convert the scan to {} or pass --units auto",
            m.to
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for u in KNOWN_UNITS.iter().chain([&Units::Unknown]) {
            assert_eq!(u.to_string().parse::<Units>().unwrap(), *u);
        }
        assert_eq!("Millimetres".parse::<Units>().unwrap(), Units::Millimeters);
        assert_eq!("inch".parse::<Units>().unwrap(), Units::Inches);
        let e = "furlong".parse::<Units>().unwrap_err().to_string();
        assert!(e.contains("furlong") && e.contains("mm"), "{e}");
    }

    #[test]
    fn factors_are_the_definitions() {
        assert_eq!(Units::Millimeters.factor_to(Units::Meters), Some(0.001));
        assert_eq!(Units::Meters.factor_to(Units::Millimeters), Some(1000.0));
        assert!((Units::Inches.factor_to(Units::Millimeters).unwrap() - 25.4).abs() < 1e-12);
        assert!((Units::Inches.factor_to(Units::Centimeters).unwrap() - 2.54).abs() < 1e-12);
        assert_eq!(Units::Unknown.factor_to(Units::Meters), None);
    }

    #[test]
    fn mismatches_by_known_factors_are_named() {
        // Template 0.1 m across; the same part scanned in mm, a one-sided view 20 %
        // smaller.
        let m = detect_scale_mismatch(0.1, 80.0, Units::Meters).unwrap();
        assert_eq!(
            (m.from, m.to, m.factor),
            (Units::Millimeters, Units::Meters, 0.001)
        );
        let msg = m.to_string();
        assert!(
            msg.contains("mm") && msg.contains(" m ") && msg.contains("0.001"),
            "{msg}"
        );
        // Unknown template units: every pair competes.
        let cases = [
            (100.0, 0.1, 1000.0, Units::Meters, Units::Millimeters),
            (25.4, 1.0, 25.4, Units::Inches, Units::Millimeters),
            (2.54, 1.0, 2.54, Units::Inches, Units::Centimeters),
            (10.0, 1.0, 10.0, Units::Centimeters, Units::Millimeters),
            (100.0, 1.0, 100.0, Units::Meters, Units::Centimeters),
            (0.0254, 1.0, 0.0254, Units::Inches, Units::Meters),
            (39.37, 1.0, 1.0 / 0.0254, Units::Meters, Units::Inches),
        ];
        for (t, s, f, from, to) in cases {
            let m = detect_scale_mismatch(t, s, Units::Unknown).unwrap();
            assert!((m.factor - f).abs() < 1e-9 * f, "{t}/{s}: {m:?}");
            assert_eq!((m.from, m.to), (from, to), "{t}/{s}");
        }
    }

    #[test]
    fn agreeing_or_unexplained_extents_are_not_mismatches() {
        assert_eq!(detect_scale_mismatch(1.0, 1.0, Units::Meters), None);
        // A one-sided view 1.4x smaller is not a unit change.
        assert_eq!(detect_scale_mismatch(1.4, 1.0, Units::Unknown), None);
        // 5x matches no unit pair.
        assert_eq!(detect_scale_mismatch(5.0, 1.0, Units::Unknown), None);
        // Into mm only 10, 25.4 and 1000 exist: 100x is not one of them.
        assert_eq!(detect_scale_mismatch(100.0, 1.0, Units::Millimeters), None);
        assert_eq!(detect_scale_mismatch(0.0, 1.0, Units::Unknown), None);
        assert_eq!(detect_scale_mismatch(f64::NAN, 1.0, Units::Unknown), None);
    }

    #[test]
    fn check_converts_or_refuses() {
        let template = PointCloud::from_points(vec![[0.0, 0.0, 0.0], [0.1, 0.0, 0.0]]);
        let scan = PointCloud::from_points(vec![[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]]);
        let t = extent(&template);
        let mut s = scan.clone();
        let e = check_scan_units(&mut s, t, Units::Meters, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("mm") && e.contains("in m") && e.contains("--units auto"),
            "{e}"
        );
        assert_eq!(s, scan);
        match check_scan_units(&mut s, t, Units::Meters, true).unwrap() {
            UnitsCheck::Converted(m) => assert_eq!(m.factor, 0.001),
            other => panic!("{other:?}"),
        }
        assert!((s.points[1][0] - 0.1).abs() < 1e-7);
        assert_eq!(
            check_scan_units(&mut s, t, Units::Meters, false).unwrap(),
            UnitsCheck::Consistent
        );
    }
}
