//! A scanner's file, made ready for a detector: what a real inspection cell adds to a
//! scan and the detector must not see.
//!
//! In order:
//! 1. **invalid points** (NaN / ±inf, the (0, 0, 0) pixels of organized clouds) are
//!    dropped when the file is read (`po3ad_core::io::read_scan`);
//! 2. **units**: the scan's size is compared with the template's (`--units`): a
//!    mismatch by a known unit factor (1000, 25.4, 10, …) is refused with a message
//!    naming both units (`check`, the default), or converted (`auto`); a scan declared
//!    in a unit (`--units mm`) is converted into a template whose units are known;
//! 3. **background**: the support plane, fixtures and other objects are removed
//!    (`po3ad_core::scene::remove_background`) when the scan is clearly larger than the
//!    part (`--background auto`, the default), always (`on`, or with `--crop`), or never
//!    (`off`).
//!
//! What is left — the part's points, in the template's units — is what the detector
//! places and scores. Every score is written back to the file's point order, with NaN
//! for a point that was dropped or removed ([`Intake::to_file_order`]).

use po3ad_core::frame::TrainingFrame;
use po3ad_core::io::{E57Scans, Scan};
use po3ad_core::scene::units::KNOWN_UNITS;
use po3ad_core::scene::{
    self, detect_scale_mismatch, remove_background, BackgroundConfig, BackgroundReport, Plane,
    Units,
};
use po3ad_core::PointCloud;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// `--units` of the scoring commands: how a scan's units are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnitsArg {
    /// Refuse a scan whose size says it is in other units than the template.
    #[default]
    Check,
    /// Convert such a scan (and report the conversion).
    Auto,
    /// The scan is in these units: converted when the template's units are known.
    Declared(Units),
}

impl FromStr for UnitsArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "check" => Ok(Self::Check),
            "auto" => Ok(Self::Auto),
            other => match other.parse::<Units>() {
                Ok(Units::Unknown) | Err(_) => Err(format!(
                    "{s}: expected check, auto, or the scans' unit (m, cm, mm, in)"
                )),
                Ok(u) => Ok(Self::Declared(u)),
            },
        }
    }
}

impl fmt::Display for UnitsArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Check => f.write_str("check"),
            Self::Auto => f.write_str("auto"),
            Self::Declared(u) => write!(f, "{u}"),
        }
    }
}

/// `--background`: when the support plane and clutter are removed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum BackgroundMode {
    /// When the scan is more than 1.25× the template's size (a part alone never is).
    #[default]
    Auto,
    /// Always (a scan of the part in its cell).
    On,
    /// Never: every point is the part's.
    Off,
}

/// A scan whose extent exceeds the template's by this factor holds more than the part.
/// A scan of the part alone is at most the part's size (a one-sided view is smaller)
/// plus noise and a few stray points; 1.25 leaves room for those.
const BACKGROUND_TRIGGER: f64 = 1.25;

/// A part found under one unit hypothesis: (size misfit, factor, unit change, part,
/// what was removed).
type Candidate = (
    f64,
    f64,
    Option<(Units, Units)>,
    PointCloud,
    BackgroundReport,
);

/// How far (as a ratio) the part's size may be from the template's and still be taken
/// for it: a one-sided view is smaller than the whole part (as in
/// `po3ad_core::scene::units`).
const SIZE_TOLERANCE: f64 = 1.5;

/// The wider tolerance a unit change's part gets (a one-sided view's diagonal can be
/// half the whole part's); the largest such part wins.
const CHANGE_TOLERANCE: f64 = 2.0;

/// How scans are prepared (`--units`, `--background`, `--crop`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntakeOptions {
    pub units: UnitsArg,
    pub background: BackgroundMode,
    /// Keep only points inside this box (scan coordinates) first; implies background
    /// removal.
    pub crop: Option<([f32; 3], [f32; 3])>,
    /// E57 files: read only this scan (0-based) instead of all of them merged.
    pub scan: Option<usize>,
}

impl IntakeOptions {
    /// How a file is read for this intake (at most `max_points` points).
    pub fn read_options(&self, max_points: usize) -> po3ad_core::io::ScanOptions {
        po3ad_core::io::ScanOptions {
            max_points,
            e57_scans: self.scan.map_or(E57Scans::All, E57Scans::Index),
            ..Default::default()
        }
    }
}

