//! Fused sparse-convolution kernels for GPUs, in CubeCL: one source for every CubeCL
//! runtime burn has (CUDA on NVIDIA GPUs; wgpu, which CI runs on Mesa's lavapipe, a
//! Vulkan driver on the CPU). They replace the composed path (per kernel offset a
//! `select`, a `matmul` and a `select_assign`: 3 launches per offset, 375 for a k = 5
//! stem, plus the gathered copies) by two launches per gradient.
//!
//! Written by hand because burn has no sparse (gather-GEMM-scatter) op and no crate
//! provides one for CubeCL; MinkowskiEngine and torchsparse are CUDA C++.
//!
//! - **Forward and input gradient** are *output-stationary*: a neighbour table
//!   `nbr[o · K + k]` (the input row feeding output `o` through offset `k`, or −1,
//!   [`KernelMap::neighbor_table`], built once per map), and one unit computes one output value
//!   `out[o, c] = Σ_k Σ_ci x[nbr[o,k], ci] · w[k, ci, c]` in registers and writes it
//!   once: no atomics, so results are deterministic. The input gradient is the same
//!   kernel on the transposed map with `w` read transposed through strides.
//! - **Weight gradient** `dw[k, ci, co] = Σ_(i,o)∈pairs_k x[i, ci] · g[o, co]`: the pairs
//!   of each offset are split into `S` ranges; a unit sums one range for one weight into
//!   `partial[s, k, ci, co]`, and a sum over `s` (burn's reduction) finishes it.
//!
//! These are plain implicit-GEMM loops (f32 accumulation, no shared-memory tiling, no
//! tensor cores), so on CUDA they are exact f32 — no TF32 — and agree with the CPU to
//! summation-order rounding (~1e-6 relative). Tiling them is the next step for speed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use burn::tensor::ops::{FloatTensor, FloatTensorOps};
use burn::tensor::{Shape, TensorMetadata};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use cubecl::prelude::*;
use cubecl::{calculate_cube_count_elemwise, CubeDim};

use crate::backend::{composed_conv_primitive, composed_weight_grad_primitive, SparseBackend};
use crate::coords::KernelMap;

/// Units per cube for the element-wise launches.
const CUBE_UNITS: u32 = 256;
/// Cap on the weight gradient's partial sums (elements), so big layers do not allocate
/// `S` full copies of a 27 × 256 × 256 weight.
const MAX_PARTIAL: usize = 1 << 23;
/// At most this many ranges per offset in the weight gradient.
const MAX_SPLITS: usize = 64;

/// How often each sparse-convolution op on a CubeCL backend ran the fused kernels and
/// how often it fell back to the composed path (a map the kernels cannot take: an output
/// fed twice through one offset, or sizes past u32). Process-wide, since the start; a
/// test reads it to know which code produced its results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CubeLaunches {
    pub fused_forward: u64,
    pub fused_input_grad: u64,
    pub fused_weight_grad: u64,
    pub fallback_forward: u64,
    pub fallback_input_grad: u64,
    pub fallback_weight_grad: u64,
}

/// Counters in [`CubeLaunches`]' field order.
static LAUNCHES: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];

/// The counts so far (see [`CubeLaunches`]).
pub fn cube_launches() -> CubeLaunches {
    let n = |i: usize| LAUNCHES[i].load(Ordering::Relaxed);
    CubeLaunches {
        fused_forward: n(0),
        fused_input_grad: n(1),
        fused_weight_grad: n(2),
        fallback_forward: n(3),
        fallback_input_grad: n(4),
        fallback_weight_grad: n(5),
    }
}

/// Which op ran, for the counters.
#[derive(Clone, Copy)]
enum Op {
    Forward = 0,
    InputGrad = 1,
    WeightGrad = 2,
}

/// Counts one run of `op`: fused when `fused` holds a result, else a fallback.
fn count<T>(op: Op, fused: Option<T>) -> Option<T> {
    let slot = op as usize + if fused.is_some() { 0 } else { 3 };
    LAUNCHES[slot].fetch_add(1, Ordering::Relaxed);
    fused
}

#[cube(launch_unchecked)]
fn conv_kernel<F: Float>(
    x: &Array<F>,
    w: &Array<F>,
    nbr: &Array<i32>,
    out: &mut Array<F>,
    n_out: u32,
    c_in: u32,
    c_out: u32,
    k_vol: u32,
    w_stride_in: u32,
    w_stride_out: u32,
) {
    let pos = ABSOLUTE_POS as u32;
    if pos >= n_out * c_out {
        terminate!();
    }
    let o = pos / c_out;
    let c = pos % c_out;
    let w_per_offset = c_in * c_out;
    let mut acc = F::new(0.0);
    for k in 0..k_vol {
        let i = nbr[(o * k_vol + k) as usize];
        if i >= 0 {
            let x_row = (i as u32) * c_in;
            let w_base = k * w_per_offset + c * w_stride_out;
            for ci in 0..c_in {
                acc += x[(x_row + ci) as usize] * w[(w_base + ci * w_stride_in) as usize];
            }
        }
    }
    out[pos as usize] = acc;
}

