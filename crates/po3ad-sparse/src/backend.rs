//! `SparseBackend`: the backend extension carrying the sparse-convolution op.
//!
//! The default methods are the composed path (select → matmul → select_assign with add), which
//! runs on any burn backend. `Autodiff<B>` gets its own backward node that calls the inner
//! backend's op for both gradients (input gradient = the same op on the transposed map with
//! `Wᵀ`), so the inner backend never records the gathers. `Flex` overrides the op with the fused
//! CPU kernels in [`crate::fused`].

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{
    activation, DType, IndexingUpdateOp, Int, Tensor, TensorData, TensorMetadata, TensorPrimitive,
};

use crate::coords::KernelMap;
use crate::fused;
use crate::fused_norm;
use crate::stats::{Kernel, Timed};

/// A burn backend that can run sparse convolutions.
pub trait SparseBackend: Backend {
    /// `out[o] = Σ_k Σ_{(i,o) ∈ pairs_k} x[i] · w[k]`, with `x: [n_in, C_in]`,
    /// `w: [K, C_in, C_out]`, `out: [n_out, C_out]`.
    fn sparse_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        map: &Arc<KernelMap>,
    ) -> FloatTensor<Self> {
        composed_conv_primitive::<Self>(x, weight, map)
    }

    /// Gradient w.r.t. the weight: `dw[k] = Σ_{(i,o) ∈ pairs_k} x[i]ᵀ · grad_out[o]`, `[K, C_in, C_out]`.
    fn sparse_conv_weight_grad(
        x: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
        map: &Arc<KernelMap>,
    ) -> FloatTensor<Self> {
        composed_weight_grad_primitive::<Self>(x, grad_out, map)
    }

    /// Both gradients of [`SparseBackend::sparse_conv`] (each only when asked for): the input
    /// gradient is the same op on the transposed map with `wᵀ`. Backends may fuse the two.
    fn sparse_conv_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
        map: &Arc<KernelMap>,
        needs: [bool; 2],
    ) -> [Option<FloatTensor<Self>>; 2] {
        let dx = needs[0].then(|| {
            let wt = Self::float_swap_dims(weight, 1, 2);
            Self::sparse_conv(grad_out.clone(), wt, &map.transposed())
        });
        let dw = needs[1].then(|| Self::sparse_conv_weight_grad(x, grad_out, map));
        [dx, dw]
    }

    /// Training-mode batch norm over the rows of `x: [N, C]` (per-channel batch statistics),
    /// fused with an optional residual add and ReLU:
    /// `y = act(γ · (x − μ) / sqrt(σ² + ε) + β [+ residual])`. Returns `y` and the batch mean
    /// and biased variance (`[C]`, for the running statistics).
    fn batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: Option<FloatTensor<Self>>,
        epsilon: f64,
        relu: bool,
    ) -> BatchNormOut<Self> {
        composed_batch_norm_train_primitive::<Self>(x, gamma, beta, residual, epsilon, relu)
    }

    /// Gradients of [`SparseBackend::batch_norm_train`] w.r.t. `[x, γ, β, residual]` (each
    /// only when asked for), from the saved input `x`, output `y` and batch statistics.
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_train_backward(
        x: FloatTensor<Self>,
        y: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
        needs: [bool; 4],
    ) -> [Option<FloatTensor<Self>>; 4] {
        composed_batch_norm_backward(
            float::<Self, 2>(x),
            float::<Self, 2>(y),
            float::<Self, 1>(mean),
            float::<Self, 1>(var),
            float::<Self, 1>(gamma),
            float::<Self, 2>(grad),
            epsilon,
            relu,
            needs,
        )
    }
}

/// Output of [`SparseBackend::batch_norm_train`].
#[derive(Debug)]
pub struct BatchNormOut<B: Backend> {
    /// Normalised (+ residual, + ReLU) features `[N, C]`.
    pub y: FloatTensor<B>,
    /// Batch mean per channel `[C]`.
    pub mean: FloatTensor<B>,
    /// Biased batch variance per channel `[C]`.
    pub var: FloatTensor<B>,
}

