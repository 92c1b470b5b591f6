//! The CubeCL kernels (`src/cube.rs`) against the dense reference in `common`: forward,
//! input gradient and weight gradient of every convolution MinkUNet uses, on burn's
//! `wgpu` backend. CI runs it on Mesa's lavapipe (a Vulkan driver on the CPU), so the
//! same kernel source the CUDA build uses is checked without a GPU:
//! `cargo test -p po3ad-sparse --features wgpu --test cube_conv`.
//!
//! The kernels accumulate in f32 (no TF32), so the tolerance is the CPU tests' 1e-4
//! relative to the largest reference value.
#![cfg(feature = "wgpu")]

mod common;

use burn::backend::wgpu::{Wgpu, WgpuDevice};
use burn::backend::Autodiff;
use burn::module::Param;
use burn::tensor::Tensor;
use common::*;
use po3ad_sparse::{SparseConv3d, SparseConv3dConfig, SparseTensor};

type G = Autodiff<Wgpu>;

const TOL: f64 = 1e-4;
const GRID: i32 = 6;

fn device() -> WgpuDevice {
    WgpuDevice::default()
}

/// `conv` on `input` (features `x`, a leaf), backpropagating `Σ out ⊙ r`, against the
/// dense reference with `tap`.
fn check(
    name: &str,
    input: &SparseTensor<G>,
    x: &Tensor<G, 2>,
    conv: &SparseConv3d<G>,
    tap: Tap,
    seed: u64,
) -> SparseTensor<G> {
    let in_coords = input.coords();
    let [k_vol, c_in, c_out] = conv.weight.dims();
    let w = to_vec(&conv.weight.val());
    let out = conv.forward(input);
    let out_coords = out.coords();
    let n_out = out_coords.len();
    let r = random_vec(seed, n_out * c_out);
    let r_t = Tensor::<G, 2>::from_data(
        burn::tensor::TensorData::new(r.clone(), [n_out, c_out]),
        &device(),
    );
    let loss = (out.feats().clone() * r_t).sum();
    let grads = loss.backward();
    let gx = to_vec(&x.grad(&grads).expect("input grad"));
    let gw = to_vec(&conv.weight.val().grad(&grads).expect("weight grad"));

    let xv = to_vec(x);
    let grid = DenseGrid::from_sites(2, GRID + 2, c_in, &in_coords, &xv);
    let reference = dense_conv(&grid, &out_coords, &w, k_vol, c_out, tap, &r);
    assert_close(
        &format!("{name} forward"),
        &to_vec(out.feats()),
        &reference.out,
        TOL,
    );
    let gx_ref = gather(&reference.grad_grid, &in_coords);
    assert_close(&format!("{name} d input"), &gx, &gx_ref, TOL);
    assert_close(&format!("{name} d weight"), &gw, &reference.grad_w, TOL);
    out
}

fn conv_with_weight(cfg: SparseConv3dConfig, seed: u64) -> SparseConv3d<G> {
    let mut conv = cfg.init::<G>(&device());
    let d = conv.weight.dims();
    let w = random_vec(seed, d[0] * d[1] * d[2]);
    let t = Tensor::<G, 3>::from_data(burn::tensor::TensorData::new(w, d), &device());
    conv.weight = Param::from_tensor(t.require_grad());
    conv
}

fn leaf(coords: Vec<[i32; 4]>, c: usize, seed: u64) -> (SparseTensor<G>, Tensor<G, 2>) {
    let n = coords.len();
    let x = Tensor::<G, 2>::from_data(
        burn::tensor::TensorData::new(random_vec(seed, n * c), [n, c]),
        &device(),
    )
    .require_grad();
    (
        SparseTensor::new(coords, x.clone()).expect("valid coords"),
        x,
    )
}

fn submanifold(ks: usize, c_in: usize, c_out: usize, seed: u64) {
    let coords = random_coords(seed, 2, GRID, 0.35);
    let (input, x) = leaf(coords.clone(), c_in, seed + 1);
    let conv = conv_with_weight(SparseConv3dConfig::new(c_in, c_out, ks), seed + 2);
    let out = check(
        &format!("k{ks}"),
        &input,
        &x,
        &conv,
        &submanifold_tap(ks as i32, 1),
        seed + 3,
    );
    assert_eq!(*out.coords(), coords);
}

#[test]
fn cube_submanifold_k1_k3_k5_match_dense() {
    submanifold(1, 5, 3, 10);
    submanifold(3, 4, 6, 20);
    submanifold(5, 3, 2, 30);
    // Wider channels than one cube's units, so outputs span several cubes.
    submanifold(3, 16, 40, 70);
}

#[test]
fn cube_strided_and_transposed_match_dense() {
    let coords = random_coords(40, 2, GRID, 0.35);
    let (input, x) = leaf(coords.clone(), 4, 41);
    let down = conv_with_weight(SparseConv3dConfig::new(4, 5, 2).with_stride(2), 42);
    let coarse = check("down", &input, &x, &down, &down_tap(1), 43);
    assert_eq!(coarse.stride(), 2);

    let n_coarse = coarse.coords().len();
    let (coarse_leaf, xc) = {
        let xc = Tensor::<G, 2>::from_data(
            burn::tensor::TensorData::new(random_vec(51, n_coarse * 3), [n_coarse, 3]),
            &device(),
        )
        .require_grad();
        (coarse.with_feats(xc.clone()), xc)
    };
    let up = conv_with_weight(
        SparseConv3dConfig::new(3, 4, 2)
            .with_stride(2)
            .with_transposed(true),
        52,
    );
    let out = check("up", &coarse_leaf, &xc, &up, &up_tap(1), 53);
    assert_eq!(
        *out.coords(),
        coords,
        "transposed conv restores the fine sites"
    );

    // A stride-2 level: offsets scaled by the tensor stride.
    let conv3 = conv_with_weight(SparseConv3dConfig::new(3, 4, 3), 62);
    check(
        "k3@s2",
        &coarse_leaf,
        &xc,
        &conv3,
        &submanifold_tap(3, 2),
        63,
    );
}
