//! `--settings FILE`: a training-free kind's config from TOML. The file's fields reach
//! the saved detector (multi-scale FPFH for a memory bank), a field the kind does not
//! have and a kind that takes no settings are refused with the file named, and
//! docs/settings.md shows every kind's defaults exactly as the code has them.

use po3ad::detector::NearestConfig;
use po3ad_core::membank::{BankConfig, ObjectScore};
use po3ad_core::surface::SurfaceConfig;
use std::path::Path;
use std::process::Command;

fn po3ad(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_po3ad"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// `po3ad train --train cup.ply --out OUT [--detector KIND] --settings FILE`.
fn train_with(dir: &Path, out: &str, kind: Option<&str>, settings: &str) -> std::process::Output {
    let mut args = vec![
        "train",
        "--train",
        "cup.ply",
        "--out",
        out,
        "--settings",
        settings,
    ];
    if let Some(k) = kind {
        args.extend(["--detector", k]);
    }
    po3ad(&args, dir)
}

fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn cup(dir: &Path) {
    let mesh = po3ad_core::synth::shapes::builtin("cup").unwrap();
    po3ad_core::io::write_ply(&dir.join("cup.ply"), &mesh, None, true).unwrap();
}

#[test]
fn a_settings_file_reaches_the_saved_bank() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cup(d);
    std::fs::write(
        d.join("ms.toml"),
        "object = { top_mean = { fraction = 0.02 } }\n\n[descriptor]\nradii = [0.12, 0.2, 0.32]\n",
    )
    .unwrap();
    assert_ok(&train_with(d, "m", Some("btf-fpfh"), "ms.toml"));
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("m/membank.json")).unwrap()).unwrap();
    let config: BankConfig = serde_json::from_value(saved["config"].clone()).unwrap();
    assert_eq!(config.descriptor.radii, [0.12f32, 0.2, 0.32]);
    assert_eq!(config.object, ObjectScore::TopMean { fraction: 0.02 });
    assert_eq!(config.descriptor.voxel, 0.04, "the rest default");
    // 99 values a descriptor: three radii of 33.
    assert_eq!(
        saved["bank"]["btf_fpfh"]["bank"]["dim"], 99,
        "{}",
        saved["bank"]["btf_fpfh"]["bank"]["dim"]
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("m/detector.json")).unwrap()).unwrap();
    let recorded: BankConfig = serde_json::from_value(manifest["settings"].clone()).unwrap();
    assert_eq!(recorded, config);
    let scored = po3ad(&["predict", "--model", "m", "cup.ply", "--out", "p"], d);
    assert!(
        scored.status.success(),
        "{}",
        String::from_utf8_lossy(&scored.stderr)
    );
}

#[test]
fn settings_a_kind_does_not_have_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cup(d);
    std::fs::write(d.join("bad.toml"), "radius = 0.3\n").unwrap();
    std::fs::write(d.join("ok.toml"), "top_fraction = 0.02\n").unwrap();
    std::fs::write(d.join("zero.toml"), "top_fraction = 0.0\n").unwrap();
    std::fs::write(d.join("broken.toml"), "radii = [\n").unwrap();
    let cases = [
        (
            Some("nearest"),
            "zero.toml",
            "top_fraction must be in (0, 1]",
        ),
        (Some("patchcore"), "bad.toml", "unknown field `radius`"),
        (None, "bad.toml", "not valid for --detector surface"),
        (None, "broken.toml", "broken.toml: not TOML"),
        (
            Some("curvature"),
            "ok.toml",
            "does not apply to --detector curvature",
        ),
        (Some("po3ad"), "ok.toml", "come from --preset"),
    ];
    for (kind, file, want) in cases {
        let out = train_with(d, "m", kind, file);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{kind:?} {file}: {stderr}");
        assert!(stderr.contains(want), "{kind:?} {file}: {stderr}");
        assert!(
            stderr.contains(file),
            "{kind:?}: the file is named: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // The nearest kind takes its own fields.
    assert_ok(&train_with(d, "n", Some("nearest"), "ok.toml"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("n/detector.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["settings"]["top_fraction"],
        serde_json::json!(0.02)
    );
}

/// The defaults docs/settings.md prints, as TOML: each kind's block must appear there
/// verbatim (regenerate with `PO3AD_PRINT_SETTINGS=1 cargo test --test suite
/// settings_file::`).
#[test]
fn docs_list_every_kinds_default_settings() {
    let blocks = [
        (
            "surface",
            toml::to_string(&SurfaceConfig::default()).unwrap(),
        ),
        (
            "nearest",
            toml::to_string(&NearestConfig::default()).unwrap(),
        ),
        (
            "memory banks",
            toml::to_string(&BankConfig::default()).unwrap(),
        ),
    ];
    if std::env::var_os("PO3AD_PRINT_SETTINGS").is_some() {
        for (name, block) in &blocks {
            println!("## {name}\n```toml\n{block}```\n");
        }
    }
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/settings.md"))
            .unwrap();
    for (name, block) in &blocks {
        assert!(
            doc.contains(&format!("```toml\n{block}```")),
            "docs/settings.md lacks the {name} defaults:\n{block}"
        );
    }
}
