//! `SparseBatchNorm`: batch normalisation over the active sites (rows of `[N, C]`); wraps burn's
//! `BatchNorm`, which on a 2-D input normalises each channel over the rows. Train mode (batch
//! statistics, running-stat update) on autodiff backends, eval mode (running stats) otherwise —
//! burn's convention, so `model.valid()` switches to eval.
//!
//! Training mode runs through [`SparseBackend::batch_norm_train`] (one fused op with its own
//! backward on `Flex`, composed burn ops elsewhere), optionally fused with the residual add
//! and ReLU that follow batch norm in every MinkUNet block. The module stays burn's
//! `BatchNorm` (same parameters, same running-statistics update) so saved models load
//! unchanged.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{activation, Tensor, TensorPrimitive};

use crate::backend::SparseBackend;
use crate::tensor::SparseTensor;

/// Configuration of a [`SparseBatchNorm`].
#[derive(Config, Debug)]
pub struct SparseBatchNormConfig {
    pub channels: usize,
    #[config(default = 0.1)]
    pub momentum: f64,
    #[config(default = 1e-5)]
    pub epsilon: f64,
}

/// Batch norm over the active sites of a sparse tensor.
#[derive(Module, Debug)]
pub struct SparseBatchNorm<B: Backend> {
    pub norm: BatchNorm<B>,
}

impl SparseBatchNormConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> SparseBatchNorm<B> {
        let norm = BatchNormConfig::new(self.channels)
            .with_momentum(self.momentum)
            .with_epsilon(self.epsilon)
            .init(device);
        SparseBatchNorm { norm }
    }
}

impl<B: SparseBackend> SparseBatchNorm<B> {
    pub fn forward(&self, x: SparseTensor<B>) -> SparseTensor<B> {
        self.forward_fused(x, None, false)
    }

    /// `act(BN(x) [+ residual])`, `residual` on the same rows (a block's skip path).
    pub fn forward_fused(
        &self,
        x: SparseTensor<B>,
        residual: Option<Tensor<B, 2>>,
        relu: bool,
    ) -> SparseTensor<B> {
        let feats = batch_norm_rows(&self.norm, x.feats().clone(), residual, relu);
        x.with_feats(feats)
    }
}

fn prim<B: Backend, const D: usize>(t: Tensor<B, D>) -> burn::tensor::ops::FloatTensor<B> {
    t.into_primitive().tensor()
}

/// `act(norm(x) [+ residual])` for `x: [rows, C]`, batch norm over the rows. Training mode
/// (an autodiff backend, burn's `BatchNorm` convention) uses the batch statistics through
/// [`SparseBackend::batch_norm_train`] and updates the running statistics exactly as burn's
/// `BatchNorm::forward` does (`running · (1 − m) + batch · m`, biased variance); eval mode is
/// burn's `BatchNorm::forward` on the running statistics.
pub fn batch_norm_rows<B: SparseBackend>(
    norm: &BatchNorm<B>,
    x: Tensor<B, 2>,
    residual: Option<Tensor<B, 2>>,
    relu: bool,
) -> Tensor<B, 2> {
    let device = x.device();
    if !B::ad_enabled(&device) {
        let mut y = norm.forward(x);
        if let Some(r) = residual {
            y = y + r;
        }
        return if relu { activation::relu(y) } else { y };
    }
    let out = B::batch_norm_train(
        prim(x),
        prim(norm.gamma.val()),
        prim(norm.beta.val()),
        residual.map(prim),
        norm.epsilon,
        relu,
    );
    let m = norm.momentum;
    let stat = |t| Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(t)).detach();
    let running_mean = norm.running_mean.value_sync().to_device(&device);
    let running_var = norm.running_var.value_sync().to_device(&device);
    let running_mean = running_mean
        .mul_scalar(1.0 - m)
        .add(stat(out.mean).mul_scalar(m));
    let running_var = running_var
        .mul_scalar(1.0 - m)
        .add(stat(out.var).mul_scalar(m));
    norm.running_mean.update(running_mean.detach());
    norm.running_var.update(running_var.detach());
    Tensor::from_primitive(TensorPrimitive::Float(out.y))
}
