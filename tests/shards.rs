//! Sharded benchmarks (issue #14 part 3): `benchmark --shard I/N` for I = 1..3 and
//! `benchmark-merge` give exactly the unsharded table (every column but the timings).

use crate::common;
use common::po3ad;

use std::path::Path;
use std::process::Command;

/// results.csv without the two timing columns.
fn metric_columns(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').take(5).collect::<Vec<_>>().join(","))
        .collect()
}

fn bench(extra: &[&str], out: &str, d: &Path) -> String {
    let mut args = vec![
        "benchmark",
        "--layout",
        "anomaly-shapenet",
        "--root",
        "data",
        "--model",
        "curvature",
        "--heatmaps",
        "0",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    po3ad(&args, d)
}

#[test]
fn three_shards_merge_to_the_unsharded_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    po3ad(
        &[
            "synth",
            "--builtin",
            "bowl,cup,bottle,vase",
            "--out",
            "data",
            "--n-good",
            "2",
            "--n-per-defect",
            "1",
            "--defects",
            "bulge,hole",
            "--points",
            "2000",
            "--template-vertices",
            "1500",
            "--seed",
            "5",
        ],
        d,
    );
    bench(&[], "full", d);
    for i in 1..=3 {
        bench(&["--shard", &format!("{i}/3")], &format!("s{i}"), d);
    }
    // Sorted bottle, bowl, cup, vase: k mod 3 → shard 1 gets bottle and vase.
    let s1 = metric_columns(&d.join("s1/results.csv"));
    assert_eq!(s1.len(), 4, "{s1:?}");
    assert!(s1[1].starts_with("bottle,") && s1[2].starts_with("vase,"));
    let text = po3ad(&["benchmark-merge", "--out", "merged", "s3", "s1", "s2"], d);
    assert!(text.contains("merged 3 shard(s), 4 categories"), "{text}");
    let full = metric_columns(&d.join("full/results.csv"));
    let merged = metric_columns(&d.join("merged/results.csv"));
    assert_eq!(full.len(), 6, "header + 4 + mean: {full:?}");
    assert_eq!(merged, full);
    assert!(d.join("merged/results.md").is_file());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("merged/results.json")).unwrap())
            .unwrap();
    assert_eq!(json["model"], "curvature");

    // A shard with no categories writes an empty table and merges as nothing.
    bench(&["--shard", "6/6"], "empty", d);
    po3ad(
        &[
            "benchmark-merge",
            "--out",
            "merged2",
            "s1",
            "s2",
            "s3",
            "empty",
        ],
        d,
    );
    assert_eq!(metric_columns(&d.join("merged2/results.csv")), full);

    // Overlapping shards are refused, naming both folders.
    let out = Command::new(env!("CARGO_BIN_EXE_po3ad"))
        .args(["benchmark-merge", "--out", "bad", "s1", "full"])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("s1") && err.contains("full"), "{err}");
    // A folder without results names the file it needed.
    let out = Command::new(env!("CARGO_BIN_EXE_po3ad"))
        .args(["benchmark-merge", "--out", "bad", "data"])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("results.json"));
}
