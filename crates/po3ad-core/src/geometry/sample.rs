//! Meshes to dense point sets: area-weighted uniform sampling of the surface, and
//! midpoint subdivision (to turn a coarse training mesh into a dense template while
//! keeping it a mesh).

use super::normals::face_cross;
use crate::{Error, PointCloud, Result};
use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::Rng;
use std::collections::HashMap;

/// Sample `n` points uniformly on the surface of `mesh`: a face is drawn with
/// probability proportional to its area, then a uniform point inside it. Each point's
/// normal is the unit normal of its face, oriented by the winding `(b−a)×(c−a)`.
/// The result has no faces and no labels.
///
/// Errors when the mesh has no faces, a face index is out of range, or the total area
/// is zero or not finite.
pub fn sample_surface<R: Rng>(mesh: &PointCloud, n: usize, rng: &mut R) -> Result<PointCloud> {
    if mesh.faces.is_empty() {
        return Err(Error::Invalid(
            "surface sampling needs a mesh with faces".into(),
        ));
    }
    let mut crosses = Vec::with_capacity(mesh.faces.len());
    for &f in &mesh.faces {
        let c = face_cross(&mesh.points, f).ok_or_else(|| {
            Error::Invalid(format!(
                "face {f:?} indexes past the {} vertices",
                mesh.points.len()
            ))
        })?;
        crosses.push(c);
    }
    let areas: Vec<f64> = crosses
        .iter()
        .map(|c| 0.5 * (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt())
        .collect();
    let total: f64 = areas.iter().sum();
    if !(total.is_finite() && total > 0.0) {
        return Err(Error::Invalid(format!(
            "mesh surface area is {total}; cannot sample it"
        )));
    }
    let pick = WeightedIndex::new(&areas)
        .map_err(|e| Error::Invalid(format!("face areas unusable for sampling: {e}")))?;

    let mut points = Vec::with_capacity(n);
    let mut normals = Vec::with_capacity(n);
    for _ in 0..n {
        let fi = pick.sample(rng);
        let f = mesh.faces[fi];
        let [a, b, c] = f.map(|v| mesh.points[v as usize].map(|x| x as f64));
        // Uniform point in a triangle: the square root on r1 makes the density flat
        // (Osada et al. 2002, "Shape distributions", eq. 1).
        let r1: f64 = rng.random::<f64>().sqrt();
        let r2: f64 = rng.random();
        let (wa, wb, wc) = (1.0 - r1, r1 * (1.0 - r2), r1 * r2);
        points.push([0, 1, 2].map(|i| (wa * a[i] + wb * b[i] + wc * c[i]) as f32));
        let cr = crosses[fi];
        let len = 2.0 * areas[fi];
        normals.push(cr.map(|x| (x / len) as f32));
    }
    Ok(PointCloud {
        points,
        normals: Some(normals),
        labels: None,
        faces: Vec::new(),
    })
}

/// Midpoint subdivision, repeated until the mesh has at least `min_vertices` vertices:
/// each triangle becomes four, edge midpoints are shared between the two triangles of
/// an edge, winding is kept. Midpoint normals (when present) are the renormalized mean
/// of the edge's end normals; midpoint labels (when present) are the minimum of the
/// end labels, so a midpoint is anomalous only between two anomalous vertices.
/// A cloud without faces is returned unchanged.
pub fn subdivide_to(mesh: &PointCloud, min_vertices: usize) -> PointCloud {
    let mut out = mesh.clone();
    while out.points.len() < min_vertices && !out.faces.is_empty() {
        out = subdivide_once(&out);
    }
    out
}

fn subdivide_once(mesh: &PointCloud) -> PointCloud {
    let mut out = PointCloud {
        points: mesh.points.clone(),
        normals: mesh.normals.clone(),
        labels: mesh.labels.clone(),
        faces: Vec::with_capacity(mesh.faces.len() * 4),
    };
    let nv = mesh.points.len() as u32;
    let mut midpoints: HashMap<(u32, u32), u32> = HashMap::new();
    let mut midpoint = |out: &mut PointCloud, a: u32, b: u32| -> u32 {
        let key = (a.min(b), a.max(b));
        *midpoints.entry(key).or_insert_with(|| {
            let (pa, pb) = (out.points[a as usize], out.points[b as usize]);
            out.points.push([0, 1, 2].map(|i| 0.5 * (pa[i] + pb[i])));
            if let Some(ns) = out.normals.as_mut() {
                let (na, nb) = (ns[a as usize], ns[b as usize]);
                let m = [0, 1, 2].map(|i| na[i] + nb[i]);
                let len = (m[0] * m[0] + m[1] * m[1] + m[2] * m[2]).sqrt();
                ns.push(if len > 0.0 && len.is_finite() {
                    m.map(|x| x / len)
                } else {
                    na
                });
            }
            if let Some(ls) = out.labels.as_mut() {
                let l = ls[a as usize].min(ls[b as usize]);
                ls.push(l);
            }
            (out.points.len() - 1) as u32
        })
    };
    for &[a, b, c] in &mesh.faces {
        if a >= nv || b >= nv || c >= nv {
            // Invalid faces cannot be split; drop them rather than panic.
            continue;
        }
        let ab = midpoint(&mut out, a, b);
        let bc = midpoint(&mut out, b, c);
        let ca = midpoint(&mut out, c, a);
        out.faces
            .extend_from_slice(&[[a, ab, ca], [ab, b, bc], [ca, bc, c], [ab, bc, ca]]);
    }
    out
}
