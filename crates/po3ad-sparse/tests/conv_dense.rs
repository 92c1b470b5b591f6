//! Forward and gradients (input and weight) of every convolution kind against the dense
//! reference in `common`, on `Autodiff<Flex>` (the fused CPU path) and on the composed path.

mod common;

use burn::tensor::Tensor;
use common::*;
use po3ad_sparse::{
    composed_conv, composed_weight_grad, MapKey, MapKind, SparseConv3d, SparseConv3dConfig,
    SparseTensor,
};

/// The fused CPU path (`Autodiff<Flex>`) against the dense reference.
fn check(
    name: &str,
    input: &SparseTensor<Ad>,
    x: &Tensor<Ad, 2>,
    conv: &SparseConv3d<Ad>,
    tap: Tap,
    seed: u64,
) -> SparseTensor<Ad> {
    check_conv(name, input, x, conv, tap, seed)
}

fn conv_with_weight(cfg: SparseConv3dConfig, seed: u64) -> SparseConv3d<Ad> {
    common::conv_with_weight::<Ad>(cfg, seed)
}

fn leaf_input(coords: Vec<[i32; 4]>, c: usize, seed: u64) -> (SparseTensor<Ad>, Tensor<Ad, 2>) {
    common::leaf_input::<Ad>(coords, c, seed)
}

fn submanifold(ks: usize, c_in: usize, c_out: usize, seed: u64) {
    let coords = random_coords(seed, 2, GRID, 0.35);
    let (input, x) = leaf_input(coords.clone(), c_in, seed + 1);
    let conv = conv_with_weight(SparseConv3dConfig::new(c_in, c_out, ks), seed + 2);
    let tap = submanifold_tap(ks as i32, 1);
    let out = check(&format!("k{ks}"), &input, &x, &conv, &tap, seed + 3);
    assert_eq!(
        *out.coords(),
        coords,
        "submanifold outputs sit on the input sites"
    );
    assert_eq!(out.stride(), 1);
}

#[test]
fn submanifold_k1_matches_dense() {
    submanifold(1, 5, 3, 10);
}

#[test]
fn submanifold_k3_matches_dense() {
    submanifold(3, 4, 6, 20);
}

#[test]
fn submanifold_k5_matches_dense() {
    submanifold(5, 3, 2, 30);
}

/// More pairs per kernel offset than the weight gradient takes in one GEMM (512), and more
/// rows than one forward block (256): the chunked and blocked paths, not just one chunk.
#[test]
fn submanifold_with_many_pairs_per_offset_matches_dense() {
    let coords = random_coords(35, 2, 12, 0.5);
    assert!(coords.len() > 3 * 512, "{} sites", coords.len());
    let (input, x) = leaf_input(coords, 3, 36);
    let conv = conv_with_weight(SparseConv3dConfig::new(3, 5, 3), 37);
    check(
        "k3 many pairs",
        &input,
        &x,
        &conv,
        &submanifold_tap(3, 1),
        38,
    );
}

#[test]
fn strided_conv_matches_dense_and_downsamples() {
    let coords = random_coords(40, 2, GRID, 0.35);
    let (input, x) = leaf_input(coords.clone(), 4, 41);
    let conv = conv_with_weight(SparseConv3dConfig::new(4, 5, 2).with_stride(2), 42);
    let out = check("down", &input, &x, &conv, &down_tap(1), 43);
    assert_eq!(out.stride(), 2);
    let got: std::collections::BTreeSet<_> = out.coords().iter().copied().collect();
    assert_eq!(got.len(), out.coords().len(), "coarse sites unique");
    assert_eq!(got, downsampled(&coords, 1));
}

#[test]
fn transposed_conv_matches_dense_and_restores_sites() {
    let coords = random_coords(50, 2, GRID, 0.35);
    let fine = SparseTensor::<Ad>::new(
        coords.clone(),
        Tensor::zeros([coords.len(), 2], &Default::default()),
    )
    .expect("valid coords");
    let down = SparseConv3dConfig::new(2, 3, 2)
        .with_stride(2)
        .init::<Ad>(&Default::default());
    let coarse = down.forward(&fine);
    let n_coarse = coarse.coords().len();
    let xc = tensor2::<Ad>(&random_vec(51, n_coarse * 3), n_coarse, 3).require_grad();
    let coarse = coarse.with_feats(xc.clone());
    let up = conv_with_weight(
        SparseConv3dConfig::new(3, 4, 2)
            .with_stride(2)
            .with_transposed(true),
        52,
    );
    let out = check("up", &coarse, &xc, &up, &up_tap(1), 53);
    assert_eq!(out.stride(), 1);
    assert_eq!(
        *out.coords(),
        coords,
        "transposed conv restores the fine site set in row order"
    );
}

