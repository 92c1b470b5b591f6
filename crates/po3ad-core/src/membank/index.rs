//! Nearest-neighbour search over a bank of fixed-length feature vectors.
//!
//! Two back ends, chosen per bank ([`IndexKind`]):
//! - a kiddo `ImmutableKdTree` for the lengths the detectors use (3: positions, 33 /
//!   66 / 99: one to three FPFH radii); kiddo's trees are const-generic, so only these
//!   lengths are instantiated;
//! - brute force, for any length: batched queries ([`FeatureIndex::nearest_many`]) by
//!   blocked matrix products ([`crate::dense_nn`]), single queries row by row with rayon.
//!
//! Measured side by side (notes/baselines.md, `examples/bank_bench.rs --index`): on a
//! 26k-row bank of 33-value FPFH rows the tree took 1.8× the time of the row-by-row
//! scan (a k-d tree hardly prunes in 33 dimensions), which the matrix products have
//! since made several times faster again, while for 3-D positions the tree is far
//! faster. So [`IndexKind::Auto`] uses the tree for 3 values a row only.
//!
//! Serialized as the rows only; the tree is rebuilt on load.

pub use crate::dense_nn::squared_distance;
use crate::dense_nn::{self as brute, CentredBank};
use crate::{Error, Result};
use kiddo::{ImmutableKdTree, SquaredEuclidean};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::num::NonZero;

/// Which search structure a bank uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexKind {
    /// k-d tree for 3 values a row, brute force otherwise (the measured faster).
    #[default]
    Auto,
    /// k-d tree whenever the length has one (3, 33, 66, 99).
    Tree,
    /// Always brute force.
    Brute,
}

enum Tree {
    None,
    D3(ImmutableKdTree<f32, 3>),
    D33(ImmutableKdTree<f32, 33>),
    D66(ImmutableKdTree<f32, 66>),
    D99(ImmutableKdTree<f32, 99>),
}

/// Rows of `dim` values with nearest / k-nearest queries in squared Euclidean distance.
#[derive(Serialize, Deserialize)]
#[serde(try_from = "BankRows", into = "BankRows")]
pub struct FeatureIndex {
    rows: BankRows,
    kind: IndexKind,
    tree: Tree,
    /// The rows prepared for batched brute-force search (when there is no tree).
    centred: Option<Box<CentredBank>>,
}

/// The stored form of a [`FeatureIndex`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BankRows {
    pub dim: usize,
    pub values: Vec<f32>,
    #[serde(default)]
    pub kind: IndexKind,
}

impl TryFrom<BankRows> for FeatureIndex {
    type Error = Error;
    fn try_from(r: BankRows) -> Result<Self> {
        FeatureIndex::new(r.dim, r.values, r.kind)
    }
}

impl From<FeatureIndex> for BankRows {
    fn from(i: FeatureIndex) -> Self {
        BankRows {
            kind: i.kind,
            ..i.rows
        }
    }
}

impl Clone for FeatureIndex {
    fn clone(&self) -> Self {
        // The rows were valid when this index was built, so rebuilding cannot fail.
        Self::build(self.rows.clone(), self.kind)
    }
}

impl std::fmt::Debug for FeatureIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureIndex")
            .field("dim", &self.rows.dim)
            .field("len", &self.len())
            .field("kind", &self.kind)
            .finish()
    }
}

fn tree_of<const K: usize>(values: &[f32]) -> ImmutableKdTree<f32, K> {
    let rows: Vec<[f32; K]> = values
        .chunks_exact(K)
        .map(|c| std::array::from_fn(|a| c[a]))
        .collect();
    ImmutableKdTree::new_from_slice(&rows).expect("a bank holds fewer than u32::MAX rows")
}

fn tree_knn<const K: usize>(
    t: &ImmutableKdTree<f32, K>,
    q: &[f32],
    k: NonZero<usize>,
) -> Vec<(usize, f32)> {
    let q: [f32; K] = std::array::from_fn(|a| q[a]);
    t.query(&q)
        .nearest_n::<SquaredEuclidean<f32>>(k)
        .execute()
        .into_iter()
        .map(|r| (r.item as usize, r.distance))
        .collect()
}

