//! Orthographic camera for the heat-map renderer: a view direction and an up direction
//! become picture axes (u right, v up) and a depth (smaller is nearer).

use crate::{Error, Result};

/// Orthographic camera: `u` to the right, `v` up, `d` depth (smaller is nearer).
pub(crate) struct Camera {
    right: [f32; 3],
    up: [f32; 3],
    toward_viewer: [f32; 3],
}

pub(crate) struct Extent {
    pub u0: f32,
    pub u1: f32,
    pub v0: f32,
    pub v1: f32,
    pub d0: f32,
    pub d1: f32,
}

impl Camera {
    pub fn new(view_dir: [f32; 3], up: [f32; 3]) -> Result<Self> {
        let w = normalize(view_dir).ok_or_else(|| {
            Error::Invalid(format!(
                "heat map: view direction {view_dir:?} has no length"
            ))
        })?;
        // Use the requested up unless it is (nearly) parallel to the view; then a world
        // axis that is not.
        let up_candidates = [up, [0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]];
        let right = up_candidates
            .iter()
            .filter_map(|&u| normalize(u))
            .map(|u| cross(u, w))
            .find(|r| dot(*r, *r) > 1e-6)
            .and_then(normalize)
            .ok_or_else(|| Error::Invalid("heat map: no usable up direction".into()))?;
        Ok(Self {
            right,
            up: cross(w, right),
            toward_viewer: w,
        })
    }

    pub fn project(&self, p: [f32; 3]) -> (f32, f32, f32) {
        (
            dot(p, self.right),
            dot(p, self.up),
            -dot(p, self.toward_viewer),
        )
    }

    pub fn extent(&self, points: &[[f32; 3]]) -> Extent {
        let mut e = Extent {
            u0: f32::INFINITY,
            u1: f32::NEG_INFINITY,
            v0: f32::INFINITY,
            v1: f32::NEG_INFINITY,
            d0: f32::INFINITY,
            d1: f32::NEG_INFINITY,
        };
        for p in points.iter().filter(|p| is_finite(p)) {
            let (u, v, d) = self.project(*p);
            e.u0 = e.u0.min(u);
            e.u1 = e.u1.max(u);
            e.v0 = e.v0.min(v);
            e.v1 = e.v1.max(v);
            e.d0 = e.d0.min(d);
            e.d1 = e.d1.max(d);
        }
        e
    }
}

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Unit vector, `None` for a (nearly) zero or non-finite one.
fn normalize(a: [f32; 3]) -> Option<[f32; 3]> {
    let n = dot(a, a).sqrt();
    (n.is_finite() && n > 1e-6).then(|| a.map(|c| c / n))
}

/// All three coordinates are numbers (points with NaN or infinity are not drawn).
pub(crate) fn is_finite(p: &[f32; 3]) -> bool {
    p.iter().all(|c| c.is_finite())
}
