//! Training: presets (TOML), the learning-rate schedule, training-set preparation,
//! checkpoints and the loop itself.

pub mod cadence;
pub mod checkpoint;
pub mod data;
pub mod fit;
pub mod preset;
pub mod progress;
pub mod schedule;

pub use cadence::CheckpointReason;
pub use checkpoint::{Checkpoint, CheckpointError};
pub use data::{load_training_set, TrainSample};
pub use fit::{fit, fit_with, FitHooks, FitOptions, FitReport};
pub use preset::DEFAULT_PRESET;
pub use preset::{Preset, TestConfig, TrainConfig};
pub use progress::{terminal_progress, FitProgress, ProgressCallback};