/// What the detector knows of its template, for the checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TemplateSize {
    /// Bounding-box diagonal of the template, in its file units.
    pub extent: f64,
    pub units: Units,
}

impl TemplateSize {
    /// From the training frame a detector recorded (its template, normalized), `None`
    /// without one.
    pub fn of_frame(frame: Option<&TrainingFrame>, units: Units) -> Option<Self> {
        let frame = frame?;
        let cloud = PointCloud::from_points(frame.points.clone());
        let extent = scene::extent(&cloud) * frame.scale as f64;
        (extent.is_finite() && extent > 0.0).then_some(Self { extent, units })
    }
}

/// What the intake did to one scan, for reports (`predictions.json`, the service).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IntakeSummary {
    /// Points in the file.
    pub file_points: usize,
    /// Dropped as invalid (NaN / infinite coordinates, (0, 0, 0) pixels).
    pub invalid_points: usize,
    /// Removed as background (outside the crop box, support plane, other objects).
    pub background_points: usize,
    /// The unit conversion applied, e.g. "mm -> m (x 0.001)".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<String>,
    /// The support plane removed (scan coordinates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub support_plane: Option<Plane>,
}

/// A scan made ready: the part's points and the way back to the file's order.
#[derive(Debug, Clone)]
pub struct Intake {
    /// The file's valid points, in its own coordinates (what heatmaps show).
    pub valid: PointCloud,
    /// The part's points in the file's own coordinates (regions are reported in them).
    pub part: PointCloud,
    /// Multiply the part's coordinates by this to get the template's units.
    pub to_template: f64,
    /// For each part point, its index in `valid`.
    part_in_valid: Vec<u32>,
    /// For each valid point, its index in the file.
    valid_in_file: Vec<u32>,
    pub summary: IntakeSummary,
}

impl Intake {
    /// The part's points in the template's units, ready to be placed.
    pub fn part_in_template_units(&self) -> PointCloud {
        let mut cloud = self.part.clone();
        if self.to_template != 1.0 {
            scene::units::scale(&mut cloud, self.to_template);
        }
        cloud
    }

    /// Part scores spread over the valid points (NaN for background).
    pub fn to_valid_order(&self, part_scores: &[f32]) -> Vec<f32> {
        let mut out = vec![f32::NAN; self.valid.points.len()];
        for (&i, &s) in self.part_in_valid.iter().zip(part_scores) {
            out[i as usize] = s;
        }
        out
    }

    /// Part scores in the file's point order, NaN for every dropped or removed point.
    pub fn to_file_order(&self, part_scores: &[f32]) -> Vec<f32> {
        let mut out = vec![f32::NAN; self.summary.file_points];
        for (&i, &s) in self.part_in_valid.iter().zip(part_scores) {
            out[self.valid_in_file[i as usize] as usize] = s;
        }
        out
    }
}

