//! Wavefront OBJ meshes: `v`, `vn` and `f` lines (v, v/vt, v//vn, v/vt/vn corners,
//! negative = relative indices), polygons triangulated as fans. Everything else
//! (vt, groups, materials, lines) is ignored.
//!
//! Written by hand rather than with `tobj`: tobj splits the file into one model per
//! group/object and re-indexes each, duplicating shared vertices, while we need the
//! file's `v` list unchanged as the point set (and our own point cap and errors).

use super::common::{self, Parsed};
use crate::{Error, PointCloud, Result};
use std::path::Path;

/// Resolve an OBJ index (1-based, or negative counting back from the latest element)
/// to a 0-based one, checking it refers to an element defined so far.
fn resolve(path: &Path, tok: &str, defined: usize, line: usize, what: &str) -> Result<usize> {
    let bad = || {
        Error::format(
            path,
            format!(
                "line {line}: {what} index '{}' is out of range ({defined} defined)",
                common::shorten(tok)
            ),
        )
    };
    let i: i64 = tok.parse().map_err(|_| bad())?;
    let idx = if i > 0 {
        (i - 1) as usize
    } else if i < 0 {
        defined
            .checked_sub(i.unsigned_abs() as usize)
            .ok_or_else(bad)?
    } else {
        return Err(bad());
    };
    if idx >= defined {
        return Err(bad());
    }
    Ok(idx)
}

pub(crate) fn read(path: &Path, bytes: &[u8], max_points: usize) -> Result<Parsed> {
    if bytes.is_empty() {
        return Err(Error::format(path, "empty file"));
    }
    let text = common::utf8(path, bytes)?;
    let mut points: Vec<[f32; 3]> = Vec::new();
    let mut vn: Vec<[f32; 3]> = Vec::new();
    let mut faces = Vec::new();
    // Per vertex: the vn index its face corners gave it; u32::MAX = none yet.
    let mut corner_normal: Vec<u32> = Vec::new();
    let mut normals_consistent = true;
    let mut any_corner_without_normal = false;
    let mut seen_vt = false;
    let mut poly = Vec::new();
    let mut vert_normals = Vec::new();
    for (ln, line) in text.lines().enumerate() {
        let ln = ln + 1;
        let mut t = line.split_whitespace();
        match t.next() {
            Some("v") => {
                let p = xyz(path, &mut t, ln, "v")?;
                points.push(p);
                corner_normal.push(u32::MAX);
                common::check_limit(path, "OBJ", points.len(), max_points)?;
            }
            Some("vn") => vn.push(xyz(path, &mut t, ln, "vn")?),
            Some("vt") => seen_vt = true,
            Some("f") => {
                poly.clear();
                vert_normals.clear();
                for corner in t {
                    let mut parts = corner.split('/');
                    let v = resolve(path, parts.next().unwrap_or(""), points.len(), ln, "vertex")?;
                    let _vt = parts.next();
                    let n = match parts.next() {
                        Some(s) if !s.is_empty() => Some(resolve(path, s, vn.len(), ln, "normal")?),
                        _ => None,
                    };
                    poly.push(v as u32);
                    vert_normals.push(n);
                }
                if poly.len() < 3 {
                    return Err(Error::format(
                        path,
                        format!("line {ln}: face with {} vertices", poly.len()),
                    ));
                }
                for (&v, n) in poly.iter().zip(&vert_normals) {
                    match n {
                        None => any_corner_without_normal = true,
                        Some(n) => {
                            let slot = &mut corner_normal[v as usize];
                            let n = *n as u32;
                            if *slot == u32::MAX {
                                *slot = n;
                            } else if *slot != n && vn[*slot as usize] != vn[n as usize] {
                                // The same vertex with two different normals (a hard
                                // edge): no single per-vertex normal exists.
                                normals_consistent = false;
                            }
                        }
                    }
                }
                common::fan(&poly, &mut faces);
            }
            _ => {}
        }
    }
    let normals = if faces.is_empty() {
        // A point-cloud OBJ: normals pair with vertices in order when counts agree.
        (!vn.is_empty() && vn.len() == points.len()).then(|| vn.clone())
    } else if normals_consistent
        && !any_corner_without_normal
        && corner_normal.iter().all(|&n| n != u32::MAX)
    {
        Some(corner_normal.iter().map(|&n| vn[n as usize]).collect())
    } else {
        None
    };
    let mut fields = vec!["v".to_string()];
    if !vn.is_empty() {
        fields.push("vn".into());
    }
    if seen_vt {
        fields.push("vt".into());
    }
    if !faces.is_empty() {
        fields.push("f".into());
    }
    Ok(Parsed {
        cloud: PointCloud {
            points,
            normals: normals.and_then(common::finite_normals),
            labels: None,
            faces,
        },
        format: "OBJ".into(),
        fields,
        organized: false,
    })
}

fn xyz<'a>(
    path: &Path,
    t: &mut impl Iterator<Item = &'a str>,
    ln: usize,
    what: &str,
) -> Result<[f32; 3]> {
    let mut p = [0f32; 3];
    for c in &mut p {
        let tok = t.next().ok_or_else(|| {
            Error::format(path, format!("line {ln}: '{what}' needs 3 coordinates"))
        })?;
        *c = common::number(path, tok, ln)? as f32;
    }
    Ok(p)
}
