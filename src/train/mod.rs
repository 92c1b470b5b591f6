//! Training: loss, optimizer, schedule, presets and checkpoints.
