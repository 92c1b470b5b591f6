//! Model configuration: which MinkUNet depth, how wide, voxel size. One serde struct so
//! presets (TOML) can name every choice.

use serde::{Deserialize, Serialize};

/// Residual block counts per stage (4 encoder, 4 decoder), as in MinkowskiEngine's
/// MinkUNet family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backbone {
    MinkUNet14,
    MinkUNet18,
    MinkUNet34,
}

impl Backbone {
    pub fn layers(self) -> [usize; 8] {
        match self {
            Backbone::MinkUNet14 => [1, 1, 1, 1, 1, 1, 1, 1],
            Backbone::MinkUNet18 => [2, 2, 2, 2, 2, 2, 2, 2],
            Backbone::MinkUNet34 => [2, 3, 4, 6, 2, 2, 2, 2],
        }
    }
}

/// The "C" variant's channel plan (stem, then 4 encoder and 4 decoder stages).
pub const MINKUNET_C_INIT_DIM: usize = 32;
pub const MINKUNET_C_PLANES: [usize; 8] = [32, 64, 128, 256, 256, 128, 96, 96];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    pub backbone: Backbone,
    /// Multiplier on every channel count (1.0 = MinkUNet34C as in the paper).
    pub width: f32,
    /// Latent feature size C handed to the offset head (paper: 32).
    pub feature_dim: usize,
    /// Voxel edge in unit-sphere units (paper: 0.03).
    pub voxel_size: f32,
    /// Kernel size of the stem convolution (MinkUNet: 5).
    pub stem_kernel: usize,
    /// Start the head's last Linear at zero, so the untrained model predicts no offset
    /// anywhere (the right answer for all but one patch). Not in the paper, whose
    /// PyTorch default init starts with offsets of ~0.3 everywhere; short CPU schedules
    /// spend most of their steps unlearning that.
    pub head_zero_init: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            backbone: Backbone::MinkUNet34,
            width: 1.0,
            feature_dim: 32,
            voxel_size: 0.03,
            stem_kernel: 5,
            head_zero_init: false,
        }
    }
}

impl ModelConfig {
    fn scale(&self, c: usize) -> usize {
        ((c as f32 * self.width).round() as usize).max(4)
    }

    pub fn init_dim(&self) -> usize {
        self.scale(MINKUNET_C_INIT_DIM)
    }

    pub fn planes(&self) -> [usize; 8] {
        MINKUNET_C_PLANES.map(|p| self.scale(p))
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(self.width > 0.0 && self.width.is_finite()) {
            return Err(format!("model.width must be > 0, got {}", self.width));
        }
        if !(self.voxel_size > 0.0 && self.voxel_size.is_finite()) {
            return Err(format!(
                "model.voxel_size must be > 0, got {}",
                self.voxel_size
            ));
        }
        if self.feature_dim == 0 {
            return Err("model.feature_dim must be > 0".into());
        }
        if self.stem_kernel.is_multiple_of(2) {
            return Err(format!(
                "model.stem_kernel must be odd, got {}",
                self.stem_kernel
            ));
        }
        Ok(())
    }
}