/// Composed training-mode batch norm (+ residual, + ReLU) from burn tensor ops: the path of
/// backends without a fused kernel, and the reference the fused kernels are tested against
/// (on an autodiff backend its gradients come from burn's autodiff).
pub fn composed_batch_norm_train<B: Backend>(
    x: Tensor<B, 2>,
    gamma: Tensor<B, 1>,
    beta: Tensor<B, 1>,
    residual: Option<Tensor<B, 2>>,
    epsilon: f64,
    relu: bool,
) -> (Tensor<B, 2>, Tensor<B, 1>, Tensor<B, 1>) {
    let c = x.dims()[1];
    let mean = x.clone().mean_dim(0);
    let xc = x - mean.clone();
    let var = (xc.clone() * xc.clone()).mean_dim(0);
    let a = gamma.unsqueeze_dim::<2>(0) / var.clone().add_scalar(epsilon).sqrt();
    let mut z = xc * a + beta.unsqueeze_dim::<2>(0);
    if let Some(r) = residual {
        z = z + r;
    }
    let y = if relu { activation::relu(z) } else { z };
    (y, mean.reshape([c]), var.reshape([c]))
}

/// Composed gradients of the batch norm: with `dz = dy · [y > 0]` (ReLU) or `dy`,
/// `dβ = Σ dz`, `dγ = Σ dz · x̂`, `dx = γ·rstd/N · (N·dz − dβ − x̂·dγ)`, `dresidual = dz`.
#[allow(clippy::too_many_arguments)]
pub fn composed_batch_norm_backward<B: Backend>(
    x: Tensor<B, 2>,
    y: Tensor<B, 2>,
    mean: Tensor<B, 1>,
    var: Tensor<B, 1>,
    gamma: Tensor<B, 1>,
    grad: Tensor<B, 2>,
    epsilon: f64,
    relu: bool,
    needs: [bool; 4],
) -> [Option<FloatTensor<B>>; 4] {
    let [n, c] = x.dims();
    let n = n.max(1) as f64;
    let dz = if relu {
        grad.mask_fill(y.lower_equal_elem(0.0), 0.0)
    } else {
        grad
    };
    let rstd = var.add_scalar(epsilon).sqrt().recip().unsqueeze_dim::<2>(0);
    let xhat = (x - mean.unsqueeze_dim::<2>(0)) * rstd.clone();
    let dbeta = dz.clone().sum_dim(0);
    let dgamma = (dz.clone() * xhat.clone()).sum_dim(0);
    let dx = needs[0].then(|| {
        let scale = (gamma.unsqueeze_dim::<2>(0) * rstd).div_scalar(n);
        ((dz.clone().mul_scalar(n) - dbeta.clone() - xhat * dgamma.clone()) * scale)
            .into_primitive()
            .tensor()
    });
    let prim = |t: Tensor<B, 2>| t.reshape([c]).into_primitive().tensor();
    [
        dx,
        needs[1].then(|| prim(dgamma)),
        needs[2].then(|| prim(dbeta)),
        needs[3].then(|| dz.into_primitive().tensor()),
    ]
}

fn float<B: Backend, const D: usize>(t: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

/// [`composed_conv`] on primitives: the op of backends without a fused kernel, and the
/// fallback of those with one for maps or dtypes their kernels do not take.
pub(crate) fn composed_conv_primitive<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    map: &KernelMap,
) -> FloatTensor<B> {
    composed_conv(float::<B, 2>(x), float::<B, 3>(weight), map)
        .into_primitive()
        .tensor()
}

/// [`composed_weight_grad`] on primitives (see [`composed_conv_primitive`]).
pub(crate) fn composed_weight_grad_primitive<B: Backend>(
    x: FloatTensor<B>,
    grad_out: FloatTensor<B>,
    map: &KernelMap,
) -> FloatTensor<B> {
    composed_weight_grad(float::<B, 2>(x), float::<B, 2>(grad_out), map)
        .into_primitive()
        .tensor()
}

/// [`composed_batch_norm_train`] on primitives (see [`composed_conv_primitive`]).
fn composed_batch_norm_train_primitive<B: Backend>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    beta: FloatTensor<B>,
    residual: Option<FloatTensor<B>>,
    epsilon: f64,
    relu: bool,
) -> BatchNormOut<B> {
    let (y, mean, var) = composed_batch_norm_train(
        float::<B, 2>(x),
        float::<B, 1>(gamma),
        float::<B, 1>(beta),
        residual.map(float::<B, 2>),
        epsilon,
        relu,
    );
    BatchNormOut {
        y: y.into_primitive().tensor(),
        mean: mean.into_primitive().tensor(),
        var: var.into_primitive().tensor(),
    }
}

