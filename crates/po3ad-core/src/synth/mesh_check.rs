//! Checks on input meshes: enclosed volume, area, open or non-manifold edges, and the
//! validation that turns a bad mesh into a clear error before a benchmark is made.

use super::vec3::{cross, norm, sub};
use crate::{Error, PointCloud, Result};
use std::collections::BTreeMap;

/// Signed enclosed volume by the divergence theorem (sum of signed tetrahedra to the
/// origin); positive for a closed surface with outward normals.
pub fn signed_volume(mesh: &PointCloud) -> f64 {
    let p = |i: u32| mesh.points[i as usize].map(f64::from);
    mesh.faces
        .iter()
        .map(|f| {
            let (a, b, c) = (p(f[0]), p(f[1]), p(f[2]));
            let bc = [
                b[1] * c[2] - b[2] * c[1],
                b[2] * c[0] - b[0] * c[2],
                b[0] * c[1] - b[1] * c[0],
            ];
            (a[0] * bc[0] + a[1] * bc[1] + a[2] * bc[2]) / 6.0
        })
        .sum()
}

/// Total triangle area.
pub fn surface_area(mesh: &PointCloud) -> f64 {
    mesh.faces
        .iter()
        .map(|f| f64::from(face_area(mesh, f)))
        .sum()
}

pub(crate) fn face_area(mesh: &PointCloud, f: &[u32; 3]) -> f32 {
    let a = mesh.points[f[0] as usize];
    let b = mesh.points[f[1] as usize];
    let c = mesh.points[f[2] as usize];
    0.5 * norm(cross(sub(b, a), sub(c, a)))
}

/// Edge statistics of a triangle mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EdgeReport {
    /// Undirected edges used by exactly one face (holes in the surface).
    pub boundary: usize,
    /// Undirected edges used by more than two faces.
    pub non_manifold: usize,
    /// Edges shared by two faces that traverse them in the same direction
    /// (inconsistent winding).
    pub misoriented: usize,
}

impl EdgeReport {
    /// Closed, manifold and consistently wound.
    pub fn is_closed(&self) -> bool {
        self.boundary == 0 && self.non_manifold == 0 && self.misoriented == 0
    }
}

pub fn edge_report(mesh: &PointCloud) -> EdgeReport {
    // (lo, hi) → (faces using it forward lo→hi, backward hi→lo)
    let mut edges: BTreeMap<(u32, u32), (u32, u32)> = BTreeMap::new();
    for f in &mesh.faces {
        for (a, b) in [(f[0], f[1]), (f[1], f[2]), (f[2], f[0])] {
            let e = edges.entry((a.min(b), a.max(b))).or_default();
            if a < b {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
    }
    let mut r = EdgeReport {
        boundary: 0,
        non_manifold: 0,
        misoriented: 0,
    };
    for &(fw, bw) in edges.values() {
        match fw + bw {
            1 => r.boundary += 1,
            2 if fw != 1 => r.misoriented += 1,
            2 => {}
            _ => r.non_manifold += 1,
        }
    }
    r
}

/// Reject meshes no benchmark can be made from, with the reason.
pub fn validate_mesh(mesh: &PointCloud) -> Result<()> {
    if mesh.faces.is_empty() {
        return Err(Error::Invalid(
            "mesh has no faces (a raw point cloud cannot be resampled)".into(),
        ));
    }
    if mesh.points.len() < 4 {
        return Err(Error::Invalid(format!(
            "mesh has only {} vertices",
            mesh.points.len()
        )));
    }
    if let Some(i) = mesh
        .points
        .iter()
        .position(|p| p.iter().any(|c| !c.is_finite()))
    {
        return Err(Error::Invalid(format!("vertex {i} is not finite")));
    }
    let n = mesh.points.len() as u32;
    if let Some(f) = mesh.faces.iter().find(|f| f.iter().any(|&i| i >= n)) {
        return Err(Error::Invalid(format!(
            "face {f:?} refers to a vertex past the {n} vertices"
        )));
    }
    let area = surface_area(mesh);
    let (lo, hi) = mesh.bbox().unwrap_or(([0.0; 3], [0.0; 3]));
    let diag = f64::from(norm(sub(hi, lo)));
    if !area.is_finite() || area <= 1e-9 * diag * diag || diag <= 0.0 {
        return Err(Error::Invalid(format!(
            "mesh has degenerate total area {area:e} (bounding-box diagonal {diag:e})"
        )));
    }
    Ok(())
}
