//! Nearest-neighbour queries on 3D points: a thin wrapper over `kiddo`'s immutable
//! k-d tree with squared Euclidean distances, so the rest of the crate sees plain
//! `(index, squared distance)` pairs and never kiddo's types.

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use std::num::NonZero;

/// A k-d tree over a fixed set of points. Indices returned by queries are positions in
/// the slice the tree was built from.
pub struct KdTree {
    /// `None` for an empty point set: every query then answers "nothing".
    tree: Option<ImmutableKdTree<f32, 3>>,
    len: usize,
}

impl KdTree {
    /// Build the tree. Panics only with more than `u32::MAX` points (kiddo stores
    /// indices as `u32`), which no cloud that fits in memory reaches.
    pub fn new(points: &[[f32; 3]]) -> Self {
        let tree = if points.is_empty() {
            None
        } else {
            Some(
                ImmutableKdTree::new_from_slice(points)
                    .expect("k-d tree supports at most u32::MAX points"),
            )
        };
        Self {
            tree,
            len: points.len(),
        }
    }

    /// Number of points in the tree.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `k` nearest points to `q` as `(index, squared distance)`, nearest first.
    /// Returns fewer than `k` when the tree holds fewer points; empty for `k = 0`.
    pub fn knn(&self, q: [f32; 3], k: usize) -> Vec<(usize, f32)> {
        let (Some(tree), Some(k)) = (&self.tree, NonZero::new(k.min(self.len))) else {
            return Vec::new();
        };
        let mut out: Vec<(usize, f32)> = tree
            .query(&q)
            .nearest_n::<SquaredEuclidean<f32>>(k)
            .execute()
            .into_iter()
            .map(|r| (r.item as usize, r.distance))
            .collect();
        // Equal distances come back in an order that depends on the tree layout; sort
        // by index as well so results are reproducible and comparable to brute force.
        out.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        out
    }

    /// The nearest point to `q` as `(index, squared distance)`; `(usize::MAX, inf)` for
    /// an empty tree.
    pub fn nearest(&self, q: [f32; 3]) -> (usize, f32) {
        match &self.tree {
            Some(tree) => {
                let r = tree
                    .query(&q)
                    .nearest_one::<SquaredEuclidean<f32>>()
                    .execute();
                (r.item as usize, r.distance)
            }
            None => (usize::MAX, f32::INFINITY),
        }
    }

    /// As [`Self::within`], in the tree's own order (the same for the same points and
    /// query, so still deterministic): for sums and counts over a neighbourhood, which
    /// do not need the sort that [`Self::within`] pays for.
    pub fn within_unsorted(&self, q: [f32; 3], radius: f32) -> Vec<(usize, f32)> {
        let Some(tree) = &self.tree else {
            return Vec::new();
        };
        if radius.is_nan() || radius < 0.0 {
            return Vec::new();
        }
        tree.query(&q)
            .within::<SquaredEuclidean<f32>>(radius * radius)
            .unsorted()
            .execute()
            .into_iter()
            .map(|r| (r.item as usize, r.distance))
            .collect()
    }

    /// Whether any point lies within Euclidean distance `radius` of `q` (inclusive).
    pub fn any_within(&self, q: [f32; 3], radius: f32) -> bool {
        !(radius.is_nan() || radius < 0.0) && self.nearest(q).1 <= radius * radius
    }

    /// All points within Euclidean distance `radius` of `q` (inclusive), as
    /// `(index, squared distance)`, nearest first (ties by index).
    pub fn within(&self, q: [f32; 3], radius: f32) -> Vec<(usize, f32)> {
        let mut out = self.within_unsorted(q, radius);
        out.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        out
    }
}
