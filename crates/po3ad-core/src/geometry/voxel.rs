//! Voxelization: which points share a voxel, and one representative point per voxel
//! (the network's input sites). Deterministic: voxels are numbered in the order their
//! first point appears.

use crate::{Error, Result};
use std::collections::HashMap;

/// The voxels of a point set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Voxels {
    /// Integer voxel coordinates `floor(p / voxel_size)`, one per distinct voxel.
    pub coords: Vec<[i32; 3]>,
    /// For each voxel, the index of the first point that fell in it.
    pub representative: Vec<u32>,
    /// For each point, the index of its voxel in `coords`.
    pub point_to_voxel: Vec<u32>,
}

impl Voxels {
    pub fn len(&self) -> usize {
        self.coords.len()
    }

    pub fn is_empty(&self) -> bool {
        self.coords.is_empty()
    }
}

/// Group points into cubic voxels of side `voxel_size`. The division is done in `f32`
/// as the reference code does with float32 arrays, so boundary points land in the
/// same voxel as there.
///
/// Errors when `voxel_size` is not positive and finite, a point is not finite, a
/// coordinate does not fit in `i32`, or there are more than `u32::MAX` points.
pub fn voxelize(points: &[[f32; 3]], voxel_size: f32) -> Result<Voxels> {
    if !(voxel_size.is_finite() && voxel_size > 0.0) {
        return Err(Error::Invalid(format!(
            "voxel size must be positive and finite, got {voxel_size}"
        )));
    }
    if points.len() > u32::MAX as usize {
        return Err(Error::Invalid(format!(
            "{} points exceed the u32 voxel index range",
            points.len()
        )));
    }
    let mut index: HashMap<[i32; 3], u32> = HashMap::new();
    let mut out = Voxels {
        point_to_voxel: Vec::with_capacity(points.len()),
        ..Voxels::default()
    };
    for (i, p) in points.iter().enumerate() {
        let mut c = [0i32; 3];
        for a in 0..3 {
            let v = (p[a] / voxel_size).floor();
            // i32::MIN..=i32::MAX is exact in f64; compare there to reject overflow.
            if !v.is_finite() || (v as f64) < i32::MIN as f64 || (v as f64) > i32::MAX as f64 {
                return Err(Error::Invalid(format!(
                    "point {i} {p:?} has no voxel at size {voxel_size}"
                )));
            }
            c[a] = v as i32;
        }
        let next = out.coords.len() as u32;
        let v = *index.entry(c).or_insert_with(|| {
            out.coords.push(c);
            out.representative.push(i as u32);
            next
        });
        out.point_to_voxel.push(v);
    }
    Ok(out)
}
