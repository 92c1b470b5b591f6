//! Helpers shared by integration tests (each test file that needs them says `mod common;`).

use po3ad::model::{Backbone, ModelConfig};

/// The `gpu_conv`-sized test network: MinkUNet14 at quarter width with the paper's k=5
/// stem, 0.06 voxels, and a head that is *not* zero-initialised (a zero head would output
/// zeros and compare nothing).
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
