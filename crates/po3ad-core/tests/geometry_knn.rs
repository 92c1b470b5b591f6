//! k-d tree queries checked against brute force on random and degenerate inputs.

use po3ad_core::geometry::KdTree;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn d2(a: [f32; 3], b: [f32; 3]) -> f32 {
    (0..3).map(|i| (a[i] - b[i]) * (a[i] - b[i])).sum()
}

fn brute(points: &[[f32; 3]], q: [f32; 3]) -> Vec<(usize, f32)> {
    let mut all: Vec<(usize, f32)> = points
        .iter()
        .enumerate()
        .map(|(i, &p)| (i, d2(p, q)))
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    all
}

fn random_points(n: usize, seed: u64) -> Vec<[f32; 3]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            [
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
            ]
        })
        .collect()
}

#[test]
fn knn_matches_brute_force() {
    let points = random_points(2000, 1);
    let tree = KdTree::new(&points);
    assert_eq!(tree.len(), 2000);
    let queries = random_points(50, 2);
    for q in queries {
        let got = tree.knn(q, 16);
        let want = brute(&points, q);
        assert_eq!(got.len(), 16);
        for (g, w) in got.iter().zip(&want) {
            // Distances must agree exactly; indices too (random data has no ties).
            assert_eq!(g.0, w.0);
            assert!((g.1 - w.1).abs() <= 1e-6 * w.1.max(1.0), "{g:?} vs {w:?}");
        }
        let (ni, nd) = tree.nearest(q);
        assert_eq!(ni, want[0].0);
        assert!((nd - want[0].1).abs() < 1e-6);
    }
}

#[test]
fn within_matches_brute_force() {
    let points = random_points(1500, 3);
    let tree = KdTree::new(&points);
    for q in random_points(30, 4) {
        let r = 0.3f32;
        let got: Vec<usize> = tree.within(q, r).iter().map(|x| x.0).collect();
        let want: Vec<usize> = brute(&points, q)
            .into_iter()
            .filter(|x| x.1 <= r * r)
            .map(|x| x.0)
            .collect();
        assert_eq!(got, want);
        let dists: Vec<f32> = tree.within(q, r).iter().map(|x| x.1).collect();
        assert!(dists.windows(2).all(|w| w[0] <= w[1]));
    }
}

#[test]
fn k_larger_than_cloud_and_empty_tree() {
    let points = random_points(5, 5);
    let tree = KdTree::new(&points);
    assert_eq!(tree.knn([0.0; 3], 10).len(), 5);
    assert!(tree.knn([0.0; 3], 0).is_empty());
    let empty = KdTree::new(&[]);
    assert!(empty.is_empty());
    assert!(empty.knn([0.0; 3], 3).is_empty());
    assert!(empty.within([0.0; 3], 1.0).is_empty());
    assert_eq!(empty.nearest([0.0; 3]).0, usize::MAX);
}

#[test]
fn many_duplicates_are_all_found() {
    // 300 copies of one point plus a few others: buckets larger than a leaf must work.
    let mut points = vec![[0.5f32, 0.5, 0.5]; 300];
    points.extend(random_points(20, 6));
    let tree = KdTree::new(&points);
    let got = tree.knn([0.5, 0.5, 0.5], 300);
    let mut idx: Vec<usize> = got.iter().map(|x| x.0).collect();
    idx.sort();
    assert_eq!(idx, (0..300).collect::<Vec<_>>());
    assert!(got.iter().all(|x| x.1 == 0.0));
    assert_eq!(tree.within([0.5, 0.5, 0.5], 0.0).len(), 300);
}
