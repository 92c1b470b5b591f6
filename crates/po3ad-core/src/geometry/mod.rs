//! Geometry on clouds and meshes: normalization, rotations, normals, nearest
//! neighbours, mesh surface sampling and voxelization.

pub mod knn;

pub use knn::KdTree;
