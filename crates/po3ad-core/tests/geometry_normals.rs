//! Normals from faces (analytic octahedron, hand-computed area weighting) and from
//! PCA (sphere, plane, degenerate neighbourhoods).

use po3ad_core::geometry::{ensure_normals, estimate_normals, vertex_normals, FALLBACK_NORMAL};
use po3ad_core::PointCloud;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn norm(a: [f32; 3]) -> f32 {
    dot(a, a).sqrt()
}

/// Regular octahedron with outward (counter-clockwise) winding.
fn octahedron() -> PointCloud {
    let points = vec![
        [1.0, 0.0, 0.0],
        [-1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, -1.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.0, 0.0, -1.0],
    ];
    let faces = vec![
        [0, 2, 4],
        [2, 1, 4],
        [1, 3, 4],
        [3, 0, 4],
        [2, 0, 5],
        [1, 2, 5],
        [3, 1, 5],
        [0, 3, 5],
    ];
    PointCloud {
        points,
        faces,
        ..Default::default()
    }
}

/// Fibonacci sphere: near-uniform points on the unit sphere.
fn sphere(n: usize) -> Vec<[f32; 3]> {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    (0..n)
        .map(|i| {
            let z = 1.0 - 2.0 * (i as f64 + 0.5) / n as f64;
            let r = (1.0 - z * z).sqrt();
            let t = golden * i as f64;
            [(r * t.cos()) as f32, (r * t.sin()) as f32, z as f32]
        })
        .collect()
}

#[test]
fn octahedron_vertex_normals_point_along_vertices() {
    let m = octahedron();
    let n = vertex_normals(&m.points, &m.faces);
    for (p, n) in m.points.iter().zip(&n) {
        // By symmetry the area-weighted sum is along the vertex direction, outward.
        assert!((dot(*p, *n) - 1.0).abs() < 1e-6, "{p:?} {n:?}");
    }
}

#[test]
fn vertex_normals_are_area_weighted() {
    // Vertex 0 at the origin is shared by a face in the xy plane (area 2, normal +z)
    // and a face in the xz plane (area 0.5, normal -y with this winding).
    let points = vec![
        [0.0, 0.0, 0.0],
        [2.0, 0.0, 0.0],
        [0.0, 2.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0],
    ];
    let faces = vec![[0, 1, 2], [0, 3, 4]];
    let n = vertex_normals(&points, &faces);
    // Sum of cross products: (0,0,4) + (0,-1,0) -> normalized.
    let l = 17f32.sqrt();
    let want = [0.0, -1.0 / l, 4.0 / l];
    for a in 0..3 {
        assert!((n[0][a] - want[a]).abs() < 1e-6, "{:?}", n[0]);
    }
    // Vertex 1 only touches the first face: exactly +z.
    assert_eq!(n[1], [0.0, 0.0, 1.0]);
}

#[test]
fn unused_and_degenerate_vertices_get_the_fallback() {
    let points = vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [5.0; 3]];
    // A zero-area (collinear) face and an unreferenced vertex 3.
    let n = vertex_normals(&points, &[[0, 1, 2]]);
    assert!(n.iter().all(|&v| v == FALLBACK_NORMAL));
    // An out-of-range face is skipped, not a panic.
    let n = vertex_normals(&points, &[[0, 1, 9]]);
    assert_eq!(n.len(), 4);
}

#[test]
fn sphere_pca_normals_are_radial_and_outward() {
    let pts = sphere(3000);
    let n = estimate_normals(&pts, 12).unwrap();
    let worst = pts
        .iter()
        .zip(&n)
        .map(|(p, n)| dot(*p, *n) / norm(*p))
        .fold(f32::INFINITY, f32::min);
    assert!(worst > 0.99, "worst radial agreement {worst}");
    assert!(n.iter().all(|v| (norm(*v) - 1.0).abs() < 1e-5));
}

