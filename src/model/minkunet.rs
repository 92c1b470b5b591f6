//! MinkUNet (MinkowskiEngine's "C" channel plan, depth 14/18/34): stem k=5, four
//! stride-2 encoder stages, four transposed-conv decoder stages with skip
//! concatenation, and a final 1×1 conv to `feature_dim` channels.

use super::blocks::{run_stage, stage, BasicBlock, ConvBn};
use super::config::ModelConfig;
use burn::module::Module;
use burn::prelude::Backend;
use po3ad_sparse::SparseBackend;
use po3ad_sparse::{MapKey, MapKind, SparseConv3d, SparseConv3dConfig, SparseTensor};

/// Every kernel map [`MinkUNet::forward`] asks its coordinate manager for (its 1×1 convs
/// need none): the stem, per encoder level the stride-2 down map and the level's
/// submanifold map, per decoder level the up map and the finer level's submanifold map.
/// Lets a batch's maps be built before the step (`Batch::prebuild_maps`); a test checks
/// that it matches what a forward pass builds.
pub fn kernel_map_keys(cfg: &ModelConfig) -> Vec<MapKey> {
    let key = |in_stride, out_stride, kernel, kind| MapKey {
        in_stride,
        out_stride,
        kernel,
        kind,
    };
    let mut keys = vec![key(1, 1, cfg.stem_kernel as u32, MapKind::Submanifold)];
    for s in [1u32, 2, 4, 8] {
        keys.push(key(s, 2 * s, 2, MapKind::Down));
        keys.push(key(2 * s, 2 * s, 3, MapKind::Submanifold));
    }
    for s in [16u32, 8, 4, 2] {
        keys.push(key(s, s / 2, 2, MapKind::Up));
        keys.push(key(s / 2, s / 2, 3, MapKind::Submanifold));
    }
    keys.sort_by_key(|k| (k.in_stride, k.out_stride, k.kernel, k.kind as u8));
    keys.dedup();
    keys
}

#[derive(Module, Debug)]
pub struct MinkUNet<B: Backend> {
    stem: ConvBn<B>,
    down: Vec<ConvBn<B>>,
    encoder: Vec<Vec<BasicBlock<B>>>,
    up: Vec<ConvBn<B>>,
    decoder: Vec<Vec<BasicBlock<B>>>,
    last: SparseConv3d<B>,
}

impl<B: SparseBackend> MinkUNet<B> {
    pub fn new(cfg: &ModelConfig, in_channels: usize, device: &B::Device) -> Self {
        let init = cfg.init_dim();
        let planes = cfg.planes();
        let layers = cfg.backbone.layers();
        let stem = ConvBn::new(
            SparseConv3dConfig::new(in_channels, init, cfg.stem_kernel),
            device,
        );

        let mut down = Vec::new();
        let mut encoder = Vec::new();
        // Channels of the skip tensors at strides 1, 2, 4, 8.
        let mut skips = vec![init];
        let mut c = init;
        for s in 0..4 {
            down.push(ConvBn::new(
                SparseConv3dConfig::new(c, c, 2).with_stride(2),
                device,
            ));
            encoder.push(stage(c, planes[s], layers[s], device));
            c = planes[s];
            skips.push(c);
        }
        let mut up = Vec::new();
        let mut decoder = Vec::new();
        for s in 0..4 {
            let p = planes[4 + s];
            up.push(ConvBn::new(
                SparseConv3dConfig::new(c, p, 2)
                    .with_stride(2)
                    .with_transposed(true),
                device,
            ));
            let skip_c = skips[3 - s];
            decoder.push(stage(p + skip_c, p, layers[4 + s], device));
            c = p;
        }
        let last = SparseConv3dConfig::new(c, cfg.feature_dim, 1)
            .with_bias(true)
            .init(device);
        Self {
            stem,
            down,
            encoder,
            up,
            decoder,
            last,
        }
    }

    pub fn forward(&self, x: &SparseTensor<B>) -> SparseTensor<B> {
        let mut skips = Vec::with_capacity(4);
        let mut h = self.stem.forward_relu(x);
        for (down, blocks) in self.down.iter().zip(&self.encoder) {
            skips.push(h.clone());
            h = run_stage(blocks, down.forward_relu(&h));
        }
        for (up, blocks) in self.up.iter().zip(&self.decoder) {
            let skip = skips.pop().unwrap_or_else(|| h.clone());
            let u = up.forward_relu(&h);
            h = run_stage(blocks, u.cat(&skip));
        }
        self.last.forward(&h)
    }
}
