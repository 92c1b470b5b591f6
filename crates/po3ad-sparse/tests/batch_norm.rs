//! The fused training-mode batch norm (+ residual add, + ReLU) against independent
//! references: the same maths composed from burn tensor ops with burn's autodiff (forward and
//! every gradient), burn's own `BatchNorm` (output and running statistics), central finite
//! differences in f64 of a hand-written evaluation, and itself under other thread counts
//! (bit-identical).

mod common;

use burn::backend::Flex;
use burn::nn::BatchNormConfig;
use burn::tensor::{Tensor, TensorPrimitive};
use common::*;
use po3ad_sparse::{batch_norm_rows, composed_batch_norm_train, SparseBackend};

const EPS: f64 = 1e-5;

/// Rows over several of the kernel's 512-row chunks, with a last partial chunk.
const ROWS: usize = 1300;
const CH: usize = 5;

fn inputs(seed: u64, rows: usize, c: usize) -> [Vec<f32>; 5] {
    // x with per-channel offsets and scales, so mean and variance matter.
    let x: Vec<f32> = random_vec(seed, rows * c)
        .iter()
        .enumerate()
        .map(|(i, v)| v * (1.0 + (i % c) as f32) + 0.5 * (i % c) as f32)
        .collect();
    let gamma: Vec<f32> = random_vec(seed + 1, c)
        .iter()
        .map(|v| 1.0 + 0.5 * v)
        .collect();
    let beta = random_vec(seed + 2, c);
    let residual = random_vec(seed + 3, rows * c);
    let weight = random_vec(seed + 4, rows * c);
    [x, gamma, beta, residual, weight]
}

fn tensor1<B: burn::tensor::backend::Backend>(v: &[f32]) -> Tensor<B, 1> {
    Tensor::from_floats(v, &Default::default())
}

/// Forward and gradients of `Σ y ⊙ w` w.r.t. x, γ, β, residual; `fused` picks the op.
fn run(fused: bool, residual: bool, relu: bool) -> Vec<Vec<f32>> {
    let [x, gamma, beta, r, w] = inputs(7, ROWS, CH);
    let x = tensor2::<Ad>(&x, ROWS, CH).require_grad();
    let gamma = tensor1::<Ad>(&gamma).require_grad();
    let beta = tensor1::<Ad>(&beta).require_grad();
    let r = tensor2::<Ad>(&r, ROWS, CH).require_grad();
    let w = tensor2::<Ad>(&w, ROWS, CH);
    let res = residual.then(|| r.clone());
    let (y, mean, var) = if fused {
        let prim = |t: Tensor<Ad, 2>| t.into_primitive().tensor();
        let out = Ad::batch_norm_train(
            prim(x.clone()),
            gamma.clone().into_primitive().tensor(),
            beta.clone().into_primitive().tensor(),
            res.map(prim),
            EPS,
            relu,
        );
        let f2 = |t| Tensor::<Ad, 2>::from_primitive(TensorPrimitive::Float(t));
        let f1 = |t| Tensor::<Ad, 1>::from_primitive(TensorPrimitive::Float(t));
        (f2(out.y), f1(out.mean), f1(out.var))
    } else {
        composed_batch_norm_train(x.clone(), gamma.clone(), beta.clone(), res, EPS, relu)
    };
    let grads = (y.clone() * w).sum().backward();
    let mut out = vec![to_vec(&y), to_vec(&mean), to_vec(&var)];
    out.push(to_vec(&x.grad(&grads).expect("x grad")));
    out.push(to_vec(&gamma.grad(&grads).expect("gamma grad")));
    out.push(to_vec(&beta.grad(&grads).expect("beta grad")));
    if residual {
        out.push(to_vec(&r.grad(&grads).expect("residual grad")));
    }
    out
}

fn assert_near(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let scale = 1.0f32.max(w.abs());
        assert!((g - w).abs() <= tol * scale, "{what}[{i}]: {g} vs {w}");
    }
}

#[test]
fn fused_matches_composed_autodiff_forward_and_gradients() {
    let names = ["y", "mean", "var", "dx", "dgamma", "dbeta", "dresidual"];
    for residual in [false, true] {
        for relu in [false, true] {
            let fused = run(true, residual, relu);
            let reference = run(false, residual, relu);
            assert_eq!(fused.len(), reference.len());
            for ((name, f), r) in names.iter().zip(&fused).zip(&reference) {
                // f32 sums over 1300 rows in a different order: 1e-4 relative.
                assert_near(
                    &format!("{name} (residual {residual}, relu {relu})"),
                    f,
                    r,
                    1e-4,
                );
            }
        }
    }
}