#[test]
fn offset_sphere_is_oriented_outward_too() {
    // Orientation must not depend on the sphere sitting at the origin.
    let c = [3.0f32, -2.0, 7.0];
    let pts: Vec<[f32; 3]> = sphere(2000)
        .into_iter()
        .map(|p| [p[0] * 0.5 + c[0], p[1] * 0.5 + c[1], p[2] * 0.5 + c[2]])
        .collect();
    let n = estimate_normals(&pts, 10).unwrap();
    for (p, n) in pts.iter().zip(&n) {
        let r = [p[0] - c[0], p[1] - c[1], p[2] - c[2]];
        assert!(dot(r, *n) / norm(r) > 0.98);
    }
}

#[test]
fn noisy_plane_normals_agree_in_sign() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let pts: Vec<[f32; 3]> = (0..2000)
        .map(|_| {
            [
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
                rng.random_range(-0.002..0.002),
            ]
        })
        .collect();
    let n = estimate_normals(&pts, 16).unwrap();
    let sign = n[0][2].signum();
    for v in &n {
        assert!(v[2] * sign > 0.95, "{v:?}");
    }
}

#[test]
fn degenerate_neighbourhoods_never_give_nan() {
    // All identical: fallback everywhere.
    let same = vec![[1.0f32, 2.0, 3.0]; 20];
    let n = estimate_normals(&same, 5).unwrap();
    assert!(n.iter().all(|&v| v == FALLBACK_NORMAL));
    // Collinear: some unit vector perpendicular to the line.
    let line: Vec<[f32; 3]> = (0..30).map(|i| [i as f32 * 0.1, 0.0, 0.0]).collect();
    let n = estimate_normals(&line, 5).unwrap();
    for v in &n {
        assert!((norm(*v) - 1.0).abs() < 1e-5);
        assert!(v[0].abs() < 1e-5);
    }
    // Fewer points than k, and duplicates mixed into a sphere.
    let mut pts = sphere(200);
    pts.extend(std::iter::repeat_n([0.0f32, 0.0, 1.0], 10));
    let n = estimate_normals(&pts, 8).unwrap();
    assert!(n.iter().flatten().all(|c| c.is_finite()));
    let n = estimate_normals(&pts[..2], 8).unwrap();
    assert!(n.iter().flatten().all(|c| c.is_finite()));
    assert!(estimate_normals(&pts, 2).is_err());
    assert!(estimate_normals(&[], 8).unwrap().is_empty());
}

#[test]
fn ensure_normals_policies() {
    // Mesh: from faces, replacing stored normals.
    let mut m = octahedron();
    m.normals = Some(vec![[0.0, 0.0, 5.0]; 6]);
    ensure_normals(&mut m, 8).unwrap();
    assert_eq!(m.normals.as_ref().unwrap()[0], [1.0, 0.0, 0.0]);

    // Cloud with normals: renormalized; a zero normal is estimated.
    let pts = sphere(500);
    let mut stored: Vec<[f32; 3]> = pts.iter().map(|p| p.map(|x| 3.0 * x)).collect();
    stored[10] = [0.0; 3];
    let mut pc = PointCloud {
        points: pts.clone(),
        normals: Some(stored),
        ..Default::default()
    };
    ensure_normals(&mut pc, 10).unwrap();
    let n = pc.normals.as_ref().unwrap();
    assert!((dot(n[3], pts[3]) - 1.0).abs() < 1e-5);
    assert!(dot(n[10], pts[10]) > 0.98);

    // No normals: estimated.
    let mut pc = PointCloud::from_points(pts.clone());
    ensure_normals(&mut pc, 10).unwrap();
    assert!(dot(pc.normals.unwrap()[0], pts[0]) > 0.98);

    // Mismatched count: error.
    let mut pc = PointCloud {
        points: pts,
        normals: Some(vec![[0.0, 0.0, 1.0]; 3]),
        ..Default::default()
    };
    assert!(ensure_normals(&mut pc, 10).is_err());
}
