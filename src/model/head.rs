//! The offset predictor: Linear(C,C)-BN-PReLU-Linear(C,C/2)-BN-PReLU-Linear(C/2,3),
//! applied per point (SPEC.md; hidden Linears without bias, as in the reference).

use burn::module::Module;
use burn::nn::Initializer;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PRelu, PReluConfig};
use burn::prelude::{Backend, Tensor};
use po3ad_sparse::{batch_norm_rows, SparseBackend};

#[derive(Module, Debug)]
pub struct OffsetHead<B: Backend> {
    fc1: Linear<B>,
    bn1: BatchNorm<B>,
    act1: PRelu<B>,
    fc2: Linear<B>,
    bn2: BatchNorm<B>,
    act2: PRelu<B>,
    out: Linear<B>,
}

impl<B: SparseBackend> OffsetHead<B> {
    pub fn new(c: usize, zero_init: bool, device: &B::Device) -> Self {
        let half = (c / 2).max(1);
        Self {
            fc1: LinearConfig::new(c, c).with_bias(false).init(device),
            bn1: BatchNormConfig::new(c).with_momentum(0.1).init(device),
            act1: PReluConfig::new().init(device),
            fc2: LinearConfig::new(c, half).with_bias(false).init(device),
            bn2: BatchNormConfig::new(half).with_momentum(0.1).init(device),
            act2: PReluConfig::new().init(device),
            out: if zero_init {
                LinearConfig::new(half, 3)
                    .with_initializer(Initializer::Zeros)
                    .init(device)
            } else {
                LinearConfig::new(half, 3).init(device)
            },
        }
    }

    /// `features`: `[points, C]` → offsets `[points, 3]`.
    pub fn forward(&self, features: Tensor<B, 2>) -> Tensor<B, 2> {
        // Batch norm through the fused op (the module is still burn's `BatchNorm`).
        let bn1 = batch_norm_rows(&self.bn1, self.fc1.forward(features), None, false);
        let h = self.act1.forward(bn1);
        let bn2 = batch_norm_rows(&self.bn2, self.fc2.forward(h), None, false);
        let h = self.act2.forward(bn2);
        self.out.forward(h)
    }
}
