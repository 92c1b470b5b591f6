//! The HTML report built from hand-made results folders: table values, curves, gallery,
//! escaping, the benchmark page's order and links; and, where Debian's `chromium` is
//! installed, the page opened in headless Chromium (scripts/report-check.sh): no
//! JavaScript error, 3D canvas drawn. Without chromium that part prints a skip notice.

use po3ad_core::report::{
    render_png, write_samples_csv, write_scan_view, CategoryResult, PointCurves, RenderOptions,
    SampleScore, REPORT_FILE,
};
use std::path::{Path, PathBuf};

const ODD_NAME: &str = "odd<b>&\"name";

fn sample(name: &str, defect: &str, anomalous: bool, score: f64) -> SampleScore {
    SampleScore {
        name: name.into(),
        defect: defect.into(),
        anomalous,
        object_score: score,
        points: 400,
        registration: None,
    }
}

/// A small ring of points with a hot patch, and its scores.
fn scan(hot: bool) -> (Vec<[f32; 3]>, Vec<f32>) {
    let n = 400;
    let points: Vec<[f32; 3]> = (0..n)
        .map(|i| {
            let a = i as f32 / n as f32 * std::f32::consts::TAU;
            [a.cos(), a.sin(), (i % 7) as f32 * 0.05]
        })
        .collect();
    let scores = (0..n)
        .map(|i| if hot && i < 40 { 1.0 } else { 0.1 })
        .collect();
    (points, scores)
}

/// A `po3ad test`-style folder. Object labels/scores are the hand case of
/// src/eval/decisions.rs: F1-max 6/7 (85.7 %).
fn category_dir(dir: &Path, name: &str) -> Vec<SampleScore> {
    let samples = vec![
        sample(&format!("{name}_bulge0"), "bulge", true, 0.9),
        sample(&format!("{name}_hole0"), "hole", true, 0.4),
        sample(&format!("{name}_positive0"), "positive", false, 0.5),
        sample(ODD_NAME, "positive", false, 0.1),
        sample(&format!("{name}_bulge1"), "bulge", true, 0.7),
    ];
    let heat = dir.join("heatmaps");
    std::fs::create_dir_all(&heat).unwrap();
    let mut curves = PointCurves::new();
    for s in &samples {
        let (points, scores) = scan(s.anomalous);
        let labels: Vec<u8> = scores.iter().map(|&v| u8::from(v > 0.5)).collect();
        curves.add_scan(&s.defect, s.anomalous, Some(&labels), &scores);
        if s.name != ODD_NAME {
            write_scan_view(&heat, &s.name, &points, &scores).unwrap();
            render_png(
                &heat.join(format!("{}.png", s.name)),
                &points,
                &scores,
                &RenderOptions::default(),
            )
            .unwrap();
        }
    }
    curves.write(dir).unwrap();
    write_samples_csv(&dir.join("scores.csv"), &samples).unwrap();
    samples
}

fn results_json(dir: &Path, row: &CategoryResult, threshold: f64) {
    let json = serde_json::json!({
        "model": "po3ad",
        "rows": [row],
        "decisions": { "object_threshold": threshold, "calibration_source": "training-views" },
        "scoring": { "object_score": "max", "nearest_weight": 0.25, "note": "<i>raw</i>" },
    });
    std::fs::write(dir.join("results.json"), json.to_string()).unwrap();
}

fn row(name: &str, obj: f64) -> CategoryResult {
    CategoryResult {
        category: name.into(),
        object_auroc: obj,
        object_ap: 0.5,
        point_auroc: 0.9123,
        point_ap: f64::NAN,
        train_seconds: 1.0,
        test_seconds: 2.0,
        by_defect: Default::default(),
    }
}

fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let rest = &html[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

#[test]
fn category_page_shows_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let samples = category_dir(dir, "ashtray0");
    results_json(dir, &row("ashtray0", 0.8766), 0.45);
    let path = po3ad_core::report::write_report(dir).unwrap();
    assert_eq!(path, dir.join(REPORT_FILE));
    let html = std::fs::read_to_string(&path).unwrap();
    // To look at the page: PO3AD_KEEP_REPORT=/some/dir cargo test ... (copies it there).
    if let Ok(keep) = std::env::var("PO3AD_KEEP_REPORT") {
        copy_dir(dir, Path::new(&keep));
    }

    let summary = section(&html, "summary");
    // Ours (from results.json), the paper's ashtray0 (100.0 / 96.2), F1-max 6/7.
    for v in ["87.7", "100.0", "96.2", "91.2", "85.7"] {
        assert!(summary.contains(&format!(">{v}<")), "summary lacks {v}");
    }
    // At threshold 0.45: flags 0.9, 0.5, 0.7 → precision 2/3, recall 2/3.
    assert!(summary.contains("66.7 / 66.7 (3 flagged)"));
    // Scoring settings key by key, values escaped.
    assert!(summary.contains("<th>nearest_weight</th><td>0.25</td>"));
    assert!(summary.contains("&lt;i&gt;raw&lt;/i&gt;"));
    // Kinds: bulge (2 scans: 0.9, 0.7 above both normals → AUROC 100), hole (0.4: above
    // 0.1, below 0.5 → 50), then normal with 1 false alarm (0.5 > 0.45).
    let kinds = section(&html, "kinds-table");
    let bulge = &kinds[kinds.find(">bulge</td>").unwrap()..];
    assert!(
        bulge.starts_with(">bulge</td><td>2</td><td>100.0</td>"),
        "{}",
        &bulge[..80]
    );
    assert!(kinds.contains(">hole</td><td>1</td><td>50.0</td>"));
    assert!(kinds.contains("1 of 2 (false alarms)"));

    // Three charts, each an SVG with drawn shapes; ROC has object and point series.
    let curves = section(&html, "curves");
    assert_eq!(curves.matches("<svg").count(), 3);
    for id in ["chart-roc", "chart-pr", "chart-histogram"] {
        let fig = &curves[curves.find(id).unwrap()..];
        let fig = &fig[..fig.find("</figure>").unwrap()];
        assert!(
            fig.contains("<polyline") || fig.contains("<rect"),
            "{id} draws nothing"
        );
    }
    assert!(curves.contains("point (AUROC"));
    assert!(curves.contains("calibrated threshold 0.4500"));

    // Gallery: every scan, highest score first, the odd name escaped everywhere.
    let gallery = section(&html, "gallery-section");
    assert_eq!(gallery.matches("<div class=\"card ").count(), samples.len());
    let pos = |n: &str| gallery.find(n).unwrap();
    assert!(pos("ashtray0_bulge0") < pos("ashtray0_bulge1"));
    assert!(pos("ashtray0_bulge1") < pos("ashtray0_positive0"));
    assert!(pos("ashtray0_positive0") < pos("ashtray0_hole0"));
    assert!(!html.contains(ODD_NAME));
    assert!(gallery.contains("odd&lt;b&gt;&amp;\"name"));
    assert!(gallery.contains("src=\"heatmaps/ashtray0_bulge0.png\""));
    // Viewer data for the four scans with views, none for the odd one.
    let viewer = section(&html, "viewer-section");
    assert_eq!(viewer.matches("\"name\":").count(), 4);

    browser_check(&path, samples.len());
}

