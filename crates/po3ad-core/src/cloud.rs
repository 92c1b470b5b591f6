//! The plain data type every stage passes along: points, optional normals, optional
//! per-point labels and optional triangle faces. No I/O and no maths live here.

/// A point cloud, or a triangle mesh when `faces` is non-empty.
///
/// Coordinates are `f32` (what every format in the field stores); computations that
/// need more precision widen locally.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointCloud {
    pub points: Vec<[f32; 3]>,
    /// Unit normals, one per point, when the file carried them or they were computed.
    pub normals: Option<Vec<[f32; 3]>>,
    /// Per-point ground-truth labels (0 normal, 1 anomalous) when known.
    pub labels: Option<Vec<u8>>,
    /// Triangles as indices into `points`; empty for a raw scan.
    pub faces: Vec<[u32; 3]>,
}

impl PointCloud {
    pub fn from_points(points: Vec<[f32; 3]>) -> Self {
        Self {
            points,
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn is_mesh(&self) -> bool {
        !self.faces.is_empty()
    }

    /// Axis-aligned bounding box `(min, max)`; `None` for an empty cloud.
    pub fn bbox(&self) -> Option<([f32; 3], [f32; 3])> {
        let first = *self.points.first()?;
        let mut lo = first;
        let mut hi = first;
        for p in &self.points {
            for a in 0..3 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
        Some((lo, hi))
    }

    /// Keep only the points whose index is in `keep` (in that order); faces are dropped
    /// because their indices would no longer be valid.
    pub fn select(&self, keep: &[usize]) -> PointCloud {
        PointCloud {
            points: keep.iter().map(|&i| self.points[i]).collect(),
            normals: self
                .normals
                .as_ref()
                .map(|n| keep.iter().map(|&i| n[i]).collect()),
            labels: self
                .labels
                .as_ref()
                .map(|l| keep.iter().map(|&i| l[i]).collect()),
            faces: Vec::new(),
        }
    }
}