fn rows_tensor<B: Backend>(rows: &[u32], device: &B::Device) -> Tensor<B, 1, Int> {
    let data: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
    Tensor::from_data(TensorData::new(data, [rows.len()]), device)
}

/// Composed forward: per offset gather + GEMM, then one scatter-add of all partial products.
pub fn composed_conv<B: Backend>(
    x: Tensor<B, 2>,
    w: Tensor<B, 3>,
    map: &KernelMap,
) -> Tensor<B, 2> {
    let device = x.device();
    let [k_vol, c_in, c_out] = w.dims();
    debug_assert_eq!(k_vol, map.kernel_volume);
    let mut partial = Vec::new();
    let mut out_rows: Vec<u32> = Vec::with_capacity(map.num_pairs());
    for k in 0..k_vol {
        let (ins, outs) = map.offset_pairs(k);
        if ins.is_empty() {
            continue;
        }
        let gathered = x.clone().select(0, rows_tensor::<B>(ins, &device));
        let wk = w.clone().narrow(0, k, 1).reshape([c_in, c_out]);
        partial.push(gathered.matmul(wk));
        out_rows.extend_from_slice(outs);
    }
    let out = Tensor::zeros([map.n_out, c_out], &device);
    if partial.is_empty() {
        return out;
    }
    out.select_assign(
        0,
        rows_tensor::<B>(&out_rows, &device),
        Tensor::cat(partial, 0),
        IndexingUpdateOp::Add,
    )
}

/// Composed weight gradient: per offset `gather(x)ᵀ · gather(grad)`.
pub fn composed_weight_grad<B: Backend>(
    x: Tensor<B, 2>,
    grad: Tensor<B, 2>,
    map: &KernelMap,
) -> Tensor<B, 3> {
    let device = x.device();
    let c_in = x.dims()[1];
    let c_out = grad.dims()[1];
    let per_offset: Vec<Tensor<B, 2>> = (0..map.kernel_volume)
        .map(|k| {
            let (ins, outs) = map.offset_pairs(k);
            if ins.is_empty() {
                return Tensor::zeros([c_in, c_out], &device);
            }
            let xi = x.clone().select(0, rows_tensor::<B>(ins, &device));
            let go = grad.clone().select(0, rows_tensor::<B>(outs, &device));
            xi.transpose().matmul(go)
        })
        .collect();
    Tensor::stack(per_offset, 0)
}

#[derive(Debug)]
struct SparseConvBackward;

impl<B: SparseBackend> Backward<B, 2> for SparseConvBackward {
    /// Input features, weight, and the map (primitives are cheap handles).
    type State = (FloatTensor<B>, FloatTensor<B>, Arc<KernelMap>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, w, map) = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        let [px, pw] = ops.parents;
        let [dx, dw] = B::sparse_conv_backward(x, w, grad, &map, [px.is_some(), pw.is_some()]);
        if let (Some(node), Some(dx)) = (px, dx) {
            grads.register::<B>(node.id, dx);
        }
        if let (Some(node), Some(dw)) = (pw, dw) {
            grads.register::<B>(node.id, dw);
        }
    }
}

impl<B: SparseBackend, C: CheckpointStrategy> SparseBackend for Autodiff<B, C> {
    fn sparse_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        map: &Arc<KernelMap>,
    ) -> FloatTensor<Self> {
        match SparseConvBackward
            .prepare::<C>([x.node.clone(), weight.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = B::sparse_conv(x.primitive.clone(), weight.primitive.clone(), map);
                prep.finish((x.primitive, weight.primitive, map.clone()), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::sparse_conv(x.primitive, weight.primitive, map))
            }
        }
    }

    fn batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: Option<FloatTensor<Self>>,
        epsilon: f64,
        relu: bool,
    ) -> BatchNormOut<Self> {
        let op = BatchNormBackward { epsilon, relu };
        let (y, mean, var) = match residual {
            None => batch_norm_tracked::<B, C, 3>(op, [&x, &gamma, &beta], None),
            Some(r) => batch_norm_tracked::<B, C, 4>(op, [&x, &gamma, &beta, &r], Some(&r)),
        };
        BatchNormOut {
            y,
            mean: Self::from_inner(mean),
            var: Self::from_inner(var),
        }
    }
}

