//! `SparseConv3d`: Minkowski-style sparse 3D convolution layer (submanifold k=1/3/5, stride-2
//! k=2 down, stride-2 k=2 transposed up) with weights `[K, C_in, C_out]`, `K = k³`.

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::tensor::{backend::Backend, Tensor, TensorPrimitive};

use crate::backend::SparseBackend;
use crate::coords::{MapKey, MapKind};
use crate::tensor::SparseTensor;

/// Configuration of a [`SparseConv3d`].
#[derive(Config, Debug)]
pub struct SparseConv3dConfig {
    pub in_channels: usize,
    pub out_channels: usize,
    /// 1, 3, 5 (stride 1) or 2 (stride 2, plain or transposed).
    pub kernel_size: usize,
    /// 1 (submanifold: outputs at the input sites) or 2 (down, or up when transposed).
    #[config(default = 1)]
    pub stride: usize,
    /// Stride-2 transposed convolution back to the cached finer sites.
    #[config(default = false)]
    pub transposed: bool,
    #[config(default = false)]
    pub bias: bool,
}

/// Sparse 3D convolution. Build with [`SparseConv3dConfig::init`].
#[derive(Module, Debug)]
pub struct SparseConv3d<B: Backend> {
    /// `[K, C_in, C_out]`, offset index `k = (dx·k + dy)·k + dz` over the kernel cube.
    pub weight: Param<Tensor<B, 3>>,
    pub bias: Option<Param<Tensor<B, 1>>>,
    pub kernel_size: usize,
    pub stride: usize,
    pub transposed: bool,
}

impl SparseConv3dConfig {
    /// Weights ~ N(0, 2 / (K · C_out)): MinkowskiEngine's reference nets call
    /// `kaiming_normal_(kernel, mode="fan_out", nonlinearity="relu")` on the `[K, C_in, C_out]`
    /// kernel, and PyTorch computes that tensor's fan_out as `size(0) · prod(size()[2:])`
    /// `= K · C_out`. Bias starts at zero.
    ///
    /// # Panics
    /// On an unsupported kernel/stride combination (a model-definition bug).
    pub fn init<B: Backend>(&self, device: &B::Device) -> SparseConv3d<B> {
        let k = self.kernel_size;
        match (k, self.stride, self.transposed) {
            (1 | 3 | 5, 1, false) | (2, 2, _) => {}
            other => panic!("unsupported sparse conv (kernel, stride, transposed) = {other:?}"),
        }
        let volume = k * k * k;
        let std = (2.0 / (volume * self.out_channels) as f64).sqrt();
        let weight = Initializer::Normal { mean: 0.0, std }
            .init([volume, self.in_channels, self.out_channels], device);
        let bias = self
            .bias
            .then(|| Initializer::Zeros.init([self.out_channels], device));
        SparseConv3d {
            weight,
            bias,
            kernel_size: k,
            stride: self.stride,
            transposed: self.transposed,
        }
    }
}

impl<B: SparseBackend> SparseConv3d<B> {
    /// Applies the convolution; the output lives on the same coordinate manager.
    pub fn forward(&self, x: &SparseTensor<B>) -> SparseTensor<B> {
        let s = x.stride();
        let weight = self.weight.val();
        let [volume, c_in, c_out] = weight.dims();
        let (feats, out_stride) = if self.kernel_size == 1 {
            (x.feats().clone().matmul(weight.reshape([c_in, c_out])), s)
        } else {
            let (kind, out_stride) = match (self.stride, self.transposed) {
                (1, _) => (MapKind::Submanifold, s),
                (_, false) => (MapKind::Down, 2 * s),
                (_, true) => {
                    assert!(
                        s >= 2,
                        "transposed conv needs a coarser input than stride 1"
                    );
                    (MapKind::Up, s / 2)
                }
            };
            let map = x.manager().kernel_map(MapKey {
                in_stride: s,
                out_stride,
                kernel: self.kernel_size as u32,
                kind,
            });
            debug_assert_eq!(map.kernel_volume, volume);
            let out = B::sparse_conv(
                x.feats().clone().into_primitive().tensor(),
                weight.into_primitive().tensor(),
                &map,
            );
            (
                Tensor::from_primitive(TensorPrimitive::Float(out)),
                out_stride,
            )
        };
        let feats = match &self.bias {
            Some(b) => feats + b.val().unsqueeze_dim(0),
            None => feats,
        };
        SparseTensor::from_parts(feats, out_stride, x.manager().clone())
    }
}
