//! Test-time preprocessing of the reference code: `CenterShift` (x, y to the bounding
//! box centre, lowest z to 0), then scaling into the unit sphere around the centroid.

use crate::{Error, PointCloud, Result};

/// Move the cloud so its bounding box is centred in x and y and its lowest point has
/// z = 0 (Pointcept's `CenterShift(apply_z=True)`). Normals are unchanged; an empty
/// cloud is left as it is. Returns the shift that was subtracted (zero for an empty
/// cloud).
pub fn center_shift(pc: &mut PointCloud) -> [f32; 3] {
    let Some((lo, hi)) = pc.bbox() else {
        return [0.0; 3];
    };
    let shift = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0, lo[2]];
    for p in &mut pc.points {
        for a in 0..3 {
            p[a] -= shift[a];
        }
    }
    shift
}

/// Subtract the centroid and divide by the largest distance to it, so the farthest
/// point lies on the unit sphere. Returns `(centroid, scale)` with
/// `new = (old − centroid) / scale`. Normals are unchanged (a uniform scale keeps
/// directions).
///
/// Errors on an empty cloud, non-finite coordinates, or a cloud whose points all
/// coincide (zero extent).
pub fn normalize_unit_sphere(pc: &mut PointCloud) -> Result<([f32; 3], f32)> {
    if pc.is_empty() {
        return Err(Error::Invalid("cannot normalize an empty cloud".into()));
    }
    // Accumulate in f64: clouds have millions of points and f32 sums drift.
    let n = pc.len() as f64;
    let mut c = [0.0f64; 3];
    for p in &pc.points {
        for a in 0..3 {
            c[a] += p[a] as f64;
        }
    }
    let c = c.map(|x| x / n);
    let mut max2 = 0.0f64;
    for p in &pc.points {
        let d2: f64 = (0..3).map(|a| (p[a] as f64 - c[a]).powi(2)).sum();
        max2 = max2.max(d2);
    }
    let scale = max2.sqrt();
    if !scale.is_finite() || c.iter().any(|x| !x.is_finite()) {
        return Err(Error::Invalid(
            "cloud has non-finite coordinates; cannot normalize".into(),
        ));
    }
    if scale == 0.0 {
        return Err(Error::Invalid(
            "all points coincide (zero extent); cannot normalize".into(),
        ));
    }
    for p in &mut pc.points {
        for a in 0..3 {
            p[a] = ((p[a] as f64 - c[a]) / scale) as f32;
        }
    }
    Ok((c.map(|x| x as f32), scale as f32))
}

/// Test-time preprocessing: [`center_shift`] then [`normalize_unit_sphere`].
pub fn preprocess_test(pc: &mut PointCloud) -> Result<()> {
    let _ = center_shift(pc);
    normalize_unit_sphere(pc)?;
    Ok(())
}
