//! Reading and writing point-cloud and mesh files. One file per format; this module
//! picks the reader by extension and, where the extension is ambiguous, by content.
//!
//! Entry points (stable API other modules rely on):
//! - [`read`]: any supported file → [`PointCloud`] (faces filled for meshes).
//! - [`read_gt`]: a ground-truth text file (`x,y,z,label` rows) → cloud with labels.
//! - [`write_ply`]: a cloud (optionally coloured) as binary little-endian PLY.
//! - [`write_pcd`]: a cloud as PCD in a chosen DATA mode.

use crate::{Error, PointCloud, Result};
use std::path::Path;

/// Read any supported point-cloud or mesh file.
pub fn read(path: &Path) -> Result<PointCloud> {
    Err(Error::Unsupported {
        path: path.to_path_buf(),
        msg: "io not yet implemented".into(),
    })
}

/// Read a ground-truth file: one row per point, `x y z label` separated by commas or
/// whitespace. The returned cloud has `labels` set.
pub fn read_gt(path: &Path) -> Result<PointCloud> {
    read(path)
}