/// `Σ_ij w_ij · act(γ_j (x_ij − μ_j)/sqrt(σ²_j + ε) + β_j + r_ij)` in f64, by hand.
fn loss_f64(
    x: &[f64],
    gamma: &[f64],
    beta: &[f64],
    r: &[f64],
    w: &[f64],
    c: usize,
    relu: bool,
) -> f64 {
    let rows = x.len() / c;
    let mut total = 0.0;
    for ch in 0..c {
        let col = |v: &[f64], i: usize| v[i * c + ch];
        let mean = (0..rows).map(|i| col(x, i)).sum::<f64>() / rows as f64;
        let var = (0..rows).map(|i| (col(x, i) - mean).powi(2)).sum::<f64>() / rows as f64;
        for i in 0..rows {
            let z = gamma[ch] * (col(x, i) - mean) / (var + EPS).sqrt() + beta[ch] + col(r, i);
            total += col(w, i) * if relu { z.max(0.0) } else { z };
        }
    }
    total
}

#[test]
fn fused_gradients_match_finite_differences() {
    let (rows, c) = (37, 3);
    for relu in [false, true] {
        let [x, gamma, beta, r, w] = inputs(11, rows, c);
        let prim2 = |v: &[f32]| tensor2::<Ad>(v, rows, c).require_grad();
        let xt = prim2(&x);
        let gt = tensor1::<Ad>(&gamma).require_grad();
        let bt = tensor1::<Ad>(&beta).require_grad();
        let rt = prim2(&r);
        let out = Ad::batch_norm_train(
            xt.clone().into_primitive().tensor(),
            gt.clone().into_primitive().tensor(),
            bt.clone().into_primitive().tensor(),
            Some(rt.clone().into_primitive().tensor()),
            EPS,
            relu,
        );
        let y = Tensor::<Ad, 2>::from_primitive(TensorPrimitive::Float(out.y));
        let grads = (y * tensor2::<Ad>(&w, rows, c)).sum().backward();
        let analytic = [
            to_vec(&xt.grad(&grads).expect("dx")),
            to_vec(&gt.grad(&grads).expect("dgamma")),
            to_vec(&bt.grad(&grads).expect("dbeta")),
            to_vec(&rt.grad(&grads).expect("dresidual")),
        ];
        let f64s = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<f64>>();
        let mut vars = [f64s(&x), f64s(&gamma), f64s(&beta), f64s(&r)];
        let wd = f64s(&w);
        let h = 1e-6;
        for (which, grad) in analytic.iter().enumerate() {
            for i in 0..vars[which].len() {
                let orig = vars[which][i];
                vars[which][i] = orig + h;
                let up = loss_f64(&vars[0], &vars[1], &vars[2], &vars[3], &wd, c, relu);
                vars[which][i] = orig - h;
                let down = loss_f64(&vars[0], &vars[1], &vars[2], &vars[3], &wd, c, relu);
                vars[which][i] = orig;
                let fd = (up - down) / (2.0 * h);
                // h is far below every |z| here, so no ReLU kink lies inside ±h.
                let g = grad[i] as f64;
                assert!(
                    (g - fd).abs() <= 2e-3 * 1f64.max(fd.abs()),
                    "relu {relu}, input {which}[{i}]: analytic {g} vs finite difference {fd}"
                );
            }
        }
    }
}

#[test]
fn matches_burn_batch_norm_and_its_running_statistics() {
    let [x, _, _, _, _] = inputs(21, ROWS, CH);
    let ours = BatchNormConfig::new(CH).init::<Ad>(&Default::default());
    let theirs = BatchNormConfig::new(CH).init::<Ad>(&Default::default());
    for _ in 0..3 {
        let a = batch_norm_rows(&ours, tensor2::<Ad>(&x, ROWS, CH), None, false);
        let b = theirs.forward(tensor2::<Ad>(&x, ROWS, CH));
        assert_near("train output", &to_vec(&a), &to_vec(&b), 1e-4);
    }
    assert_near(
        "running mean",
        &to_vec(&ours.running_mean.value_sync()),
        &to_vec(&theirs.running_mean.value_sync()),
        1e-5,
    );
    assert_near(
        "running var",
        &to_vec(&ours.running_var.value_sync()),
        &to_vec(&theirs.running_var.value_sync()),
        1e-5,
    );
    // Eval mode (no autodiff): burn's path on the running statistics, + residual, + ReLU.
    let [_, _, _, r, _] = inputs(22, ROWS, CH);
    let valid = BatchNormConfig::new(CH).init::<Flex>(&Default::default());
    let got = batch_norm_rows(
        &valid,
        tensor2::<Flex>(&x, ROWS, CH),
        Some(tensor2::<Flex>(&r, ROWS, CH)),
        true,
    );
    let want = burn::tensor::activation::relu(
        valid.forward(tensor2::<Flex>(&x, ROWS, CH)) + tensor2::<Flex>(&r, ROWS, CH),
    );
    assert_eq!(to_vec(&got), to_vec(&want));
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let in_pool = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| run(true, true, true))
    };
    let one = in_pool(1);
    assert_eq!(one, in_pool(3));
    assert_eq!(one, in_pool(4));
}
