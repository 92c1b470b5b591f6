//! Numeric guards: a diverging run stops with `TrainError::NonFinite` (a message that
//! says what to do) and leaves its last good checkpoint intact and loadable; NaN/Inf
//! coordinates in an input file are refused by the CLI with the file's name.

use po3ad::device::{CpuBackend, CpuTrainBackend};
use po3ad::model::Po3adNet;
use po3ad::train::fit::{TrainError, CHECKPOINT_FILE};
use po3ad::train::{fit, Checkpoint, Preset};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common;

/// The tiny preset with an absurd learning rate, written as a user would write it.
/// One step per epoch (1 sample × repeat 2 / batch 2), a checkpoint after each.
fn absurd_lr_preset() -> Preset {
    let text = format!(
        "{}\n",
        po3ad::train::preset::BUILTIN
            .iter()
            .find(|(n, _)| *n == "tiny")
            .expect("tiny")
            .1
            .replace("lr = 1e-3", "lr = 1e30")
            .replace("epochs = 2", "epochs = 4")
    );
    let p = Preset::parse(&text, "absurd.toml").expect("an absurd lr is still a valid preset");
    assert_eq!(p.train.lr, 1e30);
    assert_eq!(p.train.epochs, 4);
    p
}

#[test]
fn a_diverging_run_stops_with_non_finite_and_keeps_the_last_good_checkpoint() {
    let preset = absurd_lr_preset();
    let data = common::bowl_samples(&preset);
    let dir = tempfile::tempdir().expect("temp dir");
    let device = Default::default();

    // Epoch 1: the loss of the initial weights is finite; the huge step happens after
    // it. Stop there, as if interrupted, and keep the checkpoint's bytes.
    let (_, report) = fit::<CpuTrainBackend>(
        &data,
        &preset,
        &common::bowl_fit_options(dir.path(), false, Some(1)),
        &device,
    )
    .expect("first epoch has a finite loss");
    assert_eq!(report.epochs_done, 1);
    assert!(report.final_loss.is_finite());
    let ckpt_path = dir.path().join(CHECKPOINT_FILE);
    let good = std::fs::read(&ckpt_path).expect("checkpoint after epoch 1");

    // Epoch 2 starts from weights moved by ~1e30: the loss is no longer finite.
    let Err(err) = fit::<CpuTrainBackend>(
        &data,
        &preset,
        &common::bowl_fit_options(dir.path(), true, None),
        &device,
    ) else {
        panic!("training with lr 1e30 must diverge");
    };
    match &err {
        TrainError::NonFinite {
            value,
            epoch,
            checkpoint,
            ..
        } => {
            assert!(!value.is_finite(), "reported value {value}");
            assert_eq!(*epoch, 1, "diverges in the second epoch (index 1)");
            assert_eq!(checkpoint, &ckpt_path);
        }
        other => panic!("expected NonFinite, got {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("lower train.lr"), "{msg}");
    assert!(msg.contains(CHECKPOINT_FILE), "{msg}");

    // The last good checkpoint is untouched and still restores.
    assert_eq!(std::fs::read(&ckpt_path).expect("checkpoint"), good);
    let ckpt = Checkpoint::load(&ckpt_path).expect("loads");
    assert_eq!(ckpt.meta.epochs_done, 1);
    assert!(ckpt.meta.epoch_losses[0].is_finite());
    let net = Po3adNet::<CpuBackend>::new(&preset.model, &device);
    ckpt.restore_model::<CpuBackend, _>(net, &device, &ckpt_path)
        .expect("weights restore");
    assert!(
        !dir.path().join("model.po3ad").exists(),
        "no final model after a failure"
    );
}

fn nan_pcd(dir: &Path) -> PathBuf {
    let path = dir.join("scan_with_nan.pcd");
    let text = "# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\n\
                WIDTH 3\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 3\nDATA ascii\n\
                0 0 0\n1 nan 0\n0 1 inf\n";
    std::fs::write(&path, text).expect("write pcd");
    path
}

#[test]
fn inspect_counts_nan_coordinates_as_invalid_points() {
    // A scanner's organized export marks missing pixels NaN / inf (and then (0, 0, 0)):
    // inspect reads the file and says how many points will be dropped when it is
    // scored (`po3ad_core::scene::invalid`), instead of refusing it.
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = nan_pcd(dir.path());
    let good = dir.path().join("fine.xyz");
    std::fs::write(&good, "0 0 0\n1 0 0\n0 1 0\n").expect("write xyz");
    let out = Command::new(env!("CARGO_BIN_EXE_po3ad"))
        .arg("inspect")
        .arg(&good)
        .arg(&bad)
        .output()
        .expect("run po3ad");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit status {:?}: {stderr}",
        out.status
    );
    assert!(stdout.contains("fine.xyz"), "stdout: {stdout}");
    let section = &stdout[stdout
        .find("scan_with_nan.pcd")
        .expect("the NaN file is listed")..];
    let invalid = section
        .lines()
        .find(|l| l.trim_start().starts_with("invalid"))
        .unwrap_or_else(|| panic!("no invalid count: {stdout}"));
    // One NaN, one inf, and the (0, 0, 0) point of a file with non-finite points.
    assert!(invalid.split_whitespace().nth(1) == Some("3"), "{invalid}");
}

#[test]
fn train_refuses_nan_coordinates_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = nan_pcd(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_po3ad"))
        .args(["train", "--preset", "tiny", "--train"])
        .arg(&bad)
        .arg("--out")
        .arg(dir.path().join("run"))
        .output()
        .expect("run po3ad");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("scan_with_nan.pcd"), "stderr: {stderr}");
    assert!(!dir.path().join("run").join(CHECKPOINT_FILE).exists());
}
