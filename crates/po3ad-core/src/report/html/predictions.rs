//! `predictions.html`: the per-scan cards of a `po3ad predict` folder (its
//! `predictions.json`, the heat-map PNGs and `.view.json` files beside it), highest
//! object score first, with the 3D viewer. No ground truth here, so no curves.

use super::page::viewer_section;
use super::{attr, esc, page_shell, PageParts};
use crate::report::scan_view::{read_scan_view, scan_view_path, ScanView};
use crate::report::write::write_output;
use crate::{Error, Result};
use serde_json::Value;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The file written beside `predictions.json`.
pub const PREDICTIONS_REPORT_FILE: &str = "predictions.html";

/// One scan of predictions.json, as the cards need it.
struct Card {
    file: String,
    /// Heat-map file stem (PNG and view share it).
    stem: Option<String>,
    score: f64,
    report: Value,
}

/// Write `dir/predictions.html` from `dir/predictions.json` and return its path.
pub fn write_predictions_report(dir: &Path, viewer_scans: usize) -> Result<PathBuf> {
    let path = dir.join("predictions.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let bad = |msg: String| Error::Format {
        path: path.clone(),
        msg,
    };
    let json: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let items = json
        .as_array()
        .ok_or_else(|| bad("expected a JSON array of predictions".into()))?;
    let mut cards: Vec<Card> = items
        .iter()
        .map(|p| {
            let report = p.get("report").cloned().unwrap_or(Value::Null);
            let stem = p
                .get("heatmap_png")
                .and_then(Value::as_str)
                .and_then(|s| Path::new(s).file_stem())
                .map(|s| s.to_string_lossy().into_owned());
            Card {
                file: p
                    .get("file")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string(),
                stem,
                score: report
                    .get("object_score")
                    .and_then(Value::as_f64)
                    .unwrap_or(f64::NAN),
                report,
            }
        })
        .collect();
    let key = |s: f64| if s.is_nan() { f64::NEG_INFINITY } else { s };
    cards.sort_by(|a, b| key(b.score).total_cmp(&key(a.score)));
    let mut views: Vec<(String, ScanView)> = Vec::new();
    for c in &cards {
        if views.len() >= viewer_scans {
            break;
        }
        if let Some(stem) = &c.stem {
            let v = scan_view_path(dir, stem);
            if v.is_file() {
                views.push((stem.clone(), read_scan_view(&v)?));
            }
        }
    }
    let viewer: Vec<(&str, &ScanView)> = views.iter().map(|(n, v)| (n.as_str(), v)).collect();
    let mut body = format!(
        "<header><h1>Predictions ({} scans)</h1></header>\n",
        cards.len()
    );
    viewer_section(&mut body, &viewer)?;
    let _ = write!(
        body,
        "<section id=\"gallery-section\"><h2>Scans, highest score first</h2><div id=\"gallery\">"
    );
    for (rank, c) in cards.iter().enumerate() {
        let r = &c.report;
        let verdict = r.get("verdict").and_then(Value::as_str);
        let class = match verdict {
            Some("anomalous") => "defective",
            Some(_) => "normal",
            None => "unjudged",
        };
        let _ = write!(
            body,
            "<div class=\"card {class}\" data-kind=\"\" data-truth=\"\">"
        );
        match &c.stem {
            Some(stem) if dir.join(format!("{stem}.png")).is_file() => {
                let _ = write!(
                    body,
                    "<img loading=\"lazy\" src=\"{}\" alt=\"heat map of {}\">",
                    attr(&format!("{stem}.png")),
                    attr(&c.file)
                );
            }
            _ => body += "<div class=\"noimg\">no heat map</div>",
        }
        let _ = write!(
            body,
            "<div class=\"cap\"><b>#{} {}</b><br>score {}",
            rank + 1,
            esc(&c.file),
            if c.score.is_nan() {
                "–".into()
            } else {
                format!("{:.5}", c.score)
            }
        );
        if let Some(n) = r.get("normalized_score").and_then(Value::as_f64) {
            let _ = write!(body, " · normalized {n:.2}");
        }
        match verdict {
            Some(v) => {
                let _ = write!(body, " · <span class=\"tag {class}\">{}</span>", esc(v));
            }
            None => body += " · no calibration",
        }
        if let Some(regions) = r.get("regions").and_then(Value::as_array) {
            let _ = write!(body, "<br>regions {}", regions.len());
        }
        if let Some(n) = r.get("anomalous_points").and_then(Value::as_u64) {
            let _ = write!(body, " · {n} anomalous points");
        }
        if let Some(fit) = r.get("registration") {
            let registered = fit
                .get("registered")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let fitness = fit
                .get("fitness")
                .and_then(Value::as_f64)
                .unwrap_or(f64::NAN);
            let _ = write!(
                body,
                "<br>registration: {} fitness {fitness:.2}",
                if registered { "ok," } else { "<b>FAILED</b>," }
            );
        }
        if let Some(p) = r.get("points").and_then(Value::as_u64) {
            let _ = write!(body, "<br>{p} points");
        }
        if let Some(idx) = c
            .stem
            .as_ref()
            .and_then(|s| viewer.iter().position(|(n, _)| n == s))
        {
            let _ = write!(
                body,
                " <button class=\"show3d\" data-view=\"{idx}\">3D</button>"
            );
        }
        body += "</div></div>";
    }
    body += "</div></section>\n";
    let out = dir.join(PREDICTIONS_REPORT_FILE);
    let html = page_shell(&PageParts {
        title: "po3ad predictions",
        body: &body,
        script: true,
    });
    write_output(&out, html.as_bytes())?;
    Ok(out)
}
