//! One category's `report.html`: summary and per-kind tables, curves, the 3D viewer
//! and the gallery of every scored scan, as one HTML string. Images are linked
//! (relative paths into the category's `heatmaps/` folder), everything else is inline,
//! so the page opens from disk with no network.

use super::charts::{score_histogram_svg, unit_curves_svg, Series};
use super::results_dir::CategoryRun;
use super::summary::{f1_max, kind_rows, Counts};
use super::viewer::view_data_json;
use super::{attr, esc, pct, PageParts};
use crate::metrics::{pr_curve, roc_curve};
use crate::report::paper_table;
use crate::report::scan_view::ScanView;
use crate::Result;
use std::fmt::Write;

/// What the page shows beyond the run's own data.
#[derive(Debug, Clone)]
pub struct PageOptions {
    /// At most this many scans (the top-scoring ones with view data) in the 3D viewer.
    pub viewer_scans: usize,
    /// Link back to the benchmark page, when this page is one category of it.
    pub up_link: Option<String>,
}

impl Default for PageOptions {
    fn default() -> Self {
        Self {
            viewer_scans: 12,
            up_link: None,
        }
    }
}

/// The paper's `(object AUROC %, point AUROC %)` for a category: from the table of
/// `layout` when the results name one (none for a layout the paper did not use),
/// else from whichever published table has a category of that name.
pub fn paper_numbers(category: &str, layout: Option<&str>) -> (Option<f64>, Option<f64>) {
    let tables: Vec<&str> = match layout {
        Some(l) => vec![l],
        None => vec!["anomaly-shapenet", "real3d"],
    };
    tables
        .iter()
        .filter_map(|l| paper_table(l)?.get(category))
        .next()
        .unwrap_or((None, None))
}

/// The whole page.
pub fn category_html(run: &CategoryRun, opts: &PageOptions) -> Result<String> {
    let mut body = String::new();
    let title = format!("{} — {}", run.name, run.model);
    let _ = write!(body, "<header><h1>{}</h1>", esc(&title));
    if let Some(up) = &opts.up_link {
        let _ = write!(
            body,
            "<p><a href=\"{}\">← benchmark summary</a></p>",
            attr(up)
        );
    }
    body += "</header>\n";
    summary_section(&mut body, run);
    curves_section(&mut body, run)?;
    let order = by_score(run);
    let viewer: Vec<(&str, &ScanView)> = order
        .iter()
        .filter_map(|&i| {
            let name = run.samples[i].name.as_str();
            run.views.get(name).map(|v| (name, v))
        })
        .take(opts.viewer_scans)
        .collect();
    viewer_section(&mut body, &viewer)?;
    gallery_section(&mut body, run, &order, &viewer);
    Ok(super::page_shell(&PageParts {
        title: &title,
        body: &body,
        script: true,
    }))
}

/// Sample indices, highest object score first (NaN last), ties by name.
fn by_score(run: &CategoryRun) -> Vec<usize> {
    let mut order: Vec<usize> = (0..run.samples.len()).collect();
    order.sort_by(|&a, &b| {
        let (sa, sb) = (&run.samples[a], &run.samples[b]);
        let key = |s: f64| if s.is_nan() { f64::NEG_INFINITY } else { s };
        key(sb.object_score)
            .total_cmp(&key(sa.object_score))
            .then_with(|| sa.name.cmp(&sb.name))
    });
    order
}

