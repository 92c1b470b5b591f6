//! po3ad-core: everything PO3AD does to point clouds that is not deep learning.
//!
//! The data road (see the workspace README):
//! files ──[`io`]──▶ [`PointCloud`] ──[`geometry`]──▶ normalized cloud + normals
//! ──[`pseudo`] (Norm-AS, training only)──▶ cloud + target offsets ──▶ the model (crate `po3ad`)
//! ──▶ per-point scores ──[`metrics`]──▶ AUROC / AP.
//! [`dataset`] lists benchmark folders as labelled samples.
//!
//! This crate never depends on burn, so it builds in seconds and is easy to test.

pub mod cloud;
pub mod dataset;
pub mod dense_nn;
pub mod error;
pub mod features;
pub mod frame;
pub mod geometry;
pub mod io;
pub mod membank;
pub mod metrics;
pub mod pseudo;
pub mod registration;
pub mod report;
pub mod scene;
pub mod surface;
pub mod synth;

pub use cloud::PointCloud;
pub use error::{Error, Result};
