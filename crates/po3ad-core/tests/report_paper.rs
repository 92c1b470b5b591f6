//! The transcribed paper tables: complete, consistent with the paper's stated means,
//! and (when the paper text is present under ../shared; `PO3AD_REQUIRE_SHARED=1` makes its
//! absence a failure) equal to the numbers in it.

use po3ad_core::report::paper_table;
use std::collections::HashMap;

use crate::shared;

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The paper's means are rounded (or truncated) to one decimal and may come from
/// unrounded per-category values, so allow one unit of the last digit.
const TOL: f64 = 0.1;

#[test]
fn anomaly_shapenet_has_40_categories_and_matches_stated_means() {
    let t = paper_table("anomaly-shapenet").unwrap();
    assert_eq!(t.rows.len(), 40);
    let obj: Vec<f64> = t.rows.iter().map(|r| r.1.unwrap()).collect();
    let pt: Vec<f64> = t.rows.iter().map(|r| r.2.unwrap()).collect();
    assert!((mean(&obj) - 83.9).abs() < TOL, "{}", mean(&obj));
    assert!((mean(&pt) - 89.8).abs() < TOL, "{}", mean(&pt));
    assert_eq!(t.stated_object_auroc, Some(83.9));
    assert_eq!(t.stated_point_auroc, Some(89.8));
    let mut names: Vec<&str> = t.rows.iter().map(|r| r.0).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 40, "names are unique");
    assert!(obj.iter().chain(&pt).all(|v| (0.0..=100.0).contains(v)));
}

#[test]
fn real3d_has_12_categories_and_matches_stated_mean() {
    let t = paper_table("real3d").unwrap();
    assert_eq!(t.rows.len(), 12);
    let obj: Vec<f64> = t.rows.iter().map(|r| r.1.unwrap()).collect();
    assert!((mean(&obj) - 76.5).abs() < TOL, "{}", mean(&obj));
    assert!(t.rows.iter().all(|r| r.2.is_none()));
    assert_eq!(t.stated_point_auroc, None);
}

#[test]
fn lookup_by_layout_and_category() {
    assert!(paper_table("REAL3D-AD").is_some());
    assert!(paper_table("anomaly_shapenet").is_some());
    assert!(paper_table("mvtec3d").is_none());
    let t = paper_table("anomaly-shapenet").unwrap();
    assert_eq!(t.get("ashtray0"), Some((Some(100.0), Some(96.2))));
    assert_eq!(t.get("micro."), t.get("microphone0"));
    assert_eq!(t.get("nonexistent"), None);
    let r = paper_table("real3d").unwrap();
    assert_eq!(r.get("Candy"), Some((Some(78.5), None)));
    assert_eq!(r.get("Airplane"), Some((Some(80.4), None)));
}

fn paper_text() -> Option<String> {
    let path = shared::shared("paper/po3ad-paper.txt")?;
    Some(std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn numbers(line: &str) -> Vec<f64> {
    line.split_whitespace()
        .filter_map(|w| w.parse::<f64>().ok())
        .collect()
}

/// Re-read the "Ours" rows from the paper text and compare every transcribed number.
#[test]
fn transcription_matches_the_paper_text() {
    let Some(text) = paper_text() else { return };
    let lines: Vec<&str> = text.lines().collect();
    let ours: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("Ours\t"))
        .collect();
    assert_eq!(ours.len(), 6, "three 'Ours' rows in each of Tables 1 and 2");

    // Column order of the three header blocks, as printed (Table 2 swaps vase7/vase8).
    let block1 = "ashtray0 bag0 bottle0 bottle1 bottle3 bowl0 bowl1 bowl2 bowl3 bowl4 bowl5 bucket0 bucket1 cap0";
    let block2 = "cap3 cap4 cap5 cup0 cup1 eraser0 headset0 headset1 helmet0 helmet1 helmet2 helmet3 jar0 microphone0";
    let block3_t1 = "shelf0 tap0 tap1 vase0 vase1 vase2 vase3 vase4 vase5 vase7 vase8 vase9";
    let block3_t2 = "shelf0 tap0 tap1 vase0 vase1 vase2 vase3 vase4 vase5 vase8 vase7 vase9";

    let mut obj: HashMap<&str, f64> = HashMap::new();
    let mut pt: HashMap<&str, f64> = HashMap::new();
    let fill = |map: &mut HashMap<&str, f64>, names: &'static str, vals: &[f64]| {
        for (n, v) in names.split(' ').zip(vals) {
            map.insert(n, *v);
        }
    };
    // Table 1, block 2: the extracted "Ours" row lacks microphone0; its value is the
    // surplus last number of the R3D-AD row just above.
    let b2 = numbers(lines[ours[1]]);
    assert_eq!(b2.len(), 13);
    let r3d = numbers(lines[ours[1] - 1]);
    assert_eq!(r3d.len(), 15);
    let mut b2 = b2;
    b2.push(r3d[14]);
    let b3 = numbers(lines[ours[2]]);
    assert_eq!(b3.len(), 13, "12 categories + average");
    fill(&mut obj, block1, &numbers(lines[ours[0]]));
    fill(&mut obj, block2, &b2);
    fill(&mut obj, block3_t1, &b3);
    assert_eq!(b3[12], 83.9);
    let p3 = numbers(lines[ours[5]]);
    fill(&mut pt, block1, &numbers(lines[ours[3]]));
    fill(&mut pt, block2, &numbers(lines[ours[4]]));
    fill(&mut pt, block3_t2, &p3);
    assert_eq!(p3[12], 89.8);
    assert_eq!((obj.len(), pt.len()), (40, 40));

    let t = paper_table("anomaly-shapenet").unwrap();
    for &(name, o, p) in t.rows {
        assert_eq!(o, obj.get(name).copied(), "{name} object AUROC");
        assert_eq!(p, pt.get(name).copied(), "{name} point AUROC");
    }

    // Table 3: "Ours" is the last column of each category row.
    let r = paper_table("real3d").unwrap();
    for &(name, o, _) in r.rows {
        let printed = match name {
            "candybar" => "Candy",
            other => other,
        };
        let line = lines
            .iter()
            .find(|l| {
                l.split('\t')
                    .next()
                    .is_some_and(|c| c.eq_ignore_ascii_case(printed))
            })
            .unwrap_or_else(|| panic!("no Table 3 row for {name}"));
        assert_eq!(o, numbers(line).last().copied(), "{name}");
    }
}