fn summary_section(out: &mut String, run: &CategoryRun) {
    let labels: Vec<bool> = run.samples.iter().map(|s| s.anomalous).collect();
    let scores: Vec<f64> = run.samples.iter().map(|s| s.object_score).collect();
    let defective = labels.iter().filter(|&&l| l).count();
    let (paper_obj, paper_pt) = paper_numbers(&run.name, run.layout.as_deref());
    let opt_pct = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |x| format!("{x:.1}"));
    let r = run.result.as_ref();
    let metric =
        |f: fn(&crate::report::CategoryResult) -> f64| r.map_or("–".into(), |r| pct(f(r)));
    let f1 = f1_max(&labels, &scores);
    let at = run.threshold.map(|t| Counts::at(&labels, &scores, t));
    *out += "<section id=\"summary\"><h2>Summary</h2>\n<table id=\"summary-table\" class=\"metrics\">\
             <thead><tr><th>category</th><th>obj AUROC</th><th>obj AUROC (paper)</th><th>obj AP</th>\
             <th>point AUROC</th><th>point AUROC (paper)</th><th>point AP</th><th>F1-max</th>\
             <th>precision / recall at threshold</th><th>scans (normal / defective)</th><th>test s</th>\
             </tr></thead><tbody>";
    let _ = write!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{} / {}</td><td>{}</td></tr></tbody></table>",
        esc(&run.name),
        metric(|r| r.object_auroc),
        opt_pct(paper_obj),
        metric(|r| r.object_ap),
        metric(|r| r.point_auroc),
        opt_pct(paper_pt),
        metric(|r| r.point_ap),
        f1.map_or("–".into(), |(f, _)| pct(f)),
        at.map_or("no calibration".into(), |c| format!(
            "{} / {} ({} flagged)",
            pct(c.precision()),
            pct(c.recall()),
            c.tp + c.fp
        )),
        run.samples.len() - defective,
        defective,
        r.map_or("–".into(), |r| format!("{:.1}", r.test_seconds)),
    );
    *out += "<p class=\"note\">Metrics in percent. Paper: PO3AD (CVPR 2025) as published, where it has this category. \
             F1-max is the best F1 over all object-score cuts on this test set; the calibrated threshold is chosen without its labels.</p>\n";
    settings_table(out, run);
    let kinds = kind_rows(run);
    if !kinds.is_empty() {
        *out += "<h3>By defect kind</h3><p class=\"note\">Each kind's scans ranked against all normal scans.</p>\
                 <table id=\"kinds-table\" class=\"metrics\"><thead><tr><th>kind</th><th>scans</th>\
                 <th>obj AUROC</th><th>obj AP</th><th>point AUROC</th><th>point AP</th>\
                 <th>flagged at threshold</th></tr></thead><tbody>";
        for k in &kinds {
            let opt = |v: Option<f64>| v.map_or("–".into(), pct);
            let flagged = match (k.flagged, k.kind == "normal") {
                (Some(n), true) => format!("{n} of {} (false alarms)", k.scans),
                (Some(n), false) => format!("{n} of {}", k.scans),
                (None, _) => "–".into(),
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&k.kind),
                k.scans,
                pct(k.object_auroc),
                pct(k.object_ap),
                opt(k.point_auroc),
                opt(k.point_ap),
                flagged
            );
        }
        *out += "</tbody></table>\n";
    }
    *out += "</section>\n";
}

/// The run's scoring settings and calibration, key by key.
fn settings_table(out: &mut String, run: &CategoryRun) {
    let mut rows: Vec<(String, String)> = Vec::new();
    match &run.scoring {
        Some(serde_json::Value::Object(map)) => {
            for (k, v) in map {
                rows.push((k.clone(), json_cell(v)));
            }
        }
        Some(v) => rows.push(("scoring".into(), json_cell(v))),
        None => {}
    }
    rows.push((
        "calibrated object threshold".into(),
        run.threshold.map_or("none".into(), |t| format!("{t:.6}")),
    ));
    if let Some(s) = &run.calibration_source {
        rows.push(("calibration source".into(), s.clone()));
    }
    *out += "<h3>Scoring settings</h3><table id=\"scoring-table\" class=\"settings\"><tbody>";
    for (k, v) in rows {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(&k), esc(&v));
    }
    *out += "</tbody></table>\n";
}

fn json_cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn curves_section(out: &mut String, run: &CategoryRun) -> Result<()> {
    let labels: Vec<bool> = run.samples.iter().map(|s| s.anomalous).collect();
    let scores: Vec<f64> = run.samples.iter().map(|s| s.object_score).collect();
    // Object curves need both classes and finite scores; without them the chart says so.
    let object = roc_curve(&labels, &scores)
        .ok()
        .zip(pr_curve(&labels, &scores).ok());
    let (obj_roc, obj_pr): (Vec<[f64; 2]>, Vec<[f64; 2]>) = match &object {
        Some(((fpr, tpr, _), (p, r, _))) => (
            fpr.iter().zip(tpr).map(|(&x, &y)| [x, y]).collect(),
            r.iter().zip(p).rev().map(|(&x, &y)| [x, y]).collect(),
        ),
        None => Default::default(),
    };
    let r = run.result.as_ref();
    let mut roc = Vec::new();
    let mut pr = Vec::new();
    if object.is_some() {
        roc.push(Series {
            label: format!(
                "object (AUROC {})",
                r.map_or("–".into(), |r| pct(r.object_auroc))
            ),
            points: &obj_roc,
        });
        pr.push(Series {
            label: format!("object (AP {})", r.map_or("–".into(), |r| pct(r.object_ap))),
            points: &obj_pr,
        });
    }
    if let Some(c) = &run.point_curves {
        roc.push(Series {
            label: format!("point (AUROC {})", pct(c.point.auroc)),
            points: &c.point.roc,
        });
        pr.push(Series {
            label: format!("point (AP {})", pct(c.point.ap)),
            points: &c.point.pr,
        });
    }
    let normal: Vec<f64> = run
        .samples
        .iter()
        .filter(|s| !s.anomalous)
        .map(|s| s.object_score)
        .collect();
    let defective: Vec<f64> = run
        .samples
        .iter()
        .filter(|s| s.anomalous)
        .map(|s| s.object_score)
        .collect();
    let f1_cut = f1_max(&labels, &scores)
        .map(|(_, c)| c)
        .filter(|c| c.is_finite());
    *out += "<section id=\"curves\"><h2>Curves</h2><div class=\"charts\">";
    for (id, svg) in [
        (
            "roc",
            unit_curves_svg(
                "ROC",
                "false positive rate",
                "true positive rate",
                &roc,
                true,
            )?,
        ),
        (
            "pr",
            unit_curves_svg("Precision–recall", "recall", "precision", &pr, false)?,
        ),
        (
            "histogram",
            score_histogram_svg(&normal, &defective, run.threshold, f1_cut)?,
        ),
    ] {
        let _ = write!(
            out,
            "<figure class=\"chart\" id=\"chart-{id}\">{svg}</figure>"
        );
    }
    *out += "</div>";
    if run.point_curves.is_none() {
        *out +=
            "<p class=\"note\">No point-level curves: this results folder has no curves.json.</p>";
    }
    *out += "</section>\n";
    Ok(())
}