/// The batch-norm op as one autodiff node over `N` parents (`[x, γ, β]` or
/// `[x, γ, β, residual]`), so none of its intermediates are recorded.
fn batch_norm_tracked<B: SparseBackend, C: CheckpointStrategy, const N: usize>(
    op: BatchNormBackward,
    inputs: [&FloatTensor<Autodiff<B, C>>; N],
    residual: Option<&FloatTensor<Autodiff<B, C>>>,
) -> (FloatTensor<Autodiff<B, C>>, FloatTensor<B>, FloatTensor<B>)
where
    BatchNormBackward: Backward<B, N, State = BatchNormState<B>>,
{
    let (eps, relu) = (op.epsilon, op.relu);
    let x = inputs[0].primitive.clone();
    let gamma = inputs[1].primitive.clone();
    let beta = inputs[2].primitive.clone();
    let residual = residual.map(|r| r.primitive.clone());
    match op
        .prepare::<C>(inputs.map(|t| t.node.clone()))
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let out = B::batch_norm_train(x.clone(), gamma.clone(), beta, residual, eps, relu);
            let state = (x, out.y.clone(), out.mean.clone(), out.var.clone(), gamma);
            (prep.finish(state, out.y), out.mean, out.var)
        }
        OpsKind::UnTracked(prep) => {
            let out = B::batch_norm_train(x, gamma, beta, residual, eps, relu);
            (prep.finish(out.y), out.mean, out.var)
        }
    }
}

/// Saved for the batch-norm backward: input, output, batch mean, batch variance, γ.
type BatchNormState<B> = (
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
);

#[derive(Debug)]
struct BatchNormBackward {
    epsilon: f64,
    relu: bool,
}

