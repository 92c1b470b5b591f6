//! A minimal Wavefront OBJ writer (`v` and `f` lines) for the Anomaly-ShapeNet
//! training templates. Written here because `io` reads OBJ but does not write it, and
//! the format needed is two line types; it goes through the atomic writer like every
//! other output.

use crate::io::atomic::write_atomic_with;
use crate::{Error, PointCloud, Result};
use std::path::Path;

/// Write `mesh` as OBJ: one `v x y z` per point, one `f a b c` (1-based) per face.
pub fn write_obj(path: &Path, mesh: &PointCloud) -> Result<()> {
    let n = mesh.points.len();
    if mesh.faces.iter().flatten().any(|&i| i as usize >= n) {
        return Err(Error::Invalid(format!(
            "{}: mesh has a face index beyond its {n} vertices",
            path.display()
        )));
    }
    write_atomic_with(path, |w| {
        writeln!(
            w,
            "# po3ad synthetic template: {n} vertices, {} faces",
            mesh.faces.len()
        )?;
        for p in &mesh.points {
            writeln!(w, "v {} {} {}", p[0], p[1], p[2])?;
        }
        for f in &mesh.faces {
            writeln!(w, "f {} {} {}", f[0] + 1, f[1] + 1, f[2] + 1)?;
        }
        Ok(())
    })
}
