//! The CubeCL kernels (`src/cube.rs`) against the dense reference in `common`: forward,
//! input gradient and weight gradient of every convolution MinkUNet uses, on burn's
//! `wgpu` backend. CI runs it on Mesa's lavapipe (a Vulkan driver on the CPU), so the
//! same kernel source the CUDA build uses is checked without a GPU:
//! `cargo test -p po3ad-sparse --features wgpu --test cube_conv`.
//!
//! The kernels accumulate in f32 (no TF32), so the tolerance is the CPU tests' 1e-4
//! relative to the largest reference value.
//!
//! A map the fused kernels cannot take falls back to the composed path silently, which
//! would pass these comparisons too; so every test also reads the launch counters
//! ([`cube_launches`]) and asserts that the fused kernels, and only they, ran. The tests
//! take one lock so that each sees only its own launches.
#![cfg(feature = "wgpu")]

mod common;

use std::sync::{Arc, Mutex, MutexGuard};

use burn::backend::wgpu::Wgpu;
use burn::backend::Autodiff;
use burn::tensor::{Tensor, TensorData, TensorPrimitive};
use common::*;
use po3ad_sparse::{
    cube_launches, CubeLaunches, KernelMap, SparseBackend, SparseConv3dConfig, SparseTensor,
};

type G = Autodiff<Wgpu>;

/// Serializes the tests of this file, so the launch counters move only for one of them.
fn counters_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Launches since `before`.
fn launches_since(before: CubeLaunches) -> CubeLaunches {
    let now = cube_launches();
    CubeLaunches {
        fused_forward: now.fused_forward - before.fused_forward,
        fused_input_grad: now.fused_input_grad - before.fused_input_grad,
        fused_weight_grad: now.fused_weight_grad - before.fused_weight_grad,
        fallback_forward: now.fallback_forward - before.fallback_forward,
        fallback_input_grad: now.fallback_input_grad - before.fallback_input_grad,
        fallback_weight_grad: now.fallback_weight_grad - before.fallback_weight_grad,
    }
}

/// `convs` checked convolutions (one forward and one backward each) ran on the fused
/// kernels only.
fn assert_all_fused(before: CubeLaunches, convs: u64) {
    let want = CubeLaunches {
        fused_forward: convs,
        fused_input_grad: convs,
        fused_weight_grad: convs,
        ..CubeLaunches::default()
    };
    assert_eq!(
        launches_since(before),
        want,
        "launches of the fused kernels"
    );
}

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
    let _lock = counters_lock();
    let before = cube_launches();
    submanifold(1, 5, 3, 10);
    submanifold(3, 4, 6, 20);
    submanifold(5, 3, 2, 30);
    // Wider channels than one cube's units, so outputs span several cubes.
    submanifold(3, 16, 40, 70);
    // k = 1 is a plain matmul (`SparseConv3d::forward`), no sparse-conv launch.
    assert_all_fused(before, 3);
}

#[test]
fn cube_strided_and_transposed_match_dense() {
    let _lock = counters_lock();
    let before = cube_launches();
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
    assert_all_fused(before, 3);
}

/// The counters can see a fallback: a map with two inputs for one (output, offset) has
/// no neighbour table, so the forward takes the composed path, and is counted so.
#[test]
fn cube_counts_a_fallback_to_the_composed_path() {
    let _lock = counters_lock();
    let dev = Default::default();
    let x =
        Tensor::<Wgpu, 2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]), &dev);
    let w = Tensor::<Wgpu, 3>::from_data(
        TensorData::new(vec![1.0f32, 0.5, -1.0, 2.0], [1, 2, 2]),
        &dev,
    );
    let map = Arc::new(KernelMap::from_pairs(2, 1, vec![vec![(0, 0), (1, 0)]]));
    assert!(map.neighbor_table().is_none());
    let before = cube_launches();
    let out = <Wgpu as SparseBackend>::sparse_conv(
        x.into_primitive().tensor(),
        w.into_primitive().tensor(),
        &map,
    );
    let out = Tensor::<Wgpu, 2>::from_primitive(TensorPrimitive::Float(out));
    let want = CubeLaunches {
        fallback_forward: 1,
        ..CubeLaunches::default()
    };
    assert_eq!(launches_since(before), want);
    // Only the counting is checked here: what the composed path computes for such a map
    // (a scatter-add with a repeated row) is not something MinkUNet ever asks of it.
    assert_eq!(out.dims(), [1, 2]);
}
