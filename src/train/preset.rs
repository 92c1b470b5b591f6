//! Presets: one TOML file per named configuration (model, training, Norm-AS, loss,
//! test). Built-in ones live in `presets/*.toml` at the repository root and are
//! compiled in; a user's file may override any field.

use crate::model::{LossConfig, ModelConfig};
use crate::score_rule::ObjectScore;
use po3ad_core::pseudo::NormAsConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Each training sample appears this many times per epoch (paper: 100).
    pub repeat: usize,
    pub lr: f64,
    pub lr_min: f64,
    pub hold_epochs: usize,
    pub adam_epsilon: f64,
    pub seed: u64,
    /// Random rotation of every training sample (SPEC.md preprocessing).
    pub rotate: bool,
    /// With `rotate`: each of the three angles is drawn from ±this many degrees (SPEC:
    /// 180, any pose). A few degrees make a pose jitter for roughly aligned scans.
    pub max_rotation_deg: f32,
    /// Meshes with fewer vertices than this are resampled to this many surface points.
    pub min_template_points: usize,
    /// When > 0, every training mesh is replaced by this many area-weighted surface
    /// samples. The reference trains on mesh vertices (Anomaly-ShapeNet's meshes are
    /// dense and even); CAD meshes are not — a subdivided cylinder's vertices sit on a
    /// few rings — so the `cpu` preset samples the surface instead.
    pub surface_points: usize,
    /// Neighbours for PCA normals of raw training clouds.
    pub normal_k: usize,
    /// What each training view shows of a sample: `whole` (SPEC), or `one-sided`: what
    /// a scanner sees from a random direction (hidden points removed), cut after the
    /// whole sample is normalized, so the view stays in the part's frame as a
    /// registered one-sided scan does. For Real3D-AD-style test scans.
    pub views: TrainViews,
    /// Write a checkpoint (weights + optimizer state) at the first epoch end at least
    /// this many minutes after the previous one, and always after the last epoch and when
    /// a run is stopped early. 0 = after every epoch. Checkpoints land only on epoch
    /// boundaries (every epoch has its own RNG stream, so no RNG state is saved).
    pub checkpoint_minutes: f64,
    /// Deprecated (the cadence is `checkpoint_minutes`): when > 0, also write a checkpoint
    /// at least every this many epochs, whatever the clock says. 0 (default) = time only.
    /// Presets from before `checkpoint_minutes` that say `checkpoint_every = 1` keep
    /// checkpointing after every epoch.
    pub checkpoint_every: usize,
}

/// See [`TrainConfig::views`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainViews {
    Whole,
    OneSided,
}

