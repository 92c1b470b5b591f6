//! Voxel-grid downsampling for very large scans: one representative point per occupied
//! voxel, so a multi-million-point scan can be thinned before normals and scoring.

use super::voxel::voxelize;
use crate::{PointCloud, Result};

/// Keep the first point (in file order) of every occupied cubic voxel of side `voxel`,
/// with its normal and label when the cloud has them. Faces are dropped (their indices
/// would no longer be valid). Output order is the order in which voxels are first hit,
/// so the result is deterministic.
///
/// Keeping an existing point rather than the voxel centroid means labels and normals
/// stay exact (no averaging of 0/1 labels or of opposite normals).
///
/// Errors as [`voxelize`] does: `voxel` not positive and finite, or a point that is
/// not finite or has no `i32` voxel coordinate.
pub fn voxel_downsample(cloud: &PointCloud, voxel: f32) -> Result<PointCloud> {
    let v = voxelize(&cloud.points, voxel)?;
    let keep: Vec<usize> = v.representative.iter().map(|&i| i as usize).collect();
    Ok(cloud.select(&keep))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud() -> PointCloud {
        // Voxel 1.0: points 0, 2, 4 share voxel (0,0,0); 1 is in (-1,0,0); 3 in (2,0,5).
        PointCloud {
            points: vec![
                [0.1, 0.2, 0.3],
                [-0.5, 0.0, 0.0],
                [0.9, 0.9, 0.9],
                [2.5, 0.0, 5.0],
                [0.0, 0.0, 0.0],
            ],
            normals: Some(vec![
                [1.0, 0.0, 0.0],
                [0.0, 1.0, 0.0],
                [0.0, 0.0, 1.0],
                [-1.0, 0.0, 0.0],
                [0.0, -1.0, 0.0],
            ]),
            labels: Some(vec![0, 1, 1, 0, 1]),
            faces: vec![[0, 1, 2]],
        }
    }

    #[test]
    fn keeps_first_point_of_each_voxel_with_its_attributes() {
        let d = voxel_downsample(&cloud(), 1.0).unwrap();
        assert_eq!(
            d.points,
            vec![[0.1, 0.2, 0.3], [-0.5, 0.0, 0.0], [2.5, 0.0, 5.0]]
        );
        assert_eq!(
            d.normals,
            Some(vec![[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
        );
        assert_eq!(d.labels, Some(vec![0, 1, 0]));
        assert!(d.faces.is_empty());
    }

    #[test]
    fn tiny_voxels_keep_everything_and_bad_sizes_fail() {
        let c = cloud();
        let d = voxel_downsample(&c, 1e-3).unwrap();
        assert_eq!(d.points, c.points);
        assert_eq!(d.labels, c.labels);
        for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            assert!(voxel_downsample(&c, bad).is_err(), "voxel {bad}");
        }
        let mut nan = c.clone();
        nan.points[2][1] = f32::NAN;
        assert!(voxel_downsample(&nan, 1.0).is_err());
        assert!(voxel_downsample(&PointCloud::default(), 1.0)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn every_input_point_has_a_kept_point_in_its_voxel() {
        // A 20^3 lattice at spacing 0.05 with voxel 0.2: 5^3 voxels of 4^3 points each.
        let mut pts = Vec::new();
        for i in 0..20 {
            for j in 0..20 {
                for k in 0..20 {
                    pts.push([
                        i as f32 * 0.05 + 0.01,
                        j as f32 * 0.05 + 0.01,
                        k as f32 * 0.05 + 0.01,
                    ]);
                }
            }
        }
        let d = voxel_downsample(&PointCloud::from_points(pts), 0.2).unwrap();
        assert_eq!(d.len(), 125);
        let mut cells: Vec<[i32; 3]> = d
            .points
            .iter()
            .map(|p| p.map(|v| (v / 0.2).floor() as i32))
            .collect();
        cells.sort();
        cells.dedup();
        assert_eq!(cells.len(), 125, "one kept point per voxel");
    }
}
