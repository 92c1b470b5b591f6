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

use burn::backend::wgpu::Wgpu;
use burn::backend::Autodiff;
use burn::tensor::Tensor;
use common::*;
use po3ad_sparse::{SparseConv3dConfig, SparseTensor};

type G = Autodiff<Wgpu>;

fn leaf(coords: Vec<[i32; 4]>, c: usize, seed: u64) -> (SparseTensor<G>, Tensor<G, 2>) {
    leaf_input::<G>(coords, c, seed)
}

fn submanifold(ks: usize, c_in: usize, c_out: usize, seed: u64) {
    let coords = random_coords(seed, 2, GRID, 0.35);
    let (input, x) = leaf(coords.clone(), c_in, seed + 1);
    let conv = conv_with_weight::<G>(SparseConv3dConfig::new(c_in, c_out, ks), seed + 2);
    let out = check_conv(
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
    let down = conv_with_weight::<G>(SparseConv3dConfig::new(4, 5, 2).with_stride(2), 42);
    let coarse = check_conv("down", &input, &x, &down, &down_tap(1), 43);
    assert_eq!(coarse.stride(), 2);

    let n_coarse = coarse.coords().len();
    let (coarse_leaf, xc) = {
        let xc = tensor2::<G>(&random_vec(51, n_coarse * 3), n_coarse, 3).require_grad();
        (coarse.with_feats(xc.clone()), xc)
    };
    let up = conv_with_weight::<G>(
        SparseConv3dConfig::new(3, 4, 2)
            .with_stride(2)
            .with_transposed(true),
        52,
    );
    let out = check_conv("up", &coarse_leaf, &xc, &up, &up_tap(1), 53);
    assert_eq!(
        *out.coords(),
        coords,
        "transposed conv restores the fine sites"
    );

    // A stride-2 level: offsets scaled by the tensor stride.
    let conv3 = conv_with_weight::<G>(SparseConv3dConfig::new(3, 4, 3), 62);
    check_conv(
        "k3@s2",
        &coarse_leaf,
        &xc,
        &conv3,
        &submanifold_tap(3, 2),
        63,
    );
}