#[test]
fn second_level_submanifold_and_down_scale_with_stride() {
    // Stride-2 level: offsets are scaled by the tensor stride.
    let coords = random_coords(60, 2, GRID, 0.45);
    let fine = SparseTensor::<Ad>::new(
        coords.clone(),
        Tensor::zeros([coords.len(), 2], &Default::default()),
    )
    .expect("valid coords");
    let level2 = SparseConv3dConfig::new(2, 3, 2)
        .with_stride(2)
        .init::<Ad>(&Default::default());
    let coarse = level2.forward(&fine);
    let n = coarse.coords().len();
    let xc = tensor2::<Ad>(&random_vec(61, n * 3), n, 3).require_grad();
    let coarse = coarse.with_feats(xc.clone());
    let conv3 = conv_with_weight(SparseConv3dConfig::new(3, 4, 3), 62);
    check("k3@s2", &coarse, &xc, &conv3, &submanifold_tap(3, 2), 63);
    let down = conv_with_weight(SparseConv3dConfig::new(3, 2, 2).with_stride(2), 64);
    let out = check("down@s2", &coarse, &xc, &down, &down_tap(2), 65);
    assert_eq!(out.stride(), 4);
    let got: std::collections::BTreeSet<_> = out.coords().iter().copied().collect();
    assert_eq!(got, downsampled(&coarse.coords(), 2));
}

/// The composed path (what non-Flex backends such as CUDA run): forward with burn autograd
/// through select/matmul/select_assign, and the explicit backward formulas the `Autodiff`
/// node uses on such backends (`dx` = same op on the transposed map with `wᵀ`).
fn check_composed(
    name: &str,
    input: &SparseTensor<Ad>,
    key: MapKey,
    tap: Tap,
    c_out: usize,
    seed: u64,
) {
    let map = input.manager().kernel_map(key);
    let in_coords = input.coords();
    let out_coords = match input.manager().coords(key.out_stride) {
        Some(c) => c,
        None => panic!("{name}: output stride not registered"),
    };
    let c_in = input.feats().dims()[1];
    let k_vol = map.kernel_volume;
    let xv = to_vec(input.feats());
    let w = random_vec(seed, k_vol * c_in * c_out);
    let r = random_vec(seed + 1, out_coords.len() * c_out);
    let x = tensor2::<Ad>(&xv, in_coords.len(), c_in).require_grad();
    let wt = tensor3::<Ad>(&w, [k_vol, c_in, c_out]).require_grad();
    let rt = tensor2::<Ad>(&r, out_coords.len(), c_out);
    let out = composed_conv(x.clone(), wt.clone(), &map);
    let grads = (out.clone() * rt.clone()).sum().backward();
    let grid = DenseGrid::from_sites(2, GRID + 2, c_in, &in_coords, &xv);
    let reference = dense_conv(&grid, &out_coords, &w, k_vol, c_out, tap, &r);
    let gx_ref = gather(&reference.grad_grid, &in_coords);
    assert_close(
        &format!("{name} composed forward"),
        &to_vec(&out),
        &reference.out,
        TOL,
    );
    assert_close(
        &format!("{name} composed autograd dx"),
        &to_vec(&x.grad(&grads).expect("dx")),
        &gx_ref,
        TOL,
    );
    assert_close(
        &format!("{name} composed autograd dw"),
        &to_vec(&wt.grad(&grads).expect("dw")),
        &reference.grad_w,
        TOL,
    );
    let dx = composed_conv(rt.clone(), wt.clone().swap_dims(1, 2), &map.transposed());
    let dw = composed_weight_grad(x.clone(), rt, &map);
    assert_close(
        &format!("{name} composed explicit dx"),
        &to_vec(&dx),
        &gx_ref,
        TOL,
    );
    assert_close(
        &format!("{name} composed explicit dw"),
        &to_vec(&dw),
        &reference.grad_w,
        TOL,
    );
}

#[test]
fn composed_path_matches_dense() {
    let coords = random_coords(120, 2, GRID, 0.35);
    let n = coords.len();
    let input = SparseTensor::<Ad>::new(coords, tensor2::<Ad>(&random_vec(121, n * 3), n, 3))
        .expect("valid");
    let sub = |k| MapKey {
        in_stride: 1,
        out_stride: 1,
        kernel: k,
        kind: MapKind::Submanifold,
    };
    check_composed("k3", &input, sub(3), &submanifold_tap(3, 1), 4, 122);
    check_composed("k5", &input, sub(5), &submanifold_tap(5, 1), 2, 123);
    let down = MapKey {
        in_stride: 1,
        out_stride: 2,
        kernel: 2,
        kind: MapKind::Down,
    };
    check_composed("down", &input, down, &down_tap(1), 4, 124);
    let m = input
        .manager()
        .coords(2)
        .expect("stride 2 built by the down map")
        .len();
    let coarse = SparseConv3dConfig::new(3, 2, 2)
        .with_stride(2)
        .init::<Ad>(&Default::default())
        .forward(&input);
    let coarse = coarse.with_feats(tensor2::<Ad>(&random_vec(125, m * 2), m, 2));
    let up = MapKey {
        in_stride: 2,
        out_stride: 1,
        kernel: 2,
        kind: MapKind::Up,
    };
    check_composed("up", &coarse, up, &up_tap(1), 3, 126);
}
