//! One scan, start to finish: place it in the detector's frame, score its points, and
//! (with a calibration) decide — normalized score, verdict, anomalous regions. `po3ad
//! predict` and `po3ad serve` both report a scan through [`report_scan`], so a file
//! scored by either gives the same numbers.

use super::calibration::Calibration;
use super::intake::IntakeSummary;
use super::placement::Placement;
use super::regions::{find_regions, significant, Region, RegionConfig};
use super::scorer::{Scored, Scorer};
use po3ad_core::report::RegistrationFit;
use po3ad_core::PointCloud;
use serde::Serialize;
use std::collections::BTreeMap;

/// What is reported for one scan.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub object_score: f64,
    /// `clamp(0.5 · object_score / object threshold, 0, 1)`: the threshold maps to 0.5;
    /// null when the model has no calibration.
    pub normalized_score: Option<f64>,
    /// `"anomalous"` (object score above the calibrated threshold) or `"normal"`; null
    /// when the model has no calibration. `"unregistered"` (calibrated or not) when the
    /// scan had to be registered to the training pose and could not be: its scores
    /// measure a wrong pose, so it is neither normal nor anomalous.
    pub verdict: Option<String>,
    pub max_point_score: f32,
    pub points: usize,
    /// Points scoring above the calibrated point threshold (null when uncalibrated).
    pub anomalous_points: Option<usize>,
    /// Connected clusters of those points that stand out more than any region of the
    /// normal calibration scans (`super::regions`), in the scan's own file
    /// coordinates, largest first; null when uncalibrated or unregistered.
    pub regions: Option<Vec<Region>>,
    /// How the scan was put into the detector's frame: register, fixed or scan.
    pub frame: String,
    /// The registration's fit, when the scan was registered. `registered: false` means
    /// the scan could not be put into the training pose and its scores are unreliable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<RegistrationFit>,
    /// How the scores were made: detector, label, settings, frame, version
    /// ([`super::provenance`]).
    pub scoring: BTreeMap<String, String>,
    /// What was taken out of the file before scoring (invalid points, background) and
    /// any unit conversion; absent when the scan was given as points, not as a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<IntakeSummary>,
}

/// The verdict of a scan that could not be registered.
pub const UNREGISTERED: &str = "unregistered";

impl ScanReport {
    /// False when the scan had to be registered and could not be.
    pub fn placed(&self) -> bool {
        self.registration.is_none_or(|f| f.registered)
    }
}

/// Place one scan (file coordinates) and score it: the point scores (in the scan's point
/// order) and object score, and the registration's fit when it was registered.
pub fn score_scan(
    placement: &Placement,
    scorer: &dyn Scorer,
    mut cloud: PointCloud,
) -> anyhow::Result<(Scored, Option<RegistrationFit>)> {
    let fit = placement.place(&mut cloud)?;
    let scored = scorer.score(&[&cloud])?.pop().unwrap_or(Scored {
        points: Vec::new(),
        object: 0.0,
    });
    Ok((scored, fit))
}

/// Score `original` (file coordinates; multiplied by `to_template` to get the
/// template's units, 1 when they agree) and decide on it with `calibration`; returns
/// the report and the point scores (in the scan's point order). Regions are reported in
/// `original`'s coordinates.
pub fn report_scan(
    placement: &Placement,
    scorer: &dyn Scorer,
    calibration: Option<&Calibration>,
    original: &PointCloud,
    to_template: f64,
) -> anyhow::Result<(ScanReport, Vec<f32>)> {
    let mut cloud = original.clone();
    if to_template != 1.0 {
        po3ad_core::scene::units::scale(&mut cloud, to_template);
    }
    let (scored, fit) = score_scan(placement, scorer, cloud)?;
    let (scores, object_score) = (scored.points, scored.object);
    let mut report = ScanReport {
        object_score,
        normalized_score: None,
        verdict: None,
        max_point_score: scores.iter().copied().fold(0.0, f32::max),
        points: scores.len(),
        anomalous_points: None,
        regions: None,
        frame: placement.name().into(),
        registration: fit,
        scoring: super::provenance(scorer, placement),
        input: None,
    };
    if fit.is_some_and(|f| !f.registered) {
        report.verdict = Some(UNREGISTERED.to_string());
        if let Some(c) = calibration {
            report.normalized_score = Some(c.normalized(object_score));
        }
        return Ok((report, scores));
    }
    if let Some(c) = calibration {
        report.normalized_score = Some(c.normalized(object_score));
        report.verdict = Some(c.verdict(object_score).to_string());
        report.anomalous_points = Some(scores.iter().filter(|&&s| s > c.point_threshold).count());
        report.regions = Some(significant(
            find_regions(
                &original.points,
                &scores,
                c.point_threshold,
                &RegionConfig::default(),
            ),
            c.region_threshold,
        ));
    }
    Ok((report, scores))
}
