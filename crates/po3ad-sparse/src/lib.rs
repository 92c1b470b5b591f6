//! Sparse 3D convolution in the MinkowskiEngine style on burn: sparse tensors over integer
//! `[batch, x, y, z]` sites, cached kernel maps, convolution / batch-norm layers, with
//! gradients on any burn backend (composed ops) and a fused CPU path on `Flex`.

mod backend;
mod conv;
mod coords;
mod error;
mod fused;
mod norm;
mod tensor;

pub use backend::{composed_conv, composed_weight_grad, SparseBackend};
pub use conv::{SparseConv3d, SparseConv3dConfig};
pub use coords::{Coord, CoordinateManager, KernelMap, MapKey, MapKind};
pub use error::SparseError;
pub use norm::{SparseBatchNorm, SparseBatchNormConfig};
pub use tensor::{relu, SparseTensor};
