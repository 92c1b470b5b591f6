//! Helpers shared by integration tests (each test file that needs them says `mod common;`).

use po3ad::model::{Backbone, ModelConfig};

/// The `gpu_conv`-sized test network: MinkUNet14 at quarter width with the paper's k=5
/// stem, 0.06 voxels, and a head that is *not* zero-initialised (a zero head would output
/// zeros and compare nothing).
#[allow(dead_code)] // used by some of the test files that say `mod common;`
pub fn small_model_config() -> ModelConfig {
    ModelConfig {
        backbone: Backbone::MinkUNet14,
        width: 0.25,
        feature_dim: 8,
        voxel_size: 0.06,
        head_zero_init: false,
        ..ModelConfig::default()
    }
}

/// The built-in bowl as the one training sample, prepared as `po3ad train` prepares files.
#[allow(dead_code)] // not every test file that says `mod common;` trains
pub fn bowl_samples(preset: &po3ad::train::Preset) -> Vec<po3ad::train::TrainSample> {
    use rand::SeedableRng;
    let mesh = po3ad_core::synth::builtin("bowl").expect("built-in bowl");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(preset.train.seed);
    let (cloud, shift) = po3ad::train::data::prepare_training_cloud(mesh, &preset.train, &mut rng)
        .expect("prepare bowl");
    vec![po3ad::train::TrainSample {
        source: std::path::PathBuf::from("bowl"),
        cloud,
        shift,
    }]
}

/// In-process fit options for the bowl, writing into `out`.
#[allow(dead_code)]
pub fn bowl_fit_options(
    out: &std::path::Path,
    resume: bool,
    stop_after: Option<usize>,
) -> po3ad::train::FitOptions {
    po3ad::train::FitOptions {
        out_dir: out.to_path_buf(),
        resume,
        category: "bowl".into(),
        stop_after,
    }
}

/// Serializes in-process training runs within one test binary: `fit` seeds burn's
/// backend RNG, which is global to the process, so two tests training at once would
/// draw each other's initial weights and lose bit-identity.
#[allow(dead_code)]
pub fn fit_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Run the `po3ad` binary in `cwd`; asserts success and no panic, returns stdout + stderr.
#[allow(dead_code)]
pub fn po3ad(args: &[&str], cwd: &std::path::Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_po3ad"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run po3ad");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "po3ad {args:?} failed:\n{text}");
    assert!(!text.contains("panicked"), "{text}");
    text
}
