//! Random rigid poses for test scans (the free-pose twin of a benchmark): parts on a
//! line arrive in any orientation unless a fixture holds them, so a detector must be
//! measured on scans that are not in the training pose.

use crate::io::atomic::write_atomic_with;
use crate::{Error, Result};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// File name of the per-category pose table written beside `manifest.json`.
pub const POSES_CSV: &str = "poses.csv";

/// Header of [`POSES_CSV`]: the test file (relative to the benchmark root), the
/// row-major rotation and the translation of `p_file = R p_canonical + t`.
const POSE_COLUMNS: [&str; 13] = [
    "file", "r00", "r01", "r02", "r10", "r11", "r12", "r20", "r21", "r22", "tx", "ty", "tz",
];

/// A rigid motion `p' = R p + t` applied to a whole test cloud (and its GT rows).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RigidPose {
    /// Row-major rotation matrix.
    pub rotation: [[f32; 3]; 3],
    pub translation: [f32; 3],
}

impl RigidPose {
    pub fn identity() -> Self {
        Self {
            rotation: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            translation: [0.0; 3],
        }
    }

    pub fn apply(&self, p: [f32; 3]) -> [f32; 3] {
        let r = &self.rotation;
        [0, 1, 2].map(|i| r[i][0] * p[0] + r[i][1] * p[1] + r[i][2] * p[2] + self.translation[i])
    }

    /// Rotation angle in degrees (the angle of R's axis-angle form).
    pub fn angle_deg(&self) -> f32 {
        let r = &self.rotation;
        let c = ((r[0][0] + r[1][1] + r[2][2] - 1.0) / 2.0).clamp(-1.0, 1.0);
        c.acos().to_degrees()
    }
}

/// Write `(file, pose)` rows as [`POSES_CSV`]: one line per test cloud, the pose that
/// took the canonical (normalized mesh) frame to the file's coordinates. Plain CSV so
/// that scripts (Open3D, numpy) can read the ground truth without the manifest.
pub fn write_poses_csv<'a>(
    path: &Path,
    rows: impl Iterator<Item = (&'a str, RigidPose)>,
) -> Result<()> {
    let rows: Vec<(&str, RigidPose)> = rows.collect();
    write_atomic_with(path, |w| {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(POSE_COLUMNS)
            .map_err(std::io::Error::other)?;
        for (file, p) in &rows {
            let mut rec = vec![file.to_string()];
            for row in &p.rotation {
                rec.extend(row.iter().map(|v| v.to_string()));
            }
            rec.extend(p.translation.iter().map(|v| v.to_string()));
            out.write_record(&rec).map_err(std::io::Error::other)?;
        }
        out.flush()?;
        Ok(())
    })
}

/// Read a [`POSES_CSV`] table back: `(file, pose)` in file order. Errors name the
/// file and the line of a malformed row.
pub fn read_poses_csv(path: &Path) -> Result<Vec<(String, RigidPose)>> {
    let bad = |what: String| Error::Invalid(format!("{}: {what}", path.display()));
    let mut rd = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let header = rd.headers().map_err(|e| bad(e.to_string()))?.clone();
    if header.iter().ne(POSE_COLUMNS.iter().copied()) {
        return Err(bad(format!(
            "header is {:?}, expected {}",
            header.iter().collect::<Vec<_>>(),
            POSE_COLUMNS.join(",")
        )));
    }
    let mut out = Vec::new();
    for (line, rec) in rd.records().enumerate() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        let num = |k: usize| -> Result<f32> {
            rec.get(k)
                .and_then(|v| v.trim().parse::<f32>().ok())
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    bad(format!(
                        "row {}: column {} is not a finite number",
                        line + 2,
                        POSE_COLUMNS[k]
                    ))
                })
        };
        let mut rotation = [[0.0f32; 3]; 3];
        for (i, row) in rotation.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = num(1 + 3 * i + j)?;
            }
        }
        let translation = [num(10)?, num(11)?, num(12)?];
        out.push((
            rec[0].to_string(),
            RigidPose {
                rotation,
                translation,
            },
        ));
    }
    Ok(out)
}

/// Row-major rotation of the unit quaternion `(w, x, y, z)`.
fn quaternion_matrix([w, x, y, z]: [f64; 4]) -> [[f32; 3]; 3] {
    let m = [
        [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y - w * z),
            2.0 * (x * z + w * y),
        ],
        [
            2.0 * (x * y + w * z),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z - w * x),
        ],
        [
            2.0 * (x * z - w * y),
            2.0 * (y * z + w * x),
            1.0 - 2.0 * (x * x + y * y),
        ],
    ];
    m.map(|row| row.map(|v| v as f32))
}

/// A random unit 3-vector (uniform on the sphere).
fn unit_vector<R: Rng>(rng: &mut R) -> [f64; 3] {
    loop {
        let v: [f64; 3] = [0, 1, 2].map(|_| StandardNormal.sample(rng));
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        if n > 1e-9 {
            return v.map(|c| c / n);
        }
    }
}