pub(super) fn viewer_section(out: &mut String, viewer: &[(&str, &ScanView)]) -> Result<()> {
    *out += "<section id=\"viewer-section\"><h2>3D view</h2>";
    if viewer.is_empty() {
        *out += "<p class=\"note\">No scan view data (heatmaps/*.view.json) in this results folder.</p></section>\n";
        return Ok(());
    }
    *out += "<div class=\"viewer-bar\"><label>scan <select id=\"view-select\"></select></label>\
             <span class=\"hint\">drag to rotate · wheel to zoom · double-click to reset</span>\
             <span id=\"view-info\"></span></div>\
             <canvas id=\"viewer\" width=\"720\" height=\"480\"></canvas>";
    let _ = write!(
        out,
        "<script id=\"view-data\" type=\"application/json\">{}</script></section>",
        view_data_json(viewer)?
    );
    Ok(())
}

fn gallery_section(
    out: &mut String,
    run: &CategoryRun,
    order: &[usize],
    viewer: &[(&str, &ScanView)],
) {
    let mut kinds: Vec<&str> = run.samples.iter().map(|s| s.defect.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let _ = write!(
        out,
        "<section id=\"gallery-section\"><h2>Gallery ({} scans, highest score first)</h2>\
         <div class=\"filters\"><label>kind <select id=\"kind-filter\"><option value=\"\">all</option>",
        run.samples.len()
    );
    for k in kinds {
        let _ = write!(out, "<option value=\"{}\">{}</option>", attr(k), esc(k));
    }
    *out += "</select></label> <label>truth <select id=\"truth-filter\"><option value=\"\">all</option>\
             <option value=\"defective\">defective</option><option value=\"normal\">normal</option></select></label> \
             <span id=\"gallery-count\"></span></div><div id=\"gallery\">";
    for (rank, &i) in order.iter().enumerate() {
        let s = &run.samples[i];
        let truth = if s.anomalous { "defective" } else { "normal" };
        let verdict = run.verdicts.get(&s.name);
        let flagged = verdict.map(|v| v.verdict == "anomalous");
        let mark = match (flagged, s.anomalous) {
            (Some(true), true) | (Some(false), false) => "right",
            (Some(_), _) => "wrong",
            (None, _) => "unjudged",
        };
        let _ = write!(
            out,
            "<div class=\"card {truth} {mark}\" data-kind=\"{}\" data-truth=\"{truth}\" data-score=\"{}\">",
            attr(&s.defect),
            s.object_score
        );
        match run.heatmaps.get(&s.name) {
            Some(png) => {
                let _ = write!(
                    out,
                    "<img loading=\"lazy\" src=\"{}\" alt=\"heat map of {}\">",
                    attr(png),
                    attr(&s.name)
                );
            }
            None => *out += "<div class=\"noimg\">no heat map written</div>",
        }
        let _ = write!(
            out,
            "<div class=\"cap\"><b>#{} {}</b><br><span class=\"tag {truth}\">{truth}</span> {}<br>score {}",
            rank + 1,
            esc(&s.name),
            esc(&s.defect),
            fmt_score(s.object_score)
        );
        if let Some(v) = verdict {
            let _ = write!(
                out,
                " · normalized {} · <b>{}</b>",
                v.normalized.map_or("–".into(), |n| format!("{n:.2}")),
                esc(&v.verdict)
            );
            if let Some(r) = &v.regions {
                let _ = write!(out, " · regions {}", esc(r));
            }
        }
        if let Some(r) = &s.registration {
            let _ = write!(
                out,
                "<br>registration: {} fitness {:.2}, rmse {:.4}",
                if r.registered {
                    "ok,"
                } else {
                    "<b>FAILED</b>,"
                },
                r.fitness,
                r.inlier_rmse
            );
        }
        let _ = write!(out, "<br>{} points", s.points);
        if let Some(idx) = viewer.iter().position(|(n, _)| *n == s.name) {
            let _ = write!(
                out,
                " <button class=\"show3d\" data-view=\"{idx}\">3D</button>"
            );
        }
        *out += "</div></div>";
    }
    *out += "</div></section>\n";
}

fn fmt_score(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{v:.5}")
    }
}