impl TrainConfig {
    /// The rotation augmentation as `make_view` takes it: `None` when off.
    pub fn rotation_deg(&self) -> Option<f32> {
        self.rotate.then_some(self.max_rotation_deg)
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 1000,
            batch_size: 32,
            repeat: 100,
            lr: 1e-3,
            lr_min: 1e-6,
            hold_epochs: 10,
            adam_epsilon: 1e-8,
            seed: 42,
            rotate: true,
            max_rotation_deg: 180.0,
            min_template_points: 8000,
            surface_points: 0,
            normal_k: 16,
            views: TrainViews::Whole,
            checkpoint_minutes: 5.0,
            checkpoint_every: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TestConfig {
    /// Gaussian noise σ added to test clouds (paper ablation: 0, 0.001, 0.003, 0.005).
    pub noise_sigma: f32,
    /// Clouds scored per forward pass.
    pub batch_size: usize,
    /// Object score from point scores: `mean` (paper) or `top_mean`.
    pub object_score: ObjectScore,
    /// For `top_mean`: the fraction of highest point scores averaged.
    pub top_fraction: f64,
    /// Weight `w` of the nearest-template distance fused into PO3AD's point score:
    /// `(1 − w) · |offset|₁ + w · distance` (0 = the paper's score). Both estimate how
    /// far a point lies from the normal surface, in the same units. Needs the
    /// `nearest.json` that `po3ad train` writes beside the model.
    pub nearest_weight: f32,
    /// The same weight for the point scores the *object* score is taken from, when it
    /// should differ from `nearest_weight` (unset: the same). The `cpu` preset sets 1: its
    /// small network's offsets help to find *where* a defect is, but summed into an
    /// object score they add noise (notes/cpu-preset.md, session 5).
    pub object_nearest_weight: Option<f32>,
}

impl Default for TestConfig {
    fn default() -> Self {
        Self {
            noise_sigma: 0.0,
            batch_size: 4,
            object_score: ObjectScore::Mean,
            top_fraction: 0.01,
            nearest_weight: 0.0,
            object_nearest_weight: None,
        }
    }
}

impl TestConfig {
    /// The nearest-template weight of the scores the object score is taken from.
    pub fn object_weight(&self) -> f32 {
        self.object_nearest_weight.unwrap_or(self.nearest_weight)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Preset {
    pub name: String,
    pub description: String,
    pub model: ModelConfig,
    pub train: TrainConfig,
    pub norm_as: NormAsConfig,
    pub loss: LossConfig,
    pub test: TestConfig,
}

impl Default for Preset {
    fn default() -> Self {
        Self {
            name: "custom".into(),
            description: String::new(),
            model: ModelConfig::default(),
            train: TrainConfig::default(),
            norm_as: NormAsConfig::default(),
            loss: LossConfig::default(),
            test: TestConfig::default(),
        }
    }
}

/// Built-in presets: (name, TOML text).
pub const BUILTIN: &[(&str, &str)] = &[
    ("cpu", include_str!("../../presets/cpu.toml")),
    ("paper", include_str!("../../presets/paper.toml")),
    ("tiny", include_str!("../../presets/tiny.toml")),
];

#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("unknown preset '{0}' (built-in: cpu, paper, tiny; or give a path to a .toml file)")]
    Unknown(String),
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: invalid preset: {msg}")]
    Parse { path: String, msg: String },
}

/// The preset PO3AD trains with when none is named.
pub const DEFAULT_PRESET: &str = "cpu";

impl Preset {
    /// A built-in name (`cpu`, `paper`, `tiny`) or a path to a TOML file.
    /// [`Self::load`] with the epoch count and seed overridden where given, validated.
    pub fn load_with(
        name_or_path: &str,
        epochs: Option<usize>,
        seed: Option<u64>,
    ) -> anyhow::Result<Preset> {
        let mut preset = Preset::load(name_or_path)?;
        if let Some(e) = epochs {
            preset.train.epochs = e;
        }
        if let Some(s) = seed {
            preset.train.seed = s;
        }
        preset.validate().map_err(anyhow::Error::msg)?;
        Ok(preset)
    }

    pub fn load(name_or_path: &str) -> Result<Preset, PresetError> {
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Self::parse(text, name_or_path);
        }
        let path = Path::new(name_or_path);
        if path.extension().is_some_and(|e| e == "toml") || path.exists() {
            let text = std::fs::read_to_string(path).map_err(|source| PresetError::Read {
                path: name_or_path.into(),
                source,
            })?;
            return Self::parse(&text, name_or_path);
        }
        Err(PresetError::Unknown(name_or_path.into()))
    }

    pub fn parse(text: &str, origin: &str) -> Result<Preset, PresetError> {
        let preset: Preset = toml::from_str(text).map_err(|e| PresetError::Parse {
            path: origin.into(),
            msg: e.to_string(),
        })?;
        preset.validate().map_err(|msg| PresetError::Parse {
            path: origin.into(),
            msg,
        })?;
        Ok(preset)
    }

    pub fn validate(&self) -> Result<(), String> {
        self.model.validate()?;
        let t = &self.train;
        if t.epochs == 0 || t.batch_size == 0 || t.repeat == 0 {
            return Err("train.epochs, train.batch_size and train.repeat must be > 0".into());
        }
        if !(t.lr > 0.0 && t.lr_min >= 0.0 && t.lr_min <= t.lr) {
            return Err(format!(
                "train.lr ({}) and train.lr_min ({}) must satisfy 0 <= lr_min <= lr, lr > 0",
                t.lr, t.lr_min
            ));
        }
        if !(t.max_rotation_deg > 0.0 && t.max_rotation_deg <= 180.0) {
            return Err(format!(
                "train.max_rotation_deg ({}) must be in (0, 180]",
                t.max_rotation_deg
            ));
        }
        if !(t.checkpoint_minutes >= 0.0 && t.checkpoint_minutes.is_finite()) {
            return Err(format!(
                "train.checkpoint_minutes ({}) must be >= 0 (0 = after every epoch)",
                t.checkpoint_minutes
            ));
        }
        if self.norm_as.patches == 0 {
            return Err("norm_as.patches must be > 0".into());
        }
        if !(self.loss.dir_eps > 0.0 && self.loss.dir_eps.is_finite()) {
            return Err(format!("loss.dir_eps ({}) must be > 0", self.loss.dir_eps));
        }
        if self.test.batch_size == 0 {
            return Err("test.batch_size must be > 0".into());
        }
        if !(self.test.top_fraction > 0.0 && self.test.top_fraction <= 1.0) {
            return Err(format!(
                "test.top_fraction ({}) must be in (0, 1]",
                self.test.top_fraction
            ));
        }
        if !(0.0..=1.0).contains(&self.test.nearest_weight) {
            return Err(format!(
                "test.nearest_weight ({}) must be in [0, 1]",
                self.test.nearest_weight
            ));
        }
        if let Some(w) = self.test.object_nearest_weight {
            if !(0.0..=1.0).contains(&w) {
                return Err(format!(
                    "test.object_nearest_weight ({w}) must be in [0, 1]"
                ));
            }
        }
        Ok(())
    }

    /// Whether a run with `other` continues this one's training exactly: every field but
    /// the checkpoint cadence (`train.checkpoint_minutes`, `train.checkpoint_every`),
    /// which changes when state is saved, never what is computed, and the test-time
    /// settings (`test.*`). Resuming may change those.
    pub fn same_training(&self, other: &Preset) -> bool {
        let cadence_free = |p: &Preset| {
            let mut p = p.clone();
            p.train.checkpoint_minutes = 0.0;
            p.train.checkpoint_every = 0;
            // Test-time settings do not change what training computes.
            p.test = TestConfig::default();
            p
        };
        cadence_free(self) == cadence_free(other)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_cadence_defaults_and_old_presets() {
        // Built-in presets checkpoint by time (5 min), with no epoch bound.
        for (name, _) in BUILTIN {
            let p = Preset::load(name).unwrap();
            assert_eq!(p.train.checkpoint_minutes, 5.0, "{name}");
            assert_eq!(p.train.checkpoint_every, 0, "{name}");
        }
        // A preset written before `checkpoint_minutes` existed still parses and keeps
        // its epoch cadence as an upper bound.
        let old = Preset::parse("[train]\ncheckpoint_every = 1\n", "old.toml").unwrap();
        assert_eq!(old.train.checkpoint_every, 1);
        assert_eq!(old.train.checkpoint_minutes, 5.0);
        let p = Preset::parse("[train]\ncheckpoint_minutes = 0.5\n", "x").unwrap();
        assert_eq!(p.train.checkpoint_minutes, 0.5);
        // The cadence does not make a different training run; anything else does.
        assert!(old.same_training(&p));
        let mut other = p.clone();
        other.train.seed += 1;
        assert!(!other.same_training(&p));
    }

    #[test]
    fn builtins_parse_and_paper_matches_spec() {
        for (name, _) in BUILTIN {
            Preset::load(name).unwrap();
        }
        let p = Preset::load("paper").unwrap();
        assert_eq!(p.model, ModelConfig::default());
        assert_eq!(p.train.epochs, 1000);
        assert_eq!(p.train.batch_size, 32);
        assert_eq!(p.train.repeat, 100);
        assert_eq!(p.train.lr, 1e-3);
        assert_eq!(p.train.lr_min, 1e-6);
        assert_eq!(p.train.hold_epochs, 10);
        assert_eq!(p.train.seed, 42);
        assert_eq!(p.norm_as, NormAsConfig::default());
        // SPEC's choices where the cpu preset departs from them.
        assert!(p.train.rotate);
        assert_eq!(p.train.rotation_deg(), Some(180.0));
        assert_eq!(p.loss.dir_eps, 1e-8);
        assert_eq!(p.norm_as.patches, 64);
        assert_eq!(p.norm_as.patch_pool, po3ad_core::pseudo::PatchPool::Auto);
        assert_eq!(p.test.object_score, ObjectScore::Mean);
        // The paper's score is the offset alone; the cpu preset fuses the template
        // distance (notes/detectors.md).
        assert_eq!(p.test.nearest_weight, 0.0);
        assert_eq!(p.test.object_weight(), 0.0);
        let cpu = Preset::load("cpu").unwrap();
        assert_eq!(cpu.test.nearest_weight, 0.8);
        assert_eq!(cpu.test.object_weight(), 1.0);
        assert_eq!(cpu.test.object_score, ObjectScore::TopMean);
    }

    #[test]
    fn unknown_fields_and_bad_values_are_rejected() {
        assert!(Preset::parse("[train]\nepoch = 3\n", "x").is_err());
        assert!(Preset::parse("[train]\nepochs = 0\n", "x").is_err());
        assert!(Preset::parse("[model]\nvoxel_size = -1.0\n", "x").is_err());
        assert!(Preset::parse("[loss]\ndir_eps = 0.0\n", "x").is_err());
        assert!(Preset::parse("[train]\nmax_rotation_deg = 0.0\n", "x").is_err());
        assert!(Preset::parse("[train]\nmax_rotation_deg = 270.0\n", "x").is_err());
        assert!(Preset::parse("[test]\ntop_fraction = 0.0\n", "x").is_err());
        assert!(Preset::parse("[test]\nnearest_weight = 1.5\n", "x").is_err());
        assert!(Preset::parse("[test]\nnearest_weight = -0.1\n", "x").is_err());
        assert!(Preset::parse("[test]\nobject_nearest_weight = 1.01\n", "x").is_err());
        let unset = Preset::parse("[test]\nnearest_weight = 0.4\n", "x").unwrap();
        assert_eq!(unset.test.object_weight(), 0.4, "unset: the point weight");
        assert!(Preset::parse("[train]\ncheckpoint_minutes = -1.0\n", "x").is_err());
        assert!(Preset::parse("[train]\ncheckpoint_minutes = nan\n", "x").is_err());
        assert!(Preset::parse("[test]\nobject_score = \"median\"\n", "x").is_err());
        assert!(Preset::parse("[norm_as]\npatch_pool = \"some\"\n", "x").is_err());
        let ok = "[test]\nobject_score = \"top_mean\"\n[norm_as]\npatch_pool = \"first-half\"\n";
        let p = Preset::parse(ok, "x").unwrap();
        assert_eq!(p.test.object_score, ObjectScore::TopMean);
        assert!(matches!(Preset::load("nope"), Err(PresetError::Unknown(_))));
    }
}
