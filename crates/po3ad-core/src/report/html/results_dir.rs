//! Reading what `po3ad test` / `po3ad benchmark` leave in a results folder into one
//! [`CategoryRun`] per category: `results.json` (metrics, decisions, scoring settings),
//! `scores.csv`, `decisions.csv`, `curves.json`, and the heat-map folder's PNG and
//! `.view.json` files. Every file but `scores.csv` is optional, so the report shows
//! whatever the run wrote.

use crate::report::curves::{read_curves, CurveFile};
use crate::report::samples::SAMPLES_CSV_HEADER;
use crate::report::scan_view::{read_scan_view, scan_view_path, ScanView};
use crate::report::{CategoryResult, RegistrationFit, SampleScore};
use crate::{Error, Result};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Heat-map folder inside a category's results folder.
pub const HEATMAP_DIR: &str = "heatmaps";

/// The calibrated verdict of one scan (`decisions.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Object score divided by the calibrated threshold (1 = at the threshold).
    pub normalized: Option<f64>,
    /// `anomalous` / `normal` as the run wrote it.
    pub verdict: String,
    /// The `regions` column (anomalous regions found), when the file has one.
    pub regions: Option<String>,
}

/// One category's results as found on disk.
#[derive(Debug, Clone)]
pub struct CategoryRun {
    /// Category name (results.json row, else the folder name).
    pub name: String,
    pub model: String,
    /// The run's metrics row, when a results.json gives one.
    pub result: Option<CategoryResult>,
    pub samples: Vec<SampleScore>,
    /// By sample name; empty without a calibration.
    pub verdicts: HashMap<String, Verdict>,
    /// Calibrated object threshold (anomalous ⇔ score > threshold).
    pub threshold: Option<f64>,
    pub calibration_source: Option<String>,
    /// The dataset layout (`anomaly-shapenet`, `real3d`, ...) when results.json records
    /// one as `"layout"`; it picks the paper's table.
    pub layout: Option<String>,
    /// results.json's `scoring` object (or string), shown key by key.
    pub scoring: Option<serde_json::Value>,
    pub point_curves: Option<CurveFile>,
    /// By sample name: heat-map PNG path relative to the category folder.
    pub heatmaps: HashMap<String, String>,
    /// By sample name: the 3D view data.
    pub views: HashMap<String, ScanView>,
}

/// Read the category results in `dir`; `row` (from a benchmark's results.json) is
/// used when the folder has no results.json of its own.
pub fn read_category(
    dir: &Path,
    row: Option<&CategoryResult>,
    model: &str,
    layout: Option<&str>,
) -> Result<CategoryRun> {
    let samples = read_scores_csv(&dir.join("scores.csv"))?;
    let json = read_json(&dir.join("results.json"))?;
    let own_row = json
        .as_ref()
        .and_then(|j| j.get("rows"))
        .and_then(|r| serde_json::from_value::<Vec<CategoryResult>>(r.clone()).ok())
        .and_then(|rows| rows.into_iter().next());
    let result = own_row.or_else(|| row.cloned());
    let decisions = json.as_ref().and_then(|j| j.get("decisions"));
    let threshold = decisions
        .and_then(|d| d.get("object_threshold"))
        .and_then(serde_json::Value::as_f64);
    let calibration_source = decisions
        .and_then(|d| d.get("calibration_source"))
        .and_then(|v| v.as_str().map(str::to_string));
    let scoring = json.as_ref().and_then(|j| j.get("scoring")).cloned();
    let layout = json
        .as_ref()
        .and_then(|j| j.get("layout"))
        .and_then(|l| l.as_str())
        .or(layout)
        .map(str::to_string);
    let model = json
        .as_ref()
        .and_then(|j| j.get("model"))
        .and_then(|m| m.as_str())
        .unwrap_or(model)
        .to_string();
    let name = result
        .as_ref()
        .map(|r| r.category.clone())
        .unwrap_or_else(|| {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "results".into())
        });
    let (heatmaps, views) = read_heatmaps(&dir.join(HEATMAP_DIR), &samples)?;
    Ok(CategoryRun {
        name,
        model,
        result,
        verdicts: read_decisions_csv(&dir.join("decisions.csv"))?,
        samples,
        threshold,
        calibration_source,
        layout,
        scoring,
        point_curves: read_curves(dir)?,
        heatmaps,
        views,
    })
}

