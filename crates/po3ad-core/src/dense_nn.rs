//! Exact nearest rows in many dimensions for many queries at once, through blocked
//! matrix products: the memory banks' feature search ([`crate::membank`]) and
//! registration's feature matching ([`crate::registration`]) both use it.
//!
//! `‖q − b‖² = ‖q‖² + (‖b‖² − 2 q·b)`: the bracket for a block of queries against a
//! block of bank rows is one matrix product (the bank rows carry `‖b‖²` as an extra
//! column, the queries a constant 1), done by `matrixmultiply`'s cache-blocked SIMD
//! kernels; the row-by-row scan this replaced computed the same 33–99 products per pair
//! without that reuse, and `btf-fpfh` scored a scan 4–16× slower with it
//! (notes/baselines.md, session 12, which also counts the second description saved by
//! [`crate::features::flip_normals_sign`]). Hand-written
//! around the product only because no kept crate offers an exact dense k-NN on the CPU
//! (the k-d trees do not prune in 33+ dimensions, and faiss-style libraries are C++).
//!
//! The expanded form loses precision when the norms are large beside the distance, so
//! rows are first centred on the bank's mean, each query keeps its [`RERANK`] best
//! candidates by the product, and those are re-ranked by the exact row-by-row distance:
//! the answer is the exact nearest unless more than [`RERANK`] rows tie with it within
//! the product's rounding (then one of the tied rows, at the same distance to f32
//! precision).

use rayon::prelude::*;

/// Queries per block (one rayon task each).
const QUERY_BLOCK: usize = 128;
/// Bank rows per product: 128 × 1024 f32 products (512 KiB) stay in the L2 cache for
/// the scan that follows.
const BANK_BLOCK: usize = 1024;
/// Candidates per query re-ranked by the exact distance.
pub const RERANK: usize = 4;

/// Bank rows centred on their mean, with `‖b‖²` appended to each (`dim + 1` a row).
pub struct CentredBank {
    dim: usize,
    mean: Vec<f32>,
    rows: Vec<f32>,
}

impl CentredBank {
    pub fn new(values: &[f32], dim: usize) -> Self {
        let n = values.len() / dim;
        let mut mean = vec![0.0f64; dim];
        for row in values.chunks_exact(dim) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v as f64;
            }
        }
        let mean: Vec<f32> = mean.iter().map(|m| (m / n.max(1) as f64) as f32).collect();
        let mut rows = Vec::with_capacity(n * (dim + 1));
        for row in values.chunks_exact(dim) {
            let mut norm = 0.0f32;
            for (v, m) in row.iter().zip(&mean) {
                let c = v - m;
                rows.push(c);
                norm += c * c;
            }
            rows.push(norm);
        }
        Self { dim, mean, rows }
    }

    fn len(&self) -> usize {
        self.rows.len() / (self.dim + 1)
    }
}

/// For each query (row-major, `dim` a row), the nearest row of `values` (the rows
/// `bank` was built from) as `(row, squared distance)`; ties go to the lower row.
pub fn nearest_many(bank: &CentredBank, values: &[f32], queries: &[f32]) -> Vec<(usize, f32)> {
    let dim = bank.dim;
    let n = bank.len();
    queries
        .par_chunks(QUERY_BLOCK * dim)
        .flat_map_iter(|block| {
            let m = block.len() / dim;
            // Queries as [-2 (q − mean), 1], so that a product row is ‖b‖² − 2 q·b.
            let mut q = Vec::with_capacity(m * (dim + 1));
            for row in block.chunks_exact(dim) {
                q.extend(row.iter().zip(&bank.mean).map(|(v, mu)| -2.0 * (v - mu)));
                q.push(1.0);
            }
            let mut best = vec![[(usize::MAX, f32::INFINITY); RERANK]; m];
            let mut prod = vec![0.0f32; m * BANK_BLOCK];
            for start in (0..n).step_by(BANK_BLOCK) {
                let nb = (n - start).min(BANK_BLOCK);
                let b = &bank.rows[start * (dim + 1)..(start + nb) * (dim + 1)];
                product(&q, b, m, dim + 1, nb, &mut prod[..m * nb]);
                for (i, cand) in best.iter_mut().enumerate() {
                    keep_smallest(&prod[i * nb..(i + 1) * nb], start, cand);
                }
            }
            best.into_iter()
                .zip(block.chunks_exact(dim))
                .map(|(cand, query)| {
                    cand.iter()
                        .filter(|c| c.0 != usize::MAX)
                        .map(|&(j, _)| {
                            (j, squared_distance(query, &values[j * dim..(j + 1) * dim]))
                        })
                        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
                        .unwrap_or((0, f32::INFINITY))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `out (m × n) = a (m × k) · bᵀ` with `b` given as `n` rows of `k` (both row-major).
fn product(a: &[f32], b: &[f32], m: usize, k: usize, n: usize, out: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= n * k && out.len() >= m * n);
    // SAFETY: the assert above bounds every element matrixmultiply reads or writes:
    // a[i·k + l] for i < m, l < k; b[j·k + l] for j < n, l < k (row stride 1 and
    // column stride k of bᵀ); out[i·n + j] for i < m, j < n. The three slices do not
    // overlap (two shared borrows and one exclusive borrow).
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            1,
            k as isize,
            0.0,
            out.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// Fold one block's values (`offset` = the bank row of `values[0]`) into the sorted
/// candidate list `cand`. The common case, no value of a run of 16 below the current
/// worst candidate, is one branch-free comparison pass the compiler vectorizes.
fn keep_smallest(values: &[f32], offset: usize, cand: &mut [(usize, f32); RERANK]) {
    const RUN: usize = 16;
    let mut worst = cand[RERANK - 1].1;
    let mut insert = |j: usize, v: f32, worst: &mut f32| {
        if v < *worst {
            let at = cand.partition_point(|c| c.1 <= v);
            cand.copy_within(at..RERANK - 1, at + 1);
            cand[at] = (j, v);
            *worst = cand[RERANK - 1].1;
        }
    };
    let runs = values.chunks_exact(RUN);
    let tail = runs.remainder();
    for (r, run) in runs.enumerate() {
        let mut hit = false;
        for &v in run {
            hit |= v < worst;
        }
        if hit {
            for (l, &v) in run.iter().enumerate() {
                insert(offset + r * RUN + l, v, &mut worst);
            }
        }
    }
    let start = values.len() - tail.len();
    for (l, &v) in tail.iter().enumerate() {
        insert(offset + start + l, v, &mut worst);
    }
}

/// Squared Euclidean distance between two equal-length rows. Eight independent
/// partial sums, because a single f32 running sum cannot be vectorized (the compiler
/// may not reorder float additions); this made brute-force search several times faster.
pub fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            let d = x[l] - y[l];
            acc[l] += d * d;
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += (x - y) * (x - y);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_smallest_values_in_order() {
        let values: Vec<f32> = (0..100).map(|i| ((i * 37) % 101) as f32).collect();
        let mut cand = [(usize::MAX, f32::INFINITY); RERANK];
        keep_smallest(&values[..50], 0, &mut cand);
        keep_smallest(&values[50..], 50, &mut cand);
        let mut want: Vec<(usize, f32)> = values.iter().copied().enumerate().collect();
        want.sort_by(|a, b| a.1.total_cmp(&b.1));
        assert_eq!(cand.to_vec(), want[..RERANK].to_vec());
    }
}
