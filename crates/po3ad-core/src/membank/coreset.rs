//! Greedy coreset selection (PatchCore, Roth et al. 2022, Alg. 1; the k-center greedy
//! of Sener & Savarese 2018): start from one seeded-random row, then repeatedly add
//! the row farthest from everything chosen so far. The chosen rows cover the bank so
//! that no row is farther than the final covering radius from a chosen one.
//!
//! PatchCore projects features to a lower dimension before selection to save time;
//! FPFH rows are already short (33–99 values), so distances are exact here.

use super::index::squared_distance;
use crate::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Indices of `count` rows of `values` (row-major, `dim` a row) chosen greedily, in
/// the order they were chosen. Ties go to the lowest index. `count` is capped at the
/// number of rows; fewer come back when the rest would duplicate chosen rows.
pub fn greedy_coreset(values: &[f32], dim: usize, count: usize, seed: u64) -> Result<Vec<usize>> {
    if dim == 0 || !values.len().is_multiple_of(dim) {
        return Err(Error::Invalid(format!(
            "coreset: {} values do not make whole rows of {dim}",
            values.len()
        )));
    }
    let n = values.len() / dim;
    let count = count.min(n);
    if count == 0 {
        return Ok(Vec::new());
    }
    let row = |i: usize| &values[i * dim..(i + 1) * dim];
    let first = ChaCha8Rng::seed_from_u64(seed).random_range(0..n);
    let mut chosen = vec![first];
    // Squared distance of every row to the nearest chosen row.
    let mut gap: Vec<f32> = (0..n)
        .into_par_iter()
        .map(|i| squared_distance(row(i), row(first)))
        .collect();
    while chosen.len() < count {
        let mut next = 0;
        for (i, &g) in gap.iter().enumerate() {
            if g > gap[next] {
                next = i;
            }
        }
        if gap[next] == 0.0 {
            // Every row coincides with a chosen one: more would only repeat rows.
            break;
        }
        chosen.push(next);
        let c = row(next);
        gap.par_iter_mut().enumerate().for_each(|(i, g)| {
            let d = squared_distance(row(i), c);
            if d < *g {
                *g = d;
            }
        });
    }
    Ok(chosen)
}
