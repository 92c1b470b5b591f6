//! Rigid transforms in `f64` (internal), the Kabsch / Umeyama least-squares fit
//! (without scale), and small vector helpers shared by the registration stages.

use nalgebra::{Matrix3, Rotation3, Vector3};

pub(crate) type V3 = [f32; 3];

/// `p' = r p + t`, accumulated in `f64` so chains of ICP updates do not drift.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rigid {
    pub r: Matrix3<f64>,
    pub t: Vector3<f64>,
}

impl Rigid {
    pub fn identity() -> Self {
        Self {
            r: Matrix3::identity(),
            t: Vector3::zeros(),
        }
    }

    pub fn from_arrays(r: &[[f32; 3]; 3], t: &[f32; 3]) -> Self {
        Self {
            r: Matrix3::from_fn(|i, j| r[i][j] as f64),
            t: Vector3::new(t[0] as f64, t[1] as f64, t[2] as f64),
        }
    }

    pub fn rotation_array(&self) -> [[f32; 3]; 3] {
        std::array::from_fn(|i| std::array::from_fn(|j| self.r[(i, j)] as f32))
    }

    pub fn translation_array(&self) -> [f32; 3] {
        [self.t[0] as f32, self.t[1] as f32, self.t[2] as f32]
    }

    /// Apply to a point (computed in `f64`, returned as `f32`).
    #[inline]
    pub fn apply(&self, p: V3) -> V3 {
        let v = self.r * widen(p) + self.t;
        [v[0] as f32, v[1] as f32, v[2] as f32]
    }

    /// `self ∘ first`: apply `first`, then `self`.
    pub fn after(&self, first: &Rigid) -> Rigid {
        Rigid {
            r: self.r * first.r,
            t: self.r * first.t + self.t,
        }
    }

    /// The inverse transform, `p = rᵀ (p' − t)`.
    pub fn inverse(&self) -> Rigid {
        let rt = self.r.transpose();
        Rigid {
            r: rt,
            t: -(rt * self.t),
        }
    }

    /// Re-orthonormalise the rotation (nearest rotation matrix via SVD); keeps long
    /// chains of small updates exactly rigid.
    pub fn orthonormalized(&self) -> Rigid {
        Rigid {
            r: nearest_rotation(&self.r).unwrap_or(self.r),
            t: self.t,
        }
    }

    pub fn is_finite(&self) -> bool {
        self.r.iter().all(|x| x.is_finite()) && self.t.iter().all(|x| x.is_finite())
    }

    /// Angle (radians) of the relative rotation between two transforms.
    pub fn angle_to(&self, other: &Rigid) -> f64 {
        rotation_angle(&(self.r.transpose() * other.r))
    }
}

/// Rotation angle of a rotation matrix, in radians, robust near 0 and π.
pub(crate) fn rotation_angle(r: &Matrix3<f64>) -> f64 {
    let c = ((r.trace() - 1.0) * 0.5).clamp(-1.0, 1.0);
    c.acos()
}

/// The exponential map: a rotation vector (axis × angle) to a matrix.
pub(crate) fn exp_so3(w: &Vector3<f64>) -> Matrix3<f64> {
    Rotation3::new(*w).into_inner()
}

#[inline]
pub(crate) fn widen(p: V3) -> Vector3<f64> {
    Vector3::new(p[0] as f64, p[1] as f64, p[2] as f64)
}

#[inline]
/// Centroid and principal axes (unit columns, by increasing variance) of `points`:
/// the axes a part's symmetries turn about. The origin and the identity for no points.
pub(crate) fn principal_frame(points: &[V3]) -> (Vector3<f64>, Matrix3<f64>) {
    if points.is_empty() {
        return (Vector3::zeros(), Matrix3::identity());
    }
    let n = points.len() as f64;
    let c = points.iter().fold(Vector3::zeros(), |a, &p| a + widen(p)) / n;
    let mut cov = Matrix3::zeros();
    for &p in points {
        let d = widen(p) - c;
        cov += d * d.transpose();
    }
    (c, nalgebra::SymmetricEigen::new(cov / n).eigenvectors)
}

pub(crate) fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

#[inline]
pub(crate) fn dot(a: V3, b: V3) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

#[inline]
pub(crate) fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

