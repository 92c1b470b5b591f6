//! Geometry on clouds and meshes: normalization, rotations, normals, nearest
//! neighbours, mesh surface sampling and voxelization.