#[test]
fn benchmark_page_puts_the_mean_first_and_links_categories() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rows = vec![row("bag0", 0.8), row("<cat>", 0.6)];
    std::fs::create_dir_all(dir.join("bag0")).unwrap();
    category_dir(&dir.join("bag0"), "bag0");
    let table = po3ad_core::report::ResultsTable {
        model: "po3ad".into(),
        rows: rows.clone(),
        scoring: Default::default(),
    };
    table.write_json(&dir.join("results.json")).unwrap();
    let path = po3ad_core::report::write_report(dir).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    let table = section(&html, "summary-table");
    let mean = table
        .find("<tr class=\"mean\"><td>mean</td><td>70.0</td>")
        .expect("mean row: (80 + 60) / 2");
    assert!(mean < table.find("bag0").unwrap());
    assert!(table.contains("<a href=\"bag0/report.html\">bag0</a>"));
    // No folder for the second category: listed, escaped, not linked.
    assert!(table.contains("<td>&lt;cat&gt;</td>"));
    // Paper's bag0 object AUROC.
    assert!(table.contains(">83.3<"));
    let cat = std::fs::read_to_string(dir.join("bag0").join(REPORT_FILE)).unwrap();
    assert!(cat.contains("href=\"../report.html\""));
    // Its metrics row came from the benchmark's results.json.
    assert!(section(&cat, "summary").contains(">80.0<"));

    // A recorded layout picks the paper's table: Real3D-AD has no bag0.
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    json["layout"] = "real3d".into();
    std::fs::write(dir.join("results.json"), json.to_string()).unwrap();
    let html = std::fs::read_to_string(po3ad_core::report::write_report(dir).unwrap()).unwrap();
    assert!(!html.contains(">83.3<"));
    let cat = std::fs::read_to_string(dir.join("bag0").join(REPORT_FILE)).unwrap();
    assert!(!cat.contains(">83.3<"));
}

#[test]
fn a_folder_without_results_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = po3ad_core::report::write_report(tmp.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a results folder"), "{err}");
    std::fs::write(tmp.path().join("scores.csv"), "wrong,header\n1,2\n").unwrap();
    let err = po3ad_core::report::write_report(tmp.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("scores.csv") && err.contains("header"),
        "{err}"
    );
}

#[test]
fn predictions_page_has_a_card_per_scan_and_the_viewer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (points, scores) = scan(true);
    write_scan_view(dir, "hot", &points, &scores).unwrap();
    render_png(
        &dir.join("hot.png"),
        &points,
        &scores,
        &RenderOptions::default(),
    )
    .unwrap();
    let d = dir.display();
    let json = serde_json::json!([
        { "file": "cold<&>.pcd", "heatmap_png": format!("{d}/cold.png"),
          "report": { "object_score": 0.1, "normalized_score": 0.2, "verdict": "normal", "points": 400, "regions": [] } },
        { "file": "hot.pcd", "heatmap_png": format!("{d}/hot.png"),
          "report": { "object_score": 0.9, "normalized_score": 0.8, "verdict": "anomalous", "points": 400,
                      "regions": [{}, {}], "anomalous_points": 40 } },
    ]);
    std::fs::write(dir.join("predictions.json"), json.to_string()).unwrap();
    let path = po3ad_core::report::write_report(dir).unwrap();
    assert_eq!(path, dir.join("predictions.html"));
    let html = std::fs::read_to_string(&path).unwrap();
    let gallery = section(&html, "gallery-section");
    assert_eq!(gallery.matches("<div class=\"card ").count(), 2);
    assert!(gallery.find("hot.pcd").unwrap() < gallery.find("cold&lt;&amp;&gt;.pcd").unwrap());
    assert!(gallery.contains("regions 2 · 40 anomalous points"));
    assert!(gallery.contains("src=\"hot.png\""));
    assert!(gallery.contains("no heat map"));
    assert_eq!(
        section(&html, "viewer-section")
            .matches("\"name\":")
            .count(),
        1
    );
    browser_check(&path, 2);
}

/// scripts/report-check.sh on the page when chromium is installed.
fn browser_check(report: &Path, cards: usize) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/report-check.sh");
    let found = ["chromium", "chromium-browser"].iter().any(|b| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {b}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !found {
        eprintln!("skipping the browser check: no chromium on PATH");
        return;
    }
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg(report)
        .arg(cards.to_string())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "report-check.sh failed:\n{text}");
    assert!(text.contains("OK"), "{text}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}