#[inline]
pub(crate) fn norm(a: V3) -> f32 {
    dot(a, a).sqrt()
}

/// Two unit vectors perpendicular to the unit vector `v` and to each other (`v`, `u`,
/// `w` right-handed).
pub(crate) fn perpendicular_pair(v: V3) -> (V3, V3) {
    let a = if v[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let u = cross(v, a);
    let l = norm(u).max(1e-12);
    let u = [u[0] / l, u[1] / l, u[2] / l];
    (u, cross(v, u))
}

/// The rotation closest (Frobenius) to `m`, with determinant +1; `None` when the SVD
/// fails or is not finite.
fn nearest_rotation(m: &Matrix3<f64>) -> Option<Matrix3<f64>> {
    let svd = m.svd(true, true);
    let (u, vt) = (svd.u?, svd.v_t?);
    let mut r = u * vt;
    if r.determinant() < 0.0 {
        // Flip the direction of the smallest singular value.
        let k = argmin(&svd.singular_values);
        let mut u2 = u;
        for i in 0..3 {
            u2[(i, k)] = -u2[(i, k)];
        }
        r = u2 * vt;
    }
    r.iter().all(|x| x.is_finite()).then_some(r)
}

fn argmin(v: &Vector3<f64>) -> usize {
    let mut k = 0;
    for i in 1..3 {
        if v[i] < v[k] {
            k = i;
        }
    }
    k
}

/// Least-squares rigid transform mapping `src[i]` onto `dst[i]` (Kabsch 1976 /
/// Umeyama 1991 without scale): centre both sets, SVD of the cross-covariance
/// `H = Σ (s−s̄)(d−d̄)ᵀ = U Σ Vᵀ`, `R = V D Uᵀ` with `D` fixing a reflection on the
/// smallest singular direction, `t = d̄ − R s̄`. `None` for fewer than 3 pairs or a
/// failed / non-finite decomposition.
pub(crate) fn kabsch<I>(pairs: I) -> Option<Rigid>
where
    I: Iterator<Item = (V3, V3)> + Clone,
{
    let mut n = 0usize;
    let mut cs = Vector3::zeros();
    let mut cd = Vector3::zeros();
    for (s, d) in pairs.clone() {
        cs += widen(s);
        cd += widen(d);
        n += 1;
    }
    if n < 3 {
        return None;
    }
    cs /= n as f64;
    cd /= n as f64;
    let mut h = Matrix3::zeros();
    for (s, d) in pairs {
        h += (widen(s) - cs) * (widen(d) - cd).transpose();
    }
    let svd = h.svd(true, true);
    let (u, vt) = (svd.u?, svd.v_t?);
    let v = vt.transpose();
    let mut r = v * u.transpose();
    if r.determinant() < 0.0 {
        let k = argmin(&svd.singular_values);
        let mut v2 = v;
        for i in 0..3 {
            v2[(i, k)] = -v2[(i, k)];
        }
        r = v2 * u.transpose();
    }
    let t = cd - r * cs;
    let out = Rigid { r, t };
    out.is_finite().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kabsch_recovers_a_known_transform() {
        let r = exp_so3(&Vector3::new(0.3, -1.2, 2.0));
        let t = Vector3::new(0.5, -0.25, 1.0);
        let truth = Rigid { r, t };
        let src: Vec<V3> = vec![
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [0.0, 2.0, 0.0],
            [0.3, 0.1, 0.7],
        ];
        let dst: Vec<V3> = src.iter().map(|&p| truth.apply(p)).collect();
        let fit = kabsch(src.iter().copied().zip(dst.iter().copied())).unwrap();
        assert!(fit.angle_to(&truth) < 1e-5);
        assert!((fit.t - t).norm() < 1e-5);
        assert!((fit.r.determinant() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn kabsch_never_returns_a_reflection() {
        // A mirrored set: the best proper rotation, not the mirror.
        let src: Vec<V3> = vec![
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
        ];
        let dst: Vec<V3> = src.iter().map(|p| [-p[0], p[1], p[2]]).collect();
        let fit = kabsch(src.iter().copied().zip(dst.iter().copied())).unwrap();
        assert!((fit.r.determinant() - 1.0).abs() < 1e-9);
        assert!(kabsch(src[..2].iter().copied().zip(dst.iter().copied())).is_none());
    }
}