/// A random pose: rotation uniform over SO(3) when `max_deg >= 180` (a normalised
/// Gaussian quaternion), else a uniform random axis turned by an angle uniform in
/// `[0, max_deg]`; translation uniform in the ball of radius `max_shift`.
pub fn random_pose<R: Rng>(max_deg: f32, max_shift: f32, rng: &mut R) -> RigidPose {
    let q = if max_deg >= 180.0 {
        loop {
            let q: [f64; 4] = [0, 1, 2, 3].map(|_| StandardNormal.sample(rng));
            let n = q.iter().map(|v| v * v).sum::<f64>().sqrt();
            if n > 1e-9 {
                break q.map(|v| v / n);
            }
        }
    } else {
        let axis = unit_vector(rng);
        let angle = (max_deg.max(0.0) as f64).to_radians() * rng.random::<f64>();
        let (s, c) = (angle / 2.0).sin_cos();
        [c, axis[0] * s, axis[1] * s, axis[2] * s]
    };
    let dir = unit_vector(rng);
    // Uniform in the ball: radius ∝ cbrt(u).
    let r = max_shift.max(0.0) as f64 * rng.random::<f64>().cbrt();
    RigidPose {
        rotation: quaternion_matrix(q),
        translation: dir.map(|c| (c * r) as f32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn det(m: &[[f32; 3]; 3]) -> f32 {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    }

    #[test]
    fn poses_are_rotations_within_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for max in [10.0f32, 90.0, 180.0] {
            for _ in 0..200 {
                let p = random_pose(max, 0.5, &mut rng);
                let r = &p.rotation;
                // R Rᵀ = I and det R = 1.
                for i in 0..3 {
                    for j in 0..3 {
                        let d: f32 = (0..3).map(|k| r[i][k] * r[j][k]).sum();
                        assert!((d - if i == j { 1.0 } else { 0.0 }).abs() < 1e-5);
                    }
                }
                assert!((det(r) - 1.0).abs() < 1e-5);
                assert!(p.angle_deg() <= max + 1e-2, "{} > {max}", p.angle_deg());
                let t = p.translation;
                assert!((t[0] * t[0] + t[1] * t[1] + t[2] * t[2]).sqrt() <= 0.5 + 1e-6);
            }
        }
    }

    #[test]
    fn uniform_rotations_have_the_haar_angle_distribution() {
        // Under the Haar measure on SO(3) the angle θ has density (1 − cos θ)/π, so
        // P(θ ≤ 90°) = (π/2 − 1)/π ≈ 0.1817 and the mean angle is π/2 + 2/π rad ≈ 126.5°.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 20_000;
        let angles: Vec<f32> = (0..n)
            .map(|_| random_pose(180.0, 0.0, &mut rng).angle_deg())
            .collect();
        let below = angles.iter().filter(|&&a| a <= 90.0).count() as f64 / n as f64;
        let expected = (std::f64::consts::FRAC_PI_2 - 1.0) / std::f64::consts::PI;
        assert!((below - expected).abs() < 0.01, "{below} vs {expected}");
        let mean = angles.iter().map(|&a| a as f64).sum::<f64>() / n as f64;
        let expected_mean = (std::f64::consts::FRAC_PI_2 + 2.0 / std::f64::consts::PI).to_degrees();
        assert!(
            (mean - expected_mean).abs() < 1.0,
            "{mean} vs {expected_mean}"
        );
    }

    #[test]
    fn poses_csv_round_trips() {
        let dir = std::env::temp_dir().join(format!("po3ad-poses-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(POSES_CSV);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let poses: Vec<(String, RigidPose)> = (0..3)
            .map(|i| {
                (
                    format!("pcd/a,b/test/{i}.pcd"),
                    random_pose(180.0, 0.5, &mut rng),
                )
            })
            .collect();
        write_poses_csv(&path, poses.iter().map(|(f, p)| (f.as_str(), *p))).unwrap();
        assert_eq!(read_poses_csv(&path).unwrap(), poses);
        std::fs::write(&path, "file,r00\nx,1\n").unwrap();
        assert!(read_poses_csv(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn quaternion_matrix_matches_a_z_turn() {
        // 90° about z: (w, z) = (cos 45°, sin 45°) maps x to y.
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let p = RigidPose {
            rotation: quaternion_matrix([h, 0.0, 0.0, h]),
            translation: [0.0; 3],
        };
        let q = p.apply([1.0, 0.0, 0.0]);
        assert!((q[0]).abs() < 1e-6 && (q[1] - 1.0).abs() < 1e-6 && q[2].abs() < 1e-6);
        assert!((p.angle_deg() - 90.0).abs() < 1e-3);
    }
}
