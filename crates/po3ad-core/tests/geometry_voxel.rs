//! Voxelization: floor coordinates, first-occurrence order, representatives.

use po3ad_core::geometry::voxelize;

#[test]
fn voxels_by_floor_in_first_occurrence_order() {
    let pts = [
        [0.01f32, 0.02, 0.0],  // voxel (0,0,0)
        [-0.01, 0.0, 0.0],     // (-1,0,0): floor of a negative
        [0.029, 0.001, 0.029], // (0,0,0) again
        [0.5, -0.5, 0.09],     // (16,-17,3)
        [-0.02, 0.01, 0.0],    // (-1,0,0) again
    ];
    let v = voxelize(&pts, 0.03).unwrap();
    assert_eq!(v.coords, vec![[0, 0, 0], [-1, 0, 0], [16, -17, 3]]);
    assert_eq!(v.representative, vec![0, 1, 3]);
    assert_eq!(v.point_to_voxel, vec![0, 1, 0, 2, 1]);
    assert_eq!(v.len(), 3);
}

#[test]
fn every_point_maps_to_its_floor_voxel() {
    // A 10x10x10 lattice at spacing 0.01 with voxel 0.05: 2x2x2 voxels of 125 points.
    let mut pts = Vec::new();
    for i in 0..10 {
        for j in 0..10 {
            for k in 0..10 {
                pts.push([
                    i as f32 * 0.01 + 0.001,
                    j as f32 * 0.01 + 0.001,
                    k as f32 * 0.01 + 0.001,
                ]);
            }
        }
    }
    let v = voxelize(&pts, 0.05).unwrap();
    assert_eq!(v.len(), 8);
    let mut counts = [0usize; 8];
    for (p, &vi) in pts.iter().zip(&v.point_to_voxel) {
        let c = v.coords[vi as usize];
        for a in 0..3 {
            assert_eq!(c[a], (p[a] / 0.05).floor() as i32);
        }
        counts[vi as usize] += 1;
    }
    assert!(counts.iter().all(|&c| c == 125));
    // Representatives are the first point of each voxel.
    for (vi, &r) in v.representative.iter().enumerate() {
        let first = v
            .point_to_voxel
            .iter()
            .position(|&x| x as usize == vi)
            .unwrap();
        assert_eq!(r as usize, first);
    }
}

#[test]
fn voxelize_errors_and_empty() {
    assert!(voxelize(&[[0.0; 3]], 0.0).is_err());
    assert!(voxelize(&[[0.0; 3]], f32::NAN).is_err());
    assert!(voxelize(&[[f32::NAN, 0.0, 0.0]], 0.1).is_err());
    assert!(voxelize(&[[1e30, 0.0, 0.0]], 0.1).is_err());
    assert!(voxelize(&[], 0.1).unwrap().is_empty());
}
