//! po3ad: PO3AD point-cloud anomaly detection in one binary.
//!
//! The road a cloud takes (each step is one module or crate):
//! 1. `po3ad_core::io` reads files, `po3ad_core::geometry` normalizes them and finds normals.
//! 2. `po3ad_core::pseudo` fakes a defect (Norm-AS) on a normal training cloud.
//! 3. [`model`] voxelizes it into a `po3ad_sparse::SparseTensor` and predicts per-point offsets.
//! 4. [`train`] fits the network; [`detector`] is the one way from training files or a
//!    model folder to a scored, judged scan (every kind: PO3AD, nearest, curvature);
//!    [`eval`] scores labelled test sets into metrics.
//! 5. [`service`] scores scans over HTTP with a detector loaded once.
//! 6. [`cli`] wires it all into `po3ad fit / test / predict / benchmark / ...`.

pub mod cli;
pub mod detector;
pub mod device;
pub mod eval;
pub mod model;
pub mod score_rule;
pub mod service;
pub mod train;
pub mod version;
