//! Building blocks of the MinkUNet: conv + BN (+ ReLU), and the residual BasicBlock.

use burn::module::Module;
use burn::prelude::Backend;
use burn::prelude::Tensor;
use po3ad_sparse::SparseBackend;
use po3ad_sparse::{
    SparseBatchNorm, SparseBatchNormConfig, SparseConv3d, SparseConv3dConfig, SparseTensor,
};

/// A sparse convolution followed by batch norm, optionally ReLU.
#[derive(Module, Debug)]
pub struct ConvBn<B: Backend> {
    conv: SparseConv3d<B>,
    bn: SparseBatchNorm<B>,
}

impl<B: SparseBackend> ConvBn<B> {
    pub fn new(conv: SparseConv3dConfig, device: &B::Device) -> Self {
        let bn = SparseBatchNormConfig::new(conv.out_channels).init(device);
        Self {
            conv: conv.init(device),
            bn,
        }
    }

    pub fn forward(&self, x: &SparseTensor<B>) -> SparseTensor<B> {
        self.bn.forward(self.conv.forward(x))
    }

    /// conv → BN → ReLU, BN and ReLU as one fused op.
    pub fn forward_relu(&self, x: &SparseTensor<B>) -> SparseTensor<B> {
        self.bn.forward_fused(self.conv.forward(x), None, true)
    }

    /// conv → BN → `+ residual` → ReLU, the last three as one fused op.
    pub fn forward_add_relu(&self, x: &SparseTensor<B>, residual: Tensor<B, 2>) -> SparseTensor<B> {
        self.bn
            .forward_fused(self.conv.forward(x), Some(residual), true)
    }
}

/// conv3-BN-ReLU-conv3-BN + skip (1×1 conv + BN when channels change), then ReLU.
#[derive(Module, Debug)]
pub struct BasicBlock<B: Backend> {
    first: ConvBn<B>,
    second: ConvBn<B>,
    downsample: Option<ConvBn<B>>,
}

impl<B: SparseBackend> BasicBlock<B> {
    pub fn new(in_c: usize, out_c: usize, device: &B::Device) -> Self {
        let downsample =
            (in_c != out_c).then(|| ConvBn::new(SparseConv3dConfig::new(in_c, out_c, 1), device));
        Self {
            first: ConvBn::new(SparseConv3dConfig::new(in_c, out_c, 3), device),
            second: ConvBn::new(SparseConv3dConfig::new(out_c, out_c, 3), device),
            downsample,
        }
    }

    pub fn forward(&self, x: &SparseTensor<B>) -> SparseTensor<B> {
        let skip = match &self.downsample {
            Some(d) => d.forward(x).into_feats(),
            None => x.feats().clone(),
        };
        self.second
            .forward_add_relu(&self.first.forward_relu(x), skip)
    }
}

/// A stage: `count` BasicBlocks, the first one changing `in_c` to `out_c`.
pub fn stage<B: SparseBackend>(
    in_c: usize,
    out_c: usize,
    count: usize,
    device: &B::Device,
) -> Vec<BasicBlock<B>> {
    (0..count)
        .map(|i| BasicBlock::new(if i == 0 { in_c } else { out_c }, out_c, device))
        .collect()
}

pub fn run_stage<B: SparseBackend>(
    blocks: &[BasicBlock<B>],
    x: SparseTensor<B>,
) -> SparseTensor<B> {
    blocks.iter().fold(x, |acc, b| b.forward(&acc))
}
