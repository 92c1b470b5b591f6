//! Fused CPU sparse convolution for the `Flex` backend: output-stationary blocks of rows, per
//! kernel offset gather → GEMM (`gemm` crate, the same kernel burn-flex uses) → add into the
//! block, parallel over blocks with rayon. No `[pairs, C]` intermediate is ever materialised and
//! each output block is owned by one thread, so no atomics or locks are needed.

use std::sync::OnceLock;

use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, TensorData};
use rayon::prelude::*;

use crate::coords::KernelMap;

/// Pairs of a kernel map regrouped by (output block, offset), output rows block-local.
#[derive(Debug)]
pub(crate) struct Blocked {
    pub block_rows: usize,
    /// `n_blocks · K + 1` offsets into `ins` / `outs`, key `block · K + k`.
    pub starts: Vec<usize>,
    pub ins: Vec<u32>,
    pub outs: Vec<u32>,
}

/// Lazily built blocked layout of a map (kept inside the map so cached maps keep it).
pub(crate) type BlockedCell = OnceLock<Blocked>;

fn blocked(map: &KernelMap) -> &Blocked {
    map.blocked.get_or_init(|| {
        // Enough blocks to balance a few threads, few enough rows that a block of outputs
        // and its gathered inputs stay in L2. Not derived from the thread count: the
        // blocks set the order of the weight-gradient sums, and results must not depend on
        // how many threads a machine has (tests/train_resume.rs).
        let block_rows = (map.n_out / BLOCKS_PER_MAP).clamp(16, 256);
        let k_vol = map.kernel_volume;
        let n_blocks = map.n_out.div_ceil(block_rows).max(1);
        let mut counts = vec![0usize; n_blocks * k_vol + 1];
        for k in 0..k_vol {
            let (_, outs) = map.offset_pairs(k);
            for &o in outs {
                counts[(o as usize / block_rows) * k_vol + k + 1] += 1;
            }
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let starts = counts.clone();
        let mut ins = vec![0u32; map.num_pairs()];
        let mut outs = vec![0u32; map.num_pairs()];
        for k in 0..k_vol {
            let (ki, ko) = map.offset_pairs(k);
            for (&i, &o) in ki.iter().zip(ko) {
                let b = o as usize / block_rows;
                let slot = &mut counts[b * k_vol + k];
                ins[*slot] = i;
                outs[*slot] = o - (b * block_rows) as u32;
                *slot += 1;
            }
        }
        Blocked {
            block_rows,
            starts,
            ins,
            outs,
        }
    })
}

/// Builds the blocked layout of `map` now (see [`KernelMap::precompute_layouts`]).
pub(crate) fn precompute(map: &KernelMap) {
    blocked(map);
}

/// Runs `f` on the f32 contents (zero-copy when contiguous); `None` for other dtypes, so the
/// caller can fall back to the composed path.
pub(crate) fn with_f32<R>(t: &FlexTensor, f: impl FnOnce(&[f32]) -> R) -> Option<R> {
    if t.dtype() != DType::F32 {
        return None;
    }
    if let Some(s) = t.as_slice::<f32>() {
        return Some(f(s));
    }
    let c = t.to_contiguous();
    c.as_slice::<f32>().map(f)
}

pub(crate) fn flex_from(v: Vec<f32>, shape: [usize; 2]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape))
}

pub(crate) fn flex_from3(v: Vec<f32>, shape: [usize; 3]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape))
}

/// `dst[m, n] (+)= lhs[m, k] · rhs[k, n]` on strided row-major views, single-threaded.
///
/// # Safety
/// Every index `r·rs + c·cs` of the three views must lie inside its slice.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_strided(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    accumulate: bool,
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (usize, usize),
) {
    debug_assert!(m == 0 || n == 0 || dst.len() >= (m - 1) * n + n);
    gemm::gemm(
        m,
        n,
        k,
        dst.as_mut_ptr(),
        1,
        n as isize,
        accumulate,
        lhs.as_ptr(),
        lhs_cs as isize,
        lhs_rs as isize,
        rhs.as_ptr(),
        rhs_cs as isize,
        rhs_rs as isize,
        1.0,
        1.0,
        false,
        false,
        false,
        gemm::Parallelism::None,
    );
}