/// Prepare `scan` for a detector whose template is `template` (None: the detector
/// records none, so units and background can only follow explicit options).
pub fn intake(
    scan: Scan,
    template: Option<TemplateSize>,
    opts: &IntakeOptions,
) -> anyhow::Result<Intake> {
    let Scan {
        cloud: valid,
        dropped,
        units: file_units,
        ..
    } = scan;
    if valid.is_empty() {
        anyhow::bail!(
            "no valid points ({} in the file, {} invalid)",
            dropped.total,
            dropped.dropped()
        );
    }
    let mut summary = IntakeSummary {
        file_points: dropped.total,
        invalid_points: dropped.dropped(),
        ..Default::default()
    };
    let declared = match opts.units {
        UnitsArg::Declared(u) => u,
        _ => file_units,
    };
    let (mut to_template, settled) =
        units_factor(&valid, template, declared, opts.units, &mut summary)?;

    let wanted = opts.crop.is_some()
        || match opts.background {
            BackgroundMode::On => true,
            BackgroundMode::Off => false,
            BackgroundMode::Auto => template.is_some_and(|t| {
                scene::extent(&valid) * to_template > BACKGROUND_TRIGGER * t.extent
            }),
        };
    let (part, part_in_valid) = if wanted {
        // Clutter makes the whole scan's size say nothing about its units. When they
        // are not settled, "same units" goes first: kept when the component of the
        // template's size is found. Otherwise every unit change competes, each
        // choosing the component of its expected size; of the parts within
        // CHANGE_TOLERANCE of that size the largest (in points) wins.
        let candidates = match template {
            Some(t) if !settled => unit_changes(t.units),
            _ => vec![(to_template, None)],
        };
        let mut best: Option<Candidate> = None;
        let mut same_units: Option<Candidate> = None;
        for (factor, change) in candidates {
            let cfg = BackgroundConfig {
                crop: opts.crop,
                // In the scan's own units.
                expected_extent: template.map(|t| (t.extent / factor) as f32),
                ..BackgroundConfig::default()
            };
            let (part, report) = remove_background(&valid, &cfg)
                .map_err(|e| anyhow::anyhow!("removing the background: {e}"))?;
            let misfit = template.map_or(0.0, |t| {
                (t.extent / (scene::extent(&part) * factor).max(f64::MIN_POSITIVE))
                    .ln()
                    .abs()
            });
            let candidate = (misfit, factor, change, part, report);
            if change.is_none() {
                if misfit <= SIZE_TOLERANCE.ln() {
                    best = Some(candidate);
                    break;
                }
                same_units = Some(candidate);
            } else if misfit <= CHANGE_TOLERANCE.ln()
                && best
                    .as_ref()
                    .is_none_or(|b| candidate.3.points.len() > b.3.points.len())
            {
                // Several unit changes can each find an object of the size they expect
                // (a distractor a tenth of the part's size under cm -> m): the part is
                // the largest of them, the object the scanner was pointed at.
                best = Some(candidate);
            }
        }
        let best = best.or(same_units);
        let Some((_, factor, change, part, report)) = best else {
            anyhow::bail!("no background removal was tried");
        };
        if let Some((from, to)) = change {
            if opts.units == UnitsArg::Check {
                anyhow::bail!(
                    "after removing the background, the part is {factor}x the template's \
                     size: it looks like {from} while the template is in {to}; convert the \
                     scan to {to}, say its units (--units {from}), or pass --units auto"
                );
            }
            summary.units = Some(format!(
                "{from} -> {to} (x {factor}, from the part's size after background removal)"
            ));
            to_template = factor;
        }
        summary.background_points = report.removed.len();
        summary.support_plane = report.plane;
        (part, report.kept)
    } else {
        let n = valid.points.len() as u32;
        (valid.clone(), (0..n).collect())
    };
    Ok(Intake {
        valid,
        part,
        to_template,
        part_in_valid,
        valid_in_file: dropped.kept,
        summary,
    })
}

/// The factor that brings the scan into the template's units, after the `--units`
/// policy, and whether that is settled (known units on both sides, a size mismatch
/// found, or no template); records a conversion in `summary`.
fn units_factor(
    valid: &PointCloud,
    template: Option<TemplateSize>,
    declared: Units,
    policy: UnitsArg,
    summary: &mut IntakeSummary,
) -> anyhow::Result<(f64, bool)> {
    let Some(t) = template else {
        return Ok((1.0, true));
    };
    // Known on both sides: the definitions decide, not the sizes.
    if let Some(factor) = declared.factor_to(t.units) {
        if factor != 1.0 {
            summary.units = Some(format!("{declared} -> {} (x {factor})", t.units));
        }
        return Ok((factor, true));
    }
    let Some(m) = detect_scale_mismatch(t.extent, scene::extent(valid), t.units) else {
        return Ok((1.0, false));
    };
    match policy {
        UnitsArg::Check => anyhow::bail!(
            "{m}; convert the scan to {}, say its units (--units {}), or pass --units auto",
            m.to,
            m.from
        ),
        UnitsArg::Auto | UnitsArg::Declared(_) => {
            summary.units = Some(format!(
                "{} -> {} (x {}, from the scan's size)",
                m.from, m.to, m.factor
            ));
            Ok((m.factor, true))
        }
    }
}

