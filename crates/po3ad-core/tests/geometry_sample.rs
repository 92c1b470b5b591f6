//! Surface sampling (area-proportional face histogram, uniformity inside a face,
//! winding-oriented normals) and midpoint subdivision (counts, Euler, area).

use po3ad_core::geometry::{sample_surface, subdivide_to};
use po3ad_core::PointCloud;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Three separate right triangles in the planes z = 0, 10, 20 with areas 1, 2, 5.
fn three_triangles() -> PointCloud {
    let tri = |z: f32, s: f32| vec![[0.0, 0.0, z], [s, 0.0, z], [0.0, s, z]];
    let mut points = tri(0.0, 2f32.sqrt());
    points.extend(tri(10.0, 2.0));
    points.extend(tri(20.0, 10f32.sqrt()));
    PointCloud {
        points,
        faces: vec![[0, 1, 2], [3, 4, 5], [6, 7, 8]],
        ..Default::default()
    }
}

fn area(m: &PointCloud) -> f64 {
    m.faces
        .iter()
        .map(|f| {
            let [a, b, c] = f.map(|i| m.points[i as usize].map(|x| x as f64));
            let u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
            let v = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
            let x = [
                u[1] * v[2] - u[2] * v[1],
                u[2] * v[0] - u[0] * v[2],
                u[0] * v[1] - u[1] * v[0],
            ];
            0.5 * (x[0] * x[0] + x[1] * x[1] + x[2] * x[2]).sqrt()
        })
        .sum()
}

#[test]
fn faces_are_hit_in_proportion_to_area() {
    let m = three_triangles();
    let n = 80_000;
    let s = sample_surface(&m, n, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    assert_eq!(s.len(), n);
    let mut counts = [0usize; 3];
    for p in &s.points {
        counts[(p[2] / 10.0).round() as usize] += 1;
    }
    for (c, want) in counts.iter().zip([1.0 / 8.0, 2.0 / 8.0, 5.0 / 8.0]) {
        let got = *c as f64 / n as f64;
        // Binomial standard deviation is < 0.002 here; allow about 4 of them.
        assert!((got - want).abs() < 0.008, "{counts:?}");
    }
    assert!(s.faces.is_empty() && s.labels.is_none());
}

#[test]
fn samples_are_uniform_inside_a_triangle_with_winding_normals() {
    let m = PointCloud {
        points: vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        // Clockwise seen from +z: the normal must be -z.
        faces: vec![[0, 2, 1]],
        ..Default::default()
    };
    let n = 40_000;
    let s = sample_surface(&m, n, &mut ChaCha8Rng::seed_from_u64(2)).unwrap();
    let (mut mx, mut my, mut inner) = (0.0f64, 0.0f64, 0usize);
    for p in &s.points {
        assert!(p[0] >= 0.0 && p[1] >= 0.0 && p[0] + p[1] <= 1.0 + 1e-6 && p[2] == 0.0);
        mx += p[0] as f64 / n as f64;
        my += p[1] as f64 / n as f64;
        if p[0] + p[1] < 0.5 {
            inner += 1;
        }
    }
    // Uniform density: mean at the centroid, a quarter of the mass in the half-size
    // corner triangle.
    assert!((mx - 1.0 / 3.0).abs() < 0.005 && (my - 1.0 / 3.0).abs() < 0.005);
    assert!((inner as f64 / n as f64 - 0.25).abs() < 0.01);
    for v in s.normals.as_ref().unwrap() {
        assert_eq!(*v, [0.0, 0.0, -1.0]);
    }
}

#[test]
fn sampling_is_deterministic_per_seed() {
    let m = three_triangles();
    let a = sample_surface(&m, 100, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
    let b = sample_surface(&m, 100, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn sampling_errors() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let cloud = PointCloud::from_points(vec![[0.0; 3]; 3]);
    assert!(sample_surface(&cloud, 10, &mut rng).is_err());
    let flat = PointCloud {
        points: vec![[0.0; 3], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]],
        faces: vec![[0, 1, 2]],
        ..Default::default()
    };
    assert!(sample_surface(&flat, 10, &mut rng).is_err());
    let bad = PointCloud {
        faces: vec![[0, 1, 7]],
        ..flat
    };
    assert!(sample_surface(&bad, 10, &mut rng).is_err());
}

fn octahedron() -> PointCloud {
    PointCloud {
        points: vec![
            [1.0, 0.0, 0.0],
            [-1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, -1.0, 0.0],
            [0.0, 0.0, 1.0],
            [0.0, 0.0, -1.0],
        ],
        faces: vec![
            [0, 2, 4],
            [2, 1, 4],
            [1, 3, 4],
            [3, 0, 4],
            [2, 0, 5],
            [1, 2, 5],
            [3, 1, 5],
            [0, 3, 5],
        ],
        normals: Some(vec![
            [1.0, 0.0, 0.0],
            [-1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, -1.0, 0.0],
            [0.0, 0.0, 1.0],
            [0.0, 0.0, -1.0],
        ]),
        labels: Some(vec![1, 1, 0, 0, 0, 0]),
    }
}

#[test]
fn subdivision_counts_area_and_attributes() {
    let m = octahedron();
    // Already dense enough: unchanged.
    assert_eq!(subdivide_to(&m, 6), m);
    // One round: 6 + 12 edge midpoints, 32 faces.
    let s1 = subdivide_to(&m, 7);
    assert_eq!((s1.points.len(), s1.faces.len()), (18, 32));
    // Two rounds: 18 + 48 edges = 66 vertices, 128 faces; Euler V - E + F = 2.
    let s2 = subdivide_to(&m, 50);
    assert_eq!((s2.points.len(), s2.faces.len()), (66, 128));
    let edges = 3 * s2.faces.len() / 2;
    assert_eq!(66 - edges as i64 + 128, 2);
    // Flat subdivision keeps the surface area exactly.
    assert!((area(&s2) - area(&m)).abs() < 1e-5);
    // Every new vertex is an edge midpoint of the original: |p|_1 == 1 on the octahedron.
    for p in &s2.points {
        assert!((p[0].abs() + p[1].abs() + p[2].abs() - 1.0).abs() < 1e-6);
    }
    // Attributes follow: unit normals, labels as the min of the edge ends.
    let n = s1.normals.as_ref().unwrap();
    assert_eq!(n.len(), 18);
    assert!(n
        .iter()
        .all(|v| ((v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) - 1.0).abs() < 1e-6));
    let l = s1.labels.as_ref().unwrap();
    assert_eq!(l.len(), 18);
    assert_eq!(l.iter().map(|&x| x as usize).sum::<usize>(), 2);
    // Winding kept: every face normal still points outward.
    for f in &s2.faces {
        let [a, b, c] = f.map(|i| s2.points[i as usize]);
        let u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
        let v = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
        let x = [
            u[1] * v[2] - u[2] * v[1],
            u[2] * v[0] - u[0] * v[2],
            u[0] * v[1] - u[1] * v[0],
        ];
        let centre = [0, 1, 2].map(|i| (a[i] + b[i] + c[i]) / 3.0);
        assert!(x[0] * centre[0] + x[1] * centre[1] + x[2] * centre[2] > 0.0);
    }
    // A cloud without faces is returned as is.
    let cloud = PointCloud::from_points(vec![[0.0; 3]]);
    assert_eq!(subdivide_to(&cloud, 100), cloud);
}
