//! `SparseBatchNorm`: batch normalisation over the active sites (rows of `[N, C]`); wraps burn's
//! `BatchNorm`, which on a 2-D input normalises each channel over the rows. Train mode (batch
//! statistics, running-stat update) on autodiff backends, eval mode (running stats) otherwise —
//! burn's convention, so `model.valid()` switches to eval.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::backend::Backend;

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

impl<B: Backend> SparseBatchNorm<B> {
    pub fn forward(&self, x: SparseTensor<B>) -> SparseTensor<B> {
        let feats = self.norm.forward(x.feats().clone());
        x.with_feats(feats)
    }
}
