//! Results tables: exact CSV, the mean row, Markdown beside the paper, terminal
//! alignment, JSON round trip, validation and atomic writers.

use po3ad_core::report::table::CSV_HEADER;
use po3ad_core::report::{paper_table, CategoryResult, ResultsTable};

fn row(cat: &str, m: [f64; 4], train: f64, test: f64) -> CategoryResult {
    CategoryResult {
        by_defect: Default::default(),
        category: cat.into(),
        object_auroc: m[0],
        object_ap: m[1],
        point_auroc: m[2],
        point_ap: m[3],
        train_seconds: train,
        test_seconds: test,
    }
}

fn table() -> ResultsTable {
    ResultsTable {
        model: "po3ad-cpu".into(),
        scoring: Default::default(),
        rows: vec![
            row("ashtray0", [1.0, 0.9, 0.95, 0.5], 120.0, 3.25),
            row("bag0", [0.8, 0.7, 0.85, 0.25], 60.0, 2.0),
            row("vase9", [0.6, 0.5, 0.75, 0.125], 30.5, 1.0),
        ],
    }
}

#[test]
fn csv_header_and_rows_are_exact() {
    assert_eq!(
        CSV_HEADER,
        "category,object_auroc,object_ap,point_auroc,point_ap,train_seconds,test_seconds"
    );
    // Means by hand: obj AUROC (1+0.8+0.6)/3 = 0.8, obj AP 0.7, point AUROC 0.85,
    // point AP (0.5+0.25+0.125)/3 = 0.291666.., train 70.1666.., test 6.25/3 = 2.0833..
    let expected = "\
category,object_auroc,object_ap,point_auroc,point_ap,train_seconds,test_seconds
ashtray0,1.0000,0.9000,0.9500,0.5000,120.0,3.2
bag0,0.8000,0.7000,0.8500,0.2500,60.0,2.0
vase9,0.6000,0.5000,0.7500,0.1250,30.5,1.0
mean,0.8000,0.7000,0.8500,0.2917,70.2,2.1
";
    assert_eq!(table().to_csv(), expected);
}

#[test]
fn mean_is_columnwise_and_skips_nan() {
    let m = table().mean();
    assert_eq!(m.category, "mean");
    assert!((m.object_auroc - 0.8).abs() < 1e-12);
    assert!((m.object_ap - 0.7).abs() < 1e-12);
    assert!((m.point_auroc - 0.85).abs() < 1e-12);
    assert!((m.point_ap - 0.875 / 3.0).abs() < 1e-12);
    assert!((m.train_seconds - 210.5 / 3.0).abs() < 1e-9);
    assert!((m.test_seconds - 6.25 / 3.0).abs() < 1e-12);

    let mut t = table();
    t.rows[1].point_ap = f64::NAN; // e.g. a category without anomalous points
    assert!((t.mean().point_ap - 0.3125).abs() < 1e-12);
    let empty = ResultsTable {
        model: "x".into(),
        scoring: Default::default(),
        rows: vec![],
    };
    assert!(empty.mean().object_auroc.is_nan());
    assert_eq!(
        empty.to_csv(),
        format!("{CSV_HEADER}\nmean,NaN,NaN,NaN,NaN,NaN,NaN\n")
    );
}

