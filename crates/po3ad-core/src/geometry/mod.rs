//! Geometry on clouds and meshes: normalization, rotations, normals, nearest
//! neighbours, mesh surface sampling, voxelization and orthographic depth images.

pub mod depth_image;
pub mod disjoint_sets;
pub mod downsample;
pub mod knn;
pub mod normalize;
pub mod normals;
pub mod rotate;
pub mod sample;
pub mod voxel;

pub use depth_image::{DepthImage, ImagePlane};
pub use disjoint_sets::DisjointSets;
pub use downsample::voxel_downsample;
pub use knn::KdTree;
pub use normalize::{center_shift, normalize_unit_sphere, preprocess_test};
pub use normals::{ensure_normals, estimate_normals, vertex_normals, FALLBACK_NORMAL};
pub use rotate::{
    random_train_rotation, random_train_rotation_within, rotate, rotation_x, rotation_y, rotation_z,
};
pub use sample::{sample_surface, subdivide_to};
pub use voxel::{voxelize, Voxels};
