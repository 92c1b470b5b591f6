//! The whole PO3AD network: backbone → voxel-to-point gather → offset head.

use super::batch::Batch;
use super::config::ModelConfig;
use super::head::OffsetHead;
use super::minkunet::MinkUNet;
use burn::module::Module;
use burn::prelude::{Backend, Tensor};
use po3ad_sparse::SparseBackend;

/// Input channels: the xyz of a voxel's representative point.
pub const IN_CHANNELS: usize = 3;

#[derive(Module, Debug)]
pub struct Po3adNet<B: Backend> {
    backbone: MinkUNet<B>,
    head: OffsetHead<B>,
}

impl<B: SparseBackend> Po3adNet<B> {
    pub fn new(cfg: &ModelConfig, device: &B::Device) -> Self {
        Self {
            backbone: MinkUNet::new(cfg, IN_CHANNELS, device),
            head: OffsetHead::new(cfg.feature_dim, cfg.head_zero_init, device),
        }
    }

    /// Per-point offsets `[points, 3]` for every point of the batch, clouds in order.
    pub fn forward(
        &self,
        batch: &Batch,
        device: &B::Device,
    ) -> Result<Tensor<B, 2>, po3ad_sparse::SparseError> {
        let (input, point_to_voxel) = batch.input::<B>(device)?;
        let voxel_feats = self.backbone.forward(&input).into_feats();
        let point_feats = voxel_feats.select(0, point_to_voxel);
        Ok(self.head.forward(point_feats))
    }
}