/// A results.json as loose JSON; `None` when absent.
pub fn read_json(path: &Path) -> Result<Option<serde_json::Value>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::Format {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })
}

/// One row of scores.csv ([`SAMPLES_CSV_HEADER`]); the registration columns are empty
/// for scans that were not registered.
#[derive(Deserialize)]
struct ScoreRow {
    name: String,
    defect: String,
    anomalous: bool,
    object_score: f64,
    points: usize,
    registered: Option<bool>,
    fitness: Option<f32>,
    inlier_rmse: Option<f32>,
}

/// Read scores.csv as written by [`crate::report::write_samples_csv`].
pub fn read_scores_csv(path: &Path) -> Result<Vec<SampleScore>> {
    let bad = |msg: String| Error::Format {
        path: path.to_path_buf(),
        msg,
    };
    let mut r = csv::Reader::from_path(path).map_err(|e| match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(path, io),
        other => bad(format!("{other:?}")),
    })?;
    let header = r.headers().map_err(|e| bad(e.to_string()))?.clone();
    let want: Vec<&str> = SAMPLES_CSV_HEADER.split(',').collect();
    if header.iter().take(4).ne(want.iter().take(4).copied()) {
        return Err(bad(format!(
            "header {:?}, expected it to start {:?}",
            header.iter().collect::<Vec<_>>(),
            &want[..4]
        )));
    }
    let mut out = Vec::new();
    for row in r.deserialize::<ScoreRow>() {
        let row = row.map_err(|e| bad(e.to_string()))?;
        let registration = match (row.registered, row.fitness, row.inlier_rmse) {
            (Some(registered), Some(fitness), Some(inlier_rmse)) => Some(RegistrationFit {
                registered,
                fitness,
                inlier_rmse,
            }),
            _ => None,
        };
        out.push(SampleScore {
            name: row.name,
            defect: row.defect,
            anomalous: row.anomalous,
            object_score: row.object_score,
            points: row.points,
            registration,
        });
    }
    Ok(out)
}

/// decisions.csv (`name,defect,anomalous,object_score,normalized_score,verdict`, and
/// `regions` if the run adds that column); rows
/// without a verdict (no calibration) are skipped. Empty map when the file is absent.
fn read_decisions_csv(path: &Path) -> Result<HashMap<String, Verdict>> {
    let mut out = HashMap::new();
    if !path.is_file() {
        return Ok(out);
    }
    let bad = |e: csv::Error| Error::Format {
        path: path.to_path_buf(),
        msg: e.to_string(),
    };
    let mut r = csv::Reader::from_path(path).map_err(bad)?;
    let header = r.headers().map_err(bad)?.clone();
    let col = |n: &str| header.iter().position(|h| h == n);
    let regions = col("regions");
    let (Some(name), Some(norm), Some(verdict)) =
        (col("name"), col("normalized_score"), col("verdict"))
    else {
        return Err(Error::Format {
            path: path.to_path_buf(),
            msg: "expected columns name, normalized_score, verdict".into(),
        });
    };
    for rec in r.records() {
        let rec = rec.map_err(bad)?;
        let v = rec.get(verdict).unwrap_or("").trim();
        if v.is_empty() {
            continue;
        }
        out.insert(
            rec.get(name).unwrap_or("").to_string(),
            Verdict {
                normalized: rec.get(norm).and_then(|s| s.trim().parse().ok()),
                verdict: v.to_string(),
                regions: regions
                    .and_then(|i| rec.get(i))
                    .filter(|r| !r.trim().is_empty())
                    .map(str::to_string),
            },
        );
    }
    Ok(out)
}

type Heatmaps = (HashMap<String, String>, HashMap<String, ScanView>);

/// The PNG (as a path relative to the category folder) and view data of each sample
/// that has them.
fn read_heatmaps(dir: &Path, samples: &[SampleScore]) -> Result<Heatmaps> {
    let (mut pngs, mut views) = (HashMap::new(), HashMap::new());
    if !dir.is_dir() {
        return Ok((pngs, views));
    }
    for s in samples {
        if dir.join(format!("{}.png", s.name)).is_file() {
            pngs.insert(s.name.clone(), format!("{HEATMAP_DIR}/{}.png", s.name));
        }
        let view: PathBuf = scan_view_path(dir, &s.name);
        if view.is_file() {
            views.insert(s.name.clone(), read_scan_view(&view)?);
        }
    }
    Ok((pngs, views))
}