#[test]
fn markdown_shows_paper_numbers_beside_ours() {
    let paper = paper_table("anomaly-shapenet").unwrap();
    let md = table().to_markdown(Some(paper));
    let lines: Vec<&str> = md.lines().collect();
    let header = lines.iter().find(|l| l.starts_with("| category")).unwrap();
    assert!(header.contains("obj AUROC (paper)") && header.contains("point AUROC (paper)"));
    // ashtray0: ours 100.0 %, paper 100.0 object / 96.2 point.
    let ash = lines.iter().find(|l| l.starts_with("| ashtray0 ")).unwrap();
    assert_eq!(
        *ash,
        "| ashtray0 | 100.0 | 100.0 | 90.0 | 95.0 | 96.2 | 50.0 | 120.0 | 3.2 |"
    );
    // The mean row's paper columns average the paper over the same three categories:
    // object (100.0 + 83.3 + 83.0) / 3 = 88.77, point (96.2 + 94.9 + 95.2) / 3 = 95.43.
    let mean = lines.iter().find(|l| l.starts_with("| **mean** ")).unwrap();
    assert_eq!(
        *mean,
        "| **mean** | 80.0 | 88.8 | 70.0 | 85.0 | 95.4 | 29.2 | 70.2 | 2.1 |"
    );
    assert!(md.contains("83.9") && md.contains("89.8"), "stated means");

    // A category where our object AUROC is missing drops out of both object means:
    // paper (100.0 + 83.0) / 2 = 91.5, ours (1.0 + 0.6) / 2 = 80.0 %.
    let mut t = table();
    t.rows[1].object_auroc = f64::NAN;
    let md = t.to_markdown(Some(paper));
    let mean = md.lines().find(|l| l.starts_with("| **mean** ")).unwrap();
    assert!(
        mean.starts_with("| **mean** | 80.0 | 91.5 | 70.0 | 85.0 | 95.4 |"),
        "{mean}"
    );

    // Real3D-AD publishes no point AUROC: no such paper column; unknown category "–".
    let md = table().to_markdown(paper_table("real3d"));
    assert!(md.contains("obj AUROC (paper)") && !md.contains("point AUROC (paper)"));
    let ash = md.lines().find(|l| l.starts_with("| ashtray0 ")).unwrap();
    assert_eq!(
        ash,
        "| ashtray0 | 100.0 | – | 90.0 | 95.0 | 50.0 | 120.0 | 3.2 |"
    );

    // Without a paper there are no paper columns.
    let md = table().to_markdown(None);
    assert!(!md.contains("(paper)"));
    let sep = md.lines().find(|l| l.starts_with("|---")).unwrap();
    assert_eq!(sep.matches('|').count(), 7 + 1, "7 columns");
}

#[test]
fn terminal_table_is_aligned() {
    let text = table().to_terminal();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("po3ad-cpu"));
    // Header, rule, 3 rows, rule, mean.
    assert_eq!(lines.len(), 1 + 1 + 1 + 3 + 1 + 1);
    let body: Vec<&str> = lines[1..]
        .iter()
        .copied()
        .filter(|l| !l.starts_with('-'))
        .collect();
    let width = body[0].len();
    assert!(body.iter().all(|l| l.len() == width), "{text}");
    // Right-aligned numbers: every value column ends at the same offsets.
    let ends = |l: &str| {
        l.char_indices()
            .filter(|&(i, c)| c != ' ' && l[i + 1..].starts_with(' '))
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
    };
    let e0 = ends(body[1]);
    assert!(body[2..].iter().all(|l| ends(l)[1..] == e0[1..]), "{text}");
    assert!(lines.last().unwrap().starts_with("mean "));
    assert!(lines.last().unwrap().contains("0.2917"));
}

#[test]
fn json_round_trips_and_carries_mean() {
    let mut t = table();
    t.rows[2].point_ap = f64::NAN;
    let json = t.to_json();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["model"], "po3ad-cpu");
    assert_eq!(v["rows"].as_array().unwrap().len(), 3);
    assert_eq!(v["mean"]["category"], "mean");
    assert!((v["mean"]["object_auroc"].as_f64().unwrap() - 0.8).abs() < 1e-12);
    assert!(v["rows"][2]["point_ap"].is_null());
    let back: ResultsTable = serde_json::from_str(&json).unwrap();
    assert_eq!(back.rows[..2], t.rows[..2]);
    assert!(back.rows[2].point_ap.is_nan());
}

#[test]
fn percentages_are_rejected_by_writers() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = table();
    t.rows[0].object_auroc = 83.9;
    assert!(t.validate().is_err());
    assert!(t.write_csv(&dir.path().join("r.csv")).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    t.rows[0].object_auroc = f64::NAN; // not computed is fine
    assert!(t.validate().is_ok());
}

#[test]
fn writers_are_atomic_and_write_what_they_render() {
    let dir = tempfile::tempdir().unwrap();
    let t = table();
    let paper = paper_table("anomaly-shapenet");
    t.write_csv(&dir.path().join("r.csv")).unwrap();
    t.write_json(&dir.path().join("r.json")).unwrap();
    t.write_markdown(&dir.path().join("r.md"), paper).unwrap();
    t.write_csv(&dir.path().join("r.csv")).unwrap(); // overwrite
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["r.csv", "r.json", "r.md"]);
    let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
    assert_eq!(read("r.csv"), t.to_csv());
    assert_eq!(read("r.json"), t.to_json());
    assert_eq!(read("r.md"), t.to_markdown(paper));
}
