//! An orthographic depth image: what a scanner looking along one direction sees first
//! in each cell of its image plane. Registration uses it to tell which template points
//! a one-sided view should show; scene intake uses it to find the direction a scene was
//! scanned from and to catch a candidate pose that puts the part where the scanner saw
//! through it.
//!
//! Written here (a hash map of cells, front-most depth each): no crate offers a sparse
//! orthographic z-buffer over plain point arrays.

use nalgebra::Vector3;
use std::collections::HashMap;

type V3 = [f32; 3];

/// The image plane perpendicular to a view direction, cut into square cells.
#[derive(Debug, Clone)]
pub struct ImagePlane {
    view: Vector3<f32>,
    u: Vector3<f32>,
    w: Vector3<f32>,
    cell: f32,
}

impl ImagePlane {
    /// The plane seen along `view` (object → camera; normalized here; a zero vector
    /// reads as +z) with cells of side `cell` (> 0).
    pub fn new(view: V3, cell: f32) -> Self {
        let view = Vector3::from(view)
            .try_normalize(1e-12)
            .unwrap_or_else(Vector3::z);
        // Any two unit vectors perpendicular to `view` span the image plane.
        let (u, w) = perpendiculars(&view);
        Self {
            view,
            u,
            w,
            cell: cell.max(f32::MIN_POSITIVE),
        }
    }

    /// Depth of `p` along the view (larger: nearer the camera).
    pub fn depth(&self, p: V3) -> f32 {
        Vector3::from(p).dot(&self.view)
    }

    /// The cell `p` projects into.
    pub fn cell_of(&self, p: V3) -> (i64, i64) {
        let p = Vector3::from(p);
        (
            (p.dot(&self.u) / self.cell).floor() as i64,
            (p.dot(&self.w) / self.cell).floor() as i64,
        )
    }
}

/// Two unit vectors perpendicular to unit `v` and to each other (`v × first = second`).
pub fn perpendiculars(v: &Vector3<f32>) -> (Vector3<f32>, Vector3<f32>) {
    let helper = if v.x.abs() < 0.9 {
        Vector3::x()
    } else {
        Vector3::y()
    };
    let a = (helper - v * helper.dot(v)).normalize();
    (a, v.cross(&a))
}

/// Front-most depth per cell of an [`ImagePlane`].
#[derive(Debug, Clone)]
pub struct DepthImage {
    plane: ImagePlane,
    front: HashMap<(i64, i64), f32>,
}

impl DepthImage {
    /// The image of `points` on `ImagePlane::new(view, cell)`.
    pub fn new(points: &[V3], view: V3, cell: f32) -> Self {
        let plane = ImagePlane::new(view, cell);
        let mut front = HashMap::with_capacity(points.len() / 2);
        for &p in points {
            let d = plane.depth(p);
            front
                .entry(plane.cell_of(p))
                .and_modify(|f: &mut f32| *f = f.max(d))
                .or_insert(d);
        }
        Self { plane, front }
    }

    /// The front-most depth of the image's points in `p`'s cell, if any.
    pub fn front(&self, p: V3) -> Option<f32> {
        self.front.get(&self.plane.cell_of(p)).copied()
    }

    /// How far `p` lies in front of what the image saw in its cell (positive: nearer the
    /// camera than anything seen there); `None` for an empty cell.
    pub fn in_front(&self, p: V3) -> Option<f32> {
        self.front(p).map(|f| self.plane.depth(p) - f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearer_of_two_points_in_a_cell_is_its_front() {
        // Seen from +z: two points over the same cell, one 0.5 above the other.
        let image = DepthImage::new(&[[0.1, 0.1, 0.0], [0.12, 0.13, 0.5]], [0.0, 0.0, 1.0], 1.0);
        assert_eq!(image.front([0.2, 0.2, -3.0]), Some(0.5));
        assert_eq!(image.in_front([0.3, 0.3, 0.75]), Some(0.25));
        assert!(image.front([5.0, 5.0, 0.0]).is_none());
        // Seen from −z the lower point is the front.
        let below = DepthImage::new(&[[0.1, 0.1, 0.0], [0.12, 0.13, 0.5]], [0.0, 0.0, -1.0], 1.0);
        assert_eq!(below.front([0.2, 0.2, 0.0]), Some(0.0));
    }
}