/// "Same units" first, then every change of known units into `to` (into any known
/// unit when `to` is unknown): `(factor, Some((from, to)))`.
fn unit_changes(to: Units) -> Vec<(f64, Option<(Units, Units)>)> {
    let mut out = vec![(1.0, None)];
    for from in KNOWN_UNITS {
        for into in KNOWN_UNITS {
            if from == into || (to != Units::Unknown && into != to) {
                continue;
            }
            if let Some(f) = from.factor_to(into) {
                out.push((f, Some((from, into))));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use po3ad_core::scene::DroppedPoints;

    fn scan(points: Vec<[f32; 3]>) -> Scan {
        let n = points.len();
        Scan {
            cloud: PointCloud::from_points(points),
            dropped: DroppedPoints::none(n),
            units: Units::Unknown,
            format: "test".into(),
        }
    }

    /// A 10 × 10 grid of a 0.1-unit square, in the z = 0 plane.
    fn square(side: f32) -> Vec<[f32; 3]> {
        (0..100)
            .map(|i| {
                [
                    (i % 10) as f32 * side / 9.0,
                    (i / 10) as f32 * side / 9.0,
                    0.0,
                ]
            })
            .collect()
    }

    #[test]
    fn units_arg_parses() {
        assert_eq!("check".parse::<UnitsArg>(), Ok(UnitsArg::Check));
        assert_eq!("AUTO".parse::<UnitsArg>(), Ok(UnitsArg::Auto));
        assert_eq!(
            "mm".parse::<UnitsArg>(),
            Ok(UnitsArg::Declared(Units::Millimeters))
        );
        assert!("furlong".parse::<UnitsArg>().is_err());
        assert!("unknown".parse::<UnitsArg>().is_err());
    }

    #[test]
    fn a_mm_scan_of_an_m_template_is_refused_or_converted() {
        let template = TemplateSize {
            extent: 0.1 * 2f64.sqrt(),
            units: Units::Meters,
        };
        let mm = || scan(square(100.0));
        let e = intake(mm(), Some(template), &IntakeOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("mm") && e.contains(" m ") && e.contains("--units auto"),
            "{e}"
        );
        let auto = IntakeOptions {
            units: UnitsArg::Auto,
            ..Default::default()
        };
        let got = intake(mm(), Some(template), &auto).unwrap();
        assert_eq!(got.to_template, 0.001);
        let part = got.part_in_template_units();
        assert!((part.points[99][0] - 0.1).abs() < 1e-6);
        assert!(got.summary.units.as_deref().unwrap().starts_with("mm -> m"));
        // Declared units convert by definition, whatever the size.
        let declared = IntakeOptions {
            units: UnitsArg::Declared(Units::Millimeters),
            ..Default::default()
        };
        assert_eq!(
            intake(mm(), Some(template), &declared).unwrap().to_template,
            0.001
        );
        // Same units: nothing to do.
        let m = intake(scan(square(0.1)), Some(template), &IntakeOptions::default()).unwrap();
        assert_eq!((m.to_template, m.summary.units), (1.0, None));
    }

    #[test]
    fn scores_go_back_to_the_file_order_with_nan_for_dropped_points() {
        // File: 4 points, the second invalid; background keeps valid points 0 and 2.
        let got = Intake {
            valid: PointCloud::from_points(vec![[0.0; 3], [1.0; 3], [2.0; 3]]),
            part: PointCloud::from_points(vec![[0.0; 3], [2.0; 3]]),
            to_template: 1.0,
            part_in_valid: vec![0, 2],
            valid_in_file: vec![0, 2, 3],
            summary: IntakeSummary {
                file_points: 4,
                invalid_points: 1,
                background_points: 1,
                ..Default::default()
            },
        };
        let file = got.to_file_order(&[0.5, 0.7]);
        assert_eq!(file[0], 0.5);
        assert!(file[1].is_nan() && file[2].is_nan());
        assert_eq!(file[3], 0.7);
        let valid = got.to_valid_order(&[0.5, 0.7]);
        assert_eq!((valid[0], valid[2]), (0.5, 0.7));
        assert!(valid[1].is_nan());
    }

    #[test]
    fn a_part_alone_keeps_every_point_under_auto_background() {
        let template = TemplateSize {
            extent: 0.1 * 2f64.sqrt(),
            units: Units::Unknown,
        };
        let got = intake(scan(square(0.1)), Some(template), &IntakeOptions::default()).unwrap();
        assert_eq!(got.part.points.len(), 100);
        assert_eq!(got.summary.background_points, 0);
    }
}
