//! STL triangle soups, ascii and binary, turned into indexed meshes by merging
//! exactly identical vertices (STL repeats each vertex once per triangle).
//!
//! Written by hand rather than with `stl_io`: the format is a few lines, and we want to
//! check the triangle count against the file size before allocating, detect binary
//! files whose 80-byte header starts with "solid", and merge vertices our own way.
//! Facet normals are per face, not per vertex, so the cloud gets no normals.

use super::common::{self, Cursor, Parsed, Scalar};
use crate::{Error, PointCloud, Result};
use std::collections::HashMap;
use std::path::Path;

/// Is this a binary STL? Decided by the size formula, since many binary files also
/// start with "solid".
pub(crate) fn is_binary(bytes: &[u8]) -> bool {
    if bytes.len() < 84 {
        return false;
    }
    let n = u32::from_le_bytes([bytes[80], bytes[81], bytes[82], bytes[83]]) as u64;
    if 84 + 50 * n == bytes.len() as u64 {
        return true;
    }
    !bytes.trim_ascii_start().starts_with(b"solid")
}

pub(crate) fn read(path: &Path, bytes: &[u8], max_points: usize) -> Result<Parsed> {
    if bytes.is_empty() {
        return Err(Error::format(path, "empty file"));
    }
    let ascii = bytes.trim_ascii_start().starts_with(b"solid");
    if bytes.len() < 84 && !ascii {
        return Err(Error::format(
            path,
            format!(
                "neither binary STL (needs at least 84 bytes, has {}) nor ascii STL (no 'solid')",
                bytes.len()
            ),
        ));
    }
    let (corners, format) = if is_binary(bytes) {
        (read_binary(path, bytes)?, "STL binary")
    } else {
        (read_ascii(path, bytes)?, "STL ascii")
    };
    let mut index: HashMap<[u32; 3], u32> = HashMap::new();
    let mut points = Vec::new();
    let mut faces = Vec::with_capacity(corners.len() / 3);
    for tri in corners.chunks_exact(3) {
        let mut f = [0u32; 3];
        for (k, p) in tri.iter().enumerate() {
            // +0.0 turns -0.0 into 0.0 so the two zeros merge.
            let key = p.map(|v| (v + 0.0).to_bits());
            f[k] = match index.get(&key) {
                Some(&i) => i,
                None => {
                    // The cap applies to merged vertices, what the cloud will hold.
                    common::check_limit(path, "STL", points.len() + 1, max_points)?;
                    points.push(*p);
                    let i = (points.len() - 1) as u32;
                    index.insert(key, i);
                    i
                }
            };
        }
        faces.push(f);
    }
    Ok(Parsed {
        cloud: PointCloud {
            points,
            normals: None,
            labels: None,
            faces,
        },
        format: format.into(),
        fields: vec!["facet normal".into(), "vertex".into()],
        organized: false,
    })
}

fn read_binary(path: &Path, bytes: &[u8]) -> Result<Vec<[f32; 3]>> {
    let n = u32::from_le_bytes([bytes[80], bytes[81], bytes[82], bytes[83]]) as usize;
    let need = 84 + 50 * n as u64;
    if (bytes.len() as u64) < need {
        return Err(Error::format(
            path,
            format!(
                "binary STL claims {n} triangles ({need} bytes) but the file has {} bytes",
                bytes.len()
            ),
        ));
    }
    let mut c = Cursor::new(&bytes[84..]);
    let mut corners = Vec::with_capacity(n * 3);
    for _ in 0..n {
        let rec = c
            .take(50)
            .ok_or_else(|| Error::format(path, "binary STL truncated"))?;
        // Skip the 12-byte facet normal, read 3 vertices, ignore the attribute count.
        for k in 0..3 {
            let o = 12 + 12 * k;
            let g = |j: usize| Scalar::F32.decode(&rec[o + 4 * j..], false) as f32;
            corners.push([g(0), g(1), g(2)]);
        }
    }
    Ok(corners)
}

fn read_ascii(path: &Path, bytes: &[u8]) -> Result<Vec<[f32; 3]>> {
    let text = common::utf8(path, bytes)?;
    let mut corners = Vec::new();
    let mut facet: Vec<[f32; 3]> = Vec::new();
    let mut in_facet = false;
    let mut solid = false;
    for (ln, line) in text.lines().enumerate() {
        let ln = ln + 1;
        let mut t = line.split_whitespace();
        match t.next() {
            Some("solid") => solid = true,
            Some("facet") => {
                in_facet = true;
                facet.clear();
            }
            Some("vertex") => {
                if !in_facet {
                    return Err(Error::format(
                        path,
                        format!("line {ln}: vertex outside a facet"),
                    ));
                }
                let mut p = [0f32; 3];
                for c in &mut p {
                    let tok = t.next().ok_or_else(|| {
                        Error::format(path, format!("line {ln}: vertex needs 3 coordinates"))
                    })?;
                    *c = common::number(path, tok, ln)? as f32;
                }
                facet.push(p);
            }
            Some("endfacet") => {
                if facet.len() < 3 {
                    return Err(Error::format(
                        path,
                        format!("line {ln}: facet with {} vertices", facet.len()),
                    ));
                }
                // Facets are triangles; a polygon facet (rare) becomes a fan.
                for k in 1..facet.len() - 1 {
                    corners.extend([facet[0], facet[k], facet[k + 1]]);
                }
                in_facet = false;
            }
            Some("outer" | "endloop" | "endsolid") | None => {}
            Some(other) => {
                return Err(Error::format(
                    path,
                    format!(
                        "line {ln}: unexpected '{}' in ascii STL",
                        common::shorten(other)
                    ),
                ))
            }
        }
    }
    if !solid {
        return Err(Error::format(path, "ascii STL without 'solid'"));
    }
    if in_facet {
        return Err(Error::format(path, "ascii STL ends inside a facet"));
    }
    Ok(corners)
}
