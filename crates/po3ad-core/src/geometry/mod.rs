//! Geometry on clouds and meshes: normalization, rotations, normals, nearest
//! neighbours, mesh surface sampling and voxelization.

pub mod knn;
pub mod normals;
pub mod sample;

pub use knn::KdTree;
pub use normals::{ensure_normals, estimate_normals, vertex_normals, FALLBACK_NORMAL};
pub use sample::{sample_surface, subdivide_to};
