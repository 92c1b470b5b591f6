//! Invalid sensor points. Structured-light cameras and scanners export organized clouds
//! (one point per pixel or per beam) and mark pixels without a measurement as NaN,
//! ±inf or exactly (0, 0, 0). They are dropped here with a count, and the indices of
//! the kept points are recorded so that per-point outputs can be written back in the
//! file's order (NaN for a dropped point) with [`DroppedPoints::scatter`].

use crate::PointCloud;

/// When exact (0, 0, 0) points count as invalid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OriginPolicy {
    /// When the file is organized (PCD `HEIGHT` > 1, E57 row/column indices), when it
    /// also has non-finite points (a sensor's grid export), or when more than one point
    /// sits exactly at the origin (no real surface puts two samples there).
    #[default]
    Auto,
    /// Every exact (0, 0, 0) point is invalid.
    Always,
    /// (0, 0, 0) is a point like any other.
    Never,
}

/// What [`drop_invalid`] removed, and where the kept points came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DroppedPoints {
    /// Points in the file.
    pub total: usize,
    /// Points with a NaN or infinite coordinate.
    pub non_finite: usize,
    /// Points exactly at (0, 0, 0) that were taken for missing pixels.
    pub origin: usize,
    /// For each point of the cleaned cloud, its index in the file (increasing).
    pub kept: Vec<u32>,
}

impl DroppedPoints {
    /// Nothing dropped: the identity mapping for `n` points.
    pub fn none(n: usize) -> Self {
        Self {
            total: n,
            non_finite: 0,
            origin: 0,
            kept: (0..n as u32).collect(),
        }
    }

    /// Number of points dropped.
    pub fn dropped(&self) -> usize {
        self.non_finite + self.origin
    }

    /// `values` (one per kept point) spread back to the file's order, `fill` where a
    /// point was dropped: point scores written with `f32::NAN` for invalid pixels.
    /// Returns `None` when `values` does not have one entry per kept point.
    pub fn scatter<T: Copy>(&self, values: &[T], fill: T) -> Option<Vec<T>> {
        if values.len() != self.kept.len() {
            return None;
        }
        let mut out = vec![fill; self.total];
        for (&i, &v) in self.kept.iter().zip(values) {
            out[i as usize] = v;
        }
        Some(out)
    }
}

/// Split `cloud` into its valid points (normals and labels follow) and a report.
/// `organized` says the file was a sensor grid (see [`OriginPolicy::Auto`]). Meshes are
/// returned unchanged when every vertex is valid; a mesh with invalid vertices is
/// returned as is with the counts set, and callers refuse it (faces would dangle).
pub fn drop_invalid(
    cloud: PointCloud,
    organized: bool,
    policy: OriginPolicy,
) -> (PointCloud, DroppedPoints) {
    let n = cloud.points.len();
    let is_origin = |p: &[f32; 3]| p.iter().all(|&v| v == 0.0);
    let finite = |p: &[f32; 3]| p.iter().all(|v| v.is_finite());
    let non_finite = cloud.points.iter().filter(|p| !finite(p)).count();
    let drop_origin = match policy {
        OriginPolicy::Always => true,
        OriginPolicy::Never => false,
        OriginPolicy::Auto => {
            organized || non_finite > 0 || cloud.points.iter().filter(|p| is_origin(p)).count() > 1
        }
    };
    let valid = |p: &[f32; 3]| finite(p) && !(drop_origin && is_origin(p));
    let kept: Vec<u32> = (0..n)
        .filter(|&i| valid(&cloud.points[i]))
        .map(|i| i as u32)
        .collect();
    let origin = n - non_finite - kept.len();
    let report = DroppedPoints {
        total: n,
        non_finite,
        origin,
        kept,
    };
    if report.dropped() == 0 || cloud.is_mesh() {
        return (cloud, report);
    }
    let idx: Vec<usize> = report.kept.iter().map(|&i| i as usize).collect();
    (cloud.select(&idx), report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_nan_inf_and_origin_of_an_organized_grid() {
        let pts = vec![
            [1.0, 2.0, 3.0],
            [f32::NAN, 0.0, 0.0],
            [0.0, 0.0, 0.0],
            [4.0, 5.0, f32::INFINITY],
            [7.0, 8.0, 9.0],
        ];
        let mut c = PointCloud::from_points(pts);
        c.labels = Some(vec![0, 1, 0, 1, 1]);
        let (clean, r) = drop_invalid(c, true, OriginPolicy::Auto);
        assert_eq!(clean.points, vec![[1.0, 2.0, 3.0], [7.0, 8.0, 9.0]]);
        assert_eq!(clean.labels, Some(vec![0, 1]));
        assert_eq!((r.total, r.non_finite, r.origin), (5, 2, 1));
        assert_eq!(r.kept, vec![0, 4]);
        let s = r.scatter(&[0.5f32, 0.25], f32::NAN).unwrap();
        assert_eq!(s[0], 0.5);
        assert_eq!(s[4], 0.25);
        assert!(s[1].is_nan() && s[2].is_nan() && s[3].is_nan());
        assert!(r.scatter(&[1.0f32], 0.0).is_none());
    }

    #[test]
    fn a_single_origin_point_of_a_clean_cloud_is_kept() {
        let c = PointCloud::from_points(vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]);
        let (clean, r) = drop_invalid(c.clone(), false, OriginPolicy::Auto);
        assert_eq!(clean, c);
        assert_eq!(r, DroppedPoints::none(2));
        let (clean, r) = drop_invalid(c.clone(), false, OriginPolicy::Always);
        assert_eq!(clean.points, vec![[1.0, 0.0, 0.0]]);
        assert_eq!(r.origin, 1);
        // Two points exactly at the origin are missing pixels even without a grid.
        let c2 = PointCloud::from_points(vec![[0.0; 3], [1.0, 0.0, 0.0], [0.0; 3]]);
        let (_, r) = drop_invalid(c2, false, OriginPolicy::Auto);
        assert_eq!((r.origin, r.kept.clone()), (2, vec![1]));
        let c3 = PointCloud::from_points(vec![[0.0; 3], [0.0; 3]]);
        assert_eq!(drop_invalid(c3, true, OriginPolicy::Never).1.dropped(), 0);
    }
}