impl<B: SparseBackend, const N: usize> Backward<B, N> for BatchNormBackward {
    type State = BatchNormState<B>;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, y, mean, var, gamma) = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        let needs = std::array::from_fn(|i| ops.parents.get(i).is_some_and(Option::is_some));
        let out = B::batch_norm_train_backward(
            x,
            y,
            mean,
            var,
            gamma,
            grad,
            self.epsilon,
            self.relu,
            needs,
        );
        for (parent, g) in ops.parents.into_iter().zip(out) {
            if let (Some(node), Some(g)) = (parent, g) {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

/// Fused CPU kernels (f32); other dtypes take the composed path.
impl SparseBackend for Flex {
    fn sparse_conv(x: FlexTensor, weight: FlexTensor, map: &Arc<KernelMap>) -> FlexTensor {
        let _t = Timed::start(Kernel::ConvForward);
        let [_, c_in] = x.shape().dims::<2>();
        let c_out = weight.shape().dims::<3>()[2];
        let out = fused::with_f32(&x, |xs| {
            fused::with_f32(&weight, |ws| fused::conv_forward(xs, c_in, ws, c_out, map))
        });
        match out.flatten() {
            Some(v) => fused::flex_from(v, [map.n_out, c_out]),
            None => composed_conv_primitive::<Self>(x, weight, map),
        }
    }

    fn sparse_conv_weight_grad(
        x: FlexTensor,
        grad_out: FlexTensor,
        map: &Arc<KernelMap>,
    ) -> FlexTensor {
        let _t = Timed::start(Kernel::ConvWeightGrad);
        let [_, c_in] = x.shape().dims::<2>();
        let [_, c_out] = grad_out.shape().dims::<2>();
        let dw = fused::with_f32(&x, |xs| {
            fused::with_f32(&grad_out, |gs| {
                fused::conv_weight_grad(xs, c_in, gs, c_out, map)
            })
        });
        match dw.flatten() {
            Some(v) => fused::flex_from3(v, [map.kernel_volume, c_in, c_out]),
            None => composed_weight_grad_primitive::<Self>(x, grad_out, map),
        }
    }

    fn sparse_conv_backward(
        x: FlexTensor,
        weight: FlexTensor,
        grad_out: FlexTensor,
        map: &Arc<KernelMap>,
        needs: [bool; 2],
    ) -> [Option<FlexTensor>; 2] {
        let [k_vol, c_in, c_out] = weight.shape().dims::<3>();
        // dx = grad · wᵀ over the transposed map.
        let dx = needs[0].then(|| {
            let _t = Timed::start(Kernel::ConvInputGrad);
            let t = map.transposed();
            let dx = fused::with_f32(&grad_out, |gs| {
                fused::with_f32(&weight, |ws| {
                    let wt = fused::transpose_per_offset(ws, c_in, c_out);
                    fused::conv_forward(gs, c_out, &wt, c_in, &t)
                })
            });
            match dx.flatten() {
                Some(v) => fused::flex_from(v, [map.n_in, c_in]),
                None => {
                    let wt = float::<Self, 3>(weight.clone()).swap_dims(1, 2);
                    composed_conv(float::<Self, 2>(grad_out.clone()), wt, &t)
                        .into_primitive()
                        .tensor()
                }
            }
        });
        debug_assert_eq!(k_vol, map.kernel_volume);
        let dw = needs[1].then(|| Self::sparse_conv_weight_grad(x, grad_out, map));
        [dx, dw]
    }

    fn batch_norm_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        residual: Option<FlexTensor>,
        epsilon: f64,
        relu: bool,
    ) -> BatchNormOut<Self> {
        let _t = Timed::start(Kernel::NormForward);
        let [_, c] = x.shape().dims::<2>();
        let xs = f32_contiguous(&x);
        let gs = f32_contiguous(&gamma);
        let bs = f32_contiguous(&beta);
        let rs = residual.as_ref().map(f32_contiguous);
        let fused = match (&xs, &gs, &bs, &rs) {
            (Some(xs), Some(gs), Some(bs), None | Some(Some(_))) => {
                let r = rs.as_ref().and_then(|r| r.as_ref()).and_then(f32_slice);
                Some(fused_norm::bn_forward(
                    f32_slice(xs).unwrap_or(&[]),
                    c,
                    f32_slice(gs).unwrap_or(&[]),
                    f32_slice(bs).unwrap_or(&[]),
                    r,
                    epsilon,
                    relu,
                ))
            }
            _ => None,
        };
        match fused {
            Some(o) => BatchNormOut {
                y: fused::flex_from(o.y, [x.shape().dims::<2>()[0], c]),
                mean: flex_from1(o.mean),
                var: flex_from1(o.var),
            },
            None => {
                composed_batch_norm_train_primitive::<Self>(x, gamma, beta, residual, epsilon, relu)
            }
        }
    }

    fn batch_norm_train_backward(
        x: FlexTensor,
        y: FlexTensor,
        mean: FlexTensor,
        var: FlexTensor,
        gamma: FlexTensor,
        grad: FlexTensor,
        epsilon: f64,
        relu: bool,
        needs: [bool; 4],
    ) -> [Option<FlexTensor>; 4] {
        let _t = Timed::start(Kernel::NormBackward);
        let [n, c] = x.shape().dims::<2>();
        let parts = [&x, &y, &mean, &var, &gamma, &grad].map(f32_contiguous);
        let out = match &parts {
            [Some(x), Some(y), Some(m), Some(v), Some(g), Some(d)] => {
                let s = |t| f32_slice(t).unwrap_or(&[]);
                Some(fused_norm::bn_backward(
                    s(x),
                    s(y),
                    s(d),
                    c,
                    s(m),
                    s(v),
                    s(g),
                    epsilon,
                    relu,
                    needs[3] && relu,
                ))
            }
            _ => None,
        };
        match out {
            Some(o) => {
                // Without a ReLU the residual's gradient is the incoming one, unchanged.
                let dres = match o.dz {
                    Some(dz) => Some(fused::flex_from(dz, [n, c])),
                    None => needs[3].then_some(grad),
                };
                [
                    needs[0].then(|| fused::flex_from(o.dx, [n, c])),
                    needs[1].then(|| flex_from1(o.dgamma)),
                    needs[2].then(|| flex_from1(o.dbeta)),
                    dres,
                ]
            }
            None => composed_batch_norm_backward(
                float::<Self, 2>(x),
                float::<Self, 2>(y),
                float::<Self, 1>(mean),
                float::<Self, 1>(var),
                float::<Self, 1>(gamma),
                float::<Self, 2>(grad),
                epsilon,
                relu,
                needs,
            ),
        }
    }
}

/// An f32 tensor with contiguous storage (the tensor itself when it already is one, a cheap
/// handle clone); `None` for other dtypes, which take the composed path.
fn f32_contiguous(t: &FlexTensor) -> Option<FlexTensor> {
    if t.dtype() != DType::F32 {
        return None;
    }
    if t.as_slice::<f32>().is_some() {
        Some(t.clone())
    } else {
        Some(t.to_contiguous())
    }
}

fn f32_slice(t: &FlexTensor) -> Option<&[f32]> {
    t.as_slice::<f32>()
}

fn flex_from1(v: Vec<f32>) -> FlexTensor {
    let n = v.len();
    FlexTensor::from_data(TensorData::new(v, [n]))
}
