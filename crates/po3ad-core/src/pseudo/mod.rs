//! Pseudo anomalies for training: Norm-AS fakes a defect on a normal cloud so the
//! network can learn the offset that was applied. (Synthetic *test* defects for
//! benchmarks live in [`crate::synth`], deliberately with other shapes.)

pub mod norm_as;

pub use norm_as::{
    norm_as, split_patches, Direction, NormAsConfig, NormAsVariant, PatchPool, PseudoAnomaly,
};
