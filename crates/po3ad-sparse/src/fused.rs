//! Fused CPU sparse convolution for the `Flex` backend. Forward (and input gradient, the same
//! kernel over the transposed map): output-stationary blocks of rows, per kernel offset
//! gather → GEMM (`gemm` crate, the same kernel burn-flex uses) → add into the block, parallel
//! over blocks with rayon. Weight gradient: parallel over kernel offsets, one GEMM per chunk of
//! an offset's pairs. No `[pairs, C]` intermediate is ever materialised and every output
//! (block of rows, weight slab) is owned by one thread, so no atomics or locks are needed and
//! results do not depend on the thread count.

use std::sync::OnceLock;

use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, TensorData};

use crate::buffers::par_zeroed_chunks;
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
        // and its gathered inputs stay in L2. (Each output row sums its offsets in order
        // whatever the block size, so the blocks do not change results; 128..1024-row
        // blocks measured the same on the `paper` step.)
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

/// `[K, rows, cols]` → `[K, cols, rows]`: the input gradient's `W_kᵀ` made contiguous once
/// per call. (Reading it through gemm strides instead made gemm re-pack a transposed view for
/// every block and offset: the input gradient took 614 ms against the forward's 461 ms per
/// `paper` step; with this copy, 490 ms.)
pub(crate) fn transpose_per_offset(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let slab = rows * cols;
    if slab == 0 {
        return vec![0f32; w.len()];
    }
    par_zeroed_chunks(
        w.len(),
        slab,
        || (),
        |_, k, dst| {
            let src = &w[k * slab..(k + 1) * slab];
            for (r, row) in src.chunks_exact(cols).enumerate() {
                for (c, v) in row.iter().enumerate() {
                    dst[c * rows + r] = *v;
                }
            }
        },
    )
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

/// `out[o] = Σ_k Σ_{(i,o)} x[i] · W_k` with `W_k = w[k]`, row-major `[c_in, c_out]`.
pub(crate) fn conv_forward(
    x: &[f32],
    c_in: usize,
    w: &[f32],
    c_out: usize,
    map: &KernelMap,
) -> Vec<f32> {
    let bl = blocked(map);
    let k_vol = map.kernel_volume;
    let wk_len = c_in * c_out;
    if map.n_out == 0 || c_out == 0 {
        return vec![0f32; map.n_out * c_out];
    }
    par_zeroed_chunks(
        map.n_out * c_out,
        bl.block_rows * c_out,
        || {
            (
                vec![0f32; bl.block_rows * c_in],
                vec![0f32; bl.block_rows * c_out],
            )
        },
        |(a, t), b, out_block| {
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
                // wk is exactly c_in·c_out, row-major.
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
                        (c_out, 1),
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
    )
}

/// Target number of row blocks per kernel map in the forward (before the 16..256-row clamp).
/// Not derived from the thread count, so a run gives the same bits on any machine.
const BLOCKS_PER_MAP: usize = 16;

/// Pairs per GEMM in the weight gradient: deep enough that the `[c_in, c_out]` slab is read
/// and written once per 512 pairs rather than once per ~100 (per block, as before), small
/// enough that the two gathered buffers (≤ 1 MiB at 256 channels) stay in L2. A constant, so
/// the summation order does not depend on the thread count.
const WEIGHT_GRAD_DEPTH: usize = 512;

/// `dw[k] = Σ_{(i,o) ∈ pairs_k} x[i]ᵀ · g[o]`, `[K, c_in, c_out]`, parallel over offsets: each
/// slab `dw[k]` is owned by one task, which gathers the offset's pairs in order, in chunks of
/// [`WEIGHT_GRAD_DEPTH`], and accumulates one GEMM per chunk. No partial sums to add up, and
/// the result is the same for any number of threads.
pub(crate) fn conv_weight_grad(
    x: &[f32],
    c_in: usize,
    g: &[f32],
    c_out: usize,
    map: &KernelMap,
) -> Vec<f32> {
    let wk_len = c_in * c_out;
    if wk_len == 0 {
        return Vec::new();
    }
    par_zeroed_chunks(
        map.kernel_volume * wk_len,
        wk_len,
        || {
            (
                vec![0f32; WEIGHT_GRAD_DEPTH * c_in],
                vec![0f32; WEIGHT_GRAD_DEPTH * c_out],
            )
        },
        |(a, gb), k, slab| {
            let (ins, outs) = map.offset_pairs(k);
            for (ci, co) in ins
                .chunks(WEIGHT_GRAD_DEPTH)
                .zip(outs.chunks(WEIGHT_GRAD_DEPTH))
            {
                let m = ci.len();
                for (j, &i) in ci.iter().enumerate() {
                    let i = i as usize;
                    a[j * c_in..(j + 1) * c_in].copy_from_slice(&x[i * c_in..(i + 1) * c_in]);
                }
                for (j, &o) in co.iter().enumerate() {
                    let o = o as usize;
                    gb[j * c_out..(j + 1) * c_out].copy_from_slice(&g[o * c_out..(o + 1) * c_out]);
                }
                // SAFETY: lhs is aᵀ (c_in × m view of m rows of c_in), rhs m rows of c_out,
                // dst one [c_in, c_out] slab.
                unsafe {
                    gemm_strided(
                        c_in,
                        c_out,
                        m,
                        slab,
                        true,
                        &a[..m * c_in],
                        (1, c_in),
                        &gb[..m * c_out],
                        (c_out, 1),
                    );
                }
            }
        },
    )
}
