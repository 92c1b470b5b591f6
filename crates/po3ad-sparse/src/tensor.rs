//! The sparse tensor: features of the active sites `[N, C]`, the tensor stride and the shared
//! coordinate manager that knows where those rows live.

use std::sync::Arc;

use burn::tensor::{activation, backend::Backend, Tensor};

use crate::coords::{Coord, CoordinateManager};
use crate::error::SparseError;

/// Features at active sites plus the coordinates (through the batch's [`CoordinateManager`]).
#[derive(Debug, Clone)]
pub struct SparseTensor<B: Backend> {
    feats: Tensor<B, 2>,
    stride: u32,
    manager: Arc<CoordinateManager>,
}

impl<B: Backend> SparseTensor<B> {
    /// A stride-1 tensor over `coords` (`[batch, x, y, z]`, unique) with one feature row each.
    pub fn new(coords: Vec<Coord>, feats: Tensor<B, 2>) -> Result<Self, SparseError> {
        let rows = feats.dims()[0];
        if rows != coords.len() {
            return Err(SparseError::RowMismatch {
                coords: coords.len(),
                rows,
            });
        }
        Ok(Self {
            feats,
            stride: 1,
            manager: Arc::new(CoordinateManager::new(coords)?),
        })
    }

    /// A stride-1 tensor on an existing manager (e.g. one whose kernel maps were built ahead
    /// of time), one feature row per stride-1 site.
    pub fn on_manager(
        manager: Arc<CoordinateManager>,
        feats: Tensor<B, 2>,
    ) -> Result<Self, SparseError> {
        let rows = feats.dims()[0];
        let sites = manager.coords(1).map_or(0, |c| c.len());
        if rows != sites {
            return Err(SparseError::RowMismatch {
                coords: sites,
                rows,
            });
        }
        Ok(Self::from_parts(feats, 1, manager))
    }

    /// Used by the layers: a tensor on an existing manager at `stride`.
    pub(crate) fn from_parts(
        feats: Tensor<B, 2>,
        stride: u32,
        manager: Arc<CoordinateManager>,
    ) -> Self {
        Self {
            feats,
            stride,
            manager,
        }
    }

    /// Features `[N, C]`, row `i` belonging to `coords()[i]`.
    pub fn feats(&self) -> &Tensor<B, 2> {
        &self.feats
    }

    /// Consumes the tensor, returning its features.
    pub fn into_feats(self) -> Tensor<B, 2> {
        self.feats
    }

    /// Tensor stride (1 at input resolution, doubled by every strided convolution).
    pub fn stride(&self) -> u32 {
        self.stride
    }

    /// The batch's coordinate manager (shared by every tensor derived from the same input).
    pub fn manager(&self) -> &Arc<CoordinateManager> {
        &self.manager
    }

    /// Coordinates at this tensor's stride, in row order.
    pub fn coords(&self) -> Arc<Vec<Coord>> {
        match self.manager.coords(self.stride) {
            Some(c) => c,
            // Every SparseTensor is created at a stride its manager has registered.
            None => unreachable!("sparse tensor at an unregistered stride {}", self.stride),
        }
    }

    /// Same sites, new features (same number of rows).
    pub fn with_feats(&self, feats: Tensor<B, 2>) -> Self {
        debug_assert_eq!(feats.dims()[0], self.feats.dims()[0], "row count changed");
        Self::from_parts(feats, self.stride, self.manager.clone())
    }

    /// Channel concatenation of two tensors on the same sites (U-Net skip connection).
    pub fn cat(&self, other: &Self) -> Self {
        assert!(
            Arc::ptr_eq(&self.manager, &other.manager) && self.stride == other.stride,
            "cat needs tensors on the same coordinate manager and stride"
        );
        let feats = Tensor::cat(vec![self.feats.clone(), other.feats.clone()], 1);
        Self::from_parts(feats, self.stride, self.manager.clone())
    }
}

/// ReLU on the features.
pub fn relu<B: Backend>(x: SparseTensor<B>) -> SparseTensor<B> {
    let SparseTensor {
        feats,
        stride,
        manager,
    } = x;
    SparseTensor::from_parts(activation::relu(feats), stride, manager)
}
