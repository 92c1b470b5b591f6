//! Rotations of clouds (points and normals together) and the random training
//! rotation of the reference code (Pointcept's `RandomRotate` applied about z, y, x).

use crate::PointCloud;
use rand::Rng;
use std::f32::consts::PI;

/// Rotation by `angle` radians about the x axis (right-handed).
pub fn rotation_x(angle: f32) -> [[f32; 3]; 3] {
    let (s, c) = angle.sin_cos();
    [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]]
}

/// Rotation by `angle` radians about the y axis (right-handed).
pub fn rotation_y(angle: f32) -> [[f32; 3]; 3] {
    let (s, c) = angle.sin_cos();
    [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]
}

/// Rotation by `angle` radians about the z axis (right-handed).
pub fn rotation_z(angle: f32) -> [[f32; 3]; 3] {
    let (s, c) = angle.sin_cos();
    [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
}

fn apply(r: &[[f32; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| (0..3).map(|j| r[i][j] as f64 * v[j]).sum())
}

/// Rotate points about the point `about` (`p' = R (p − about) + about`) and normals
/// by `R` (`n' = R n`). `r` is row-major and should be orthonormal.
pub fn rotate(pc: &mut PointCloud, r: &[[f32; 3]; 3], about: [f32; 3]) {
    for p in &mut pc.points {
        let d = [0, 1, 2].map(|a| p[a] as f64 - about[a] as f64);
        let q = apply(r, d);
        *p = [0, 1, 2].map(|a| (q[a] + about[a] as f64) as f32);
    }
    if let Some(normals) = pc.normals.as_mut() {
        for n in normals {
            *n = apply(r, n.map(|x| x as f64)).map(|x| x as f32);
        }
    }
}

fn bbox_centre(pc: &PointCloud) -> [f32; 3] {
    match pc.bbox() {
        Some((lo, hi)) => [0, 1, 2].map(|a| (lo[a] + hi[a]) / 2.0),
        None => [0.0; 3],
    }
}

/// The training augmentation of the reference code: rotate about z around the origin,
/// then about y, then about x, the last two around the bounding-box centre as it is
/// just before that rotation. Angles are drawn in that order, each uniform in
/// [−π, π). Normals rotate with the points.
pub fn random_train_rotation<R: Rng>(pc: &mut PointCloud, rng: &mut R) {
    random_train_rotation_within(pc, PI, rng);
}

/// [`random_train_rotation`] with each angle uniform in [−max, max) instead (radians):
/// a pose jitter for scans that are roughly, not exactly, aligned. With `max = π` it draws
/// the same angles as [`random_train_rotation`].
pub fn random_train_rotation_within<R: Rng>(pc: &mut PointCloud, max: f32, rng: &mut R) {
    let max = max.clamp(1e-6, PI);
    let az = rng.random_range(-max..max);
    rotate(pc, &rotation_z(az), [0.0; 3]);
    let ay = rng.random_range(-max..max);
    let c = bbox_centre(pc);
    rotate(pc, &rotation_y(ay), c);
    let ax = rng.random_range(-max..max);
    let c = bbox_centre(pc);
    rotate(pc, &rotation_x(ax), c);
}