/// `out[o] = Σ_k Σ_{(i,o)} x[i] · W_k` where `W_k` is `w[k]` (`[c_in, c_out]`) or, with
/// `transpose_w`, `w[k]ᵀ` of a `[c_out, c_in]`-per-offset weight.
pub(crate) fn conv_forward(
    x: &[f32],
    c_in: usize,
    w: &[f32],
    c_out: usize,
    transpose_w: bool,
    map: &KernelMap,
) -> Vec<f32> {
    let bl = blocked(map);
    let k_vol = map.kernel_volume;
    let wk_len = c_in * c_out;
    // Row-major [c_in, c_out] or its transpose stored as [c_out, c_in].
    let w_strides = if transpose_w { (1, c_in) } else { (c_out, 1) };
    let mut out = vec![0f32; map.n_out * c_out];
    if map.n_out == 0 || c_out == 0 {
        return out;
    }
    out.par_chunks_mut(bl.block_rows * c_out)
        .enumerate()
        .for_each_init(
            || {
                (
                    vec![0f32; bl.block_rows * c_in],
                    vec![0f32; bl.block_rows * c_out],
                )
            },
            |(a, t), (b, out_block)| {
                for k in 0..k_vol {
                    let r = bl.starts[b * k_vol + k]..bl.starts[b * k_vol + k + 1];
                    let m = r.len();
                    if m == 0 {
                        continue;
                    }
                    for (j, &i) in bl.ins[r.clone()].iter().enumerate() {
                        let i = i as usize;
                        a[j * c_in..(j + 1) * c_in].copy_from_slice(&x[i * c_in..(i + 1) * c_in]);
                    }
                    let wk = &w[k * wk_len..(k + 1) * wk_len];
                    // SAFETY: a holds m ≤ block_rows rows of c_in, t holds m rows of c_out,
                    // wk is exactly c_in·c_out with the strides chosen above.
                    unsafe {
                        gemm_strided(
                            m,
                            c_out,
                            c_in,
                            &mut t[..m * c_out],
                            false,
                            &a[..m * c_in],
                            (c_in, 1),
                            wk,
                            w_strides,
                        );
                    }
                    for (j, &o) in bl.outs[r].iter().enumerate() {
                        let o = o as usize;
                        let dst = &mut out_block[o * c_out..(o + 1) * c_out];
                        for (d, s) in dst.iter_mut().zip(&t[j * c_out..(j + 1) * c_out]) {
                            *d += s;
                        }
                    }
                }
            },
        );
    out
}

/// Fixed number of partial sums in the weight gradient: a constant (not the thread count)
/// so the summation order, and so the result to the last bit, does not depend on how
/// many threads run. 8 partials of the largest MinkUNet34C layer are ~56 MB.
const WEIGHT_GRAD_PARTIALS: usize = 8;

/// Target number of row blocks per kernel map (before the 16..256-row clamp). 16 is what
/// the former thread-derived rule (8 per thread) gave on the 2-core machines every
/// measurement in notes/ was taken on, so those results reproduce bit for bit.
const BLOCKS_PER_MAP: usize = 16;

/// `dw[k] = Σ_{(i,o) ∈ pairs_k} x[i]ᵀ · g[o]`, `[K, c_in, c_out]`; partial sums over
/// fixed ranges of output blocks (in parallel), then added in range order.
pub(crate) fn conv_weight_grad(
    x: &[f32],
    c_in: usize,
    g: &[f32],
    c_out: usize,
    map: &KernelMap,
) -> Vec<f32> {
    let bl = blocked(map);
    let k_vol = map.kernel_volume;
    let wk_len = c_in * c_out;
    let n_blocks = bl.starts.len().saturating_sub(1) / k_vol.max(1);
    let per = n_blocks.div_ceil(WEIGHT_GRAD_PARTIALS).max(1);
    let partials: Vec<Vec<f32>> = (0..n_blocks.div_ceil(per))
        .into_par_iter()
        .map(|chunk| {
            let mut acc = vec![0f32; k_vol * wk_len];
            let mut a = vec![0f32; bl.block_rows * c_in];
            let mut gb = vec![0f32; bl.block_rows * c_out];
            for b in chunk * per..((chunk + 1) * per).min(n_blocks) {
                let row0 = b * bl.block_rows;
                for k in 0..k_vol {
                    let r = bl.starts[b * k_vol + k]..bl.starts[b * k_vol + k + 1];
                    let m = r.len();
                    if m == 0 {
                        continue;
                    }
                    for (j, (&i, &o)) in bl.ins[r.clone()].iter().zip(&bl.outs[r]).enumerate() {
                        let (i, o) = (i as usize, row0 + o as usize);
                        a[j * c_in..(j + 1) * c_in].copy_from_slice(&x[i * c_in..(i + 1) * c_in]);
                        gb[j * c_out..(j + 1) * c_out]
                            .copy_from_slice(&g[o * c_out..(o + 1) * c_out]);
                    }
                    // SAFETY: lhs is aᵀ (c_in × m view of m rows of c_in), rhs m rows of c_out,
                    // dst one [c_in, c_out] slab.
                    unsafe {
                        gemm_strided(
                            c_in,
                            c_out,
                            m,
                            &mut acc[k * wk_len..(k + 1) * wk_len],
                            true,
                            &a[..m * c_in],
                            (1, c_in),
                            &gb[..m * c_out],
                            (c_out, 1),
                        );
                    }
                }
            }
            acc
        })
        .collect();
    let mut sum = vec![0f32; k_vol * wk_len];
    for p in &partials {
        for (d, v) in sum.iter_mut().zip(p) {
            *d += v;
        }
    }
    sum
}
