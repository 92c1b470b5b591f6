//! One local piece of the reference surface: a height field
//! `w = a u² + b uv + c v² + d u + e v` over the tangent plane of a node (origin
//! `center`, normal `normal`, tangent axes derived from the normal), fitted by least
//! squares to nearby training points. Owns the fit and the signed distance of a point
//! to the patch.
//!
//! A quadric rather than a plane: over a fit radius of a few sample spacings a plane's
//! sag on a curved part (r² / 2R) is as large as a shallow scratch, a quadric's is not.

use nalgebra::{Matrix3, Matrix6, Vector3, Vector6};

/// A deterministic orthonormal tangent basis `(t1, t2)` of unit normal `n`, so the
/// axes need not be stored with the model.
pub(crate) fn tangent_basis(n: Vector3<f32>) -> (Vector3<f32>, Vector3<f32>) {
    let helper = if n.x.abs() < 0.9 {
        Vector3::x()
    } else {
        Vector3::y()
    };
    let t1 = n.cross(&helper).normalize();
    let t2 = n.cross(&t1);
    (t1, t2)
}

/// A fitted patch. `coef = [a, b, c, d, e]` as in the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Patch {
    pub center: Vector3<f32>,
    pub normal: Vector3<f32>,
    pub coef: [f32; 5],
}

/// Least-squares fit needs at least this many points for the full quadric; with
/// fewer (but at least 3) only the tilt of the plane is fitted.
const MIN_QUADRIC_POINTS: usize = 10;
/// Ridge weight (relative to the point count) on the quadratic terms, in units where
/// the fit radius is 1: keeps nearly collinear neighbourhoods (edges, thin ribs) from
/// producing wild curvatures.
const RIDGE: f64 = 1e-3;

impl Patch {
    /// Local coordinates `(u, v, w)` of `q`.
    pub fn local(&self, q: Vector3<f32>) -> (f32, f32, f32) {
        let (t1, t2) = tangent_basis(self.normal);
        let d = q - self.center;
        (d.dot(&t1), d.dot(&t2), d.dot(&self.normal))
    }

    /// Signed distance of `q` to the patch along its normal (+ = outside, along the
    /// normal), first-order corrected for the patch's slope. The in-plane offset is
    /// clamped to `reach` so that a point far along the tangent plane does not
    /// extrapolate the quadric.
    pub fn signed_distance(&self, q: Vector3<f32>, reach: f32) -> f32 {
        let (mut u, mut v, w) = self.local(q);
        let r = (u * u + v * v).sqrt();
        if r > reach && r > 0.0 {
            u *= reach / r;
            v *= reach / r;
        }
        let [a, b, c, d, e] = self.coef;
        let h = w - (a * u * u + b * u * v + c * v * v + d * u + e * v);
        let gu = 2.0 * a * u + b * v + d;
        let gv = b * u + 2.0 * c * v + e;
        h / (1.0 + gu * gu + gv * gv).sqrt()
    }

    /// Fit a patch to `points` around `origin` with normal `normal` (unit), the
    /// tangent coordinates scaled by `radius` for conditioning. The fitted constant
    /// term moves the centre onto the surface. `None` with fewer than 3 points.
    pub fn fit(
        origin: Vector3<f32>,
        normal: Vector3<f32>,
        points: &[Vector3<f32>],
        radius: f32,
    ) -> Option<Patch> {
        if points.len() < 3 {
            return None;
        }
        let (t1, t2) = tangent_basis(normal);
        let s = f64::from(radius.max(f32::MIN_POSITIVE));
        let rows = points.iter().map(|p| {
            let d = p - origin;
            (
                f64::from(d.dot(&t1)) / s,
                f64::from(d.dot(&t2)) / s,
                f64::from(d.dot(&normal)) / s,
            )
        });
        let n = points.len() as f64;
        // Unknowns in scaled units: [a, b, c, d, e, f].
        let (coef, f) = if points.len() >= MIN_QUADRIC_POINTS {
            let mut ata = Matrix6::<f64>::zeros();
            let mut atb = Vector6::<f64>::zeros();
            for (u, v, w) in rows {
                let x = Vector6::new(u * u, u * v, v * v, u, v, 1.0);
                ata += x * x.transpose();
                atb += x * w;
            }
            for i in 0..3 {
                ata[(i, i)] += RIDGE * n;
            }
            let sol = ata.cholesky()?.solve(&atb);
            ([sol[0], sol[1], sol[2], sol[3], sol[4]], sol[5])
        } else {
            let mut ata = Matrix3::<f64>::zeros();
            let mut atb = Vector3::<f64>::zeros();
            for (u, v, w) in rows {
                let x = Vector3::new(u, v, 1.0);
                ata += x * x.transpose();
                atb += x * w;
            }
            for i in 0..2 {
                ata[(i, i)] += RIDGE * n;
            }
            let sol = ata.cholesky()?.solve(&atb);
            ([0.0, 0.0, 0.0, sol[0], sol[1]], sol[2])
        };
        // Back to model units: w = s·W(u/s, v/s) → quadratic terms / s, slopes as is.
        let q = [coef[0] / s, coef[1] / s, coef[2] / s, coef[3], coef[4]];
        let patch = Patch {
            center: origin + normal * (f * s) as f32,
            normal,
            coef: q.map(|x| x as f32),
        };
        patch.coef.iter().all(|c| c.is_finite()).then_some(patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_paraboloid_and_its_offset() {
        // w = 2u² − 0.5uv + 1v² + 0.1u − 0.2v + 0.03 around the origin, normal z.
        let n = Vector3::z();
        let (t1, t2) = tangent_basis(n);
        let mut pts = Vec::new();
        for i in -5..=5 {
            for j in -5..=5 {
                let (u, v) = (i as f32 * 0.01, j as f32 * 0.01);
                let w = 2.0 * u * u - 0.5 * u * v + v * v + 0.1 * u - 0.2 * v + 0.03;
                pts.push(t1 * u + t2 * v + n * w);
            }
        }
        let p = Patch::fit(Vector3::zeros(), n, &pts, 0.05).unwrap();
        let want = [2.0, -0.5, 1.0, 0.1, -0.2];
        for (got, want) in p.coef.iter().zip(want) {
            assert!((got - want).abs() < 0.02, "{:?} vs {want:?}", p.coef);
        }
        assert!((p.center.z - 0.03).abs() < 1e-4);
        // A point 0.01 above the surface at (u, v) = (0.02, 0.01).
        let (u, v) = (0.02f32, 0.01f32);
        let w = 2.0 * u * u - 0.5 * u * v + v * v + 0.1 * u - 0.2 * v + 0.03;
        let g = Vector3::new(4.0 * u - 0.5 * v + 0.1, -0.5 * u + 2.0 * v - 0.2, 0.0);
        let q = t1 * u + t2 * v + n * (w + 0.01);
        // Exact normal distance of a height offset 0.01 is 0.01 / sqrt(1 + |∇|²).
        let want = 0.01 / (1.0 + g.norm_squared()).sqrt();
        assert!((p.signed_distance(q, 1.0) - want).abs() < 2e-4);
    }
}