// `div_ceil` is not among the operations CubeCL translates; the division is spelled out.
#[allow(clippy::manual_div_ceil)]
#[cube(launch_unchecked)]
fn weight_grad_kernel<F: Float>(
    x: &Array<F>,
    g: &Array<F>,
    in_rows: &Array<u32>,
    out_rows: &Array<u32>,
    starts: &Array<u32>,
    partial: &mut Array<F>,
    c_in: u32,
    c_out: u32,
    k_vol: u32,
    splits: u32,
) {
    let pos = ABSOLUTE_POS as u32;
    let per_split = k_vol * c_in * c_out;
    if pos >= splits * per_split {
        terminate!();
    }
    let s = pos / per_split;
    let rem = pos % per_split;
    let k = rem / (c_in * c_out);
    let ci = (rem / c_out) % c_in;
    let co = rem % c_out;
    let begin = starts[k as usize];
    let end = starts[(k + 1) as usize];
    let chunk = (end - begin + splits - 1) / splits;
    let mut a = begin + s * chunk;
    if a > end {
        a = end;
    }
    let mut b = a + chunk;
    if b > end {
        b = end;
    }
    let mut acc = F::new(0.0);
    for p in a..b {
        let i = in_rows[p as usize];
        let o = out_rows[p as usize];
        acc += x[(i * c_in + ci) as usize] * g[(o * c_out + co) as usize];
    }
    partial[pos as usize] = acc;
}

/// Row counts and indices must fit the kernels' u32 arithmetic.
fn fits_u32(values: &[usize]) -> bool {
    values
        .iter()
        .try_fold(1usize, |acc, &v| acc.checked_mul(v.max(1)))
        .is_some_and(|n| n <= u32::MAX as usize)
}

fn upload<R: CubeRuntime, E: CubeElement>(
    client: &ComputeClient<R>,
    values: &[E],
) -> cubecl::server::Handle {
    client.create_from_slice(E::as_bytes(values))
}

fn empty<R: CubeRuntime, F: FloatElement>(like: &CubeTensor<R>, shape: Shape) -> CubeTensor<R> {
    let bytes = shape.num_elements() * core::mem::size_of::<F>();
    let handle = like.client.empty(bytes);
    CubeTensor::new_contiguous(
        like.client.clone(),
        like.device.clone(),
        shape,
        handle,
        F::dtype(),
    )
}

fn launch_dims<R: CubeRuntime>(client: &ComputeClient<R>, units: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new_1d(CUBE_UNITS);
    (calculate_cube_count_elemwise(client, units, dim), dim)
}

/// `out = conv(x, w)` over `map`; `transposed_w`: read `w: [K, C_out, C_in]` as if it were
/// `[K, C_in, C_out]` (the input gradient's `wᵀ`). None when the map does not fit the
/// kernel (the caller falls back).
fn conv<R: CubeRuntime, F: FloatElement>(
    x: CubeTensor<R>,
    w: CubeTensor<R>,
    map: &KernelMap,
    c_in: usize,
    c_out: usize,
    transposed_w: bool,
) -> Option<CubeTensor<R>> {
    if !fits_u32(&[map.n_out, map.kernel_volume])
        || !fits_u32(&[map.n_out, c_out])
        || !fits_u32(&[map.n_in, c_in])
        || !fits_u32(&[map.kernel_volume, c_in, c_out])
    {
        return None;
    }
    let table = map.neighbor_table()?;
    let x = into_contiguous(x);
    let w = into_contiguous(w);
    let out = empty::<R, F>(&x, Shape::new([map.n_out, c_out]));
    if map.n_out * c_out == 0 {
        return Some(out);
    }
    let client = x.client.clone();
    let nbr = upload(&client, table.as_slice());
    // Element (k, ci, co) of the logical [K, C_in, C_out] weight.
    let (stride_in, stride_out) = if transposed_w {
        (1, c_in as u32)
    } else {
        (c_out as u32, 1)
    };
    let (count, dim) = launch_dims(&client, map.n_out * c_out);
    let (x_len, w_len, out_len) = (
        map.n_in * c_in,
        map.kernel_volume * c_in * c_out,
        map.n_out * c_out,
    );
    // SAFETY: every index the kernel forms is below the lengths given: rows come from
    // the table (< n_in) or the unit's position (< n_out), channels from the loops.
    unsafe {
        conv_kernel::launch_unchecked::<F, R>(
            &client,
            count,
            dim,
            ArrayArg::from_raw_parts(x.handle.clone(), x_len),
            ArrayArg::from_raw_parts(w.handle.clone(), w_len),
            ArrayArg::from_raw_parts(nbr, table.len()),
            ArrayArg::from_raw_parts(out.handle.clone(), out_len),
            map.n_out as u32,
            c_in as u32,
            c_out as u32,
            map.kernel_volume as u32,
            stride_in,
            stride_out,
        );
    }
    Some(out)
}

