//! Per-sample score files: one line per test sample with its ground truth and object
//! score, so a person can sort by score and open the worst scans, and a script can
//! recompute any metric without rerunning the model.

use super::write::write_output;
use crate::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize};
use std::path::Path;

/// The exact CSV header of [`samples_csv`].
/// The last three columns are empty for scans that were not registered.
pub const SAMPLES_CSV_HEADER: &str =
    "name,defect,anomalous,object_score,points,registered,fitness,inlier_rmse";

/// How well a scan was registered onto the training template.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegistrationFit {
    /// The fit passed the registration's quality gate; when false the scan's scores
    /// were computed in an unreliable pose and must not be trusted.
    pub registered: bool,
    /// Fraction of the scan's points with a template point nearby after alignment.
    pub fitness: f32,
    /// RMS distance of those points to the template (unit-sphere units).
    pub inlier_rmse: f32,
}

/// One scored test sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleScore {
    /// Sample name (file stem).
    pub name: String,
    /// Defect type from the file name ("good"/"positive" style names for normal ones).
    pub defect: String,
    /// Ground truth: true when the sample has a defect.
    pub anomalous: bool,
    /// The model's object-level score (higher = more anomalous); NaN if not computed.
    #[serde(deserialize_with = "nan_if_null")]
    pub object_score: f64,
    /// Number of points scored.
    pub points: usize,
    /// Set when the scan was registered onto the training template before scoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<RegistrationFit>,
}

fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// CSV with header [`SAMPLES_CSV_HEADER`]; `anomalous` as `true`/`false`, scores at
/// full precision (shortest text that reads back to the same `f64`). Names with commas
/// or quotes are quoted as CSV requires.
pub fn samples_csv(samples: &[SampleScore]) -> Result<String> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let err = |e: csv::Error| Error::Invalid(format!("samples CSV: {e}"));
    w.write_record(SAMPLES_CSV_HEADER.split(',')).map_err(err)?;
    for s in samples {
        let [registered, fitness, rmse] = match &s.registration {
            Some(r) => [
                r.registered.to_string(),
                r.fitness.to_string(),
                r.inlier_rmse.to_string(),
            ],
            None => Default::default(),
        };
        w.write_record([
            s.name.clone(),
            s.defect.clone(),
            s.anomalous.to_string(),
            s.object_score.to_string(),
            s.points.to_string(),
            registered,
            fitness,
            rmse,
        ])
        .map_err(err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Invalid(format!("samples CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Invalid(format!("samples CSV: {e}")))
}

/// Pretty JSON array of samples; NaN scores become `null`.
pub fn samples_json(samples: &[SampleScore]) -> Result<String> {
    serde_json::to_string_pretty(samples)
        .map(|s| s + "\n")
        .map_err(|e| Error::Invalid(format!("samples JSON: {e}")))
}

/// Write [`samples_csv`] to `path` atomically.
pub fn write_samples_csv(path: &Path, samples: &[SampleScore]) -> Result<()> {
    write_output(path, samples_csv(samples)?.as_bytes())
}

/// Write [`samples_json`] to `path` atomically.
pub fn write_samples_json(path: &Path, samples: &[SampleScore]) -> Result<()> {
    write_output(path, samples_json(samples)?.as_bytes())
}
