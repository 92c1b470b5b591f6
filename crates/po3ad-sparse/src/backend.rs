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
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{IndexingUpdateOp, Int, Tensor, TensorData, TensorMetadata, TensorPrimitive};

use crate::coords::KernelMap;
use crate::fused;

/// A burn backend that can run sparse convolutions.
pub trait SparseBackend: Backend {
    /// `out[o] = Σ_k Σ_{(i,o) ∈ pairs_k} x[i] · w[k]`, with `x: [n_in, C_in]`,
    /// `w: [K, C_in, C_out]`, `out: [n_out, C_out]`.
    fn sparse_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        map: &Arc<KernelMap>,
    ) -> FloatTensor<Self> {
        let x = float::<Self, 2>(x);
        let w = float::<Self, 3>(weight);
        composed_conv(x, w, map).into_primitive().tensor()
    }

    /// Gradient w.r.t. the weight: `dw[k] = Σ_{(i,o) ∈ pairs_k} x[i]ᵀ · grad_out[o]`, `[K, C_in, C_out]`.
    fn sparse_conv_weight_grad(
        x: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
        map: &Arc<KernelMap>,
    ) -> FloatTensor<Self> {
        let x = float::<Self, 2>(x);
        let g = float::<Self, 2>(grad_out);
        composed_weight_grad(x, g, map).into_primitive().tensor()
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
}

fn float<B: Backend, const D: usize>(t: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
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
}

/// Fused CPU kernels (f32); other dtypes take the composed path.
impl SparseBackend for Flex {
    fn sparse_conv(x: FlexTensor, weight: FlexTensor, map: &Arc<KernelMap>) -> FlexTensor {
        let [_, c_in] = x.shape().dims::<2>();
        let c_out = weight.shape().dims::<3>()[2];
        let out = fused::with_f32(&x, |xs| {
            fused::with_f32(&weight, |ws| {
                fused::conv_forward(xs, c_in, ws, c_out, false, map)
            })
        });
        match out.flatten() {
            Some(v) => fused::flex_from(v, [map.n_out, c_out]),
            None => composed_conv(float::<Self, 2>(x), float::<Self, 3>(weight), map)
                .into_primitive()
                .tensor(),
        }
    }

    fn sparse_conv_weight_grad(
        x: FlexTensor,
        grad_out: FlexTensor,
        map: &Arc<KernelMap>,
    ) -> FlexTensor {
        let [_, c_in] = x.shape().dims::<2>();
        let [_, c_out] = grad_out.shape().dims::<2>();
        let dw = fused::with_f32(&x, |xs| {
            fused::with_f32(&grad_out, |gs| {
                fused::conv_weight_grad(xs, c_in, gs, c_out, map)
            })
        });
        match dw.flatten() {
            Some(v) => fused::flex_from3(v, [map.kernel_volume, c_in, c_out]),
            None => composed_weight_grad(float::<Self, 2>(x), float::<Self, 2>(grad_out), map)
                .into_primitive()
                .tensor(),
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
        // dx = grad · wᵀ over the transposed map; wᵀ is read in place through gemm strides.
        let dx = needs[0].then(|| {
            let t = map.transposed();
            let dx = fused::with_f32(&grad_out, |gs| {
                fused::with_f32(&weight, |ws| {
                    fused::conv_forward(gs, c_out, ws, c_in, true, &t)
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
}