/// `dw[k] = Σ_(i,o)∈pairs_k x[i]ᵀ g[o]`, `[K, C_in, C_out]`; None when it does not fit.
fn weight_grad<R, F, I, BT>(
    x: CubeTensor<R>,
    g: CubeTensor<R>,
    map: &KernelMap,
) -> Option<CubeTensor<R>>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    let [n_in, c_in] = x.shape().dims::<2>();
    let [n_out, c_out] = g.shape().dims::<2>();
    let k_vol = map.kernel_volume;
    let per_split = k_vol * c_in * c_out;
    let pairs = map.num_pairs();
    let splits = (MAX_PARTIAL / per_split.max(1)).clamp(1, MAX_SPLITS);
    if !fits_u32(&[splits, per_split])
        || !fits_u32(&[n_in, c_in])
        || !fits_u32(&[n_out, c_out])
        || !fits_u32(&[pairs + 1])
    {
        return None;
    }
    let x = into_contiguous(x);
    let g = into_contiguous(g);
    let client = x.client.clone();
    let partial = empty::<R, F>(&x, Shape::new([splits, per_split]));
    if per_split > 0 {
        let starts: Vec<u32> = map.starts.iter().map(|&s| s as u32).collect();
        let in_rows = upload(&client, &map.in_rows);
        let out_rows = upload(&client, &map.out_rows);
        let starts_h = upload(&client, &starts);
        let (count, dim) = launch_dims(&client, splits * per_split);
        // SAFETY: pair indices stay within `starts[k]..starts[k + 1]` ⊆ 0..pairs, rows
        // from the map are < n_in / n_out, channels from the unit's position.
        unsafe {
            weight_grad_kernel::launch_unchecked::<F, R>(
                &client,
                count,
                dim,
                ArrayArg::from_raw_parts(x.handle.clone(), n_in * c_in),
                ArrayArg::from_raw_parts(g.handle.clone(), n_out * c_out),
                ArrayArg::from_raw_parts(in_rows, pairs.max(1)),
                ArrayArg::from_raw_parts(out_rows, pairs.max(1)),
                ArrayArg::from_raw_parts(starts_h, starts.len()),
                ArrayArg::from_raw_parts(partial.handle.clone(), splits * per_split),
                c_in as u32,
                c_out as u32,
                k_vol as u32,
                splits as u32,
            );
        }
    }
    let summed = CubeBackend::<R, F, I, BT>::float_sum_dim(partial, 0);
    Some(CubeBackend::<R, F, I, BT>::float_reshape(
        summed,
        Shape::new([k_vol, c_in, c_out]),
    ))
}

/// Every CubeCL backend (burn's `Cuda`, `Wgpu`) takes the fused kernels.
impl<R, F, I, BT> SparseBackend for CubeBackend<R, F, I, BT>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    fn sparse_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        map: &Arc<KernelMap>,
    ) -> FloatTensor<Self> {
        let [_, c_in, c_out] = weight.shape().dims::<3>();
        let fused = conv::<R, F>(x.clone(), weight.clone(), map, c_in, c_out, false);
        count(Op::Forward, fused).unwrap_or_else(|| composed_conv_primitive::<Self>(x, weight, map))
    }

    fn sparse_conv_weight_grad(
        x: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
        map: &Arc<KernelMap>,
    ) -> FloatTensor<Self> {
        let fused = weight_grad::<R, F, I, BT>(x.clone(), grad_out.clone(), map);
        count(Op::WeightGrad, fused)
            .unwrap_or_else(|| composed_weight_grad_primitive::<Self>(x, grad_out, map))
    }

    fn sparse_conv_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
        map: &Arc<KernelMap>,
        needs: [bool; 2],
    ) -> [Option<FloatTensor<Self>>; 2] {
        let [_, c_in, c_out] = weight.shape().dims::<3>();
        let dx = needs[0].then(|| {
            let t = map.transposed();
            // dx = grad · wᵀ over the transposed map: an op from C_out to C_in channels
            // reading w: [K, C_in, C_out] transposed in place.
            let fused = conv::<R, F>(grad_out.clone(), weight.clone(), &t, c_out, c_in, true);
            count(Op::InputGrad, fused).unwrap_or_else(|| {
                let wt = Self::float_swap_dims(weight.clone(), 1, 2);
                composed_conv_primitive::<Self>(grad_out.clone(), wt, &t)
            })
        });
        let dw = needs[1].then(|| Self::sparse_conv_weight_grad(x, grad_out, map));
        [dx, dw]
    }
}
