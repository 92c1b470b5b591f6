//! Sparse 3D convolution in the MinkowskiEngine style on burn: sparse tensors over integer
//! `[batch, x, y, z]` sites, cached kernel maps, convolution / batch-norm layers, with
//! gradients on any burn backend (composed ops) and a fused CPU path on `Flex`.
//!
//! Layers need `B: SparseBackend` (implemented for `Flex`, `Autodiff<B: SparseBackend>`, and
//! every CubeCL backend — `Cuda`, `Wgpu` — with the `cuda` / `wgpu` features, through the
//! fused kernels in `cube.rs`):
//!
//! ```
//! use burn::backend::{Autodiff, Flex};
//! use burn::tensor::Tensor;
//! use po3ad_sparse::{relu, SparseBatchNormConfig, SparseConv3dConfig, SparseTensor};
//!
//! type B = Autodiff<Flex>;
//! let dev = Default::default();
//! let coords = vec![[0, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0]]; // [batch, x, y, z]
//! let x = SparseTensor::<B>::new(coords, Tensor::ones([3, 4], &dev)).unwrap();
//! let conv = SparseConv3dConfig::new(4, 8, 3).init::<B>(&dev);
//! let down = SparseConv3dConfig::new(8, 8, 2).with_stride(2).init::<B>(&dev);
//! let up = SparseConv3dConfig::new(8, 8, 2).with_stride(2).with_transposed(true).init::<B>(&dev);
//! let bn = SparseBatchNormConfig::new(8).init::<B>(&dev);
//! let y = relu(bn.forward(conv.forward(&x)));
//! let z = up.forward(&down.forward(&y)); // back on y's sites, stride 1
//! assert_eq!(z.coords(), y.coords());
//! let skip = z.cat(&y); // [3, 16]
//! assert_eq!(skip.feats().dims(), [3, 16]);
//! ```

mod backend;
mod buffers;
mod conv;
mod coords;
#[cfg(feature = "cube")]
mod cube;
mod error;
mod fused;
mod fused_norm;
mod norm;
mod stats;
mod tensor;

pub use backend::{
    composed_batch_norm_backward, composed_batch_norm_train, composed_conv, composed_weight_grad,
    BatchNormOut, SparseBackend,
};
pub use conv::{SparseConv3d, SparseConv3dConfig};
pub use coords::{Coord, CoordinateManager, KernelMap, MapKey, MapKind};
#[cfg(feature = "cube")]
pub use cube::{cube_launches, CubeLaunches};
pub use error::SparseError;
pub use norm::{batch_norm_rows, SparseBatchNorm, SparseBatchNormConfig};
pub use stats::{take_kernel_times, Kernel};
pub use tensor::{relu, SparseTensor};