impl FeatureIndex {
    /// Build from `values` (row-major, `dim` a row). Errors on `dim = 0`, a length that
    /// is not a multiple of `dim`, an empty bank, non-finite values, or more rows than
    /// `u32::MAX`.
    pub fn new(dim: usize, values: Vec<f32>, kind: IndexKind) -> Result<Self> {
        if dim == 0 || values.is_empty() || !values.len().is_multiple_of(dim) {
            return Err(Error::Invalid(format!(
                "memory bank: {} values do not make whole rows of {dim}, or the bank is empty",
                values.len()
            )));
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(Error::Invalid(
                "memory bank: non-finite feature values".into(),
            ));
        }
        if values.len() / dim > u32::MAX as usize {
            return Err(Error::Invalid(
                "memory bank: more than u32::MAX rows".into(),
            ));
        }
        Ok(Self::build(BankRows { dim, values, kind }, kind))
    }

    fn build(rows: BankRows, kind: IndexKind) -> Self {
        let v = &rows.values;
        let tree = match (kind, rows.dim) {
            (IndexKind::Brute, _) => Tree::None,
            (IndexKind::Auto | IndexKind::Tree, 3) => Tree::D3(tree_of::<3>(v)),
            (IndexKind::Tree, 33) => Tree::D33(tree_of::<33>(v)),
            (IndexKind::Tree, 66) => Tree::D66(tree_of::<66>(v)),
            (IndexKind::Tree, 99) => Tree::D99(tree_of::<99>(v)),
            _ => Tree::None,
        };
        let centred = matches!(tree, Tree::None).then(|| Box::new(CentredBank::new(v, rows.dim)));
        Self {
            rows,
            kind,
            tree,
            centred,
        }
    }

    pub fn dim(&self) -> usize {
        self.rows.dim
    }

    pub fn len(&self) -> usize {
        self.rows.values.len() / self.rows.dim
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.rows.values[i * self.rows.dim..(i + 1) * self.rows.dim]
    }

    /// Whether queries go through a k-d tree.
    pub fn uses_tree(&self) -> bool {
        !matches!(self.tree, Tree::None)
    }

    /// The `k` nearest rows to `q` as `(row, squared distance)`, nearest first (ties by
    /// row). Errors when `q` does not have `dim` values.
    pub fn knn(&self, q: &[f32], k: usize) -> Result<Vec<(usize, f32)>> {
        if q.len() != self.rows.dim {
            return Err(Error::Invalid(format!(
                "memory bank: query has {} values, the bank {}",
                q.len(),
                self.rows.dim
            )));
        }
        let Some(k) = NonZero::new(k.min(self.len())) else {
            return Ok(Vec::new());
        };
        let mut out = match &self.tree {
            Tree::None => brute_knn(&self.rows.values, self.rows.dim, q, k.get()),
            Tree::D3(t) => tree_knn(t, q, k),
            Tree::D33(t) => tree_knn(t, q, k),
            Tree::D66(t) => tree_knn(t, q, k),
            Tree::D99(t) => tree_knn(t, q, k),
        };
        out.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        Ok(out)
    }

    /// The nearest row to `q`: `(row, squared distance)`.
    pub fn nearest(&self, q: &[f32]) -> Result<(usize, f32)> {
        Ok(self.knn(q, 1)?[0])
    }

    /// [`nearest`](Self::nearest) for many queries (row-major, `dim` a row), in parallel;
    /// without a tree, by blocked matrix products ([`crate::dense_nn`]).
    pub fn nearest_many(&self, queries: &[f32]) -> Result<Vec<(usize, f32)>> {
        if !queries.len().is_multiple_of(self.rows.dim) {
            return Err(Error::Invalid(format!(
                "memory bank: {} query values are not whole rows of {}",
                queries.len(),
                self.rows.dim
            )));
        }
        if let Some(bank) = &self.centred {
            return Ok(brute::nearest_many(bank, &self.rows.values, queries));
        }
        queries
            .par_chunks_exact(self.rows.dim)
            .map(|q| self.nearest(q))
            .collect()
    }
}

/// The `k` nearest rows by scanning every row (no ordering promise; callers sort).
fn brute_knn(values: &[f32], dim: usize, q: &[f32], k: usize) -> Vec<(usize, f32)> {
    // A small sorted buffer: k is 1 or a handful in every caller.
    let mut best: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
    for (i, row) in values.chunks_exact(dim).enumerate() {
        let d = squared_distance(row, q);
        if best.len() < k || d < best[best.len() - 1].1 {
            let at = best.partition_point(|b| b.1 <= d);
            best.insert(at, (i, d));
            best.truncate(k);
        }
    }
    best
}
